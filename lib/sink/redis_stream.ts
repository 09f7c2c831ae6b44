/**
 * {@linkcode RedisStream}: a Redis stream as a {@linkcode Broker}. Each
 * message is one `XADD key [MAXLEN ~ N] * field value...` entry (the fields
 * of lib/sink/message_splitter.ts), and a batch is pipelined: every command
 * in one write, the replies read back in order while it goes out. The reply
 * to an XADD is the new entry's id, which is the confirmation; an error
 * reply (`-OOM`, `-WRONGTYPE`, `-NOAUTH`) refuses that message, and the
 * batch stops being confirmed there.
 *
 * RESP2 is small enough to write (lib/sink/_resp.ts, about 200 lines with
 * its caps): a Redis client library would bring a dependency, its own
 * reconnect policy and its own queue, where the sink needs neither.
 *
 * @module
 */

import { closeQuietly, writeAll } from "../io/mod.ts";
import { formatHostPort } from "../net/mod.ts";
import { describeError } from "../text/mod.ts";
import { type Broker, DeliveryError, type DeliveryFailure } from "./broker.ts";
import type { SinkMessage } from "./message_splitter.ts";
import { RespBatch, RespDecoder, RespProtocolError } from "./_resp.ts";

/** Options for {@linkcode RedisStream}. */
export interface RedisStreamOptions {
  /** Trim the stream to about this many entries as it grows (`MAXLEN ~`).
   * @default {undefined: never trimmed} */
  maxLen?: number;
  /** How long a connect may take before it counts as failed, in ms.
   * @default {5000} */
  connectTimeoutMs?: number;
  /** How long the broker may stay silent while replies are owed, in ms,
   * before the connection counts as lost (a stopped or unreachable broker).
   * @default {15000} */
  replyTimeoutMs?: number;
}

/** Bytes read from the broker at a time: replies are a few dozen bytes. */
const READ_BYTES = 16384;

/** One Redis stream, written with XADD. */
export class RedisStream implements Broker {
  readonly name: string;
  readonly #hostname: string;
  readonly #port: number;
  /** The arguments every XADD starts with, up to the `*` id. */
  readonly #head: readonly string[];
  readonly #connectTimeoutMs: number;
  readonly #replyTimeoutMs: number;
  readonly #batch = new RespBatch(65536);
  readonly #readBuffer = new Uint8Array(READ_BYTES);
  #conn: Deno.TcpConn | null = null;
  #decoder = new RespDecoder();
  /** Why the connection was closed from this side, for the error message. */
  #closedBecause: string | null = null;

  constructor(hostname: string, port: number, key: string, options: RedisStreamOptions = {}) {
    this.#hostname = hostname;
    this.#port = port;
    const maxLen = options.maxLen;
    this.#head = maxLen === undefined
      ? ["XADD", key, "*"]
      : ["XADD", key, "MAXLEN", "~", String(maxLen), "*"];
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 5000;
    this.#replyTimeoutMs = options.replyTimeoutMs ?? 15000;
    this.name = `redis://${formatHostPort(hostname, port)}/${encodeURIComponent(key)}` +
      (maxLen === undefined ? "" : `?maxlen=${maxLen}`);
  }

  async deliver(messages: readonly SinkMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const conn = await this.#connect();
    const batch = this.#batch;
    batch.clear();
    for (const message of messages) batch.command(this.#head, message.fields);
    const progress = { confirmed: 0, stored: 0, refused: null as string | null };
    const reading = this.#readReplies(conn, messages.length, progress);
    const writing = writeAll(conn, batch.bytes());
    try {
      await Promise.all([reading, writing]);
    } catch (error) {
      // Whichever failed first, the other must end too before the batch is
      // given back: the connection is closed, and both are waited for.
      const because = this.#closedBecause;
      this.close();
      await Promise.allSettled([reading, writing]);
      throw new DeliveryError(
        `${because ?? this.#lostText(error)}`,
        failureOf(error),
        progress.confirmed,
        messages.length,
        { cause: error },
      );
    }
    if (progress.refused !== null) {
      throw new DeliveryError(
        `Redis refused a message: ${progress.refused}`,
        "refused",
        progress.confirmed,
        // Past the refused one, those Redis took are stored: sent again,
        // they are there twice.
        progress.stored,
      );
    }
  }

  close(): void {
    const conn = this.#conn;
    this.#conn = null;
    if (conn !== null) closeQuietly(conn);
  }

  async #connect(): Promise<Deno.TcpConn> {
    if (this.#conn !== null) return this.#conn;
    const signal = AbortSignal.timeout(this.#connectTimeoutMs);
    let conn: Deno.TcpConn;
    try {
      conn = await Deno.connect({ hostname: this.#hostname, port: this.#port, signal });
    } catch (error) {
      const why = signal.aborted
        ? `no answer within ${this.#connectTimeoutMs / 1000} s`
        : describeError(error);
      throw new DeliveryError(`Cannot connect: ${why}`, "connection", 0, 0, { cause: error });
    }
    // The batch is one write; small replies should not wait for more.
    conn.setNoDelay(true);
    this.#conn = conn;
    this.#decoder = new RespDecoder();
    this.#closedBecause = null;
    return conn;
  }

  /** Reads `count` replies in order: confirmations are counted up to the
   * first error reply, whose text is kept; the rest are read to keep the
   * connection in step, and `stored` is one past the last entry added. */
  async #readReplies(
    conn: Deno.TcpConn,
    count: number,
    progress: { confirmed: number; stored: number; refused: string | null },
  ): Promise<void> {
    let silent: ReturnType<typeof setTimeout> | undefined;
    const watch = (): void => {
      clearTimeout(silent);
      silent = setTimeout(() => {
        this.#closedBecause = `no reply within ${this.#replyTimeoutMs / 1000} s`;
        closeQuietly(conn);
      }, this.#replyTimeoutMs);
    };
    watch();
    try {
      for (let got = 0; got < count; got++) {
        let reply = this.#decoder.next();
        while (reply === undefined) {
          const n = await conn.read(this.#readBuffer);
          if (n === null) throw new Deno.errors.UnexpectedEof("connection closed by Redis");
          this.#decoder.push(this.#readBuffer.subarray(0, n));
          watch();
          reply = this.#decoder.next();
        }
        if (reply.type === "error") progress.refused ??= reply.message;
        else if (reply.type !== "bulk" || reply.value === null) {
          throw new RespProtocolError(`Unexpected reply to XADD: ${reply.type}`);
        } else {
          if (progress.refused === null) progress.confirmed++;
          progress.stored = got + 1;
        }
      }
    } finally {
      clearTimeout(silent);
    }
  }

  #lostText(error: unknown): string {
    if (error instanceof RespProtocolError) return `Redis broke the protocol: ${error.message}`;
    return `Connection lost: ${describeError(error)}`;
  }
}

/** What kind of failure `error` is, for {@linkcode DeliveryError}. */
function failureOf(error: unknown): DeliveryFailure {
  return error instanceof RespProtocolError ? "protocol" : "connection";
}
