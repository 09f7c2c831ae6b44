/**
 * `--workers N`: N {@linkcode LineServer}s, each in its own Worker (thread),
 * all listening on one address and port with `SO_REUSEPORT`, so the kernel
 * spreads incoming clients over them and framing and formatting use every
 * core. The main thread keeps the one real output and the log.
 *
 * A Worker sends its output to the main thread in chunks that end at a line
 * boundary, so chunks from different Workers can be written one after the
 * other without splitting or mixing a line. The main thread confirms each
 * chunk once its own output has written it; only then does the Worker count
 * the chunk as written. The Worker's output therefore has the same meaning as
 * a local one: its backpressure reaches the clients when the real output is
 * behind (each Worker has one chunk in flight, so what the main thread holds
 * for Workers is capped at N chunks), and `--ack` acknowledges lines only
 * once they are really written. Client numbers come from one counter in
 * shared memory, so they stay unique and increasing across Workers, and
 * `maxClients` and `maxPerIp` are counted in shared memory too
 * (`_shared_limits.ts`), so they hold for the pool as a whole.
 *
 * Needs Linux (Deno supports `SO_REUSEPORT` only there), Deno's
 * `--unstable-net` flag (or `"unstable": ["net"]` in deno.json), and, when
 * run from source, read access to this directory to load the Worker module.
 * {@linkcode workersUnavailableReason} says which is missing; without the
 * flag Deno would end the whole process at the first shared listen, so it is
 * checked before any Worker starts.
 *
 * @module
 */

import { type Cidr, DEFAULT_PORT } from "../../net/mod.ts";
import { fileURLToPath } from "node:url";
import { type ChunkSink, type RecordSink, SharedOutput } from "../../io/mod.ts";
import { describeError } from "../../text/mod.ts";
import type { ServerOptions } from "../server_options.ts";
import { checkNodeName } from "../node_name.ts";
import { ListenError, type Server } from "../server.ts";
import { type ClientStats, emptyStats, type ServerStats, sumStats } from "../stats.ts";
import {
  DEFAULT_MAX_HANDSHAKES,
  type TlsAcceptorOptions,
  type TlsCredentials,
} from "../tls_acceptor.ts";
import type { FromWorker, ToWorker, WorkerServerOptions } from "./_messages.ts";
import { unstableNetEnabled } from "./_port_sharing.ts";
import { SharedLimits } from "./_shared_limits.ts";

/** Most Workers a pool runs: well above any core count this is meant for,
 * low enough that a typo cannot start thousands of threads. */
export const MAX_WORKERS = 256;
/** How often a Worker reports its totals while they change, so that
 * {@linkcode WorkerPool.stats} (connected clients at a signal) is current. */
const STATS_EVERY_MS = 100;
/** Longest wait for a Worker's list of clients: one busy or failing Worker
 * leaves its clients out of the list rather than holding up the caller. */
const CLIENTS_WAIT_MS = 1000;

/** The Worker module, next to this one. */
const WORKER_MODULE = new URL("./_worker.ts", import.meta.url);

/** Options for {@linkcode WorkerPool}: those every server takes, for every
 * Worker's server, what a Worker builds its own access list and TLS from,
 * and how many Workers. What only a server in one thread can have (limits
 * counted over all clients, an observer, objects with methods) is not here. */
export interface WorkerPoolOptions extends ServerOptions, AccessRules {
  /** TLS certificate, key and client CA as PEM text; each Worker makes its
   * own `TlsAcceptor` from them. Its `maxHandshakes` is for the whole pool,
   * shared out so that each Worker may have its part (rounded up) in
   * progress.
   * @default {plain TCP} */
  tlsOptions?: TlsAcceptorOptions;
  /** Most clients connected at once to the whole pool; 0 for no limit. The
   * Workers count them together (see `_shared_limits.ts`).
   * @default {DEFAULT_MAX_CLIENTS: 0} */
  maxClients?: number;
  /** Most clients connected at once from one address, to the whole pool; 0
   * for no limit. The Workers keep count of a bounded number of addresses
   * with clients at once (65,536, fewer with many Workers; see
   * `_shared_limits.ts`), and refuse a new address beyond them as full.
   * @default {DEFAULT_MAX_PER_IP: 0} */
  maxPerIp?: number;
  /** How many Workers (listeners) to run, from 1 to {@linkcode MAX_WORKERS}.
   * @default {navigator.hardwareConcurrency} */
  workers?: number;
  /** Set when the output is stdout, written through a `SharedOutput` with
   * this lock and owner number 1 (see {@linkcode MAIN_OUTPUT_OWNER}): each
   * Worker then writes its lines to stdout itself, through the same lock,
   * instead of handing them to the main thread, which copies them once more
   * and confirms each chunk. Told of a Worker's output failing for good,
   * `onOutputError` should end the run as for the main thread's output.
   * @default {none: the lines go through the main thread} */
  directOutput?: { readonly lock: SharedArrayBuffer; onOutputError(message: string): void };
}

