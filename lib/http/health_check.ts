/**
 * `GET /healthz`: whether a load balancer should send this node clients.
 * {@linkcode HealthCheck} judges from what the server and its output say
 * at the moment it is asked; it keeps one number between calls (the output's
 * written position, to tell a busy output from a stuck one) and no timer.
 *
 * Not healthy, in this order: a shutdown has begun (`draining`); the server
 * has stopped accepting because the output failed (`not-accepting`, a full
 * disk); a write is being retried (`output-stalled`); or the output is
 * backlogged, so the accept loop waits, and has written nothing for
 * {@linkcode DEFAULT_STALL_SECONDS} (`output-backlogged`). A backlog that is
 * still being written is load, not a fault: the node stays in.
 *
 * @module
 */

/** Seconds a backlogged output may go without writing a byte before the
 * node reports itself unhealthy. */
export const DEFAULT_STALL_SECONDS = 2;

/** What the health is judged from, read when asked. */
export interface HealthInputs {
  /** A shutdown has begun. */
  readonly draining: boolean;
  /** The server holds new clients off (the output failed). */
  readonly paused: boolean;
  /** A failed output write is waiting to be tried again. */
  readonly outputStalled: boolean;
  /** More is pending than the output's mark: the accept loop waits. */
  readonly outputBacklogged: boolean;
  /** Bytes the output has written since the start. */
  readonly outputWritten: number;
}

/** Why a node is out, for `/healthz`'s body and for programs. */
export type HealthProblem = "draining" | "not-accepting" | "output-stalled" | "output-backlogged";

/** The answer: healthy, or the first problem found. */
export type Health = { readonly healthy: true } | {
  readonly healthy: false;
  readonly problem: HealthProblem;
};

/** Options for {@linkcode HealthCheck}. */
export interface HealthCheckOptions {
  /** Seconds a backlogged output may write nothing and still be healthy.
   * @default {DEFAULT_STALL_SECONDS: 2} */
  stallSeconds?: number;
}

/**
 * Judges health; see the module.
 *
 * @example
 * ```ts
 * import { HealthCheck } from "./health_check.ts";
 * import assert from "node:assert/strict";
 *
 * const check = new HealthCheck();
 * const inputs = {
 *   draining: false, paused: false, outputStalled: false,
 *   outputBacklogged: false, outputWritten: 0,
 * };
 * assert.deepEqual(check.judge(inputs, 0), { healthy: true });
 * assert.deepEqual(check.judge({ ...inputs, draining: true }, 0), {
 *   healthy: false,
 *   problem: "draining",
 * });
 * ```
 */
export class HealthCheck {
  readonly #stallMs: number;
  /** The output's written position when last seen to change, and when. */
  #written = -1;
  #writtenAt = 0;

  constructor(options: HealthCheckOptions = {}) {
    const seconds = options.stallSeconds ?? DEFAULT_STALL_SECONDS;
    if (!Number.isFinite(seconds) || seconds < 0) {
      throw new RangeError(`Invalid stallSeconds "${seconds}": must be a number >= 0`);
    }
    this.#stallMs = seconds * 1000;
  }

  /** The health given `inputs` at `now` (ms). */
  judge(inputs: HealthInputs, now: number): Health {
    if (inputs.outputWritten !== this.#written) {
      this.#written = inputs.outputWritten;
      this.#writtenAt = now;
    }
    if (inputs.draining) return { healthy: false, problem: "draining" };
    if (inputs.paused) return { healthy: false, problem: "not-accepting" };
    if (inputs.outputStalled) return { healthy: false, problem: "output-stalled" };
    if (inputs.outputBacklogged && now - this.#writtenAt >= this.#stallMs) {
      return { healthy: false, problem: "output-backlogged" };
    }
    return { healthy: true };
  }
}
