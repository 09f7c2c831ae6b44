/**
 * {@linkcode Sender}: the sending half of one connection of a line-mode
 * session. It writes the hello, then the queue's unsent lines in order as
 * they come, in batches, and half-closes once the input has ended and every
 * line went out; each line the socket took whole is reported to the
 * connection's {@linkcode Delivery}, which decides when it leaves the queue.
 *
 * @module
 */

import { concatBytes, writeAll } from "../io/mod.ts";
import type { ClientConn } from "./connect.ts";
import { ConnectionLost } from "./_connection_lost.ts";
import type { Delivery } from "./_delivery.ts";
import type { LineQueue } from "./line_queue.ts";

/** Most bytes of queued lines put into one socket write. */
const WRITE_BATCH = 65536;

/** Writes one connection's lines until the input ends or it is stopped. */
export class Sender {
  readonly #conn: ClientConn;
  readonly #queue: LineQueue;
  readonly #delivery: Delivery;
  /** Resolved by {@linkcode Sender.stop}, to end a wait for lines; it
   * lives no longer than the connection, so racing it keeps nothing. */
  readonly #stopped = Promise.withResolvers<void>();
  #isStopped = false;

  constructor(conn: ClientConn, queue: LineQueue, delivery: Delivery) {
    this.#conn = conn;
    this.#queue = queue;
    this.#delivery = delivery;
  }

  /**
   * Sends `hello` (if any), then lines as the queue has them. Resolves after
   * the half-close at the end of input, or once stopped; rejects with
   * {@linkcode ConnectionLost} when a write fails.
   */
  async run(hello: Uint8Array | null): Promise<void> {
    const queue = this.#queue;
    try {
      this.#conn.setNoDelay?.(true); // a typed line goes out at once
      if (hello !== null) await writeAll(this.#conn, hello);
      while (!this.#isStopped) {
        if (queue.unsent === 0) {
          if (queue.ended) {
            await this.#conn.closeWrite();
            return;
          }
          await Promise.race([queue.waitForUnsent(), this.#stopped.promise]);
          continue;
        }
        await this.#writeBatch();
      }
    } catch (error) {
      throw new ConnectionLost(error);
    }
  }

  /** Stops sending: a wait for lines ends, and no new batch starts. */
  stop(): void {
    this.#isStopped = true;
    this.#stopped.resolve();
  }

  /** Writes the next lines as one batch, telling the delivery of each line
   * as soon as the socket has taken all of it. */
  async #writeBatch(): Promise<void> {
    const lines = this.#queue.unsentLines(WRITE_BATCH);
    const batch = lines.length === 1 ? lines[0] as Uint8Array : concatBytes(lines);
    this.#delivery.offered(lines.length);
    let written = 0;
    let whole = 0;
    let wholeEnd = lines[0]?.length ?? 0;
    while (written < batch.length) {
      written += await this.#conn.write(batch.subarray(written));
      let done = 0;
      while (whole < lines.length && wholeEnd <= written) {
        done++;
        whole++;
        wholeEnd += lines[whole]?.length ?? 0;
      }
      if (done > 0) this.#delivery.written(done);
    }
  }
}
