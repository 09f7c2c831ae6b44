/**
 * A real `redis-server` of the test's own: on a free loopback port, in a
 * temporary folder, with every write fsynced before Redis confirms it
 * (`appendfsync always`), so that what it confirmed survives a SIGKILL and
 * a restart, as a broker that says "stored" should. Killed and restarted on
 * the same port by the tests that take the broker away; removed, folder
 * and all, when disposed of.
 *
 * @module
 */

import { RespBatch, RespDecoder, type RespReply } from "../../lib/sink/_resp.ts";
import { closeQuietly, freePort, writeAll } from "./net.ts";
import { BrokerProcess } from "./broker_process.ts";
import { hasCommand, type RunningProgram, spawnProgram } from "./process.ts";
import { WAIT_TIMEOUT_MS } from "./wait.ts";

/** Entries read with one XRANGE. */
const PAGE = 1000;

/** One entry of a stream, its fields as an object. */
export interface StreamEntry {
  readonly id: string;
  readonly fields: Readonly<Record<string, string>>;
}

/** Why the Redis tests cannot run here, or null when they can. */
export async function noRedisReason(): Promise<string | null> {
  return await hasCommand("redis-server")
    ? null
    : "redis-server is not installed (.ci/run installs it: apt-get install redis-server)";
}

/** A redis-server started by a test; see the module's summary. */
export class RedisPeer extends BrokerProcess {
  readonly #durable: boolean;

  private constructor(port: number, dir: string, durable: boolean) {
    super(port, dir);
    this.#durable = durable;
  }

  /**
   * Starts one and waits until it answers.
   * @param options.durable fsync every write before confirming it; false
   * keeps nothing on disk (for the bench, which measures linehub, not the
   * disk)
   */
  static async start(options: { durable?: boolean } = {}): Promise<RedisPeer> {
    const dir = await Deno.makeTempDir({ prefix: "linehub_redis_" });
    const peer = new RedisPeer(freePort(), dir, options.durable ?? true);
    await peer.restart();
    return peer;
  }

  /** `redis://127.0.0.1:PORT/stream`. */
  url(stream: string): string {
    return `redis://127.0.0.1:${this.port}/${stream}`;
  }

  protected launch(): { program: RunningProgram; ready: Promise<unknown> } {
    const program = spawnProgram("redis-server", [
      ...["--port", String(this.port), "--bind", "127.0.0.1", "--dir", this.dir],
      ...["--save", "", "--appendonly", this.#durable ? "yes" : "no", "--appendfsync", "always"],
      ...["--daemonize", "no", "--protected-mode", "no"],
    ], { timeoutMs: Infinity });
    return { program, ready: program.waitForStdout("Ready to accept connections") };
  }

  /** Every entry of `stream`, oldest first; read 1,000 at a time, since
   * the decoder reads an array again from its start as more of it comes. */
  async entries(stream: string): Promise<StreamEntry[]> {
    const all: StreamEntry[] = [];
    let from = "-";
    while (true) {
      const page = await this.#page(stream, from);
      all.push(...page);
      const last = page.at(-1);
      if (last === undefined || page.length < PAGE) return all;
      from = `(${last.id}`;
    }
  }

  /** Entries ever added to `stream`, trimmed ones included (XINFO STREAM's
   * `entries-added`, Redis 7); 0 while there is no such stream. */
  async added(stream: string): Promise<number> {
    const reply = await this.#command(["XINFO", "STREAM", stream]);
    if (reply.type === "error") return 0;
    const items = reply.type === "array" ? reply.items ?? [] : [];
    const decoder = new TextDecoder();
    for (let i = 0; i + 1 < items.length; i += 2) {
      const key = items[i];
      const value = items[i + 1];
      if (
        key?.type === "bulk" && key.value !== null && decoder.decode(key.value) === "entries-added"
      ) {
        return value?.type === "integer" ? value.value : 0;
      }
    }
    throw new Error("XINFO STREAM gave no entries-added (Redis older than 7?)");
  }

  async #page(stream: string, from: string): Promise<StreamEntry[]> {
    const reply = await this.#command(["XRANGE", stream, from, "+", "COUNT", String(PAGE)]);
    if (reply.type !== "array" || reply.items === null) {
      throw new Error(`XRANGE answered ${JSON.stringify(reply)}`);
    }
    const decoder = new TextDecoder();
    const text = (item: RespReply | undefined): string =>
      item?.type === "bulk" && item.value !== null ? decoder.decode(item.value) : "";
    return reply.items.map((item) => {
      const [id, list] = item.type === "array" && item.items !== null ? item.items : [];
      const values = list?.type === "array" && list.items !== null ? list.items : [];
      const fields: Record<string, string> = {};
      for (let i = 0; i + 1 < values.length; i += 2) fields[text(values[i])] = text(values[i + 1]);
      return { id: text(id), fields };
    });
  }

  /** One command, and its reply. */
  async #command(args: string[]): Promise<RespReply> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: this.port });
    // A read that never returns would outlast the wait's bound.
    const timer = setTimeout(() => closeQuietly(conn), WAIT_TIMEOUT_MS);
    try {
      const batch = new RespBatch();
      batch.command(args);
      await writeAll(conn, batch.bytes());
      const replies = new RespDecoder({ maxReplyBytes: 256 * 1024 * 1024 });
      const buffer = new Uint8Array(65536);
      // Bounded by the timer above, which closes the connection.
      let reply = replies.next();
      while (reply === undefined) {
        const n = await conn.read(buffer);
        if (n === null) {
          throw new Error(`Redis did not answer ${args[0]} within ${WAIT_TIMEOUT_MS} ms`);
        }
        replies.push(buffer.subarray(0, n));
        reply = replies.next();
      }
      return reply;
    } finally {
      clearTimeout(timer);
      closeQuietly(conn);
    }
  }
}
