/**
 * One accepted connection, from its accept until the server's task for it
 * lets go: the socket, what is queued to be sent to it, why the server
 * closed it if it did, and, once it is a client, the pipeline its reads go
 * through and the times `--idle-timeout` and `--line-timeout` judge it by.
 * As a client it is the {@linkcode ClientHandle} the observer gets. The
 * server drives it through its life (`begin`, `take`, `finish`, `leave`,
 * `close`); nothing outside can change what it reports. With `--rate-limit`
 * it also says how much to read next and when to stop reading (`readBuffer`,
 * `throttle`; see `_read_throttle.ts`).
 *
 * @module
 */

import {
  type ClientInfo,
  ConnectionPipeline,
  type LineSampler,
  type PipelineSettings,
} from "../format/mod.ts";
import { closeQuietly, type LineWriter, SendQueue, type StreamConn } from "../io/mod.ts";
import { formatNotice, type LineFlags } from "../wire/mod.ts";
import type { ClientHandle, ClientObserver } from "./client_handle.ts";
import type { DisconnectReason } from "./events.ts";
import { ReadThrottle } from "./_read_throttle.ts";
import type { RateLimit } from "./server_options.ts";

/** Longest the server waits for a client it cuts off to take the line saying
 * why (see {@linkcode Connection.stop}): a short line goes into the socket at
 * once unless the client has stopped reading, and then it cannot be told. */
const CLOSING_NOTICE_MS = 500;

/** What every connection of one server shares. */
export interface ConnectionOptions {
  /** The send queue's cap, in bytes. */
  readonly maxQueued: number;
  /** `--idle-timeout` and `--line-timeout` in ms (0: none), named in the
   * notice a client cut off by one gets. */
  readonly idleTimeoutMs: number;
  readonly lineTimeoutMs: number;
  /** Told when the server closes a connection itself, and why. */
  readonly onStop: (reason: DisconnectReason) => void;
  /** How fast each client is read (`--rate-limit`); null: as fast as it sends. */
  readonly rateLimit: RateLimit | null;
  /** Told when a client's octet-counted stream breaks its framing (see
   * `FramingErrorHandler`), with the client as it is known then. */
  readonly onFramingError: (client: ClientInfo, error: string) => void;
}

/** One accepted connection; once it has begun, a client. */
export class Connection implements ClientHandle {
  /** The socket (a TLS one on a TLS port). */
  readonly conn: StreamConn;
  /** The server's task for it; done when everything it held is let go. Set
   * once by the server, right after the connection is registered. */
  task: Promise<void> = Promise.resolve();
  readonly #options: ConnectionOptions;
  /** Number, address, port and identity; `id` is -1 until it begins. */
  #client: ClientInfo;
  #pipeline: ConnectionPipeline | null = null;
  #connectedAt = 0;
  #linesOut = 0;
  #bytesIn = 0;
  #stopReason: DisconnectReason | null = null;
  /** When data last arrived (or the connection began), for --idle-timeout. */
  #lastActive = Date.now();
  /** When the first byte of the unfinished line arrived, for
   * --line-timeout; 0 between lines. */
  #lineStartedAt = 0;
  /** What waits to be sent to the client, made on the first send. */
  #queue: SendQueue | null = null;
  /** False before the client began and after it left: nothing is sent then. */
  #open = false;
  /** Set once its disconnect event is written. */
  #reported = false;
  /** Its `--rate-limit`, from when it begins; null without one. */
  #throttle: ReadThrottle | null = null;
  /** Times it was not read for being over its rate. */
  #pauses = 0;
  /** Ends the pause in progress at once (it is being stopped); null when it
   * is not paused. */
  #endPause: (() => void) | null = null;

  constructor(conn: StreamConn, client: ClientInfo, options: ConnectionOptions) {
    this.conn = conn;
    this.#client = client;
    this.#options = options;
  }

  /** Who it is: after a linehub client's hello, with its name and session. */
  get client(): ClientInfo {
    return this.#pipeline?.client ?? this.#client;
  }

  get connectedAt(): number {
    return this.#connectedAt;
  }

  get linesIn(): number {
    return this.#pipeline?.lines ?? 0;
  }

  get linesOut(): number {
    return this.#linesOut;
  }

  /** Bytes received from it so far. */
  get bytesIn(): number {
    return this.#bytesIn;
  }

  /** Its lines cut at `--max-line` so far. */
  get truncatedLines(): number {
    return this.#pipeline?.truncatedLines ?? 0;
  }

  /** Why the server closed it, or null if it has not. */
  get stopReason(): DisconnectReason | null {
    return this.#stopReason;
  }

