/**
 * The project's one seeded PRNG, for whatever must draw the same numbers
 * from the same seed: the soak's fault schedule (tools/soak/) and the tests
 * that feed random input to the framer, the formatter and the clients.
 * The programs themselves have no use for it (they take `Math.random`, or
 * a source passed in), so it lives with the tools rather than in lib/, and
 * tests reach it without the tools importing a test helper.
 *
 * @module
 */

/**
 * A seeded PRNG (mulberry32): the same seed gives the same sequence of
 * numbers in `[0, 1)`.
 *
 * @example
 * ```ts
 * import { seededRandom } from "./seeded_random.ts";
 * import assert from "node:assert/strict";
 *
 * const a = seededRandom(42);
 * const b = seededRandom(42);
 * assert.equal(a(), b());
 * assert.ok(a() < 1);
 * ```
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A whole number from `min` to `max`, both included. */
export function randomInt(random: () => number, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}

/** A PRNG of its own for a task that runs concurrently with others, seeded
 * from `random`, so that the main sequence does not depend on how they
 * interleave. */
export function forkRandom(random: () => number): () => number {
  return seededRandom(Math.floor(random() * 2 ** 32));
}
