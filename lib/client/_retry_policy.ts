/**
 * {@linkcode RetryPolicy}: when the line client tries again and how long it
 * waits first. A session may fail up to `--retry` attempts in a row, where
 * an attempt is a connect or a connection that was lost; one that delivered
 * a line, or lasted, starts the count afresh. Each retry waits the backoff
 * delay of lib/net/backoff.ts. The policy only counts and words; the session
 * does the waiting.
 *
 * @module
 */

import { backoffDelay, type BackoffOptions } from "../net/mod.ts";

/** Options for {@linkcode RetryPolicy}. */
export interface RetryPolicyOptions {
  /** The backoff's ceilings.
   * @default {{}: those of lib/net/backoff.ts} */
  backoff?: BackoffOptions;
  /** Random source for the backoff jitter, numbers in [0, 1).
   * @default {Math.random} */
  random?: () => number;
}

/** The next attempt after a failure: how long to wait, and the notice. */
export interface Retry {
  /** Milliseconds to wait before the attempt. */
  delayMs: number;
  /** "REASON; retrying in 1.2 s (retry 2 of 5)". */
  message: string;
}

/** Counts failures in a row against the `--retry` limit. */
export class RetryPolicy {
  /** Attempts in a row that may fail before the session gives up;
   * `Infinity` never gives up. */
  readonly limit: number;
  readonly #backoff: BackoffOptions;
  readonly #random: () => number;
  /** Failed attempts since the last success. */
  #failures = 0;

  /** Throws `RangeError` unless `limit` is a whole number from 0, or `Infinity`. */
  constructor(limit: number, options: RetryPolicyOptions = {}) {
    if (!(limit === Infinity || (Number.isSafeInteger(limit) && limit >= 0))) {
      throw new RangeError(`Invalid retry "${limit}": must be a non-negative integer`);
    }
    this.limit = limit;
    this.#backoff = options.backoff ?? {};
    this.#random = options.random ?? Math.random;
  }

  /** Whether an attempt failed since the last success. */
  get failing(): boolean {
    return this.#failures > 0;
  }

  /** Whether the failures in a row reached the limit: no retry is left. */
  get exhausted(): boolean {
    return this.#failures >= this.limit;
  }

  /** An attempt succeeded: the count starts afresh. */
  succeeded(): void {
    this.#failures = 0;
  }

  /** Counts a failure, for `reason`, and says when and how to try again. */
  retry(reason: string): Retry {
    const attempt = this.#failures++;
    const delayMs = backoffDelay(attempt, this.#random, this.#backoff);
    const of = this.limit === Infinity ? "" : ` of ${this.limit}`;
    return {
      delayMs,
      message: `${reason}; retrying in ${formatDelay(delayMs)} s (retry ${attempt + 1}${of})`,
    };
  }

  /** "; gave up after 3 retries" for the last message, or "" without `--retry`. */
  gaveUp(): string {
    if (this.limit === 0) return "";
    return `; gave up after ${this.limit} ${this.limit === 1 ? "retry" : "retries"}`;
  }
}

/** Seconds with two significant digits: 0.19, 1.2, 30. */
function formatDelay(ms: number): string {
  return String(Number((ms / 1000).toPrecision(2)));
}
