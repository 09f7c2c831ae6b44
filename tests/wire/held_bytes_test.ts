/**
 * HeldBytes, the unfinished line or frame both framers hold: appends within
 * the cap, truncation to a cut, and a buffer that grew past 4 KiB let go
 * once its bytes are taken.
 */

import assert from "node:assert/strict";
import { HeldBytes } from "../../lib/wire/_held_bytes.ts";

Deno.test("HeldBytes holds what is appended, in order, up to its cap", () => {
  const held = new HeldBytes(1000);
  assert.deepEqual(held.view(), new Uint8Array(0));
  for (let i = 0; i < 10; i++) held.append(new Uint8Array(100).fill(i));
  assert.equal(held.length, 1000);
  const view = held.view();
  assert.equal(view.length, 1000);
  for (let i = 0; i < 10; i++) assert.equal(view[i * 100 + 99], i);
});

Deno.test("HeldBytes.truncate keeps only the bytes before the cut", () => {
  const held = new HeldBytes(16);
  held.append(new TextEncoder().encode("hello, world"));
  held.truncate(5);
  assert.equal(new TextDecoder().decode(held.take()), "hello");
  assert.equal(held.length, 0);
});

Deno.test("HeldBytes keeps a small buffer for the next line and lets a large one go", () => {
  // A view taken from a kept buffer is overwritten by the next append; one
  // from a buffer let go is not.
  const small = new HeldBytes(100_000);
  small.append(new Uint8Array(100).fill(7));
  const smallView = small.take();
  small.append(new Uint8Array(1).fill(9));
  assert.equal(smallView[0], 9);

  const large = new HeldBytes(100_000);
  large.append(new Uint8Array(5000).fill(7));
  const largeView = large.take();
  large.append(new Uint8Array(1).fill(9));
  assert.equal(largeView[0], 7);
});
