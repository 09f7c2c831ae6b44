/**
 * The Worker side of {@linkcode WorkerPool}: one {@linkcode LineServer} on
 * the shared port, whose output and log go to the main thread.
 *
 * The server writes into an ordinary {@linkcode BatchWriter}; what that
 * writer writes out goes to {@linkcode MainThreadOutput}, which sends only
 * whole lines (the bytes after a chunk's last newline wait for the next
 * chunk), so the main thread can interleave chunks of several Workers without
 * cutting a line. A chunk counts as written when the main thread confirms
 * that the real output has written it: the writer's backpressure and
 * `whenWritten` (used by `--ack`) then mean here what they mean in a single
 * server.
 *
 * Where the pool's output is stdout, the Worker writes its lines there
 * itself instead, through a {@linkcode SharedOutput} that shares one lock
 * with the main thread's and the other Workers' (direct output): no copy to
 * the main thread, no round trip per chunk, and its backpressure and
 * `whenWritten` are those of its own writer. The messages are the {@linkcode ToWorker} and
 * {@linkcode FromWorker} unions of `_messages.ts`.
 *
 * @module
 */

import { AccessList, DEFAULT_PORT } from "../../net/mod.ts";
import {
  BatchWriter,
  type ByteWriter,
  type ChunkSink,
  LineTail,
  SharedOutput,
} from "../../io/mod.ts";
import { describeError } from "../../text/mod.ts";
import { LineServer } from "../line_server.ts";
import { DEFAULT_HOST } from "../server_options.ts";
import type { ClientStats, ServerStats } from "../stats.ts";
import { TlsAcceptor, type TlsCredentials } from "../tls_acceptor.ts";
import type { FromWorker, ToWorker } from "./_messages.ts";
import { checkPortFree, unstableNetEnabled } from "./_port_sharing.ts";
import { SharedLimits } from "./_shared_limits.ts";

/** Size of the Worker's gathering chunks, so the most one message to the
 * main thread carries: large, since each Worker has one chunk in flight at a
 * time and each costs a round trip between threads (in the bench, 1 MiB made
 * 1 Worker as fast as the single-threaded server; 256 KiB was about 15%
 * slower). */
const WORKER_CHUNK_SIZE = 1048576;
/** Pending bytes at which the Worker's connections stop reading: room for
 * three chunks to gather while one is in flight. So a Worker holds at most
 * this much (plus one unfinished line), and the main thread at most one
 * chunk per Worker on top of its own output's buffer. */
const WORKER_HIGH_WATER_MARK = 4 * WORKER_CHUNK_SIZE;
/** Writing to stdout itself (direct output), a Worker gathers and holds
 * what the main thread's own output does (lib/cli/server_cli.ts): nothing
 * is in flight between threads. */
const DIRECT_CHUNK_SIZE = 1048576;
const DIRECT_HIGH_WATER_MARK = 1048576;
/** Pause before a Worker tries again to bind the port after a resume failed. */
const RESUME_RETRY_MS = 1000;
const LF = 10;

/** What this module needs of the Worker's global scope. The project is type
 * checked with the window's globals, so the Worker's are declared here. */
interface WorkerScope {
  postMessage(message: FromWorker, transfer?: Transferable[]): void;
  onmessage: ((event: MessageEvent<ToWorker>) => void) | null;
  addEventListener(
    type: "error" | "unhandledrejection",
    listener: (event: Event & { message?: string; reason?: unknown }) => void,
  ): void;
}

type Post = (message: FromWorker, transfer?: Transferable[]) => void;

/**
 * Sends whole lines to the main thread and reports each write done only when
 * the main thread has written it. Writes come one at a time (the batch
 * writer awaits each), so at most one chunk per Worker is in flight.
 */
export class MainThreadOutput implements ByteWriter {
  readonly #post: Post;
  /** Bytes after the last newline sent: the start of a line still coming,
   * at most the longest formatted line (about `--max-line`, up to six times
   * that in `json` for a line of control bytes). */
  readonly #tail = new LineTail();
  /** Chunks sent and not yet confirmed, oldest first. */
  readonly #unconfirmed: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];

  constructor(post: Post) {
    this.#post = post;
  }

