/**
 * The linehub server's lifecycle: {@linkcode LineServer} binds its port,
 * accepts TCP clients, numbers them from 0, runs one task per connection
 * and, at shutdown, drains them within a deadline. Each task reads into its
 * own buffer and hands every read to its connection's
 * `ConnectionPipeline` (lib/format), whose lines go straight into the shared
 * output, a {@linkcode RecordSink}, synchronously, so no output line mixes two
 * clients. Who is admitted is `_admission.ts`'s to decide, what a connection
 * holds `_connection.ts`'s, acknowledgments `_acknowledger.ts`'s, and with
 * `--proxy-protocol` whom a connection stands for `_proxy_intake.ts`'s: then
 * a connection's task starts by reading its PROXY header, and the client
 * the header names is admitted (or refused) after it. A failing
 * connection ends only its own task, and every promise is awaited or
 * caught, so no client can crash the server.
 *
 * @module
 */

import { setImmediate } from "node:timers";
import {
  abortable,
  BatchWriter,
  type ChunkSink,
  closeQuietly,
  DEFAULT_SEND_QUEUE_BYTES,
  type RecordSink,
  type StreamConn,
} from "../io/mod.ts";
import { acceptErrorKind, DEFAULT_PORT, formatHostPort, randomId, unmapIPv4 } from "../net/mod.ts";
import {
  DEFAULT_FRAMING,
  DEFAULT_MAX_LINE,
  FRAMING_CHOICES,
  startsTlsHandshake,
} from "../wire/mod.ts";
import type { ClientObserver } from "./client_handle.ts";
import { countOf, describeError } from "../text/mod.ts";
import {
  type ClientInfo,
  DEFAULT_LABEL,
  type LineSampler,
  OUTPUT_FORMATS,
  type OutputFormat,
  type PipelineSettings,
} from "../format/mod.ts";
import {
  type ConnectionEvent,
  type DisconnectReason,
  formatJsonEvent,
  formatTextEvent,
} from "./events.ts";
import { Acknowledger } from "./_acknowledger.ts";
import { Admission, type Refusal } from "./_admission.ts";
import { Connection, type ConnectionOptions } from "./_connection.ts";
import { ProxyIntake } from "./_proxy_intake.ts";
import { ListenError, type Server } from "./server.ts";
import { checkNodeName } from "./node_name.ts";
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
  type RateLimit,
} from "./server_options.ts";
import { type ClientStats, emptyStats, type ServerStats } from "./stats.ts";

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

/**
 * A line-collecting TCP server. `listen`, then `serve`; `shutdown` stops
 * accepting and drains.
 */
