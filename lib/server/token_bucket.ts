/**
 * {@linkcode TokenBucket}: the arithmetic of `--rate-limit`, with the time
 * given by the caller, so that it is tested without a clock. A bucket fills
 * at `rate` tokens a second up to `burst`; taking tokens may leave it below
 * zero (in debt), because the server takes one token per line only after a
 * read has framed those lines, and lines already read are never dropped. The
 * debt is paid back by time: the client is not read until the bucket refills.
 *
 * @module
 */

/** Options for {@linkcode TokenBucket}. */
export interface TokenBucketOptions {
  /** Most tokens the bucket holds, and what it holds at the start: how many
   * lines a client that has been quiet may send at once.
   * @default {rate: one second's worth} */
  burst?: number;
}

/**
 * Tokens that refill at a steady rate up to a cap. Times are milliseconds on
 * any clock that does not go backwards (`performance.now()`); a time earlier
 * than the last one seen counts as no time passing.
 *
 * @example
 * ```ts
 * import { TokenBucket } from "./token_bucket.ts";
 * import assert from "node:assert/strict";
 *
 * const bucket = new TokenBucket(100, 0, { burst: 50 });
 * bucket.take(80, 0); // a read framed 80 lines: 30 in debt
 * assert.equal(bucket.tokens(0), -30);
 * assert.equal(bucket.msUntil(1, 0), 310); // 31 tokens at 100 a second
 * assert.equal(bucket.tokens(1000), 50); // full again, never beyond the burst
 * ```
 */
export class TokenBucket {
  /** Tokens gained per millisecond. */
  readonly #perMs: number;
  readonly #burst: number;
  #tokens: number;
  #at: number;

  /**
   * @param rate tokens a second, more than 0
   * @param now the time it starts, full
   * @throws {RangeError} when `rate` or `burst` is not a finite number above 0
   */
  constructor(rate: number, now: number, options: TokenBucketOptions = {}) {
    const burst = options.burst ?? rate;
    for (const [name, value] of [["rate", rate], ["burst", burst]] as const) {
      if (!Number.isFinite(value) || value <= 0) {
        throw new RangeError(`Invalid ${name} "${value}": must be a finite number above 0`);
      }
    }
    this.#perMs = rate / 1000;
    this.#burst = burst;
    this.#tokens = burst;
    this.#at = now;
  }

  /** Most tokens it holds. */
  get burst(): number {
    return this.#burst;
  }

  /** Tokens held at `now`: below zero while in debt. */
  tokens(now: number): number {
    this.#refill(now);
    return this.#tokens;
  }

  /** Takes `count` tokens at `now`, whether or not it holds them. */
  take(count: number, now: number): void {
    this.#refill(now);
    this.#tokens -= count;
  }

  /** Milliseconds from `now` until it holds `tokens` (at most its burst,
   * which it always reaches), rounded up; 0 if it holds them now. */
  msUntil(tokens: number, now: number): number {
    const wanted = Math.min(tokens, this.#burst);
    const missing = wanted - this.tokens(now);
    return missing <= 0 ? 0 : Math.ceil(missing / this.#perMs);
  }

  #refill(now: number): void {
    if (now <= this.#at) return;
    this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#at) * this.#perMs);
    this.#at = now;
  }
}
