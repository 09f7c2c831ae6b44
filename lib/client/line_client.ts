/**
 * The linehub client in line mode (`--retry`, `--ack`): the input is split
 * into lines kept in a bounded {@linkcode LineQueue}, lost connections are
 * reopened with exponential backoff, and, with `--ack`, lines leave the queue
 * only once the server has acknowledged writing them, so they are sent again
 * after a reconnect if it had not.
 *
 * Three tasks share the queue. The input task here reads one line at a time
 * and stops reading while the queue is full, so nothing is ever dropped. Per
 * connection, a sender (`_sender.ts`) writes the unsent lines in order and
 * half-closes at the end of input, and a receiver (`_receiver.ts`) copies
 * what the server sends to the output, picking out acknowledgments when
 * `--ack` is on; the connection's `Delivery` (`_delivery.ts`), which both
 * report to, decides when a line leaves the queue. This module keeps the
 * session: connecting, when to retry (`_retry_policy.ts`), and what the user
 * is told. Guarantees: without `--ack` a line leaves the queue once the socket
 * took all of it, so lines in flight when a connection dies are lost (at
 * most once); with `--ack` every line reaches a server's output at least
 * once unless the session fails first (and then its message counts the lines
 * left), and a line in flight when a connection dies may arrive twice (the
 * second time whole, the first possibly as a partial fragment).
 *
 * @module
 */

import { DEFAULT_CLIENT_MAX_LINE, encodeHelloLine, LineReader } from "../wire/mod.ts";
import { formatHostPort, type HostPort, randomId } from "../net/mod.ts";
import { abortable, type ByteReader, type ByteWriter, closeQuietly, writeAll } from "../io/mod.ts";
import { countOf, describeError } from "../text/mod.ts";
import { ConnectionLost } from "./_connection_lost.ts";
import { Delivery, type DeliveryTotals } from "./_delivery.ts";
import { Receiver } from "./_receiver.ts";
import { RetryPolicy } from "./_retry_policy.ts";
import { Sender } from "./_sender.ts";
import { ClientError } from "./client_error.ts";
import {
  type ClientConn,
  connectedMessage,
  DEFAULT_CONNECT_TIMEOUT,
  openConnection,
} from "./connect.ts";
import type { LineClientOptions } from "./plain_client.ts";
import {
  abortReason,
  END_MAYBE_UNREAD,
  type NoticeOutcome,
  noticeOutcome,
  type ReportKind,
  tlsCloseHint,
} from "./session_outcome.ts";
import { LineQueue } from "./line_queue.ts";
import { INSECURE_WARNING, type TlsClientOptions } from "./tls_connect.ts";

const LF = 10;

/** A connection open this long counts as a success even if it carried no
 * line, so an idle session that loses its server starts its retries afresh. */
const STABLE_CONNECTION_MS = 10_000;

/** Without `--ack`, how long a connection must last before the lines sent on
 * it leave the queue: a server that refuses a client says so at once, and
 * the lines sent before the refusal arrived are then sent again. */
const REFUSAL_WINDOW_MS = 1000;

/** With `--ack`, how long a full queue may wait without any acknowledgment
 * ever having come before the user is told the server may not run `--ack`. */
const NO_ACK_HINT_MS = 5_000;

/** Options for {@linkcode runReconnectingClient}. */
export interface ReconnectingClientOptions extends LineClientOptions {
  /** Reconnect attempts in a row before giving up; `Infinity` never gives up.
   * @default {0} */
  retry?: number;
  /** Expect acknowledgments and keep lines until they are acknowledged.
   * @default {false} */
  ack?: boolean;
  /** Most lines held (unsent, or unacknowledged with `ack`).
   * @default {10000} */
  bufferLines?: number;
  /** Most bytes held.
   * @default {67108864} */
  bufferBytes?: number;
  /** Longest line sent whole, in bytes before the line ending; longer lines are cut there.
   * @default {65536} */
  maxLine?: number;
  /** Ceiling of the first retry delay, in milliseconds.
   * @default {250} */
  backoffBaseMs?: number;
  /** Ceiling of every retry delay, in milliseconds.
   * @default {30000} */
  backoffMaxMs?: number;
  /** With `ack`, milliseconds a full queue waits, without any acknowledgment
   * ever, before a notice asks whether the server runs with `--ack`.
   * @default {5000} */
  noAckHintMs?: number;
  /** Random source for the backoff jitter, numbers in [0, 1).
   * @default {Math.random} */
  random?: () => number;
  /** Without `ack`, milliseconds a connection must last before the lines
   * sent on it leave the queue; a refusal within them has them sent again.
   * @default {1000} */
  refusalWindowMs?: number;
}