export class LineServer implements Server {
  readonly #output: RecordSink;
  readonly #log: ChunkSink;
  readonly #host: string;
  readonly #port: number;
  readonly #format: OutputFormat;
  /** How every client's lines are written, the same for each client's
   * `ConnectionPipeline` (lib/format). */
  readonly #pipelineSettings: PipelineSettings;
  readonly #drainTimeout: number;
  readonly #backlog: number;
  readonly #idleTimeoutMs: number;
  readonly #lineTimeoutMs: number;
  readonly #reusePort: boolean;
  readonly #admission: Admission;
  readonly #ack: boolean;
  readonly #nextClientId: () => number;
  readonly #tls: ConnUpgrader | null;
  /** With `--proxy-protocol`, what reads each connection's header. */
  readonly #proxy: ProxyIntake | null;
  readonly #observer: ClientObserver | null;
  readonly #sampler: LineSampler | null;
  /** What every connection shares: its send queue's cap, what it tells a
   * client it cuts off, and how it counts the cut-offs the totals show. */
  readonly #connectionOptions: ConnectionOptions;
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
  /** Every admitted connection from its accept until its task has let go
   * of it. */
  readonly #connections = new Set<Connection>();
  /** With `--proxy-protocol`, every connection from its accept until its
   * task ends: the task reads the header, then serves the client it names,
   * so it covers a connection that shutdown found still without one. */
  readonly #intakes = new Set<Intake>();
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
  constructor(output: RecordSink, log: ChunkSink, options: LineServerOptions = {}) {
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
    const run = options.run ?? randomId();
    const node = options.node === undefined ? {} : { node: checkNodeName(options.node) };
    const label = options.label ?? DEFAULT_LABEL;
    const labelNode = options.labelNode ?? false;
    const timestamp = options.timestamp ?? false;
    const maxLine = checkInteger("maxLine", options.maxLine ?? DEFAULT_MAX_LINE, 1);
    const framing = options.framing ?? DEFAULT_FRAMING;
    if (!FRAMING_CHOICES.includes(framing)) {
      throw new RangeError(
        `Invalid framing "${framing}": must be one of ${FRAMING_CHOICES.join(", ")}`,
      );
    }
    this.#pipelineSettings = {
      format: this.#format,
      run,
      ...node,
      label,
      labelNode,
      timestamp,
      maxLine,
      framing,
    };
    this.#drainTimeout = checkSeconds(
      "drainTimeout",
      options.drainTimeout ?? DEFAULT_DRAIN_TIMEOUT,
    );
    this.#backlog = checkInteger("backlog", options.backlog ?? DEFAULT_BACKLOG, 1);
    this.#idleTimeoutMs = checkSeconds(
      "idleTimeout",
      options.idleTimeout ?? DEFAULT_IDLE_TIMEOUT,
    ) * 1000;
    this.#lineTimeoutMs = checkSeconds(
      "lineTimeout",
      options.lineTimeout ?? DEFAULT_LINE_TIMEOUT,
    ) * 1000;
    this.#reusePort = options.reusePort ?? false;
    this.#tls = options.tls ?? null;
    this.#proxy = options.proxy === undefined ? null : new ProxyIntake(options.proxy);
    this.#admission = new Admission({
      ...(options.accessList === undefined ? {} : { accessList: options.accessList }),
      maxClients: checkInteger("maxClients", options.maxClients ?? DEFAULT_MAX_CLIENTS, 0),
      maxPerIp: checkInteger("maxPerIp", options.maxPerIp ?? DEFAULT_MAX_PER_IP, 0),
      ...(options.limits === undefined ? {} : { limits: options.limits }),
      tls: this.#tls !== null,
    });
    this.#ack = options.ack ?? false;
    let next = 0;
    this.#nextClientId = options.nextClientId ?? (() => next++);
    this.#observer = options.observer ?? null;
    this.#sampler = options.sampler ?? null;
    this.#connectionOptions = {
      maxQueued: checkInteger("sendQueue", options.sendQueue ?? DEFAULT_SEND_QUEUE_BYTES, 1),
      idleTimeoutMs: this.#idleTimeoutMs,
      lineTimeoutMs: this.#lineTimeoutMs,
      onStop: (reason) => {
        if (reason === "send-queue-full") this.#stats.dropped++;
        else if (reason === "kicked") this.#stats.kicked++;
      },
      rateLimit: checkRateLimit(options.rateLimit),
      // Reported as it happens, ahead of the lines read by LF after it: the
      // peer broke the protocol, which is no I/O error and ends nothing.
      onFramingError: (client, detail) => {
        this.#stats.framingErrors++;
        this.#event({ type: "framing-error", client, time: Date.now(), detail });
      },
    };
  }

  /** The bound address; valid after `listen`. */
  get addr(): Deno.NetAddr {
    if (this.#addr === null) throw new Error("Cannot read the address: not listening");
    return this.#addr;
  }

  /** The run's id, in every JSON record. */
  get run(): string {
    return this.#pipelineSettings.run;
  }

  /** A snapshot of the totals. */
  get stats(): ServerStats {
    const stats = this.#stats;
    return {
      ...stats,
      connected: this.#connections.size,
      disconnects: { ...stats.disconnects },
    };
  }

  /** The clients connected now, in order of number. */
  clients(): ClientStats[] {
    const clients: ClientStats[] = [];
    for (const connection of this.#connections) {
      if (!connection.isOpen) continue;
      const { id, address, port, identity, name } = connection.client;
      clients.push({
        id,
        address,
        port,
        ...(identity === undefined ? {} : { identity }),
        ...(name === undefined ? {} : { name }),
        connectedAt: connection.connectedAt,
        lines: connection.linesIn,
        bytes: connection.bytesIn,
      });
    }
    return clients.sort((a, b) => a.id - b.id);
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
      // Every accepted connection writes at least one event, to the output
      // (json) or the log (text); while the one it goes to is behind, new
      // connections wait in the listen queue (the kernel's backpressure)
      // instead of growing what is pending without bound. Connected clients
      // stop reading for the same reason.
      const behind = this.#eventsBehind();
      if (behind !== null) {
        await this.#whileBacklogged(behind);
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
      // While connects keep coming, each accept completes at once, and the
      // loop would go on accepting before the event loop handled the reads
      // of those it had accepted: in a burst (30,000 connects, 200 at a
      // time, from another process) a client's first read came p99 1.4 to
      // 3.9 s after its accept, and PROXY headers sent at once were refused
      // as late. Letting ready I/O run between accepts made that 7 to 18 ms,
      // with as many connections served per second.
      await nextTurn();
    }
  }

  /** The writer events go to, if it is backlogged: the output in `json`,
   * the log otherwise, when the log is a writer that can say so. */
  #eventsBehind(): RecordSink | null {
    if (this.#output.backlogged) return this.#output;
    const log = this.#log;
    return log instanceof BatchWriter && log.backlogged ? log : null;
  }

  /** Waits until `writer` takes data again, or shutdown starts. */
  async #whileBacklogged(writer: RecordSink): Promise<void> {
    try {
      await abortable(writer.drained(), this.#closing.signal);
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
      for (const intake of this.#intakes) {
        // Not a client yet: closed, and refused for the shutdown.
        if (intake.reading) closeQuietly(intake.tcp);
      }
      for (const connection of this.#connections) {
        // Counted as cut off only if it became a client.
        if (connection.stopReason === null && connection.isClient) this.#stats.cutOff++;
        connection.stop("drain-timeout");
      }
      await Promise.all(this.#tasks());
    }
    // A failed output is its owner's to report (its onError); the
    // totals still say what was received.
    await this.#output.flush().catch(() => {});
    return this.stats;
  }

  /** The tasks of the connections open now, and of those still reading
   * their PROXY header. */
  #tasks(): Promise<void>[] {
    return [
      ...Array.from(this.#connections, (connection) => connection.task),
      ...Array.from(this.#intakes, (intake) => intake.task),
    ];
  }

  #start(tcp: Deno.TcpConn): void {
    const { hostname, port } = tcp.remoteAddr;
    if (this.#proxy === null) {
      this.#admit(tcp, hostname, port);
      return;
    }
    const untrusted = this.#proxy.untrusted(hostname);
    if (untrusted !== null) {
      // Before a byte of it is read: what it would claim counts for nothing.
      this.#refuse(tcp, unmapIPv4(hostname), port, {
        reason: "proxy",
        limit: 0,
        detail: untrusted,
      });
      return;
    }
    // Read in a task of its own, so that a slow header holds up no one else.
    const intake: Intake = { tcp, reading: true, task: Promise.resolve() };
    // Registered before its task starts, as a connection is (see #admit).
    this.#intakes.add(intake);
    intake.task = this.#serveProxied(intake, this.#proxy);
  }

  /** Reads a connection's PROXY header, then serves the client it names
   * until it leaves. */
  async #serveProxied(intake: Intake, proxy: ProxyIntake): Promise<void> {
    const tcp = intake.tcp;
    try {
      // The drain deadline closes a connection still without its header.
      const result = await proxy.read(tcp, this.#deadline.signal);
      intake.reading = false;
      if (result.kind === "client") {
        await this.#admit(result.conn, result.peer, result.port)?.task;
        return;
      }
      if (result.kind === "local") {
        // The balancer's health check: no client, so no number and no
        // event. What it sends after the header is not read.
        closeQuietly(tcp);
        return;
      }
      const { hostname, port } = tcp.remoteAddr;
      this.#refuse(tcp, unmapIPv4(hostname), port, {
        reason: "proxy",
        limit: 0,
        detail: result.detail,
      });
    } catch (error) {
      // As in #serveConnection: a last line of defence.
      this.#log.write(`PROXY header: internal error: ${describeError(error)}\n`);
      closeQuietly(tcp);
    } finally {
      this.#intakes.delete(intake);
    }
  }

  /**
   * Decides whether the peer at `peer` (the address as accepted, or as a
   * PROXY header gives it), port `port`, may become a client on `conn`,
   * and either starts serving it or refuses it. Returns the connection
   * served, or null.
   */
  #admit(conn: StreamConn, peer: string, port: number): Connection | null {
    const address = unmapIPv4(peer);
    // Counted against the limits from now (see Admission.admit), so a flood
    // of handshakes is bounded by them too.
    const refusal = this.#admission.admit(peer, address);
    if (refusal?.reason === "denied") {
      // Before any TLS work: a denied peer costs nothing more.
      this.#refuse(conn, address, port, refusal);
      return null;
    }
    const served = this.#tls === null ? conn : this.#tls.upgrade(conn);
    if (refusal !== null) {
      // Told why, over TLS when the port is TLS (the write waits for the handshake).
      this.#refuse(served, address, port, refusal);
      return null;
    }
    // Numbered once it is a client, after the handshake.
    const client: ClientInfo = { id: -1, address, port };
    const connection = new Connection(served, client, this.#connectionOptions);
    // Registered before its task starts: however the task ends, even
    // before its first await, its cleanup finds the entry to remove.
    this.#connections.add(connection);
    connection.task = this.#serveConnection(connection);
    return connection;
  }

  /** Completes a TLS handshake; false (reported, closed) when it failed. */
  async #handshake(connection: Connection): Promise<boolean> {
    const conn = connection.conn;
    if (!("handshake" in conn) || typeof conn.handshake !== "function") return true;
    try {
      const identity: string | null = await conn.handshake();
      if (identity !== null) connection.identify(identity);
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
      this.#begin(connection);
      const acknowledge = this.#ack ? new Acknowledger(connection.conn, this.#output) : null;
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
          const n = await conn.read(connection.readBuffer(buffer));
          if (n === null) break;
          connection.received(n);
          stats.bytes += n;
          if (firstRead) {
            firstRead = false;
            if (startsTlsHandshake(buffer.subarray(0, n))) {
              // Not lines, so none are recorded. The client is told and
              // closed (by stop, in at most 0.5 s); what it sends meanwhile
              // is dropped, so that the close is not a reset that could
              // destroy the notice first.
              reason = "tls-on-plain-port";
              connection.stop(reason);
              let dropped: number | null;
              while ((dropped = await conn.read(buffer)) !== null) {
                connection.received(dropped);
                stats.bytes += dropped;
              }
              break;
            }
          }
          stats.lines += connection.take(buffer.subarray(0, n), Date.now());
          acknowledge?.upTo(connection.linesIn);
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
          // --rate-limit: the lines of this read are written; past its rate,
          // the client is not read until it has earned more, and TCP holds
          // it back. A stop (kick, drain deadline) ends the wait at once.
          const pause = connection.throttle();
          if (pause !== null) {
            if (connection.pauses === 1) stats.throttled++;
            // Added after the wait: `stats.throttledMs += await pause` would
            // read the total before it, losing other clients' waits meanwhile.
            const waited = await pause;
            stats.throttledMs += waited;
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
      await this.#end(connection, acknowledge, reason, detail);
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
    connection.close();
    if (connection.isOpen) {
      try {
        this.#observer?.left(connection, "error");
      } catch {
        // Already reporting an internal error for this connection.
      } finally {
        connection.leave();
      }
    }
    // What the framer cut is not added up here: the pipeline may be what
    // failed.
    this.#reportEnd(connection, Date.now(), "error", detail, 0);
  }

  /** Makes a connection a client: numbers it, reports it, and lets the
   * observer know. */
  #begin(connection: Connection): void {
    const started = Date.now();
    connection.begin(
      this.#nextClientId(),
      started,
      this.#output,
      this.#pipelineSettings,
      this.#observer,
      this.#sampler,
    );
    this.#stats.clients++;
    this.#event({ type: "connect", client: connection.client, time: started });
    this.#observer?.joined(connection);
  }

  /** Ends a client's session: its last partial line, what is still owed to
   * it, and its disconnect event. */
  async #end(
    connection: Connection,
    acknowledge: Acknowledger | null,
    readEnd: DisconnectReason,
    detail: string,
  ): Promise<void> {
    let reason = readEnd;
    // Whatever was received of a last, unfinished line is delivered, flagged.
    const now = Date.now();
    // What the end of its input wrote is its unfinished last line, if any.
    const partial = connection.finish(now);
    this.#stats.lines += partial;
    this.#stats.partial += partial;
    this.#observer?.left(connection, connection.stopReason ?? reason);
    connection.leave();
    if (reason === "eof") {
      // The client waits for the last acknowledgment, or for what is still
      // queued to it, before it is done; one that stops reading is let go
      // at the drain deadline, or after a while.
      acknowledge?.upTo(connection.linesIn);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await this.#untilDeadline(Promise.race([
        Promise.all([acknowledge?.idle(), connection.sent()]),
        new Promise((resolve) => timer = setTimeout(resolve, SEND_LINGER_MS)),
      ]));
      clearTimeout(timer);
      // A stop while lingering (a drain deadline) still names its reason.
      if (connection.stopReason !== null) reason = connection.stopReason;
    }
    connection.close();
    const truncated = connection.truncatedLines;
    this.#stats.truncated += truncated;
    if (reason === "drain-timeout") this.#stats.cutOffBytes += connection.bytesIn;
    this.#reportEnd(connection, now, reason, detail, truncated);
  }

  /** Writes a client's disconnect event, once. */
  #reportEnd(
    connection: Connection,
    time: number,
    reason: DisconnectReason,
    detail: string,
    truncated: number,
  ): void {
    if (!connection.reportEnd()) return;
    this.#stats.disconnects[reason]++;
    this.#event({
      type: "disconnect",
      client: connection.client,
      time,
      reason,
      detail,
      lines: connection.linesIn,
      bytes: connection.bytesIn,
      truncated,
      durationMs: time - connection.connectedAt,
    });
  }

  /** Counts and reports a refused connection, and has it turned away. */
  #refuse(conn: StreamConn, address: string, port: number, refusal: Refusal): void {
    if (refusal.reason === "denied") this.#stats.refusedDenied++;
    else if (refusal.reason === "full") this.#stats.refusedFull++;
    else if (refusal.reason === "per-ip") this.#stats.refusedPerIp++;
    else if (refusal.reason === "proxy") this.#stats.refusedProxy++;
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
      const reason = connection.stalled(idleSince, lineSince);
      if (reason !== null) connection.stop(reason);
    }
  }

  #event(event: ConnectionEvent): void {
    const settings = this.#pipelineSettings;
    if (this.#format === "json") this.#output.write(formatJsonEvent(event, settings));
    else this.#log.write(formatTextEvent(event, settings.labelNode ? settings.node : undefined));
  }
}

/** Resolves once the event loop has handled the I/O that is ready. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A connection of a `--proxy-protocol` server, from its accept until its
 * task has served the client its header names, or refused it. */
interface Intake {
  readonly tcp: Deno.TcpConn;
  /** True until its header has been read (or given up on). */
  reading: boolean;
  task: Promise<void>;
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

/** `limit` if its lines and burst are whole numbers from 1; else a RangeError
 * naming the one that is not. */
function checkRateLimit(limit: RateLimit | undefined): RateLimit | null {
  if (limit === undefined) return null;
  checkInteger("rateLimit.lines", limit.lines, 1);
  if (limit.burst !== undefined) checkInteger("rateLimit.burst", limit.burst, 1);
  return limit;
}

/** `value` if it is a finite number of seconds, 0 or more; else a RangeError. */
function checkSeconds(name: string, value: number): number {
  if (Number.isFinite(value) && value >= 0) return value;
  throw new RangeError(`Invalid ${name} "${value}": must be a number of seconds >= 0`);
}
