/**
 * The linehub server: accepts TCP clients, numbers them from 0, frames what
 * each sends into lines and writes every line, labelled, to one output.
 *
 * One async task per connection reads into its own buffer and hands each
 * chunk to its {@linkcode LineFramer}; the lines go straight into the shared
 * {@linkcode BatchWriter}, synchronously, so no output line mixes two clients.
 * A failing connection ends only its own task, and every promise is awaited
 * or caught, so no client can crash the server.
 *
 * @module
 */

import {
  abortable,
  type BatchWriter,
  type ChunkSink,
  closeQuietly,
  DEFAULT_SEND_QUEUE_BYTES,
  SendQueue,
  type StreamConn,
} from "../io/mod.ts";
import { acceptErrorKind, DEFAULT_PORT, formatHostPort, randomId, unmapIPv4 } from "../net/mod.ts";
import {
  DEFAULT_MAX_LINE,
  formatNotice,
  LineFramer,
  type LineRun,
  type LineSink,
  parseHelloLine,
  startsTlsHandshake,
} from "../wire/mod.ts";
import type { ClientHandle, ClientObserver } from "./client_handle.ts";
import { countOf, describeError } from "../text/mod.ts";
import {
  type ClientInfo,
  DEFAULT_LABEL,
  keepsCr,
  type LabelStyle,
  MessageFormatter,
  OUTPUT_FORMATS,
  type OutputFormat,
} from "../format/mod.ts";
import {
  type ConnectionEvent,
  type DisconnectReason,
  formatJsonEvent,
  formatTextEvent,
} from "./events.ts";
import { Acknowledger } from "./_acknowledger.ts";
import { Admission, type Refusal } from "./_admission.ts";
import { ListenError, type Server } from "./server.ts";
import {
  type ConnUpgrader,
  DEFAULT_BACKLOG,
  DEFAULT_DRAIN_TIMEOUT,
  DEFAULT_FORMAT,
  DEFAULT_HOST,
  DEFAULT_IDLE_TIMEOUT,
  DEFAULT_LINE_TIMEOUT,
  DEFAULT_MAX_CLIENTS,
  DEFAULT_MAX_PER_IP,
  type LineServerOptions,
} from "./server_options.ts";
import { emptyStats, type ServerStats } from "./stats.ts";

/** First read buffer of a connection: small, since a pending read holds its
 * buffer and idle clients are the many. */
const INITIAL_READ_BUFFER = 128;
/** How much a read buffer grows when a read fills it: 128 B to 64 KiB in 4 reads. */
const READ_BUFFER_GROWTH = 8;
/** A connection whose reads keep filling its buffer gets a larger one, to here. */
const MAX_READ_BUFFER = 65536;
/** The same, when lines are relayed to other clients: what one read brings is
 * queued to each of them at once, so a smaller read keeps a burst from
 * several senders well under a send queue's cap while its reader keeps up. */
const MAX_RELAY_READ_BUFFER = 16384;
/** Pause before accepting again after the process ran out of descriptors
 * (or memory): long enough not to spin, short enough that accepting resumes
 * soon after a connection ends and frees one. */
const ACCEPT_RETRY_MS = 100;
/** How long a client that ended its input gets to read what is still queued
 * to it (replies, relayed lines) before the server closes the connection. */
const SEND_LINGER_MS = 30_000;
const CR = 13;
/** Longest the server waits for a client it cuts off to take the line saying
 * why (see {@linkcode Connection.stop}): a short line goes into the socket at
 * once unless the client has stopped reading, and then it cannot be told. */
const CLOSING_NOTICE_MS = 500;

/** One accepted connection; once its handshake (if any) is done, a client,
 * and as such the handle the observer gets. */