/** How one connection ended without finishing the session. */
interface LostConnection {
  /** What happened, as the first part of a message. */
  reason: string;
  /** Whether it delivered a line or lasted long enough to count as a success. */
  success: boolean;
  /** Whether `reason` already says what is left undelivered. */
  saysPending: boolean;
  /** Whether the server closed the connection (rather than it failing). */
  closed: boolean;
  /** What the server said last, if it said why it ended the connection. */
  notice: NoticeOutcome | null;
}

/**
 * Runs a line-mode client session. Resolves when all input was sent (and,
 * with `ack`, acknowledged) and the server closed the connection; rejects
 * with {@linkcode ClientError} otherwise.
 *
 * @param target where to connect
 * @param input what to send when no `messages` are given (stdin)
 * @param output where the server's bytes (acknowledgments taken out) go (stdout)
 */
export async function runReconnectingClient(
  target: HostPort,
  input: ByteReader,
  output: ByteWriter,
  options: ReconnectingClientOptions = {},
): Promise<void> {
  const session = new Session(target, output, options);
  const messages = options.messages ?? [];
  const source = messages.length > 0
    ? bytesReader(new TextEncoder().encode(messages.map((m) => m + "\n").join("")))
    : input;
  return await session.run(new LineReader(source, { maxLine: session.maxLine }));
}

/** The state of one line-mode run: the queue, the retry count, the flags. */
class Session {
  readonly maxLine: number;
  readonly #target: HostPort;
  readonly #where: string;
  readonly #output: ByteWriter;
  readonly #queue: LineQueue;
  readonly #ack: boolean;
  readonly #retries: RetryPolicy;
  readonly #connectTimeout: number;
  readonly #interrupt: AbortSignal | undefined;
  readonly #noAckHintMs: number;
  readonly #refusalWindowMs: number;
  readonly #tls: TlsClientOptions | undefined;
  readonly #notice: (message: string, kind: ReportKind) => void;
  /** The name the hello gives, if any. */
  readonly #name: string | undefined;
  /** This session's id, the same in the hello of every connection. */
  readonly #session = randomId();
  /** What all connections delivered: lines that have left the queue for
   * good (sent, or acknowledged with `ack`), the first of a new connection
   * being number `released + 1`, which the hello tells the server. */
  readonly #totals: DeliveryTotals = { released: 0, everSent: false, everAcked: false };
  /** Aborted, with the reason, when the whole session must stop: the input
   * failed, or an interrupt. A signal rather than a promise, since every
   * connection and every retry waits on it: each wait removes its listener
   * when it ends, where a race against a promise would keep a reaction per
   * wait for as long as the session runs (see lib/io/abortable.ts). */
  readonly #fatal = new AbortController();
  /** The error #fatal was aborted with, once it has been. */
  #stopped: ClientError | null = null;
  /** Aborted when `run` returns, to end what still waits on the input side. */
  readonly #finished = new AbortController();

