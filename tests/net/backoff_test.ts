/**
 * Unit tests for the reconnect delay: exponential growth from the base, the
 * ceiling, the jitter range, and errors naming bad values. The random source
 * is a constant or a seeded PRNG, so every result is exact.
 */

import assert from "node:assert/strict";
import { BACKOFF_BASE_MS, BACKOFF_MAX_MS, backoffDelay } from "../../lib/net/backoff.ts";
import { seededRandom } from "../_helpers/mod.ts";

Deno.test("backoffDelay doubles the ceiling with each attempt, from 250 ms", () => {
  const top = (attempt: number): number => backoffDelay(attempt, () => 0.999999);
  const bottom = (attempt: number): number => backoffDelay(attempt, () => 0);
  assert.deepEqual([0, 1, 2, 3, 4].map(top), [250, 500, 1000, 2000, 4000]);
  assert.deepEqual([0, 1, 2, 3, 4].map(bottom), [125, 250, 500, 1000, 2000]);
  assert.equal(BACKOFF_BASE_MS, 250);
});

Deno.test("backoffDelay never exceeds 30 s, however many attempts", () => {
  assert.equal(BACKOFF_MAX_MS, 30_000);
  for (const attempt of [7, 8, 20, 1023, 1024, 1_000_000]) {
    assert.equal(backoffDelay(attempt, () => 0.999999), 30_000, `attempt ${attempt}`);
    assert.equal(backoffDelay(attempt, () => 0), 15_000, `attempt ${attempt}`);
  }
});

Deno.test("backoffDelay draws from the upper half of the ceiling", () => {
  const random = seededRandom(42);
  const seen = new Set<number>();
  for (let i = 0; i < 1000; i++) {
    const attempt = i % 10;
    const ceiling = Math.min(30_000, 250 * 2 ** attempt);
    const delay = backoffDelay(attempt, random);
    assert.ok(
      delay >= ceiling / 2 && delay <= ceiling,
      `${delay} outside [${ceiling / 2}, ${ceiling}]`,
    );
    if (attempt === 5) seen.add(delay);
  }
  // Jitter: the same attempt gives spread-out delays, not one value.
  assert.ok(seen.size > 50, `only ${seen.size} distinct delays for attempt 5`);
  assert.equal(backoffDelay(3, () => 0.5), 1500);
});

Deno.test("backoffDelay takes its own base and ceiling", () => {
  const options = { baseMs: 10, maxMs: 50 };
  assert.deepEqual(
    [0, 1, 2, 3, 4].map((attempt) => backoffDelay(attempt, () => 0, options)),
    [5, 10, 20, 25, 25],
  );
  assert.equal(backoffDelay(0, () => 0.5, { baseMs: 0, maxMs: 0 }), 0);
});

Deno.test("backoffDelay rejects bad values, naming them", () => {
  assert.throws(() => backoffDelay(-1, Math.random), /Invalid attempt "-1"/);
  assert.throws(() => backoffDelay(1.5, Math.random), /Invalid attempt "1.5"/);
  assert.throws(() => backoffDelay(0, () => 1), /Invalid random number "1"/);
  assert.throws(() => backoffDelay(0, () => NaN), /Invalid random number "NaN"/);
  assert.throws(() => backoffDelay(0, Math.random, { baseMs: -5 }), /Invalid baseMs "-5"/);
  assert.throws(
    () => backoffDelay(0, Math.random, { baseMs: 100, maxMs: 50 }),
    /Invalid maxMs "50"/,
  );
});