class Connection implements ClientHandle {
  readonly conn: StreamConn;
  readonly #maxQueued: number;
  readonly #onStop: (reason: DisconnectReason) => void;
  readonly #notice: (reason: DisconnectReason) => Uint8Array | null;
  /** Its number, address and port; `id` is -1 until the handshake is done. */
  client: ClientInfo;
  connectedAt = 0;
  linesIn = 0;
  linesOut = 0;
  /** Bytes received from it so far. */
  bytesIn = 0;
  /** Set when the server closes the socket itself, to name the reason. */
  stopReason: DisconnectReason | null = null;
  /** When data last arrived (or the connection opened), for --idle-timeout. */
  lastActive = Date.now();
  /** When the first byte of the unfinished line arrived, for
   * --line-timeout; 0 between lines. */
  lineStartedAt = 0;
  /** The connection's task; done when everything it held is let go. */
  task: Promise<void> = Promise.resolve();
  /** Set once its disconnect event has been written. */
  ended = false;
  /** What waits to be sent to the client, made on the first send. */
  queue: SendQueue | null = null;
  /** False before the client joined and after it left: nothing is sent then. */
  open = false;

  /**
   * @param maxQueued the send queue's cap in bytes
   * @param onStop told when the server closes the connection itself
   * @param notice the line that tells a client why the server closes it,
   * or null when it is not told
   */
  constructor(
    conn: StreamConn,
    client: ClientInfo,
    maxQueued: number,
    onStop: (reason: DisconnectReason) => void,
    notice: (reason: DisconnectReason) => Uint8Array | null,
  ) {
    this.conn = conn;
    this.client = client;
    this.#maxQueued = maxQueued;
    this.#onStop = onStop;
    this.#notice = notice;
  }