  constructor(target: HostPort, output: ByteWriter, options: ReconnectingClientOptions) {
    this.#target = target;
    this.#where = formatHostPort(target.host, target.port);
    this.#output = output;
    this.#ack = options.ack ?? false;
    this.#retries = new RetryPolicy(options.retry ?? 0, {
      backoff: {
        ...(options.backoffBaseMs === undefined ? {} : { baseMs: options.backoffBaseMs }),
        ...(options.backoffMaxMs === undefined ? {} : { maxMs: options.backoffMaxMs }),
      },
      ...(options.random === undefined ? {} : { random: options.random }),
    });
    this.maxLine = options.maxLine ?? DEFAULT_CLIENT_MAX_LINE;
    this.#queue = new LineQueue({
      ...(options.bufferLines === undefined ? {} : { maxLines: options.bufferLines }),
      ...(options.bufferBytes === undefined ? {} : { maxBytes: options.bufferBytes }),
    });
    this.#connectTimeout = options.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT;
    this.#interrupt = options.signal;
    this.#noAckHintMs = options.noAckHintMs ?? NO_ACK_HINT_MS;
    this.#refusalWindowMs = options.refusalWindowMs ?? REFUSAL_WINDOW_MS;
    this.#tls = options.tls;
    this.#notice = options.onNotice ?? (() => {});
    this.#name = options.name;
  }

  /**
   * The hello that starts a connection, or null: with a name, or with
   * `ack`, where the server must be a linehub server anyway (its `--ack`),
   * so that its output numbers the lines as this session does and a line
   * sent again after a reconnect has the number it had (JSON `session` and
   * `seq`). Without either, nothing is sent a server such as `nc` would show.
   */
  #hello(): Uint8Array | null {
    if (this.#name === undefined && !this.#ack) return null;
    return encodeHelloLine({
      session: this.#session,
      seq: this.#totals.released + 1,
      ...(this.#name === undefined ? {} : { name: this.#name }),
    });
  }

  async run(reader: LineReader): Promise<void> {
    const interrupt = this.#interrupt;
    // Synchronous, so that a connect aborted by the same interrupt already
    // finds the session stopped.
    const onAbort = (): void =>
      this.#stop(
        new ClientError(
          "interrupted",
          `Interrupted${abortReason(interrupt)}: ${this.#pending(true)}`,
        ),
      );
    if (interrupt?.aborted) onAbort();
    interrupt?.addEventListener("abort", onAbort, { once: true });
    this.#readInput(reader).catch((error) =>
      this.#stop(
        new ClientError("failed", `Cannot read from stdin: ${describeError(error)}`, {
          cause: error,
        }),
      )
    );
    try {
      await this.#connectLoop();
    } finally {
      interrupt?.removeEventListener("abort", onAbort);
      this.#finished.abort();
    }
  }

  /** Ends the whole session with `error`, wherever it is waiting. */
  #stop(error: ClientError): void {
    if (this.#stopped !== null) return;
    this.#stopped = error;
    this.#fatal.abort(error);
  }

  /** Connects, runs connections, and retries until done or out of retries. */
  async #connectLoop(): Promise<void> {
    const retries = this.#retries;
    let connectedBefore = false;
    while (true) {
      let conn: ClientConn;
      try {
        conn = await this.#race(
          openConnection(this.#target, this.#connectTimeout, this.#interrupt, this.#tls),
        );
      } catch (error) {
        if (!(error instanceof ClientError)) throw error;
        if (error.kind !== "connect" && error.kind !== "refused") throw error;
        // An interrupt aborts the connect too; report the interrupt.
        if (this.#stopped !== null) throw this.#stopped;
        // A server that does not speak TLS will not next time either.
        const final = error.kind === "refused";
        if (final || retries.exhausted) {
          const gaveUp = final ? "" : retries.gaveUp();
          // Never connected: the address is the news, not the input's fate.
          if (!connectedBefore) {
            throw new ClientError(error.kind, `${error.message}${gaveUp}`, { cause: error });
          }
          throw new ClientError(
            final ? "refused" : "lost",
            `${error.message}${gaveUp}; ${this.#pending()}`,
            { cause: error },
          );
        }
        await this.#waitToRetry(error.message);
        continue;
      }
      // Lines count as held only once a connection failed or was lost;
      // before that they were just read while connecting.
      const held = retries.failing || connectedBefore ? this.#queue.length : 0;
      this.#notice(
        connectedMessage(this.#where, this.#tls, connectedBefore) +
          (held > 0 ? `; sending ${countOf(held, "line")} held` : ""),
        "connection",
      );
      if (!connectedBefore && this.#tls?.insecure) this.#notice(INSECURE_WARNING, "notice");
      connectedBefore = true;
      const lost = await this.#runConnection(conn);
      if (lost === null) return;
      if (lost.success) retries.succeeded();
      if (this.#queue.ended && this.#queue.length === 0) {
        // Everything was delivered as far as the client can know. With
        // --ack it was: nothing is lost however the connection ended. Without,
        // the input ended, with nothing new, just as the server closed
        // (done); but a server that resets the connection, or cuts the
        // client off, has not read up to the end of the input.
        if (this.#ack || (lost.closed && lost.notice === null)) return;
        throw new ClientError(lost.notice?.kind ?? "lost", `${lost.reason}; ${END_MAYBE_UNREAD}`);
      }
      if (lost.notice !== null && !lost.notice.retry) {
        throw new ClientError(lost.notice.kind, `${lost.reason}; ${this.#pending()}`);
      }
      if (retries.exhausted) {
        const pending = lost.saysPending ? "" : `; ${this.#pending()}`;
        throw new ClientError(
          lost.notice?.kind ?? "lost",
          `${lost.reason}${retries.gaveUp()}${pending}`,
        );
      }
      await this.#waitToRetry(lost.reason);
    }
  }

  /**
   * Runs one connection: resends what the queue holds, sends new lines as
   * they come, copies the server's bytes out. Returns null when the session
   * is done, or how the connection was lost.
   */
  async #runConnection(conn: ClientConn): Promise<LostConnection | null> {
    const queue = this.#queue;
    const opened = Date.now();
    queue.rewind();
    // Made before any line of this connection is sent or released.
    const hello = this.#hello();
    const delivery = new Delivery(queue, this.#ack, this.#totals);
    const refusalTimer = this.#ack
      ? undefined
      : setTimeout(() => delivery.outlivedRefusal(), this.#refusalWindowMs);
    const sender = new Sender(conn, queue, delivery);
    const receiver = new Receiver(conn, {
      onAck: this.#ack ? (count) => delivery.acknowledged(count) : null,
      write: (bytes) => this.#write(bytes),
      protocolError: (broken) =>
        new ClientError(
          "failed",
          `${broken.message} (server ${this.#where}); ${this.#pending()}`,
          { cause: broken },
        ),
    });
    const sending = sender.run(hello);
    const receiving = receiver.run();
    // Both are awaited below; these only keep a rejection that comes after
    // the outcome is decided from counting as unhandled.
    sending.catch(() => {});
    receiving.catch(() => {});

    let failure: ConnectionLost | null = null;
    try {
      await this.#race(
        Promise.race([
          receiving,
          // The sender finishing (after its half-close) decides nothing;
          // only its failure does.
          sending.then(() => new Promise<never>(() => {})),
        ]),
      );
    } catch (error) {
      if (!(error instanceof ConnectionLost)) throw error;
      failure = error;
    } finally {
      clearTimeout(refusalTimer);
      sender.stop();
      closeQuietly(conn);
      await Promise.allSettled([sending, receiving]);
      // The connection is gone: what was acknowledged counts, the rest is resent.
      delivery.releaseAcknowledged();
    }
    const held = receiver.notice;
    const refused = held?.notice.kind === "refused";
    if (!this.#ack && !refused) delivery.releaseWritten();
    const success = !refused && (delivery.delivered || Date.now() - opened >= STABLE_CONNECTION_MS);
    if (held !== null) {
      if (this.#ack && queue.ended && queue.length === 0) {
        // Everything was acknowledged: a cut-off now costs nothing, and its
        // line is shown like anything else the server said.
        await this.#write(held.line);
        return null;
      }
      const outcome = noticeOutcome(held.notice, this.#where);
      return {
        reason: outcome.message,
        success,
        saysPending: false,
        closed: true,
        notice: outcome,
      };
    }
    if (failure !== null) {
      return {
        reason: `Connection to ${this.#where} lost: ${failure.message}`,
        success,
        saysPending: false,
        closed: false,
        notice: null,
      };
    }
    // The server closed its side.
    if (queue.ended && queue.length === 0) return null;
    const unacknowledged = queue.ended && queue.unsent === 0;
    return {
      reason: unacknowledged
        ? `Server ${this.#where} closed the connection with ` +
          `${countOf(queue.length, "line")} not acknowledged${this.#ackHint()}`
        : `Server ${this.#where} closed the connection before the input ended` +
          tlsCloseHint(this.#tls, receiver.received, opened),
      success,
      saysPending: unacknowledged,
      closed: true,
      notice: null,
    };
  }

  /** Reads lines into the queue, waiting for room: a full queue stops the reading. */
  async #readInput(reader: LineReader): Promise<void> {
    let number = 0;
    let toldCut = false;
    let toldNoAck = false;
    while (true) {
      const line = await reader.next();
      if (line === null) {
        this.#queue.end();
        return;
      }
      number++;
      if (line.cut && !toldCut) {
        toldCut = true;
        // Up to three bytes fewer than --max-line, where the cut would split a character.
        const kept = line.bytes.length - (line.bytes.at(-1) === LF ? 1 : 0);
        this.#notice(
          `Line ${number} of the input is longer than ${this.maxLine} bytes: sending its first ` +
            `${kept} (see --max-line); later long lines are cut without a message`,
          "notice",
        );
      }
      if (this.#ack && !toldNoAck && !this.#queue.hasRoom(line.bytes.length)) {
        toldNoAck = true;
        await this.#hintIfNoAck();
      }
      await this.#queue.waitForRoom(line.bytes.length);
      this.#queue.push(line.bytes);
    }
  }

  /** Waits for room for a while; if it stays full without any
   * acknowledgment ever, tells the user why the input stalls. */
  async #hintIfNoAck(): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<"expired">((resolve) => {
      timer = setTimeout(() => resolve("expired"), this.#noAckHintMs);
    });
    try {
      let first: "room" | "expired" | "finished";
      try {
        first = await abortable(
          Promise.race([this.#queue.waitForRoom(1).then(() => "room" as const), expired]),
          this.#finished.signal,
        );
      } catch (error) {
        if (!this.#finished.signal.aborted) throw error;
        first = "finished";
      }
      if (first === "expired" && !this.#totals.everAcked) {
        this.#notice(
          `Waiting for ${this.#where} to acknowledge ${countOf(this.#queue.length, "line")} ` +
            `before reading more input (does the server run with --ack?)`,
          "notice",
        );
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /** Tells the user about a failure and the retry, then waits the backoff delay. */
  async #waitToRetry(reason: string): Promise<void> {
    const { delayMs, message } = this.#retries.retry(reason);
    this.#notice(message, "connection");
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await this.#race(new Promise<void>((resolve) => timer = setTimeout(resolve, delayMs)));
    } finally {
      clearTimeout(timer);
    }
  }

  /** Writes the server's bytes to the output; a failure ends the session. */
  async #write(bytes: Uint8Array): Promise<void> {
    try {
      await writeAll(this.#output, bytes);
    } catch (error) {
      throw new ClientError("output", `Cannot write to stdout: ${describeError(error)}`, {
        cause: error,
      });
    }
  }

  /** Settles like `promise`, unless the session must stop first. */
  #race<T>(promise: Promise<T>): Promise<T> {
    return abortable(promise, this.#fatal.signal);
  }

  #delivered(): string {
    return this.#ack ? "acknowledged" : "sent";
  }

  /** What was not delivered, for the last message: "3 lines not sent";
   * with `hint`, and when it may explain a stall, the hint about `--ack`. */
  #pending(hint = false): string {
    const held = this.#queue.length;
    const unread = this.#queue.ended ? "" : ", input not read to the end";
    if (held === 0) {
      // Stopped before the first line was even read (a refusal that came
      // first): "every line read so far acknowledged" would be vacuous.
      if (this.#totals.released === 0 && !this.#queue.ended) {
        return `nothing was delivered${unread}`;
      }
      return this.#queue.ended
        ? `all input ${this.#delivered()}`
        : `every line read so far ${this.#delivered()}`;
    }
    return `${countOf(held, "line")} not ${this.#delivered()}${unread}${
      hint ? this.#ackHint() : ""
    }`;
  }

  /** With `--ack`, if lines went out and no acknowledgment ever came back,
   * the likely cause. */
  #ackHint(): string {
    return this.#ack && this.#totals.everSent && !this.#totals.everAcked
      ? " (does the server run with --ack?)"
      : "";
  }
}

/** A ByteReader over bytes in memory, for `--message`. */
function bytesReader(bytes: Uint8Array): ByteReader {
  let offset = 0;
  return {
    read(buffer: Uint8Array): Promise<number | null> {
      if (offset >= bytes.length) return Promise.resolve(null);
      const n = Math.min(buffer.length, bytes.length - offset);
      buffer.set(bytes.subarray(offset, offset + n));
      offset += n;
      return Promise.resolve(n);
    },
  };
}
