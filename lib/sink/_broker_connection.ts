/**
 * {@linkcode BrokerConnection}: the TCP connection a broker client talks
 * over, with what every such client needs and none should write twice: a
 * connect that gives up after a while, reads that give up when the broker
 * stays silent, writes one after another, and a failed exchange turned into
 * the {@linkcode DeliveryError} the sink acts on, saying how far it got.
 *
 * @module
 */

import { closeQuietly, writeAll } from "../io/mod.ts";
import { describeError } from "../text/mod.ts";
import { DeliveryError } from "./broker.ts";

/** Options for {@linkcode BrokerConnection}. */
export interface BrokerConnectionOptions {
  /** How long a connect may take before it counts as failed, in ms.
   * @default {5000} */
  connectTimeoutMs?: number;
  /** How long a read may wait for the broker, in ms, before the connection
   * counts as lost (a stopped or unreachable broker).
   * @default {15000} */
  replyTimeoutMs?: number;
}

/** One broker's connection, made again after each failure. */
export class BrokerConnection {
  readonly #hostname: string;
  readonly #port: number;
  readonly #connectTimeoutMs: number;
  readonly #replyTimeoutMs: number;
  /** Names the broker in messages ("connection closed by Redis"). */
  readonly #broker: string;
  readonly #protocolText: (error: unknown) => string | null;
  #conn: Deno.TcpConn | null = null;
  /** Ends the connect in progress, if any: closing does not wait for it. */
  #connecting: AbortController | null = null;
  /** Why the connection was closed from this side, for the error message. */
  #closedBecause: string | null = null;
  /** Writes in progress, one after another (a PONG must not land inside a
   * batch). */
  #writing: Promise<void> = Promise.resolve();

  /**
   * @param broker the broker's kind, as messages name it ("Redis")
   * @param protocolText for an error that is the broker breaking its
   * protocol (or saying it will not go on), what to tell the user; null for
   * any other error, which is then the connection failing
   */
  constructor(
    hostname: string,
    port: number,
    broker: string,
    protocolText: (error: unknown) => string | null,
    options: BrokerConnectionOptions = {},
  ) {
    this.#hostname = hostname;
    this.#port = port;
    this.#broker = broker;
    this.#protocolText = protocolText;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 5000;
    this.#replyTimeoutMs = options.replyTimeoutMs ?? 15000;
  }

  /** Whether a connection is open. */
  get connected(): boolean {
    return this.#conn !== null;
  }

  /** Opens the connection; throws a {@linkcode DeliveryError} saying why
   * it could not: an error, the connect timeout, or a {@linkcode close}
   * meanwhile. */
  async connect(): Promise<void> {
    if (this.#conn !== null) return;
    const connecting = new AbortController();
    const timeout = AbortSignal.timeout(this.#connectTimeoutMs);
    const signal = AbortSignal.any([timeout, connecting.signal]);
    this.#connecting = connecting;
    this.#closedBecause = null;
    const closedWhy = (): string => this.#closedBecause ?? "closed while connecting";
    let conn: Deno.TcpConn;
    try {
      conn = await Deno.connect({ hostname: this.#hostname, port: this.#port, signal });
    } catch (error) {
      const why = connecting.signal.aborted
        ? closedWhy()
        : timeout.aborted
        ? `no answer within ${this.#connectTimeoutMs / 1000} s`
        : describeError(error);
      throw cannotConnect(why, error);
    } finally {
      this.#connecting = null;
    }
    if (connecting.signal.aborted) {
      // Closed as the connect completed: it stays closed.
      closeQuietly(conn);
      throw cannotConnect(closedWhy());
    }
    // A batch is one write; small replies should not wait for more.
    conn.setNoDelay(true);
    this.#conn = conn;
    this.#writing = Promise.resolve();
  }

  /** Reads into `buffer`; throws when the connection ends, or is closed
   * because the broker said nothing for the reply timeout. */
  async read(buffer: Uint8Array): Promise<number> {
    const conn = this.#open();
    const silent = setTimeout(() => {
      this.#closedBecause = `no reply within ${this.#replyTimeoutMs / 1000} s`;
      closeQuietly(conn);
    }, this.#replyTimeoutMs);
    try {
      const n = await conn.read(buffer);
      if (n === null) {
        throw new Deno.errors.UnexpectedEof(`connection closed by ${this.#broker}`);
      }
      return n;
    } finally {
      clearTimeout(silent);
    }
  }

  /** Writes `bytes` after every write before it. */
  write(bytes: Uint8Array): Promise<void> {
    const conn = this.#open();
    const done = this.#writing.catch(() => {}).then(() => writeAll(conn, bytes));
    this.#writing = done;
    return done;
  }

  /**
   * Waits for a batch's `reading` and `writing`. If either fails, closes the
   * connection, waits for the other to end too, and throws the
   * {@linkcode DeliveryError} for it, with `confirmed()` as far as the
   * replies went and `sent` messages possibly stored.
   */
  async exchange(
    reading: Promise<void>,
    writing: Promise<void>,
    confirmed: () => number,
    sent: number,
  ): Promise<void> {
    try {
      await Promise.all([reading, writing]);
    } catch (error) {
      throw await this.fail(error, confirmed, sent, [reading, writing]);
    }
  }

  /** Closes the connection after `error` and returns the
   * {@linkcode DeliveryError} to throw, once `pending` have ended (and so
   * `confirmed()` counts every reply that came in). */
  async fail(
    error: unknown,
    confirmed: () => number,
    sent: number,
    pending: Promise<unknown>[] = [],
  ): Promise<DeliveryError> {
    const because = this.#closedBecause;
    this.close();
    // Whichever failed first, the others end too, on the closed connection,
    // before the batch is given back.
    await Promise.allSettled(pending);
    if (error instanceof DeliveryError) return error;
    const protocol = this.#protocolText(error);
    return new DeliveryError(
      because ?? protocol ?? `Connection lost: ${describeError(error)}`,
      protocol === null ? "connection" : "protocol",
      confirmed(),
      sent,
      { cause: error },
    );
  }

  /** Closes the connection, if open, or ends the connect in progress; an
   * exchange or connect in progress then fails with `reason` as its
   * message, if given. */
  close(reason?: string): void {
    if (this.#connecting !== null) {
      if (reason !== undefined) this.#closedBecause ??= reason;
      this.#connecting.abort();
    }
    const conn = this.#conn;
    this.#conn = null;
    if (conn === null) return;
    if (reason !== undefined) this.#closedBecause ??= reason;
    closeQuietly(conn);
  }

  #open(): Deno.TcpConn {
    if (this.#conn === null) {
      throw new Deno.errors.NotConnected(`not connected to ${this.#broker}`);
    }
    return this.#conn;
  }
}

/** A failed connect, saying why; nothing was sent or confirmed. */
function cannotConnect(why: string, cause?: unknown): DeliveryError {
  return new DeliveryError(
    `Cannot connect: ${why}`,
    "connection",
    0,
    0,
    cause === undefined ? undefined : { cause },
  );
}
