/**
 * `--ack`: tells a client how many of its lines the output has written (and,
 * with a sink, the broker has confirmed: the output's `whenWritten` says
 * when), so that `linehub-client --ack` can forget them
 * (lib/wire/ack_protocol.ts).
 * One {@linkcode Acknowledger} per client, owned by its connection's task.
 *
 * @module
 */

import { type RecordSink, type StreamConn, writeAll } from "../io/mod.ts";
import { encodeAck } from "../wire/mod.ts";

/**
 * Sends one connection's acknowledgments: each after the output has written
 * the lines it counts. At most one write is in flight per connection, and
 * counts that arrive meanwhile are folded into the next, so a client that
 * reads its acknowledgments slowly costs a few bytes, not a queue.
 */
export class Acknowledger {
  readonly #conn: StreamConn;
  readonly #output: RecordSink;
  #wanted = 0;
  #sending: Promise<void> | null = null;

  constructor(conn: StreamConn, output: RecordSink) {
    this.#conn = conn;
    this.#output = output;
  }

  /** Asks for `lines` (the connection's count so far) to be acknowledged. */
  upTo(lines: number): void {
    if (lines <= this.#wanted) return;
    this.#wanted = lines;
    this.#sending ??= this.#send();
  }

  /** Resolves when no acknowledgment is waiting to be sent. */
  async idle(): Promise<void> {
    while (this.#sending !== null) await this.#sending;
  }

  async #send(): Promise<void> {
    try {
      let sent = 0;
      while (sent < this.#wanted) {
        const count = this.#wanted;
        // Everything accepted so far includes those lines.
        await this.#output.whenWritten();
        await writeAll(this.#conn, encodeAck(count));
        sent = count;
      }
    } catch {
      // The output failed (nothing more is acknowledged, by design) or the
      // connection closed; the read loop reports either.
    } finally {
      this.#sending = null;
    }
  }
}
