/**
 * What a caller sees of any linehub server, one `LineServer` or a
 * `WorkerPool` of them: the {@linkcode Server} surface the command
 * line drives, and the {@linkcode ListenError} its `listen` throws.
 *
 * @module
 */

import type { ClientStats, ServerStats } from "./stats.ts";

/** A line server: `listen`, then `serve`; `shutdown` stops accepting and
 * drains. */
export interface Server {
  /** Binds the address; throws (or rejects with) {@linkcode ListenError}. */
  listen(): Deno.NetAddr | Promise<Deno.NetAddr>;
  /** Accepts clients until `shutdown`. */
  serve(): Promise<void>;
  /** Stops accepting, lets clients finish for up to the drain timeout,
   * flushes the output; resolves with the totals. */
  shutdown(): Promise<ServerStats>;
  /** The totals so far. */
  readonly stats: ServerStats;
  /** The clients connected now, in order of number. */
  clients(): ClientStats[] | Promise<ClientStats[]>;
  /** Stops taking new clients (the output cannot take more). */
  pauseAccepting(): void;
  /** Takes new clients again. */
  resumeAccepting(): void;
  /** True while new clients are held off. */
  readonly paused: boolean;
}

/** Thrown by {@linkcode Server.listen} with a message naming the address. */
export class ListenError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ListenError";
  }
}
