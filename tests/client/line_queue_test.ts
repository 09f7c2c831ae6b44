/**
 * Unit tests for the client's bounded line queue: both caps, the send
 * cursor, release from the front, rewind after a reconnect, and the async
 * waits for room and for lines, all without sockets.
 */

import assert from "node:assert/strict";
import {
  DEFAULT_BUFFER_BYTES,
  DEFAULT_BUFFER_LINES,
  LineQueue,
} from "../../lib/client/line_queue.ts";
import { bytes } from "../_helpers/mod.ts";

const text = (lines: Uint8Array[]): string[] => lines.map((line) => new TextDecoder().decode(line));

/** Whether `promise` has settled after the pending jobs have run. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(() => done = true, () => done = true);
  await new Promise((resolve) => setTimeout(resolve, 0));
  return done;
}

Deno.test("LineQueue defaults to 10,000 lines and 64 MiB", () => {
  const queue = new LineQueue();
  assert.equal(queue.maxLines, DEFAULT_BUFFER_LINES);
  assert.equal(queue.maxBytes, DEFAULT_BUFFER_BYTES);
  assert.equal(DEFAULT_BUFFER_LINES, 10_000);
  assert.equal(DEFAULT_BUFFER_BYTES, 64 * 1024 * 1024);
});

Deno.test("LineQueue has no room at its line cap", () => {
  const queue = new LineQueue({ maxLines: 3 });
  for (const line of ["a\n", "b\n", "c\n"]) {
    assert.ok(queue.hasRoom(2));
    queue.push(bytes(line));
  }
  assert.equal(queue.hasRoom(0), false);
  assert.throws(() => queue.push(bytes("d\n")), /Cannot push a line of 2 bytes: the queue holds 3/);
  assert.deepEqual({ length: queue.length, bytes: queue.bytes }, { length: 3, bytes: 6 });
});

Deno.test("LineQueue has no room for a line that would pass its byte cap", () => {
  const queue = new LineQueue({ maxBytes: 10 });
  queue.push(bytes("12345678\n")); // 9 bytes
  assert.ok(queue.hasRoom(1));
  assert.equal(queue.hasRoom(2), false);
  queue.push(bytes("\n"));
  assert.equal(queue.hasRoom(1), false);
});

Deno.test("LineQueue takes a line larger than its byte cap when empty, so it cannot block", () => {
  const queue = new LineQueue({ maxBytes: 4 });
  assert.ok(queue.hasRoom(100));
  queue.push(new Uint8Array(100));
  assert.equal(queue.hasRoom(1), false);
  queue.markSent(1);
  queue.release(1);
  assert.ok(queue.hasRoom(100));
});

Deno.test("LineQueue hands out unsent lines in order, batched up to a byte budget", () => {
  const queue = new LineQueue();
  for (const line of ["one\n", "two\n", "three\n", "four"]) queue.push(bytes(line));
  assert.deepEqual(text(queue.unsentLines(8)), ["one\n", "two\n"]);
  // Always at least one line, even one over the budget.
  assert.deepEqual(text(queue.unsentLines(1)), ["one\n"]);
  queue.markSent(2);
  assert.deepEqual({ sent: queue.sent, unsent: queue.unsent }, { sent: 2, unsent: 2 });
  assert.deepEqual(text(queue.unsentLines(100)), ["three\n", "four"]);
  queue.markSent(2);
  assert.deepEqual(queue.unsentLines(100), []);
});

Deno.test("LineQueue releases sent lines from the front and frees their room", () => {
  const queue = new LineQueue({ maxLines: 2 });
  queue.push(bytes("a\n"));
  queue.push(bytes("b\n"));
  queue.markSent(1);
  assert.throws(() => queue.release(2), /Cannot release 2 lines: 1 were sent/);
  queue.release(1);
  assert.deepEqual({ length: queue.length, bytes: queue.bytes, sent: queue.sent }, {
    length: 1,
    bytes: 2,
    sent: 0,
  });
  assert.ok(queue.hasRoom(2));
  assert.deepEqual(text(queue.unsentLines(100)), ["b\n"]);
});

Deno.test("LineQueue rewind makes every held line unsent again, in order", () => {
  const queue = new LineQueue();
  for (let i = 0; i < 5; i++) queue.push(bytes(`${i}\n`));
  queue.markSent(4);
  queue.release(2); // 0 and 1 acknowledged; 2 and 3 sent, not acknowledged
  queue.rewind();
  assert.deepEqual({ sent: queue.sent, unsent: queue.unsent }, { sent: 0, unsent: 3 });
  assert.deepEqual(text(queue.unsentLines(100)), ["2\n", "3\n", "4\n"]);
});

Deno.test("LineQueue rejects marking more lines sent than are unsent", () => {
  const queue = new LineQueue();
  queue.push(bytes("a\n"));
  assert.throws(() => queue.markSent(2), /Cannot mark 2 lines sent: 1 are unsent/);
  assert.throws(() => queue.markSent(-1), /Cannot mark -1 lines sent/);
});

Deno.test("LineQueue keeps order and counts through many pushes and releases", () => {
  // Enough lines to pass the compaction threshold several times.
  const queue = new LineQueue({ maxLines: 3000 });
  let next = 0;
  let expected = 0;
  for (let round = 0; round < 20; round++) {
    while (queue.hasRoom(8)) queue.push(bytes(`${next++}\n`));
    const lines = queue.unsentLines(Infinity);
    queue.markSent(lines.length);
    const release = 1000 + round * 37;
    const released = text(lines).slice(0, release);
    for (const line of released) assert.equal(line, `${expected++}\n`);
    queue.release(release);
    queue.rewind();
    assert.equal(text(queue.unsentLines(100))[0], `${expected}\n`);
  }
  assert.equal(queue.length, next - expected);
  let total = 0;
  for (const line of queue.unsentLines(Infinity)) total += line.length;
  assert.equal(queue.bytes, total);
});

Deno.test("LineQueue waitForRoom resolves only once a line leaves", async () => {
  const queue = new LineQueue({ maxLines: 1 });
  queue.push(bytes("a\n"));
  const room = queue.waitForRoom(2);
  assert.equal(await settled(room), false);
  queue.markSent(1);
  assert.equal(await settled(room), false, "sent but not released is still held");
  queue.release(1);
  assert.equal(await settled(room), true);
});

Deno.test("LineQueue waitForUnsent resolves on a new line or on the end of input", async () => {
  const queue = new LineQueue();
  const first = queue.waitForUnsent();
  assert.equal(await settled(first), false);
  queue.push(bytes("a\n"));
  assert.equal(await settled(first), true);
  queue.markSent(1);
  const second = queue.waitForUnsent();
  assert.equal(await settled(second), false);
  queue.end();
  assert.equal(await settled(second), true);
  assert.ok(queue.ended);
  assert.throws(() => queue.push(bytes("late\n")), /Cannot push a line after the end of input/);
});

Deno.test("LineQueue waitForUnsent resolves after a rewind of sent lines", async () => {
  const queue = new LineQueue();
  queue.push(bytes("a\n"));
  queue.markSent(1);
  const waiting = queue.waitForUnsent();
  assert.equal(await settled(waiting), false);
  queue.rewind();
  assert.equal(await settled(waiting), true);
});

Deno.test("LineQueue rejects bad caps, naming them", () => {
  assert.throws(() => new LineQueue({ maxLines: 0 }), /Invalid maxLines "0"/);
  assert.throws(() => new LineQueue({ maxBytes: 1.5 }), /Invalid maxBytes "1.5"/);
});
