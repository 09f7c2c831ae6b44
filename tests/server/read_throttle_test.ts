/**
 * Unit tests for how `--rate-limit` holds one client back, with the time
 * given by the test: how much is read next, and how long reading stops once
 * the client's lines have spent its tokens.
 */

import assert from "node:assert/strict";
import { MIN_READ_BYTES, ReadThrottle } from "../../lib/server/_read_throttle.ts";

Deno.test("ReadThrottle reads the whole buffer until a line shows how long lines are", () => {
  const throttle = new ReadThrottle({ lines: 10 }, 0);
  assert.equal(throttle.readSize(128, 0), 128);
  throttle.took(0, 128, 0); // part of a line
  assert.equal(throttle.readSize(1024, 0), 1024);
});

Deno.test("ReadThrottle sizes a read to the lines the tokens allow, from recent lines' length", () => {
  const throttle = new ReadThrottle({ lines: 100, burst: 100 }, 0);
  throttle.took(10, 200, 0); // 20-byte lines; 90 tokens left
  assert.equal(throttle.readSize(65536, 0), 90 * 20);
  assert.equal(throttle.readSize(1024, 0), 1024);
  throttle.took(85, 1700, 0); // 5 left
  assert.equal(throttle.readSize(65536, 0), 100);
});

Deno.test("ReadThrottle never reads less than its minimum, however short the lines", () => {
  const throttle = new ReadThrottle({ lines: 5, burst: 5 }, 0);
  throttle.took(5, 5, 0); // empty lines, no token left
  assert.equal(throttle.readSize(65536, 0), MIN_READ_BYTES);
});

Deno.test("ReadThrottle counts a long line's parts toward its length", () => {
  const throttle = new ReadThrottle({ lines: 1000 }, 0);
  throttle.took(0, 4000, 0);
  throttle.took(1, 1000, 0); // one 5000-byte line
  assert.equal(throttle.readSize(1 << 30, 0), 999 * 5000);
});

Deno.test("ReadThrottle reads on while a token is left, then pauses until a tenth of a second's worth", () => {
  const throttle = new ReadThrottle({ lines: 200, burst: 200 }, 0);
  throttle.took(199, 199 * 10, 0);
  assert.equal(throttle.pauseMs(0), 0);
  throttle.took(1, 10, 0);
  // 20 lines (0.1 s at 200/s) take 100 ms to earn.
  assert.equal(throttle.pauseMs(0), 100);
  // Read again then, about those 20 lines' worth.
  assert.equal(throttle.pauseMs(100), 0);
  assert.equal(throttle.readSize(65536, 100), 200);
});

Deno.test("ReadThrottle makes a read past the tokens wait for the debt too: no line is dropped", () => {
  const throttle = new ReadThrottle({ lines: 10, burst: 10 }, 0);
  throttle.took(40, 400, 0); // 30 lines more than it had
  // 30 to pay back and 1 to earn: 3.1 s at 10 a second.
  assert.equal(throttle.pauseMs(0), 3100);
});

Deno.test("ReadThrottle waits at most for its burst, when that is less than a tenth of a second's worth", () => {
  const throttle = new ReadThrottle({ lines: 1000, burst: 2 }, 0);
  throttle.took(2, 20, 0);
  assert.equal(throttle.pauseMs(0), 2);
});