/** The owner number of the main thread's `SharedOutput` under
 * {@linkcode WorkerPoolOptions.directOutput}; Worker i has i + 2. */
export const MAIN_OUTPUT_OWNER = 1;

/** `--allow`/`--deny` rules as data, which (unlike an `AccessList`) can be
 * copied to a Worker; each Worker builds its own list from them. */
export interface AccessRules {
  /** @default {[]} */
  allow?: readonly Cidr[];
  /** @default {[]} */
  deny?: readonly Cidr[];
}

/** Thrown by {@linkcode WorkerPool.listen} when Workers cannot share a port
 * here; callers may fall back to a single {@linkcode LineServer}. */
export class WorkersUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WorkersUnavailableError";
  }
}

/**
 * Why a {@linkcode WorkerPool} cannot run in this process, or null when it
 * can: not Linux, no `--unstable-net`, or (from source) no read access to
 * the Worker module.
 *
 * @example
 * ```ts
 * import { workersUnavailableReason } from "./pool.ts";
 * import assert from "node:assert/strict";
 *
 * const reason = workersUnavailableReason();
 * assert.ok(reason === null || reason.startsWith("Cannot use --workers"));
 * ```
 */
export function workersUnavailableReason(): string | null {
  if (Deno.build.os !== "linux") {
    return `Cannot use --workers on ${Deno.build.os}: Workers share a port with SO_REUSEPORT, ` +
      `which Deno supports only on Linux`;
  }
  if (!unstableNetEnabled()) {
    return "Cannot use --workers: sharing a port between Workers (SO_REUSEPORT) needs " +
      `Deno's --unstable-net flag (or "unstable": ["net"] in deno.json)`;
  }
  // A compiled binary loads the Worker from its own embedded files.
  if (!Deno.build.standalone && WORKER_MODULE.protocol === "file:") {
    const directory = fileURLToPath(new URL(".", WORKER_MODULE));
    const { state } = Deno.permissions.querySync({ name: "read", path: directory });
    if (state !== "granted") {
      return `Cannot use --workers: loading the Worker module needs read access to ` +
        `"${directory}" (--allow-read=${directory})`;
    }
  }
  return null;
}

/** One Worker and what the pool knows of it. */
interface Member {
  readonly index: number;
  readonly worker: Worker;
  /** Last totals it reported. */
  stats: ServerStats;
  paused: boolean;
  /** False once it failed or was terminated: nothing more will come from it. */
  alive: boolean;
  readonly listening: PromiseWithResolvers<Deno.NetAddr>;
  readonly acceptStopped: PromiseWithResolvers<void>;
  readonly stopped: PromiseWithResolvers<ServerStats>;
  /** Callers waiting for its list of clients, oldest first (it answers in
   * order). */
  readonly clientRequests: Array<(clients: ClientStats[]) => void>;
  /** Told when the Worker has taken a reload of TLS, oldest first. */
  readonly tlsReloads: Array<() => void>;
}

/**
 * A line server run by several Workers on one port, with the surface of
 * {@linkcode LineServer}: `listen` (async here), then `serve`; `shutdown`
 * stops accepting and drains every Worker.
 */
export class WorkerPool implements Server {
  readonly #output: RecordSink;
  readonly #log: ChunkSink;
  readonly #count: number;
  readonly #port: number;
  /** What each Worker starts with (its TLS credentials replaced by a reload). */
  #serverOptions: WorkerServerOptions;
  readonly #clientCounter = new SharedArrayBuffer(BigInt64Array.BYTES_PER_ELEMENT);
  /** The counts behind `maxClients` and `maxPerIp`, or null without either. */
  readonly #limits: SharedArrayBuffer | null;
  readonly #members: Member[] = [];
  readonly #directOutput: NonNullable<WorkerPoolOptions["directOutput"]> | null;
  #addr: Deno.NetAddr | null = null;
  #stopping: Promise<ServerStats> | null = null;