  send(line: Uint8Array): boolean {
    if (!this.open || this.stopReason !== null) return false;
    this.queue ??= new SendQueue(this.conn, { maxBytes: this.#maxQueued });
    if (!this.queue.push(line)) {
      // A failed write means a broken connection, which the read loop
      // reports as such; otherwise the queue is at its cap.
      if (!this.queue.failed) this.stop("send-queue-full");
      return false;
    }
    this.linesOut++;
    return true;
  }

  kick(): void {
    if (this.open) this.stop("kicked");
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
    if (this.stopReason !== null) return;
    this.stopReason = reason;
    this.#onStop(reason);
    const notice = this.open ? this.#notice(reason) : null;
    if (notice === null) {
      this.queue?.close();
      closeQuietly(this.conn);
      return;
    }
    void this.#closeAfter(notice);
  }

  /** Queues `notice`, then closes the socket once it is written, or after
   * {@linkcode CLOSING_NOTICE_MS}. */
  async #closeAfter(notice: Uint8Array): Promise<void> {
    // Through the queue, so that the line cannot land inside one in flight.
    const queue = this.queue ??= new SendQueue(this.conn, { maxBytes: this.#maxQueued });
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
      queue.close();
      closeQuietly(this.conn);
    }
  }
}

/**
 * A line-collecting TCP server. `listen`, then `serve`; `shutdown` stops
 * accepting and drains.
 */
export class LineServer implements Server {
  readonly #output: BatchWriter;
  readonly #log: ChunkSink;
  readonly #host: string;
  readonly #port: number;
  readonly #format: OutputFormat;
  readonly #run: string;
  readonly #label: LabelStyle;
  readonly #timestamp: boolean;
  readonly #maxLine: number;
  readonly #drainTimeout: number;
  readonly #backlog: number;
  readonly #idleTimeoutMs: number;
  readonly #lineTimeoutMs: number;
  readonly #reusePort: boolean;
  readonly #admission: Admission;
  readonly #ack: boolean;
  readonly #nextClientId: () => number;
  readonly #tls: ConnUpgrader | null;
  readonly #observer: ClientObserver | null;
  readonly #sendQueue: number;
  readonly #onStop = (reason: DisconnectReason): void => {
    if (reason === "send-queue-full") this.#stats.dropped++;
    else if (reason === "kicked") this.#stats.kicked++;
  };
  readonly #closingNotice = (reason: DisconnectReason): Uint8Array | null =>
    closingNotice(reason, this.#idleTimeoutMs, this.#lineTimeoutMs);
  #sweep: ReturnType<typeof setInterval> | undefined;
  #listener: Deno.TcpListener | null = null;
  /** The bound address, kept while paused (when there is no listener). */
  #addr: Deno.NetAddr | null = null;
  #accepting = false;
  /** Set while {@linkcode LineServer.pauseAccepting} holds new clients off. */
  #paused: PromiseWithResolvers<void> | null = null;
  /** Accepts failing for want of descriptors or memory since the last
   * success: the first is reported, the rest counted, the end reported. */
  #acceptFailures = 0;
  /** Every connection from its accept until its task has let go of it. */
  readonly #connections = new Set<Connection>();
  /** Aborted when shutdown starts: ends the accept loop's waits. */
  readonly #closing = new AbortController();
  /** Aborted when the drain deadline passes, to release connections that
   * are waiting for a stalled output rather than reading. A signal, not a
   * promise: each wait removes its listener when it ends, where a race
   * against a promise would leave a reaction on it for every connection
   * until shutdown. */
  readonly #deadline = new AbortController();
  /** The totals, counted up as things happen, so `/stats` and a signal's
   * count are current. */
  readonly #stats: ServerStats = emptyStats();

  /**
   * @param output where messages go (and events, in `json` format)
   * @param log where diagnostics and, outside `json`, events go (stderr)
   * @throws {RangeError} when an option is out of its range, naming it and
   * its value (before any socket is opened)
   */
  constructor(output: BatchWriter, log: ChunkSink, options: LineServerOptions = {}) {
    this.#output = output;
    this.#log = log;
    this.#host = options.host ?? DEFAULT_HOST;
    this.#port = checkInteger("port", options.port ?? DEFAULT_PORT, 0, 65535);
    this.#format = options.format ?? DEFAULT_FORMAT;
    if (!OUTPUT_FORMATS.includes(this.#format)) {
      throw new RangeError(
        `Invalid format "${this.#format}": must be one of ${OUTPUT_FORMATS.join(", ")}`,
      );
    }
    this.#run = options.run ?? randomId();
    this.#label = options.label ?? DEFAULT_LABEL;
    this.#timestamp = options.timestamp ?? false;
    this.#maxLine = checkInteger("maxLine", options.maxLine ?? DEFAULT_MAX_LINE, 1);
    this.#drainTimeout = checkSeconds(
      "drainTimeout",
      options.drainTimeout ?? DEFAULT_DRAIN_TIMEOUT,
    );
    this.#backlog = checkInteger("backlog", options.backlog ?? DEFAULT_BACKLOG, 1);
    this.#idleTimeoutMs = checkSeconds("idleTimeout", options.idleTimeout ?? DEFAULT_IDLE_TIMEOUT) *
      1000;
    this.#lineTimeoutMs = checkSeconds("lineTimeout", options.lineTimeout ?? DEFAULT_LINE_TIMEOUT) *
      1000;
    this.#reusePort = options.reusePort ?? false;
    this.#admission = new Admission({
      ...(options.accessList === undefined ? {} : { accessList: options.accessList }),
      maxClients: checkInteger("maxClients", options.maxClients ?? DEFAULT_MAX_CLIENTS, 0),
      maxPerIp: checkInteger("maxPerIp", options.maxPerIp ?? DEFAULT_MAX_PER_IP, 0),
      tls: options.tls !== undefined,
    });
    this.#ack = options.ack ?? false;
    let next = 0;
    this.#nextClientId = options.nextClientId ?? (() => next++);
    this.#tls = options.tls ?? null;
    this.#observer = options.observer ?? null;
    this.#sendQueue = checkInteger("sendQueue", options.sendQueue ?? DEFAULT_SEND_QUEUE_BYTES, 1);
  }