  /** Takes all of `bytes`; resolves once the lines they complete are written. */
  write(bytes: Uint8Array): Promise<number> {
    const end = bytes.lastIndexOf(LF) + 1;
    if (end === 0) {
      // No line ends here: nothing can be sent yet. Counting these bytes as
      // written early is safe, since whoever waits for "written" waits for a
      // position at the end of a line, and this line ends in a later chunk.
      this.#tail.keep(bytes);
      return Promise.resolve(bytes.length);
    }
    // Copied, and the copy transferred: the batch writer reuses its chunks.
    const held = this.#tail.length;
    const chunk = new Uint8Array(held + end);
    chunk.set(this.#tail.bytes());
    chunk.set(bytes.subarray(0, end), held);
    this.#tail.clear();
    this.#tail.keep(bytes.subarray(end));
    return this.#send(chunk).then(() => bytes.length);
  }

  /** The main thread wrote the oldest unconfirmed chunk. */
  confirm(): void {
    this.#unconfirmed.shift()?.resolve();
  }

  /** The main thread's output failed before writing the oldest chunk. */
  fail(message: string): void {
    this.#unconfirmed.shift()?.reject(new Error(message));
  }

  /** Sends what is left of an unfinished line. Every record the server
   * writes ends with a newline, so once it has stopped nothing is left; this
   * makes sure that even if something were, it would not be lost. */
  async finish(): Promise<void> {
    if (this.#tail.length === 0) return;
    const chunk = this.#tail.bytes().slice();
    this.#tail.clear();
    await this.#send(chunk);
  }

  #send(chunk: Uint8Array<ArrayBuffer>): Promise<void> {
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    this.#unconfirmed.push({ resolve, reject });
    this.#post({ type: "output", chunk }, [chunk.buffer]);
    return promise;
  }
}

/** The server's log (events outside `json`, diagnostics), sent to the main
 * thread once per turn of the event loop rather than once per line. */
class MainThreadLog implements ChunkSink {
  readonly #post: Post;
  #pending: Array<string | Uint8Array> = [];

  constructor(post: Post) {
    this.#post = post;
  }

