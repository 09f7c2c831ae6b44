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

import { formatHostPort } from "../net/mod.ts";
import { type Broker, DeliveryError } from "./broker.ts";
import type { SinkMessage } from "./message_splitter.ts";
import { BrokerConnection, type BrokerConnectionOptions } from "./_broker_connection.ts";
import { RespBatch, RespDecoder, RespProtocolError } from "./_resp.ts";

/** Options for {@linkcode RedisStream}; see also the connection's, the
 * connect and reply timeouts. */
export interface RedisStreamOptions extends BrokerConnectionOptions {
  /** Trim the stream to about this many entries as it grows (`MAXLEN ~`).
   * @default {undefined: never trimmed} */
  maxLen?: number;
}

/** Bytes read from the broker at a time: replies are a few dozen bytes. */
const READ_BYTES = 16384;

/** How far the replies to a batch went. */
interface Progress {
  /** Entries added, from the first, before any error reply. */
  confirmed: number;
  /** One past the last entry added, error replies before it or not. */
  stored: number;
  /** The first error reply, if any. */
  refused: string | null;
}

/** One Redis stream, written with XADD. */
export class RedisStream implements Broker {
  readonly name: string;
  readonly #link: BrokerConnection;
  /** The arguments every XADD starts with, up to the `*` id. */
  readonly #head: readonly string[];
  readonly #batch = new RespBatch(65536);
  readonly #readBuffer = new Uint8Array(READ_BYTES);
  #decoder = new RespDecoder();

  constructor(hostname: string, port: number, key: string, options: RedisStreamOptions = {}) {
    const { maxLen, ...connection } = options;
    this.#link = new BrokerConnection(
      hostname,
      port,
      "Redis",
      (error) =>
        error instanceof RespProtocolError ? `Redis broke the protocol: ${error.message}` : null,
      connection,
    );
    this.#head = maxLen === undefined
      ? ["XADD", key, "*"]
      : ["XADD", key, "MAXLEN", "~", String(maxLen), "*"];
    this.name = `redis://${formatHostPort(hostname, port)}/${encodeURIComponent(key)}` +
      (maxLen === undefined ? "" : `?maxlen=${maxLen}`);
  }

  async deliver(messages: readonly SinkMessage[]): Promise<void> {
    if (messages.length === 0) return;
    if (!this.#link.connected) {
      await this.#link.connect();
      this.#decoder = new RespDecoder();
    }
    const batch = this.#batch;
    batch.clear();
    for (const message of messages) batch.command(this.#head, message.fields);
    const progress: Progress = { confirmed: 0, stored: 0, refused: null };
    await this.#link.exchange(
      this.#readReplies(messages.length, progress),
      this.#link.write(batch.bytes()),
      () => progress.confirmed,
      messages.length,
    );
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

  close(reason?: string): void {
    this.#link.close(reason);
  }

  /** Reads `count` replies in order: confirmations are counted up to the
   * first error reply, whose text is kept; the rest are read to keep the
   * connection in step. */
  async #readReplies(count: number, progress: Progress): Promise<void> {
    for (let got = 0; got < count; got++) {
      let reply = this.#decoder.next();
      while (reply === undefined) {
        const n = await this.#link.read(this.#readBuffer);
        this.#decoder.push(this.#readBuffer.subarray(0, n));
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
  }
}