  /** Whether it has begun, so it has a number and its end is reported. */
  get isClient(): boolean {
    return this.#client.id >= 0;
  }

  /** Whether it is a client that has not left: it may be sent lines. */
  get isOpen(): boolean {
    return this.#open;
  }

  /** Times it was not read for being over its `--rate-limit`. */
  get pauses(): number {
    return this.#pauses;
  }

  /** Its TLS handshake named it by a client certificate. */
  identify(identity: string): void {
    this.#client = { ...this.#client, identity };
  }

  /**
   * Makes it client number `id`, connected at `now`: its lines go to
   * `output` as `settings` say and, when there is an observer, to the
   * observer one by one (see {@linkcode ConnectionPipeline}), and those of
   * the reads `sampler` asks for to it.
   */
  begin(
    id: number,
    now: number,
    output: LineWriter,
    settings: PipelineSettings,
    observer: ClientObserver | null,
    sampler: LineSampler | null = null,
  ): void {
    this.#client = { ...this.#client, id };
    this.#connectedAt = now;
    this.#lastActive = now;
    const tap = observer === null
      ? null
      : (line: Uint8Array, flags: LineFlags): void => observer.line(this, line, flags);
    // Only octet counting can break its framing: an lf connection holds no
    // handler, so an idle one costs what it did.
    const onFramingError = settings.framing === "lf"
      ? null
      : (error: string): void => this.#options.onFramingError(this.client, error);
    this.#pipeline = new ConnectionPipeline(output, this.#client, settings, {
      tap,
      sampler,
      onFramingError,
    });
    const limit = this.#options.rateLimit;
    if (limit !== null) this.#throttle = new ReadThrottle(limit, performance.now());
    this.#open = true;
  }

  /** What of `buffer` to read into next: all of it, or with `--rate-limit`
   * about what the client's tokens allow (a start of it), until it is
   * stopped. */
  readBuffer(buffer: Uint8Array): Uint8Array {
    const throttle = this.#throttle;
    // Once stopped, it is read freely until the close.
    if (throttle === null || this.#stopReason !== null) return buffer;
    const size = throttle.readSize(buffer.length, performance.now());
    return size === buffer.length ? buffer : buffer.subarray(0, size);
  }

  /**
   * With `--rate-limit`, when the client has spent its tokens: a wait until
   * it has earned more, resolving with the milliseconds waited, during which
   * it is not read (TCP holds it back) and counts as neither idle nor slow
   * to finish a line. Null when it may be read on. A connection being
   * stopped is not held back, and a stop ends a wait at once, so no wait
   * outlasts the connection or the drain deadline.
   */
  throttle(): Promise<number> | null {
    const throttle = this.#throttle;
    if (throttle === null || this.#stopReason !== null) return null;
    const start = performance.now();
    const ms = throttle.pauseMs(start);
    if (ms === 0) return null;
    this.#pauses++;
    return new Promise<number>((resolve) => {
      const end = (): void => {
        clearTimeout(timer);
        this.#endPause = null;
        const waited = performance.now() - start;
        // The wait was the server's doing, not the client's.
        this.#lastActive = Date.now();
        if (this.#lineStartedAt !== 0) this.#lineStartedAt += waited;
        resolve(waited);
      };
      const timer = setTimeout(end, ms);
      this.#endPause = end;
    });
  }

  /** Counts `bytes` received, whether or not they go through the pipeline. */
  received(bytes: number): void {
    this.#bytesIn += bytes;
  }

  /** Writes the lines one read of `chunk`, at `now`, completes; returns how
   * many. */
  take(chunk: Uint8Array, now: number): number {
    const pipeline = this.#pipeline as ConnectionPipeline;
    this.#lastActive = now;
    const before = pipeline.lines;
    pipeline.push(chunk, now);
    const lines = pipeline.lines - before;
    this.#throttle?.took(lines, chunk.length, performance.now());
    // --line-timeout runs from the first byte of the line still
    // unfinished: this read's, if it finished a line or began one.
    if (!pipeline.midLine) this.#lineStartedAt = 0;
    else if (this.#lineStartedAt === 0 || lines !== 0) this.#lineStartedAt = now;
    return lines;
  }

  /** Its input ended at `now`: writes what came of an unfinished last line,
   * flagged partial; returns the lines that wrote (0 or 1). */
  finish(now: number): number {
    const pipeline = this.#pipeline as ConnectionPipeline;
    this.#lastActive = now;
    this.#lineStartedAt = 0;
    const before = pipeline.lines;
    pipeline.end(now);
    return pipeline.lines - before;
  }

  /** It is no longer a client to send to (the observer was told). */
  leave(): void {
    this.#open = false;
  }

  /** Why it should be closed now, if at all: silent since `idleSince` or
   * before, or mid-line since `lineSince` or before (ms since the epoch). */
  stalled(idleSince: number, lineSince: number): DisconnectReason | null {
    // Still in its TLS handshake, which has its own deadline: the client's
    // clocks start once it is one (see `begin`).
    if (!this.isClient) return null;
    // Not read meanwhile for being over its rate: it cannot show activity.
    if (this.#endPause !== null) return null;
    if (this.#lastActive <= idleSince) return "idle-timeout";
    if (this.#lineStartedAt !== 0 && this.#lineStartedAt <= lineSince) return "line-timeout";
    return null;
  }

  /** Resolves once what is queued to it is sent, or cannot be. */
  sent(): Promise<void> {
    return this.#queue?.idle() ?? Promise.resolve();
  }

  /** Closes the socket, dropping whatever is still queued. */
  close(): void {
    this.#queue?.close();
    closeQuietly(this.conn);
  }

  /** True once, for the one disconnect event of a client; false for a
   * connection that never became one, or whose event was written. */
  reportEnd(): boolean {
    if (!this.isClient || this.#reported) return false;
    this.#reported = true;
    return true;
  }

  send(line: Uint8Array): boolean {
    if (!this.#open || this.#stopReason !== null) return false;
    const queue = this.#queue ??= new SendQueue(this.conn, { maxBytes: this.#options.maxQueued });
    if (!queue.push(line)) {
      // A failed write means a broken connection, which the read loop
      // reports as such; otherwise the queue is at its cap.
      if (!queue.failed) this.stop("send-queue-full");
      return false;
    }
    this.#linesOut++;
    return true;
  }

  kick(): void {
    if (this.#open) this.stop("kicked");
  }

  /**
   * Closes the socket, naming why in the disconnect event. A client is told
   * why first, in a notice line (see `server_notice.ts`) queued after what
   * it is still owed, and closed once that is written, or after
   * {@linkcode CLOSING_NOTICE_MS} if it does not read: never waited for
   * longer. Meanwhile what it sends is read and recorded as ever. A client
   * that has not joined or has left, or that the reason has no notice for
   * (one that stopped reading: `send-queue-full`), is closed at once.
   */
  stop(reason: DisconnectReason): void {
    if (this.#stopReason !== null) return;
    this.#stopReason = reason;
    this.#options.onStop(reason);
    // Read at once, so that what it sends until the close is recorded.
    this.#endPause?.();
    const notice = this.#open ? this.#closingNotice(reason) : null;
    if (notice === null) {
      this.close();
      return;
    }
    void this.#closeAfter(notice);
  }

  /** Queues `notice`, then closes the socket once it is written, or after
   * {@linkcode CLOSING_NOTICE_MS}. */
  async #closeAfter(notice: Uint8Array): Promise<void> {
    // Through the queue, so that the line cannot land inside one in flight.
    const queue = this.#queue ??= new SendQueue(this.conn, { maxBytes: this.#options.maxQueued });
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      if (queue.push(notice)) {
        await Promise.race([
          queue.idle(),
          new Promise<void>((resolve) => timer = setTimeout(resolve, CLOSING_NOTICE_MS)),
        ]);
      }
    } finally {
      clearTimeout(timer);
      this.close();
    }
  }

  /**
   * The line that tells a client why the server closes its connection (see
   * `server_notice.ts`), or null for the reasons it is not told: it closed or
   * failed itself, or it stopped reading (`send-queue-full`), so that the line
   * could not reach it.
   */
  #closingNotice(reason: DisconnectReason): Uint8Array | null {
    let text: string;
    switch (reason) {
      case "kicked":
        text = "disconnected by the operator";
        break;
      case "idle-timeout":
        text = `nothing received for ${this.#options.idleTimeoutMs / 1000} s (--idle-timeout)`;
        break;
      case "line-timeout":
        text = `line unfinished after ${this.#options.lineTimeoutMs / 1000} s (--line-timeout)`;
        break;
      case "drain-timeout":
        text = "the server is shutting down (--drain-timeout passed)";
        break;
      case "tls-on-plain-port":
        // Never served: a refusal. Sent in plain text, which is what tells
        // the TLS client at once that this is no TLS server.
        return new TextEncoder().encode(
          formatNotice("refused", reason, "this port speaks plain TCP, not TLS"),
        );
      default:
        return null;
    }
    return new TextEncoder().encode(formatNotice("closing", reason, text));
  }
}
