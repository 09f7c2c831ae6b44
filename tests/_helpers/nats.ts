/**
 * A real `nats-server -js` of the test's own: on a free loopback port, with
 * JetStream storing in a temporary folder, so that what it acknowledged
 * survives a SIGKILL and a restart. Killed and restarted on the same port
 * by the tests that take the broker away; removed, folder and all, when
 * disposed of. What a stream holds is read back through the JetStream API
 * (`$JS.API.STREAM.MSG.GET`), with the sink's own protocol code.
 *
 * @module
 */

import { NatsBatch, type NatsOp, NatsParser } from "../../lib/sink/_nats_protocol.ts";
import { closeQuietly, freePort, writeAll } from "./net.ts";
import { BrokerProcess } from "./broker_process.ts";
import { hasCommand, type RunningProgram, spawnProgram } from "./process.ts";
import { WAIT_TIMEOUT_MS } from "./wait.ts";

/** One message a stream holds. */
export interface StoredMessage {
  readonly seq: number;
  /** Its `Nats-Msg-Id` header. */
  readonly id: string;
  /** Its payload, parsed: the server's JSON record. */
  readonly record: Readonly<Record<string, unknown>>;
}

/** Why the NATS tests cannot run here, or null when they can. */
export async function noNatsReason(): Promise<string | null> {
  return await hasCommand("nats-server")
    ? null
    : "nats-server is not installed (.ci/run installs it: apt-get install nats-server)";
}

const decoder = new TextDecoder();

/** A nats-server started by a test; see the module's summary. */
export class NatsPeer extends BrokerProcess {
  private constructor(port: number, dir: string) {
    super(port, dir);
  }

  /** Starts one and waits until it is ready. */
  static async start(): Promise<NatsPeer> {
    const peer = new NatsPeer(freePort(), await Deno.makeTempDir({ prefix: "linehub_nats_" }));
    await peer.restart();
    return peer;
  }

  /** `nats://127.0.0.1:PORT/subject`, with `?create=STREAM` if given. */
  url(subject: string, create?: string): string {
    return `nats://127.0.0.1:${this.port}/${subject}${
      create === undefined ? "" : `?create=${create}`
    }`;
  }

  protected launch(): { program: RunningProgram; ready: Promise<unknown> } {
    const program = spawnProgram("nats-server", [
      ...["-a", "127.0.0.1", "-p", String(this.port), "-js", "-sd", this.dir],
    ], { timeoutMs: Infinity });
    return { program, ready: program.waitForStderr("Server is ready") };
  }

  /** Creates `stream` taking `subject`, with these settings besides
   * (JetStream's stream configuration: `max_msgs`, `storage`...). */
  async createStream(
    stream: string,
    subject: string,
    config: Readonly<Record<string, unknown>> = {},
  ): Promise<void> {
    const [reply] = await this.#requests([[
      `$JS.API.STREAM.CREATE.${stream}`,
      JSON.stringify({ name: stream, subjects: [subject], ...config }),
    ]]);
    const error = (reply as { error?: { description: string } }).error;
    if (error !== undefined) throw new Error(`Cannot create ${stream}: ${error.description}`);
  }

  /** The sequence number of the last message `stream` took (trimmed ones
   * counted); 0 while there is no such stream. */
  async lastSeq(stream: string): Promise<number> {
    const [info] = await this.#requests([[`$JS.API.STREAM.INFO.${stream}`, ""]]);
    return (info as { state?: { last_seq: number } }).state?.last_seq ?? 0;
  }

  /** Every message `stream` holds, oldest first. */
  async stored(stream: string): Promise<StoredMessage[]> {
    const [info] = await this.#requests([[`$JS.API.STREAM.INFO.${stream}`, ""]]);
    const state = (info as { state?: { first_seq: number; last_seq: number } }).state;
    if (state === undefined) throw new Error(`No stream ${stream}: ${JSON.stringify(info)}`);
    const requests: Array<[string, string]> = [];
    for (let seq = state.first_seq; seq <= state.last_seq && seq > 0; seq++) {
      requests.push([`$JS.API.STREAM.MSG.GET.${stream}`, JSON.stringify({ seq })]);
    }
    const replies = await this.#requests(requests);
    return replies.map((reply) => {
      const message = (reply as { message: { seq: number; hdrs?: string; data: string } })
        .message;
      const headers = decoder.decode(Uint8Array.fromBase64(message.hdrs ?? ""));
      return {
        seq: message.seq,
        id: /Nats-Msg-Id: ([^\r\n]*)/.exec(headers)?.[1] ?? "",
        record: JSON.parse(decoder.decode(Uint8Array.fromBase64(message.data))),
      };
    });
  }

  /** Sends requests (subject, JSON payload) in one batch; their replies,
   * parsed, in the same order. */
  async #requests(requests: Array<[string, string]>): Promise<unknown[]> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: this.port });
    // A read that never returns would outlast the wait's bound.
    const timer = setTimeout(() => closeQuietly(conn), WAIT_TIMEOUT_MS);
    try {
      const batch = new NatsBatch();
      batch.connect({ verbose: false, headers: true, protocol: 1 });
      batch.line("SUB _INBOX.t.* 1");
      requests.forEach(([subject, payload], i) =>
        batch.publish(subject, `_INBOX.t.${i}`, [], payload)
      );
      await writeAll(conn, batch.bytes());
      const parser = new NatsParser({ maxPayloadBytes: 64 * 1024 * 1024 });
      const replies: unknown[] = new Array(requests.length);
      let answered = 0;
      const buffer = new Uint8Array(65536);
      while (answered < requests.length) {
        let op: NatsOp | undefined;
        while ((op = parser.next()) !== undefined) {
          if (op.op === "PING") await writeAll(conn, new TextEncoder().encode("PONG\r\n"));
          if (op.op !== "MSG") continue;
          replies[Number(op.subject.split(".").at(-1))] = JSON.parse(decoder.decode(op.payload));
          answered++;
        }
        if (answered === requests.length) break;
        const n = await conn.read(buffer);
        if (n === null) throw new Error("NATS closed the connection before answering");
        parser.push(buffer.subarray(0, n));
      }
      return replies;
    } finally {
      clearTimeout(timer);
      closeQuietly(conn);
    }
  }
}
