/**
 * Unit tests for the token bucket behind `--rate-limit`, with the time given
 * by the test: what a client may send at once, how fast it earns more, and
 * how long a client in debt waits.
 */

import assert from "node:assert/strict";
import { TokenBucket } from "../../lib/server/token_bucket.ts";

Deno.test("TokenBucket starts full, at its burst, which is one second's worth unless given", () => {
  assert.equal(new TokenBucket(200, 0).tokens(0), 200);
  assert.equal(new TokenBucket(200, 0).burst, 200);
  assert.equal(new TokenBucket(200, 5000, { burst: 1000 }).tokens(5000), 1000);
});

Deno.test("TokenBucket refills at its rate and never past its burst", () => {
  const bucket = new TokenBucket(100, 1000, { burst: 300 });
  bucket.take(300, 1000);
  assert.equal(bucket.tokens(1000), 0);
  assert.equal(bucket.tokens(1500), 50);
  assert.equal(bucket.tokens(3000), 200);
  assert.equal(bucket.tokens(60_000), 300);
});

Deno.test("TokenBucket takes more than it holds, and the debt is paid back by time", () => {
  // A read may frame more lines than there are tokens; they are all taken.
  const bucket = new TokenBucket(10, 0, { burst: 5 });
  bucket.take(25, 0);
  assert.equal(bucket.tokens(0), -20);
  assert.equal(bucket.msUntil(1, 0), 2100);
  assert.equal(bucket.tokens(2100), 1);
});

Deno.test("TokenBucket says how long until it holds a number of tokens, capped at its burst", () => {
  const bucket = new TokenBucket(1000, 0, { burst: 20 });
  assert.equal(bucket.msUntil(20, 0), 0);
  bucket.take(20, 0);
  assert.equal(bucket.msUntil(1, 0), 1);
  assert.equal(bucket.msUntil(20, 0), 20);
  // More than it can hold: until it is full, not for ever.
  assert.equal(bucket.msUntil(1_000_000, 0), 20);
  assert.equal(bucket.msUntil(5, 7), 0);
});

Deno.test("TokenBucket counts a time earlier than the last one as no time passing", () => {
  const bucket = new TokenBucket(100, 1000, { burst: 100 });
  bucket.take(100, 1000);
  assert.equal(bucket.tokens(500), 0);
  assert.equal(bucket.tokens(1100), 10);
});

Deno.test("TokenBucket keeps the long-run rate however the takes are cut up", () => {
  // 10 s of a client sending 7 lines every 3 ms, read only when the bucket
  // holds a line: it gets its burst plus 10 s at its rate, and a read's
  // worth more at most.
  const rate = 200;
  const burst = 50;
  const bucket = new TokenBucket(rate, 0, { burst });
  let taken = 0;
  for (let now = 0; now <= 10_000; now += 3) {
    if (bucket.tokens(now) < 1) continue;
    bucket.take(7, now);
    taken += 7;
  }
  assert.ok(taken <= burst + rate * 10 + 7, `${taken}`);
  assert.ok(taken >= rate * 10, `${taken}`);
});

Deno.test("TokenBucket refuses a rate or burst that is not above 0, naming it", () => {
  for (const rate of [0, -1, NaN, Infinity]) {
    assert.throws(() => new TokenBucket(rate, 0), {
      name: "RangeError",
      message: `Invalid rate "${rate}": must be a finite number above 0`,
    });
  }
  assert.throws(() => new TokenBucket(10, 0, { burst: 0 }), {
    name: "RangeError",
    message: `Invalid burst "0": must be a finite number above 0`,
  });
});
