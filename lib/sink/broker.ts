/**
 * What a log broker must do for {@linkcode BrokerSink}: take a batch of
 * messages, in order, and say how many it has confirmed. Everything else a
 * sink does (gathering records, backpressure, reconnecting with backoff,
 * counting what was lost or sent twice) is the sink's, so a broker is one
 * file: its protocol, its connection, its reply to each message.
 *
 * @module
 */

import type { SinkMessage } from "./message_splitter.ts";

/** A log broker's stream: Redis, NATS JetStream, and later others. */
export interface Broker {
  /** The stream, as a URL without credentials, for messages to the user. */
  readonly name: string;
  /**
   * Sends `messages` in order and resolves once the broker has confirmed
   * every one (stored it, as far as the broker says so). Connects first if
   * it is not connected. Rejects with a {@linkcode DeliveryError} saying how
   * many of them, from the first, were confirmed and how many may have
   * reached the broker, so that only the rest are sent again.
   */
  deliver(messages: readonly SinkMessage[]): Promise<void>;
  /** Ends the connection, if any; a delivery in progress then fails,
   * with `reason` as its message when given (why it was ended). */
  close(reason?: string): void;
  /** For a broker that drops a message it has stored already (by an id
   * the sink gives it): how many it dropped so. */
  readonly duplicates?: number;
}

/** How a delivery failed: the connection (cannot connect, lost, silent),
 * the broker refusing a message (an error reply), or the broker breaking
 * its protocol. */
export type DeliveryFailure = "connection" | "refused" | "protocol";

/** A batch was not confirmed in full. */
export class DeliveryError extends Error {
  override name = "DeliveryError";
  /** What went wrong. */
  readonly failure: DeliveryFailure;
  /** Messages, from the first of the batch, that the broker confirmed. */
  readonly confirmed: number;
  /** Messages, from the first, that were sent before the failure: those
   * past `confirmed` may be stored and so, sent again, stored twice. */
  readonly sent: number;

  constructor(
    message: string,
    failure: DeliveryFailure,
    confirmed: number,
    sent: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.failure = failure;
    this.confirmed = confirmed;
    this.sent = Math.max(sent, confirmed);
  }
}