  /** The bound address; valid after `listen`. */
  get addr(): Deno.NetAddr {
    if (this.#addr === null) throw new Error("Cannot read the address: not listening");
    return this.#addr;
  }

  /** The run's id, in every JSON record. */
  get run(): string {
    return this.#run;
  }

  /** A snapshot of the totals. */
  get stats(): ServerStats {
    return { ...this.#stats, connected: this.#connections.size };
  }

  /** Binds the listening socket; throws {@linkcode ListenError} on failure. */
  listen(): Deno.NetAddr {
    this.#listener = this.#bind(this.#port);
    this.#addr = this.#listener.addr;
    this.#accepting = true;
    const timeouts = [this.#idleTimeoutMs, this.#lineTimeoutMs].filter((ms) => ms > 0);
    if (timeouts.length > 0) {
      // One sweep for all connections, rather than a timer each: idle
      // clients cost no timer, busy ones no timer resets.
      const every = Math.min(1000, Math.max(10, Math.min(...timeouts) / 4));
      this.#sweep = setInterval(() => this.#closeStalled(), every);
    }
    return this.#addr;
  }

  /**
   * Stops taking new clients, by closing the listening socket so that
   * connects are refused at once rather than queued: for when the output
   * cannot take more. Connected clients stay; their reads stop on their own
   * through the output's backpressure.
   */
  pauseAccepting(): void {
    if (!this.#accepting || this.#paused !== null) return;
    this.#paused = Promise.withResolvers<void>();
    const listener = this.#listener;
    this.#listener = null;
    if (listener !== null) closeQuietly(listener);
  }

  /** Takes new clients again on the same address and port. Throws
   * {@linkcode ListenError} if the port cannot be bound again (the server
   * stays paused; call again to retry). */
  resumeAccepting(): void {
    const paused = this.#paused;
    if (paused === null || !this.#accepting) return;
    this.#listener = this.#bind(this.#addr?.port ?? this.#port);
    this.#paused = null;
    paused.resolve();
  }

  /** True while new clients are held off. */
  get paused(): boolean {
    return this.#paused !== null;
  }

  #bind(port: number): Deno.TcpListener {
    try {
      return Deno.listen({
        hostname: this.#host,
        port,
        transport: "tcp",
        tcpBacklog: this.#backlog,
        ...(this.#reusePort ? { reusePort: true } : {}),
      });
    } catch (error) {
      const where = formatHostPort(this.#host, port);
      throw new ListenError(`Cannot listen on ${where}: ${describeError(error)}`, {
        cause: error,
      });
    }
  }

  /** Accepts clients until `shutdown`; resolves once the listener is closed. */
  async serve(): Promise<void> {
    if (this.#addr === null) throw new Error("Cannot serve: call listen() first");
    while (this.#accepting) {
      const listener = this.#listener;
      if (listener === null) {
        await this.#paused?.promise;
        continue;
      }
      // Every accepted connection writes at least one event to the output;
      // while the output is behind, new connections wait in the listen queue
      // (the kernel's backpressure) instead of growing what is pending
      // without bound. Connected clients stop reading for the same reason.
      if (this.#output.backlogged) {
        await this.#whileOutputBacklogged();
        continue;
      }
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (!this.#accepting) break;
        if (listener !== this.#listener) continue; // closed by pauseAccepting
        if (acceptErrorKind(error) === "connection") {
          // Gone before it was accepted (reset, aborted): it concerns that
          // peer alone, so the next one is accepted at once.
          this.#stats.abortedBeforeAccept++;
          continue;
        }
        // Out of descriptors or memory: said once, then retried after a
        // pause, so a persistent error does not spin and the log does not
        // fill. `for await` over the listener would stop for good.
        if (this.#acceptFailures++ === 0) {
          this.#log.write(
            `accept failed: ${describeError(error)}; ` +
              `retrying every ${ACCEPT_RETRY_MS} ms until it succeeds\n`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, ACCEPT_RETRY_MS));
        continue;
      }
      if (this.#acceptFailures > 0) {
        this.#log.write(
          `accepting again after ${countOf(this.#acceptFailures, "failed accept")}\n`,
        );
        this.#acceptFailures = 0;
      }
      if (!this.#accepting) {
        conn.close();
        break;
      }
      this.#start(conn);
    }
  }

  /** Waits until the output takes data again, or shutdown starts. */
  async #whileOutputBacklogged(): Promise<void> {
    try {
      await abortable(this.#output.drained(), this.#closing.signal);
    } catch {
      // Shutdown started, or the output failed for good (its owner reports
      // that; a failed writer holds nothing, so it is no longer backlogged).
    }
  }

  /**
   * Stops accepting, lets connected clients finish for up to `drainTimeout`
   * seconds, closes the rest, and flushes the output. Resolves with the totals.
   */
  async shutdown(): Promise<ServerStats> {
    this.#accepting = false;
    this.#closing.abort();
    clearInterval(this.#sweep);
    if (this.#listener !== null) closeQuietly(this.#listener);
    this.#paused?.resolve(); // lets a paused serve() return
    const all = Promise.all(this.#tasks());
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<"expired">((resolve) => {
      timer = setTimeout(() => resolve("expired"), this.#drainTimeout * 1000);
    });
    const outcome = await Promise.race([all, expired]);
    clearTimeout(timer);
    if (outcome === "expired") {
      this.#deadline.abort();
      for (const connection of this.#connections) {
        // Counted as cut off only if it became a client.
        if (connection.stopReason === null && connection.client.id >= 0) this.#stats.cutOff++;
        connection.stop("drain-timeout");
      }
      await Promise.all(this.#tasks());
    }
    // A failed output is its owner's to report (BatchWriter's onError); the
    // totals still say what was received.
    await this.#output.flush().catch(() => {});
    return this.stats;
  }

  /** The tasks of the connections open now. */
  #tasks(): Promise<void>[] {
    return Array.from(this.#connections, (connection) => connection.task);
  }

  #start(tcp: Deno.TcpConn): void {
    const remote = tcp.remoteAddr;
    const address = unmapIPv4(remote.hostname);
    // Counted against the limits from now (see Admission.admit), so a flood
    // of handshakes is bounded by them too.
    const refusal = this.#admission.admit(remote.hostname, address);
    if (refusal?.reason === "denied") {
      // Before any TLS work: a denied peer costs nothing more.
      this.#refuse(tcp, address, remote.port, refusal);
      return;
    }
    const conn = this.#tls === null ? tcp : this.#tls.upgrade(tcp);
    if (refusal !== null) {
      // Told why, over TLS when the port is TLS (the write waits for the handshake).
      this.#refuse(conn, address, remote.port, refusal);
      return;
    }
    // Numbered once it is a client, after the handshake.
    const client: ClientInfo = { id: -1, address, port: remote.port };
    const connection = new Connection(
      conn,
      client,
      this.#sendQueue,
      this.#onStop,
      this.#closingNotice,
    );
    // Registered before its task starts: however the task ends, even
    // before its first await, its cleanup finds the entry to remove.
    this.#connections.add(connection);
    connection.task = this.#serveConnection(connection);
  }

  /** Completes a TLS handshake; false (reported, closed) when it failed. */
  async #handshake(connection: Connection): Promise<boolean> {
    const conn = connection.conn;
    if (!("handshake" in conn) || typeof conn.handshake !== "function") return true;
    try {
      const identity: string | null = await conn.handshake();
      if (identity !== null) connection.client = { ...connection.client, identity };
      return true;
    } catch (error) {
      const { address, port } = connection.client;
      const detail = connection.stopReason === "drain-timeout"
        ? "server shut down during the TLS handshake"
        : error instanceof Error
        ? error.message
        : describeError(error);
      this.#stats.refusedTls++;
      this.#event({
        type: "refused",
        address,
        port,
        time: Date.now(),
        reason: "tls",
        limit: 0,
        detail,
      });
      closeQuietly(conn);
      return false;
    }
  }

  async #serveConnection(connection: Connection): Promise<void> {
    // One try around everything, rather than promise handlers chained on the
    // task, and as few locals as the loop needs (a waiting task keeps them
    // all), keep idle connections cheap (see the bench's scale scenario).
    try {
      if (this.#tls !== null && !await this.#handshake(connection)) return;
      const { framer, sink, run, acknowledge } = this.#begin(connection);
      const conn = connection.conn;
      const output = this.#output;
      const stats = this.#stats;
      let reason: DisconnectReason = "eof";
      let detail = "";
      let buffer = new Uint8Array(INITIAL_READ_BUFFER);
      const maxBuffer = this.#observer === null ? MAX_READ_BUFFER : MAX_RELAY_READ_BUFFER;
      // Only a plain port can be sent a TLS handshake by mistake; only a
      // connection's first read can hold its start.
      let firstRead = this.#tls === null;
      try {
        while (true) {
          const n = await conn.read(buffer);
          if (n === null) break;
          connection.bytesIn += n;
          stats.bytes += n;
          if (firstRead) {
            firstRead = false;
            if (startsTlsHandshake(buffer.subarray(0, n))) {
              // Not lines, so none are recorded. The client is told and
              // closed (by stop, in at most CLOSING_NOTICE_MS); what it sends
              // meanwhile is dropped, so that the close is not a reset that
              // could destroy the notice first.
              reason = "tls-on-plain-port";
              connection.stop(reason);
              let dropped: number | null;
              while ((dropped = await conn.read(buffer)) !== null) {
                connection.bytesIn += dropped;
                stats.bytes += dropped;
              }
              break;
            }
          }
          const now = Date.now();
          connection.lastActive = now;
          const linesBefore = connection.linesIn;
          framer.push(buffer.subarray(0, n), sink, run);
          acknowledge?.upTo(connection.linesIn);
          // --line-timeout runs from the first byte of the line still
          // unfinished: this read's, if it finished a line or began one.
          if (!framer.midLine) connection.lineStartedAt = 0;
          else if (connection.lineStartedAt === 0 || connection.linesIn !== linesBefore) {
            connection.lineStartedAt = now;
          }
          // The lines above were consumed synchronously, so the buffer may now
          // be replaced; a client that fills it gets a bigger one.
          if (n === buffer.length && buffer.length < maxBuffer) {
            buffer = new Uint8Array(Math.min(buffer.length * READ_BUFFER_GROWTH, maxBuffer));
          }
          // Backpressure: stop reading this socket while the output is behind,
          // unless the drain deadline cuts this client off meanwhile.
          if (output.backlogged) {
            await this.#untilDeadline(output.drained());
            if (connection.stopReason !== null) {
              reason = connection.stopReason;
              break;
            }
          }
        }
      } catch (error) {
        if (connection.stopReason !== null) {
          reason = connection.stopReason;
        } else if (error instanceof Deno.errors.ConnectionReset) {
          reason = "reset";
        } else {
          reason = "error";
          detail = describeError(error);
        }
      }
      await this.#end(connection, framer, sink, acknowledge, reason, detail);
    } catch (error) {
      // The read loop handles its own errors; this is a last line of defence,
      // which still lets go of the connection and reports its end.
      const text = `internal error: ${describeError(error)}`;
      this.#log.write(`client ${connection.client.id}: ${text}\n`);
      this.#abandon(connection, text);
    } finally {
      this.#connections.delete(connection);
      this.#admission.release(connection.client.address);
    }
  }

  /** Waits for `work`, but no longer than the drain deadline. Rejects as
   * `work` does. */
  async #untilDeadline(work: Promise<unknown>): Promise<void> {
    try {
      await abortable(work, this.#deadline.signal);
    } catch (error) {
      if (!this.#deadline.signal.aborted) throw error;
    }
  }

  /** After an internal error: closes what the connection holds and, if it
   * was a client, tells the observer it left and writes its disconnect. */
  #abandon(connection: Connection, detail: string): void {
    connection.queue?.close();
    closeQuietly(connection.conn);
    if (connection.open) {
      try {
        this.#observer?.left(connection, "error");
      } catch {
        // Already reporting an internal error for this connection.
      } finally {
        connection.open = false;
      }
    }
    if (connection.client.id < 0 || connection.ended) return;
    connection.ended = true;
    const now = Date.now();
    this.#event({
      type: "disconnect",
      client: connection.client,
      time: now,
      reason: "error",
      detail,
      lines: connection.linesIn,
      bytes: connection.bytesIn,
      truncated: 0,
      durationMs: now - connection.connectedAt,
    });
  }

  /** Makes a connection a client: numbers it, reports it, and builds what
   * its reads go through. */
  #begin(connection: Connection): {
    framer: LineFramer;
    sink: LineSink;
    run: LineRun | undefined;
    acknowledge: Acknowledger | null;
  } {
    const client: ClientInfo = { ...connection.client, id: this.#nextClientId() };
    connection.client = client;
    this.#stats.clients++;
    const started = Date.now();
    connection.connectedAt = started;
    connection.lastActive = started;
    this.#event({ type: "connect", client, time: started });
    const observer = this.#observer;
    connection.open = true;
    observer?.joined(connection);
    const output = this.#output;
    const formatOptions = { run: this.#run, label: this.#label, timestamp: this.#timestamp };
    let formatter = new MessageFormatter(this.#format, client, formatOptions);
    // The totals grow as lines arrive, so /stats and a signal's count are
    // current. A line's time is that of the read that completed it.
    const stats = this.#stats;
    const keepCr = keepsCr(this.#format);
    /** Until the first line is in: it may be a linehub client's hello. */
    let first = true;
    const sink: LineSink = (line, flags, length) => {
      if (first) {
        first = false;
        const hello = flags !== 0 ? null : parseHelloLine(line);
        if (hello !== null) {
          // Not a message: its name and numbering apply to the lines after it.
          connection.client = {
            ...connection.client,
            session: hello.session,
            ...(hello.name === undefined ? {} : { name: hello.name }),
          };
          formatter = new MessageFormatter(this.#format, connection.client, {
            ...formatOptions,
            firstSeq: hello.seq,
          });
          return;
        }
      }
      connection.linesIn++;
      stats.lines++;
      formatter.write(output, line, flags, connection.lastActive, length);
      if (observer === null) return;
      // The modes relay a line without its CRLF's CR, whatever the format.
      const crlf = keepCr && flags === 0 && line.at(-1) === CR;
      observer.line(connection, crlf ? line.subarray(0, -1) : line, flags);
    };
    // Runs of plain lines go to the output in bulk (lib/format/_line_labeller.ts),
    // unless an observer must see each line; not the first line, which the
    // sink must see in case it is a hello.
    const maxLine = this.#maxLine;
    const run: LineRun | undefined = observer !== null ? undefined : (chunk, from, fresh) => {
      if (first) return from;
      const time = connection.lastActive;
      const { next, lines } = formatter.writeRun(output, chunk, from, fresh, maxLine, time);
      connection.linesIn += lines;
      stats.lines += lines;
      return next;
    };
    return {
      framer: new LineFramer({ maxLine, keepCr }),
      sink,
      run,
      acknowledge: this.#ack ? new Acknowledger(connection.conn, output) : null,
    };
  }

  /** Ends a client's session: its last partial line, what is still owed to
   * it, and its disconnect event. */
  async #end(
    connection: Connection,
    framer: LineFramer,
    sink: LineSink,
    acknowledge: Acknowledger | null,
    readEnd: DisconnectReason,
    detail: string,
  ): Promise<void> {
    let reason = readEnd;
    // Whatever was received of a last, unfinished line is delivered, flagged.
    const now = Date.now();
    connection.lastActive = now;
    connection.lineStartedAt = 0;
    framer.end(sink);
    this.#observer?.left(connection, connection.stopReason ?? reason);
    connection.open = false;
    if (reason === "eof") {
      // The client waits for the last acknowledgment, or for what is still
      // queued to it, before it is done; one that stops reading is let go
      // at the drain deadline, or after a while.
      acknowledge?.upTo(connection.linesIn);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await this.#untilDeadline(Promise.race([
        Promise.all([acknowledge?.idle(), connection.queue?.idle()]),
        new Promise((resolve) => timer = setTimeout(resolve, SEND_LINGER_MS)),
      ]));
      clearTimeout(timer);
      // A stop while lingering (a drain deadline) still names its reason.
      if (connection.stopReason !== null) reason = connection.stopReason;
    }
    connection.queue?.close();
    closeQuietly(connection.conn);
    this.#stats.truncated += framer.truncatedLines;
    if (reason === "drain-timeout") this.#stats.cutOffBytes += connection.bytesIn;
    connection.ended = true;
    this.#event({
      type: "disconnect",
      client: connection.client,
      time: now,
      reason,
      detail,
      lines: connection.linesIn,
      bytes: connection.bytesIn,
      truncated: framer.truncatedLines,
      durationMs: now - connection.connectedAt,
    });
  }

  /** Counts and reports a refused connection, and has it turned away. */
  #refuse(conn: StreamConn, address: string, port: number, refusal: Refusal): void {
    if (refusal.reason === "denied") this.#stats.refusedDenied++;
    else if (refusal.reason === "full") this.#stats.refusedFull++;
    else if (refusal.reason === "per-ip") this.#stats.refusedPerIp++;
    this.#event({ type: "refused", address, port, time: Date.now(), ...refusal });
    this.#admission.turnAway(conn, address, refusal);
  }

