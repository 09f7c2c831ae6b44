/**
 * {@linkcode WriteLatency}: a `ByteWriter` that passes every write on to
 * another and counts how long each took, in a histogram with fixed buckets,
 * for `/metrics`. It sits under the output's batched writer, which writes
 * chunks of up to 1 MiB one at a time, so it times a few writes a second,
 * never a line: what it costs is a clock read and a few additions per write.
 *
 * @module
 */

import type { ByteWriter } from "../io/mod.ts";
import type { HistogramSnapshot } from "./metrics_text.ts";

/** Upper bounds of the buckets, in seconds: from a write into a pipe with
 * room (tens of microseconds) to a disk or reader that holds it for seconds. */
export const WRITE_SECONDS_BOUNDS: readonly number[] = [
  0.0001,
  0.0005,
  0.001,
  0.005,
  0.01,
  0.05,
  0.1,
  0.5,
  1,
  5,
];

/**
 * Times the writes to `out`. A write that fails is not counted: a failing
 * output shows as stalled, not as a slow write.
 *
 * @example
 * ```ts
 * import { WriteLatency } from "./write_latency.ts";
 * import assert from "node:assert/strict";
 *
 * const timed = new WriteLatency({ write: (bytes) => Promise.resolve(bytes.length) });
 * await timed.write(new Uint8Array(3));
 * assert.equal(timed.snapshot().count, 1);
 * ```
 */
export class WriteLatency implements ByteWriter {
  readonly #out: ByteWriter;
  readonly #now: () => number;
  /** Observations in each bucket alone (not cumulative); the last is +Inf. */
  readonly #counts = new Array<number>(WRITE_SECONDS_BOUNDS.length + 1).fill(0);
  #sum = 0;

  /**
   * @param out where the writes go
   * @param now a clock in milliseconds (tests give their own)
   */
  constructor(out: ByteWriter, now: () => number = () => performance.now()) {
    this.#out = out;
    this.#now = now;
  }

  async write(bytes: Uint8Array): Promise<number> {
    const start = this.#now();
    const written = await this.#out.write(bytes);
    this.#observe((this.#now() - start) / 1000);
    return written;
  }

  #observe(seconds: number): void {
    let bucket = WRITE_SECONDS_BOUNDS.findIndex((bound) => seconds <= bound);
    if (bucket < 0) bucket = WRITE_SECONDS_BOUNDS.length;
    this.#counts[bucket] = (this.#counts[bucket] ?? 0) + 1;
    this.#sum += seconds;
  }

  /** The histogram so far. */
  snapshot(): HistogramSnapshot {
    let running = 0;
    const cumulative = WRITE_SECONDS_BOUNDS.map((_, i) => running += this.#counts[i] ?? 0);
    const count = this.#counts.reduce((sum, n) => sum + n, 0);
    return { bounds: WRITE_SECONDS_BOUNDS, cumulative, count, sum: this.#sum };
  }
}
