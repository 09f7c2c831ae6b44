/**
 * {@linkcode Delivery}: what one connection of a line-mode session has done
 * with the queue's lines, the one state its sender and receiver share. The
 * sender says which lines it offered and which the socket took whole, the
 * receiver which the server acknowledged, and the delivery decides when a
 * line leaves the queue for good.
 *
 * Without `--ack` a line leaves once the socket took it (at most once), but
 * not before the connection has outlived the time a refusal takes to arrive:
 * a refused connection certainly delivered nothing, and its lines are sent
 * again on the next one. With `--ack` a line leaves once it was both written
 * whole and acknowledged, in either order: an acknowledgment can be read
 * before the sender has seen its write complete.
 *
 * @module
 */

import { AckProtocolError } from "../wire/mod.ts";
import { countOf } from "../text/mod.ts";
import type { LineQueue } from "./line_queue.ts";

/** What a session has seen over all its connections, which each
 * connection's {@linkcode Delivery} adds to. */
export interface DeliveryTotals {
  /** Lines that have left the queue for good: the line to send first on a
   * new connection is number `released + 1`. */
  released: number;
  /** Whether any line was ever written whole, for the hint about `--ack`. */
  everSent: boolean;
  /** Whether any acknowledgment ever came, for the same hint. */
  everAcked: boolean;
}

/** One connection's account of the lines it carried. */
export class Delivery {
  readonly #queue: LineQueue;
  readonly #ack: boolean;
  readonly #totals: DeliveryTotals;
  /** Lines handed to the socket on this connection, whole or not yet. */
  #offered = 0;
  /** The latest count acknowledged on this connection. */
  #acked = 0;
  /** How many of the acknowledged lines have left the queue. */
  #releasedAcked = 0;
  /** Without `--ack`: whether the connection outlived the refusal window. */
  #pastRefusal = false;
  #delivered = false;

  /**
   * @param queue the session's queue, rewound for this connection
   * @param ack whether lines wait for acknowledgments
   * @param totals the session's totals, updated as lines leave the queue
   */
  constructor(queue: LineQueue, ack: boolean, totals: DeliveryTotals) {
    this.#queue = queue;
    this.#ack = ack;
    this.#totals = totals;
  }

  /** Whether a line left the queue for good on this connection. */
  get delivered(): boolean {
    return this.#delivered;
  }

  /** The sender hands `count` more lines to the socket. */
  offered(count: number): void {
    this.#offered += count;
  }

  /** The socket took `count` more of the offered lines whole. */
  written(count: number): void {
    this.#queue.markSent(count);
    this.#totals.everSent = true;
    if (this.#ack) this.releaseAcknowledged();
    else if (this.#pastRefusal) this.releaseWritten();
  }

  /** The server acknowledged `count` lines of this connection in all.
   * Throws `AckProtocolError` for more lines than were offered on it. */
  acknowledged(count: number): void {
    if (count > this.#offered) {
      throw new AckProtocolError(
        `Invalid acknowledgment from the server: count ${count} with ` +
          `${countOf(this.#offered, "line")} sent on this connection`,
      );
    }
    this.#acked = count;
    if (count > 0) this.#totals.everAcked = true;
    this.releaseAcknowledged();
  }

  /** Without `--ack`: the connection outlived the time a refusal takes, so
   * the lines written on it leave the queue, now and as they are written. */
  outlivedRefusal(): void {
    this.#pastRefusal = true;
    this.releaseWritten();
  }

  /** Lines both written whole and acknowledged leave the queue. */
  releaseAcknowledged(): void {
    const count = Math.min(this.#acked - this.#releasedAcked, this.#queue.sent);
    if (count <= 0) return;
    this.#release(count);
    this.#releasedAcked += count;
  }

  /** Every line written whole leaves the queue (without `--ack`). */
  releaseWritten(): void {
    const count = this.#queue.sent;
    if (count <= 0) return;
    this.#release(count);
  }

  #release(count: number): void {
    this.#queue.release(count);
    this.#totals.released += count;
    this.#delivered = true;
  }
}