  /**
   * @param output the real output: every Worker's lines are written here
   * @param log where the Workers' events (outside `json`) and diagnostics go
   */
  constructor(output: RecordSink, log: ChunkSink, options: WorkerPoolOptions = {}) {
    const { workers, directOutput, ...serverOptions } = options;
    const count = workers ?? navigator.hardwareConcurrency;
    if (!Number.isSafeInteger(count) || count < 1 || count > MAX_WORKERS) {
      throw new RangeError(
        `Invalid workers "${count}": must be an integer from 1 to ${MAX_WORKERS}`,
      );
    }
    refuseLineServerOptions(options);
    const { maxClients = 0, maxPerIp = 0 } = options;
    this.#limits = maxClients === 0 && maxPerIp === 0
      ? null
      : SharedLimits.create({ maxClients, maxPerIp, workers: count });
    // Checked here too, so that a bad name fails in the caller's thread
    // rather than in every Worker.
    if (options.node !== undefined) checkNodeName(options.node);
    this.#output = output;
    this.#log = log;
    this.#directOutput = directOutput ?? null;
    this.#count = count;
    this.#port = options.port ?? DEFAULT_PORT;
    this.#serverOptions = serverOptions.tlsOptions === undefined ? serverOptions : {
      ...serverOptions,
      tlsOptions: {
        ...serverOptions.tlsOptions,
        // Each Worker counts its own handshakes against its share: the port
        // spreads connects evenly enough between them, and the shares still
        // bound what the process holds.
        maxHandshakes: Math.ceil(
          (serverOptions.tlsOptions.maxHandshakes ?? DEFAULT_MAX_HANDSHAKES) / count,
        ),
      },
    };
  }

  /** The bound address; valid after `listen`. */
  get addr(): Deno.NetAddr {
    if (this.#addr === null) throw new Error("Cannot read the address: not listening");
    return this.#addr;
  }

  /** The totals over all Workers: final ones after `shutdown`, before that
   * as last reported (each Worker reports changes within 100 ms). */
  get stats(): ServerStats {
    return sumStats(this.#members.map((member) => member.stats));
  }

  /** The clients connected now, over all Workers, in order of number; a
   * Worker that does not answer within 1 s is left out. */
  async clients(): Promise<ClientStats[]> {
    const lists = await Promise.all(
      this.#members.filter((member) => member.alive).map((member) => this.#clientsOf(member)),
    );
    return lists.flat().sort((a, b) => a.id - b.id);
  }

  #clientsOf(member: Member): Promise<ClientStats[]> {
    const { promise, resolve } = Promise.withResolvers<ClientStats[]>();
    const timer = setTimeout(() => {
      // Its answer, if it comes, is matched to this request and dropped.
      const index = member.clientRequests.indexOf(answer);
      if (index >= 0) member.clientRequests[index] = () => {};
      resolve([]);
    }, CLIENTS_WAIT_MS);
    const answer = (clients: ClientStats[]): void => {
      clearTimeout(timer);
      resolve(clients);
    };
    member.clientRequests.push(answer);
    this.#post(member, { type: "clients" });
    return promise;
  }

  /** How many Workers the pool runs. */
  get workers(): number {
    return this.#count;
  }

  /**
   * Starts the Workers and binds every listener: the first on the given port
   * (0 picks one), the others on the port it got. Rejects with
   * {@linkcode WorkersUnavailableError} when Workers cannot share a port
   * here, and with {@linkcode ListenError} when the address cannot be bound;
   * either way no Worker is left running.
   */
  async listen(): Promise<Deno.NetAddr> {
    if (this.#members.length > 0) throw new Error("Cannot listen: the pool was started already");
    const reason = workersUnavailableReason();
    if (reason !== null) throw new WorkersUnavailableError(reason);
    try {
      // The first listener settles the port, so port 0 means one port for all,
      // and checks that no one else holds it.
      const addr = await this.#spawn(this.#port, true).listening.promise;
      // A shutdown that came meanwhile has told only the Workers it saw.
      if (this.#stopping !== null) throw new Error("Cannot listen: the pool is shutting down");
      const rest = Array.from({ length: this.#count - 1 }, () => this.#spawn(addr.port, false));
      await Promise.all(rest.map((member) => member.listening.promise));
      this.#addr = addr;
      return addr;
    } catch (error) {
      for (const member of this.#members) this.#retire(member);
      throw error;
    }
  }

  /** Resolves once every Worker has stopped accepting (after `shutdown`). */
  async serve(): Promise<void> {
    if (this.#addr === null) throw new Error("Cannot serve: call listen() first");
    await Promise.all(this.#members.map((member) => member.acceptStopped.promise));
  }

  /**
   * Stops accepting in every Worker, lets each drain for up to its
   * `drainTimeout`, waits until each has written everything it received,
   * then ends the Workers and flushes the output. Resolves with the summed
   * totals; later calls give the same result.
   */
  shutdown(): Promise<ServerStats> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  /** Stops taking new clients in every Worker (closes their listeners), as
   * {@linkcode LineServer.pauseAccepting} does. */
  pauseAccepting(): void {
    for (const member of this.#members) {
      // Set at once, as a single server's is; the Worker confirms it.
      member.paused = true;
      this.#post(member, { type: "pause-accepting" });
    }
  }

  /** Takes new clients again. Unlike {@linkcode LineServer.resumeAccepting}
   * this never throws: a Worker that cannot bind the port again says so on
   * the log, reports itself paused again, and keeps trying on its own. */
  resumeAccepting(): void {
    for (const member of this.#members) {
      member.paused = false;
      this.#post(member, { type: "resume-accepting" });
    }
  }

  /**
   * Has every Worker serve `credentials` from its next handshake on, as
   * {@linkcode TlsAcceptor.reload} does; resolves once each has them (a
   * Worker that failed meanwhile counts as done). Does nothing for a plain
   * pool.
   */
  async reloadTls(credentials: TlsCredentials): Promise<void> {
    const tlsOptions = this.#serverOptions.tlsOptions;
    if (tlsOptions === undefined) return;
    // Workers started from now on start with them too.
    const { keyPair: _key, clientCa: _ca, ...limits } = tlsOptions;
    this.#serverOptions = { ...this.#serverOptions, tlsOptions: { ...limits, ...credentials } };
    const alive = this.#members.filter((member) => member.alive);
    await Promise.all(alive.map((member) => {
      const { promise, resolve } = Promise.withResolvers<void>();
      member.tlsReloads.push(resolve);
      this.#post(member, { type: "reload-tls", credentials });
      return promise;
    }));
  }

  /** True while any Worker holds new clients off (as last known). */
  get paused(): boolean {
    return this.#members.some((member) => member.alive && member.paused);
  }

  async #stop(): Promise<ServerStats> {
    for (const member of this.#members) this.#post(member, { type: "shutdown" });
    const all = await Promise.all(this.#members.map((member) => member.stopped.promise));
    for (const member of this.#members) this.#retire(member);
    await this.#output.flush();
    return sumStats(all);
  }

  #spawn(port: number, checkPortFree: boolean): Member {
    const index = this.#members.length;
    // The name is what Deno shows if it reports an error of the Worker itself.
    const worker = new Worker(WORKER_MODULE, { type: "module", name: `linehub worker ${index}` });
    const member: Member = {
      index,
      worker,
      stats: emptyStats(),
      paused: false,
      alive: true,
      listening: Promise.withResolvers<Deno.NetAddr>(),
      acceptStopped: Promise.withResolvers<void>(),
      stopped: Promise.withResolvers<ServerStats>(),
      clientRequests: [],
      tlsReloads: [],
    };
    // Nobody awaits `listening` once listen has given up on the pool.
    member.listening.promise.catch(() => {});
    this.#members.push(member);
    worker.onmessage = (event: MessageEvent<FromWorker>): void => this.#receive(member, event.data);
    worker.onerror = (event: ErrorEvent): void => {
      // Handled here, so that Deno does not end the whole process for it.
      event.preventDefault();
      this.#fail(member, event.message);
    };
    worker.onmessageerror = (): void => this.#fail(member, "a message could not be read");
    this.#post(member, {
      type: "start",
      index,
      options: { ...this.#serverOptions, port },
      clientCounter: this.#clientCounter,
      limits: this.#limits,
      statsEveryMs: STATS_EVERY_MS,
      checkPortFree,
      directOutput: this.#directOutput === null
        ? null
        : { lock: this.#directOutput.lock, owner: directOwner(index) },
    });
    return member;
  }

  #receive(member: Member, message: FromWorker): void {
    switch (message.type) {
      case "output": {
        const output = this.#output;
        output.write(message.chunk);
        // Confirmed in order: the writer settles `whenWritten` calls in the
        // order they were made, so the Worker can match confirmations to its
        // chunks without numbers.
        output.whenWritten().then(
          () => this.#post(member, { type: "written" }),
          (error) => this.#post(member, { type: "write-failed", message: describeError(error) }),
        );
        break;
      }
      case "output-failed":
        this.#directOutput?.onOutputError(message.message);
        break;
      case "log":
        for (const chunk of message.chunks) this.#log.write(chunk);
        break;
      case "stats":
        member.stats = message.stats;
        break;
      case "clients":
        member.clientRequests.shift()?.(message.clients);
        break;
      case "paused":
        member.paused = message.paused;
        break;
      case "tls-reloaded":
        member.tlsReloads.shift()?.();
        break;
      case "listening":
        member.listening.resolve({
          transport: "tcp",
          hostname: message.hostname,
          port: message.port,
        });
        break;
      case "listen-failed":
        member.listening.reject(new ListenError(message.message));
        break;
      case "accept-stopped":
        member.acceptStopped.resolve();
        break;
      case "stopped":
        if (message.stats !== null) member.stats = message.stats;
        member.stopped.resolve(member.stats);
        break;
      case "internal-error":
        this.#log.write(
          `worker ${member.index}: internal error (kept running): ${message.message}\n`,
        );
        break;
    }
  }

  /** A Worker that failed outside its own error handling: one line on the
   * log, and the pool carries on without it. */
  #fail(member: Member, detail: string): void {
    if (!member.alive) return;
    this.#log.write(`worker ${member.index} failed and was stopped: ${detail}\n`);
    member.listening.reject(new ListenError(`Cannot start worker ${member.index}: ${detail}`));
    this.#retire(member);
  }

  /** Ends a Worker; whatever waits on it is released with what is known. */
  #retire(member: Member): void {
    member.alive = false;
    member.worker.terminate();
    // Its connections ended with it: what it counted in must not hold the
    // limits down (a no-op after a drain, which released them all).
    if (this.#limits !== null) SharedLimits.forget(this.#limits, member.index);
    // Ended in the middle of a write, it would keep every other writer waiting.
    if (this.#directOutput !== null) {
      SharedOutput.release(this.#directOutput.lock, directOwner(member.index));
    }
    for (const answer of member.clientRequests.splice(0)) answer([]);
    member.acceptStopped.resolve();
    member.stopped.resolve(member.stats);
    for (const reloaded of member.tlsReloads.splice(0)) reloaded();
  }

  #post(member: Member, message: ToWorker): void {
    if (member.alive) member.worker.postMessage(message);
  }
}

/** Worker `index`'s owner number for a direct output's lock. */
function directOwner(index: number): number {
  return MAIN_OUTPUT_OWNER + 1 + index;
}

/**
 * Refuses options of a single `LineServer` that a pool cannot honour. They
 * are not in {@linkcode WorkerPoolOptions}, so typed code cannot pass them;
 * this is for callers the type checker does not see (JavaScript, a cast),
 * for whom ignoring them would silently drop a limit or a TLS setup.
 */
function refuseLineServerOptions(options: object): void {
  const given = options as Record<string, unknown>;
  if (given.limits !== undefined) {
    throw new TypeError("Cannot combine workers with limits: give maxClients and maxPerIp");
  }
  if (given.tls !== undefined) {
    throw new TypeError("Cannot combine workers with tls: give tlsOptions");
  }
  if (given.observer !== undefined) throw new TypeError("Cannot combine workers with observer");
  if (given.accessList !== undefined) {
    throw new TypeError(
      "Cannot combine workers with accessList: it cannot be sent to a Worker; give allow and deny",
    );
  }
}
