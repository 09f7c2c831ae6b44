/**
 * How long to wait before the next connection attempt (the client's to the
 * server, a sink's to its broker): exponential backoff with jitter, as a pure
 * function of the attempt number and a random source, so it can be tested
 * without clocks. It lives here, below both, since each reconnects.
 *
 * The ceiling doubles with each failed attempt in a row, from
 * {@linkcode BACKOFF_BASE_MS} up to {@linkcode BACKOFF_MAX_MS}, and the delay
 * is drawn at random from the upper half of it. The jitter keeps many clients
 * that lost the same peer from reconnecting in lockstep the moment it comes
 * back; drawing from the upper half keeps the growth exponential.
 *
 * @module
 */

/** The ceiling for the first retry, in milliseconds. */
export const BACKOFF_BASE_MS = 250;

/** The highest ceiling, in milliseconds: no wait is longer. */
export const BACKOFF_MAX_MS = 30_000;

/** Options for {@linkcode backoffDelay}. */
export interface BackoffOptions {
  /** Ceiling of the first delay, in milliseconds.
   * @default {250} */
  baseMs?: number;
  /** Ceiling of every delay, in milliseconds.
   * @default {30000} */
  maxMs?: number;
}

/**
 * The delay before retry number `attempt` (0 for the first retry after a
 * failure): a random number of milliseconds in `[d / 2, d]`, where
 * `d = min(maxMs, baseMs * 2 ** attempt)`.
 *
 * @param attempt failed attempts in a row before this one, from 0
 * @param random a source of numbers in `[0, 1)`, such as `Math.random`
 *
 * @example
 * ```ts
 * import { backoffDelay } from "./backoff.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(backoffDelay(0, () => 0), 125);
 * assert.equal(backoffDelay(2, () => 0.5), 750);
 * assert.equal(backoffDelay(50, () => 0), 15_000);
 * ```
 */
export function backoffDelay(
  attempt: number,
  random: () => number,
  options: BackoffOptions = {},
): number {
  const baseMs = options.baseMs ?? BACKOFF_BASE_MS;
  const maxMs = options.maxMs ?? BACKOFF_MAX_MS;
  if (!Number.isSafeInteger(attempt) || attempt < 0) {
    throw new RangeError(`Invalid attempt "${attempt}": must be a non-negative integer`);
  }
  if (!Number.isFinite(baseMs) || baseMs < 0) {
    throw new RangeError(`Invalid baseMs "${baseMs}": must be a non-negative number`);
  }
  if (!Number.isFinite(maxMs) || maxMs < baseMs) {
    throw new RangeError(`Invalid maxMs "${maxMs}": must be a number of at least baseMs`);
  }
  // 2 ** attempt overflows to Infinity for huge attempts; min() still caps it.
  const ceiling = Math.min(maxMs, baseMs * 2 ** attempt);
  const r = random();
  if (!(r >= 0 && r < 1)) {
    throw new RangeError(`Invalid random number "${r}": must be in [0, 1)`);
  }
  return Math.round(ceiling / 2 + r * (ceiling / 2));
}