  /** Closes connections silent past --idle-timeout, and those whose line has
   * been unfinished past --line-timeout. */
  #closeStalled(): void {
    const now = Date.now();
    const idleSince = this.#idleTimeoutMs > 0 ? now - this.#idleTimeoutMs : -Infinity;
    const lineSince = this.#lineTimeoutMs > 0 ? now - this.#lineTimeoutMs : -Infinity;
    for (const connection of this.#connections) {
      if (connection.lastActive <= idleSince) connection.stop("idle-timeout");
      else if (connection.lineStartedAt !== 0 && connection.lineStartedAt <= lineSince) {
        connection.stop("line-timeout");
      }
    }
  }

  #event(event: ConnectionEvent): void {
    if (this.#format === "json") this.#output.write(formatJsonEvent(event, this.#run));
    else this.#log.write(formatTextEvent(event));
  }
}

/**
 * The line that tells a client why the server closes its connection (see
 * `server_notice.ts`), or null for the reasons it is not told: it closed or
 * failed itself, or it stopped reading (`send-queue-full`), so that the line
 * could not reach it.
 */
function closingNotice(
  reason: DisconnectReason,
  idleTimeoutMs: number,
  lineTimeoutMs: number,
): Uint8Array | null {
  let text: string;
  switch (reason) {
    case "kicked":
      text = "disconnected by the operator";
      break;
    case "idle-timeout":
      text = `nothing received for ${idleTimeoutMs / 1000} s (--idle-timeout)`;
      break;
    case "line-timeout":
      text = `line unfinished after ${lineTimeoutMs / 1000} s (--line-timeout)`;
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

/** `value` if it is an integer from `min` to `max`; else a RangeError naming
 * the option and the value. */
function checkInteger(
  name: string,
  value: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (Number.isSafeInteger(value) && value >= min && value <= max) return value;
  const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
  throw new RangeError(`Invalid ${name} "${value}": must be an integer ${range}`);
}

/** `value` if it is a finite number of seconds, 0 or more; else a RangeError. */
function checkSeconds(name: string, value: number): number {
  if (Number.isFinite(value) && value >= 0) return value;
  throw new RangeError(`Invalid ${name} "${value}": must be a number of seconds >= 0`);
}
