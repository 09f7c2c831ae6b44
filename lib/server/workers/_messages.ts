/**
 * What the main thread and a pool's Workers say to each other: the
 * {@linkcode ToWorker} and {@linkcode FromWorker} messages, and the options a
 * Worker's server is started with. Both sides import this module, and
 * nothing else of each other (it holds only types).
 *
 * @module
 */

import type { ClientStats, ServerStats } from "../stats.ts";
import type { TlsCredentials } from "../tls_acceptor.ts";
import type { WorkerPoolOptions } from "./pool.ts";

/** What a Worker's server is built from: the pool's options but how many
 * Workers, all of it data that can be copied to a thread and means the same
 * in every Worker: one `run` and one `node` for the whole pool, so its
 * records read as those of one server. */
export type WorkerServerOptions = Omit<WorkerPoolOptions, "workers" | "directOutput">;

/** Messages from the main thread to a Worker. */
export type ToWorker =
  | {
    readonly type: "start";
    /** The Worker's number in the pool, from 0, for its log lines. */
    readonly index: number;
    readonly options: WorkerServerOptions;
    /** One BigInt64 slot: the next client number, taken with `Atomics.add`. */
    readonly clientCounter: SharedArrayBuffer;
    /** The counts behind `--max-clients` and `--max-per-ip`, shared by all
     * Workers (see `SharedLimits`); null without either limit. */
    readonly limits: SharedArrayBuffer | null;
    readonly statsEveryMs: number;
    /** Check with `checkPortFree` (`_port_sharing.ts`) right before
     * binding, and bind the port it returns: true for the first Worker only. */
    readonly checkPortFree: boolean;
    /** The lock of the main thread's stdout (see `SharedOutput`) and the
     * Worker's owner number for it: the Worker writes its lines to stdout
     * itself, through it; null: they go to the main thread in `output`
     * messages. */
    readonly directOutput: { readonly lock: SharedArrayBuffer; readonly owner: number } | null;
  }
  /** The oldest unconfirmed output chunk has been written by the real output. */
  | { readonly type: "written" }
  /** The real output failed: the oldest unconfirmed chunk never will be written. */
  | { readonly type: "write-failed"; readonly message: string }
  /** Answer with `clients`: the Worker's connected clients now. */
  | { readonly type: "clients" }
  | { readonly type: "pause-accepting" }
  | { readonly type: "resume-accepting" }
  /** Serve these from the next handshake on (SIGHUP); answered with
   * `tls-reloaded`. */
  | { readonly type: "reload-tls"; readonly credentials: TlsCredentials }
  /** Stop accepting, drain (each Worker with the same drain timeout), report. */
  | { readonly type: "shutdown" };

/** Messages from a Worker to the main thread. */
export type FromWorker =
  | { readonly type: "listening"; readonly hostname: string; readonly port: number }
  | { readonly type: "listen-failed"; readonly message: string }
  /** Whole output lines, to be written and then confirmed with `written`. */
  | { readonly type: "output"; readonly chunk: Uint8Array }
  /** The Worker's own writes to stdout failed for good (direct output). */
  | { readonly type: "output-failed"; readonly message: string }
  /** Whole log lines (events outside `json`, diagnostics), in order. */
  | { readonly type: "log"; readonly chunks: ReadonlyArray<string | Uint8Array> }
  | { readonly type: "stats"; readonly stats: ServerStats }
  /** The answer to a `clients` message, in the order they came. */
  | { readonly type: "clients"; readonly clients: ClientStats[] }
  | { readonly type: "paused"; readonly paused: boolean }
  /** The credentials of the oldest `reload-tls` are in use. */
  | { readonly type: "tls-reloaded" }
  /** The accept loop has ended (after `shutdown`). */
  | { readonly type: "accept-stopped" }
  /** Drained and flushed: the final totals (null from a Worker that never
   * started a server); the Worker may be terminated. */
  | { readonly type: "stopped"; readonly stats: ServerStats | null }
  /** An error that escaped the Worker's own handling; it keeps running. */
  | { readonly type: "internal-error"; readonly message: string };