  write(chunk: string | Uint8Array): void {
    if (this.#pending.length === 0) queueMicrotask(() => this.flush());
    // Copied: a caller may reuse its bytes after the call.
    this.#pending.push(typeof chunk === "string" ? chunk : chunk.slice());
  }

  /** Sends what has been written so far. */
  flush(): void {
    if (this.#pending.length === 0) return;
    this.#post({ type: "log", chunks: this.#pending });
    this.#pending = [];
  }
}

/** One Worker's server, from `start` to `stopped`. */
class WorkerSession {
  readonly #post: Post;
  readonly #index: number;
  /** Where the server's lines go when they go to the main thread; null
   * with direct output. */
  readonly output: MainThreadOutput | null;
  readonly #log: MainThreadLog;
  readonly #server: LineServer;
  /** Its TLS, kept to reload; null on a plain port. */
  readonly #tls: TlsAcceptor | null;
  #serving: Promise<void> = Promise.resolve();
  #statsTimer: ReturnType<typeof setInterval> | undefined;
  #resumeTimer: ReturnType<typeof setTimeout> | undefined;
  #lastStats = "";
  #stopping = false;

  constructor(post: Post, start: Extract<ToWorker, { type: "start" }>) {
    this.#post = post;
    this.#index = start.index;
    this.#log = new MainThreadLog(post);
    const counter = new BigInt64Array(start.clientCounter);
    const { allow = [], deny = [], tlsOptions, ...options } = start.options;
    this.#tls = tlsOptions === undefined ? null : new TlsAcceptor(tlsOptions);
    let output: BatchWriter;
    if (start.directOutput === null) {
      this.output = new MainThreadOutput(post);
      output = new BatchWriter(this.output, {
        chunkSize: WORKER_CHUNK_SIZE,
        highWaterMark: WORKER_HIGH_WATER_MARK,
      });
    } else {
      this.output = null;
      const { lock, owner } = start.directOutput;
      const stdout = new SharedOutput(Deno.stdout, lock, owner);
      output = new BatchWriter(stdout, {
        chunkSize: DIRECT_CHUNK_SIZE,
        highWaterMark: DIRECT_HIGH_WATER_MARK,
        onError: (error) => post({ type: "output-failed", message: describeError(error) }),
      });
    }
    this.#server = new LineServer(
      output,
      this.#log,
      {
        ...options,
        ...(allow.length + deny.length > 0 ? { accessList: new AccessList(allow, deny) } : {}),
        ...(this.#tls === null ? {} : { tls: this.#tls }),
        reusePort: true,
        // One counter for all Workers: unique, and increasing in the order
        // numbers are handed out.
        nextClientId: () => Number(Atomics.add(counter, 0, 1n)),
        // And one set of counts for the limits.
        ...(start.limits === null ? {} : { limits: new SharedLimits(start.limits, start.index) }),
      },
    );
    this.#statsTimer = setInterval(() => this.#reportStats(), start.statsEveryMs);
  }

  /** Binds the shared port and starts accepting; reports either way. */
  listen(): void {
    let addr: Deno.NetAddr;
    try {
      addr = this.#server.listen();
    } catch (error) {
      clearInterval(this.#statsTimer);
      // A ListenError's message is a sentence already, naming the address.
      const message = error instanceof Error ? error.message : describeError(error);
      this.#post({ type: "listen-failed", message });
      return;
    }
    this.#post({ type: "listening", hostname: addr.hostname, port: addr.port });
    this.#serving = this.#server.serve().then(
      () => this.#post({ type: "accept-stopped" }),
      (error) => {
        this.#post({ type: "internal-error", message: `accept loop: ${describeError(error)}` });
        this.#post({ type: "accept-stopped" });
      },
    );
  }

  /** The server's connected clients now. */
  clients(): ClientStats[] {
    return this.#server.clients();
  }

  pause(): void {
    clearTimeout(this.#resumeTimer);
    this.#server.pauseAccepting();
    this.#post({ type: "paused", paused: this.#server.paused });
  }

  resume(): void {
    clearTimeout(this.#resumeTimer);
    if (this.#stopping) return;
    try {
      this.#server.resumeAccepting();
    } catch (error) {
      const message = error instanceof Error ? error.message : describeError(error);
      this.#log.write(
        `worker ${this.#index}: ${message}; trying again in ${RESUME_RETRY_MS / 1000} s\n`,
      );
      this.#resumeTimer = setTimeout(() => this.resume(), RESUME_RETRY_MS);
    }
    this.#post({ type: "paused", paused: this.#server.paused });
  }

  /** Serves `credentials` from the next handshake on. */
  reloadTls(credentials: TlsCredentials): void {
    this.#tls?.reload(credentials);
  }

  /** Drains, waits until the main thread has written every line, reports. */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    clearTimeout(this.#resumeTimer);
    let stats: ServerStats;
    try {
      stats = await this.#server.shutdown();
    } catch {
      // The real output failed; the main thread reports that itself.
      stats = this.#server.stats;
    }
    await this.#serving;
    await this.output?.finish().catch(() => {});
    clearInterval(this.#statsTimer);
    // Log lines go before `stopped`, so the main thread has them all by then.
    this.#log.flush();
    this.#post({ type: "stopped", stats });
  }

  #reportStats(): void {
    const stats = this.#server.stats;
    const key = JSON.stringify(stats);
    if (key === this.#lastStats) return;
    this.#lastStats = key;
    this.#post({ type: "stats", stats });
  }
}

/** Starts this Worker's session and binds its listener, after checking
 * the port is free if asked; null (with `listen-failed` sent) if the check
 * failed. The check and the bind run in one turn of the event loop (both
 * are synchronous), so another pool's check could pass only in the time
 * between two system calls. */
function startSession(
  post: Post,
  start: Extract<ToWorker, { type: "start" }>,
): WorkerSession | null {
  let options = start.options;
  if (start.checkPortFree) {
    // LineServer's defaults, which the pool leaves to it.
    const { host = DEFAULT_HOST, port = DEFAULT_PORT } = options;
    try {
      options = { ...options, port: checkPortFree(host, port) };
    } catch (error) {
      // A ListenError's message is a sentence already, naming the address.
      const message = error instanceof Error ? error.message : describeError(error);
      post({ type: "listen-failed", message });
      return null;
    }
  }
  const session = new WorkerSession(post, { ...start, options });
  session.listen();
  return session;
}

/** Wires the Worker's messages to one {@linkcode WorkerSession}. */
function runWorker(scope: WorkerScope): void {
  const post: Post = (message, transfer = []) => scope.postMessage(message, transfer);
  let session: WorkerSession | null = null;
  // Last line of defence, as in the CLI: an error that slips through is
  // reported, and the Worker with its clients keeps running.
  scope.addEventListener("unhandledrejection", (event) => {
    event.preventDefault();
    post({ type: "internal-error", message: describeError(event.reason) });
  });
  scope.addEventListener("error", (event) => {
    event.preventDefault();
    post({ type: "internal-error", message: event.message ?? "unknown error" });
  });
  scope.onmessage = (event): void => {
    const message = event.data;
    switch (message.type) {
      case "start":
        // Without the flag, a listen with reusePort would end the whole
        // process; the pool checks first, and so does each Worker.
        if (!unstableNetEnabled()) {
          post({ type: "listen-failed", message: "--unstable-net is not enabled" });
          return;
        }
        session = startSession(post, message);
        break;
      case "written":
        session?.output?.confirm();
        break;
      case "write-failed":
        session?.output?.fail(message.message);
        break;
      case "clients":
        post({ type: "clients", clients: session?.clients() ?? [] });
        break;
      case "pause-accepting":
        session?.pause();
        break;
      case "resume-accepting":
        session?.resume();
        break;
      case "reload-tls":
        session?.reloadTls(message.credentials);
        post({ type: "tls-reloaded" });
        break;
      case "shutdown":
        if (session === null) post({ type: "stopped", stats: null });
        else void session.stop();
        break;
    }
  };
}

if (import.meta.main) runWorker(self as unknown as WorkerScope);
