/**
 * Unit tests for the per-client send queue: the byte cap, order under
 * partial writes, one write at a time, batching, failure and close, all
 * against an in-memory writer the test pauses, fails or starves.
 */

import assert from "node:assert/strict";
import type { ByteWriter } from "../../lib/io/types.ts";
import { DEFAULT_SEND_QUEUE_BYTES, MAX_WRITE_BYTES, SendQueue } from "../../lib/io/send_queue.ts";
import { bytes, concat, randomInt, seededRandom, withTimeout } from "../_helpers/mod.ts";

const decoder = new TextDecoder();

/** Lets every pending job and timer of this turn run. */
function tick(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** Fails at the first byte that differs: a diff of large arrays would take
 * minutes to print. */
function assertSameBytes(actual: Uint8Array, expected: Uint8Array, what = ""): void {
  const length = Math.min(actual.length, expected.length);
  let at = 0;
  while (at < length && actual[at] === expected[at]) at++;
  if (at < length || actual.length !== expected.length) {
    assert.fail(
      `${what}bytes differ from offset ${at}: got ${actual.length} bytes, expected ${expected.length}`,
    );
  }
}

/** Waits for the queue to be idle, failing the test rather than hanging. */
function idleSoon(queue: SendQueue): Promise<void> {
  return withTimeout(queue.idle(), 5000, "the send queue to write all it holds");
}

/** Lets the pending promise jobs run, without waiting for a timer. */
async function settleJobs(): Promise<void> {
  for (let i = 0; i < 8; i++) await Promise.resolve();
}

/** Whether `promise` has settled after the pending jobs have run. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(() => done = true, () => done = true);
  await tick();
  return done;
}

interface PendingWrite {
  readonly bytes: Uint8Array;
  readonly resolve: (n: number) => void;
  readonly reject: (error: unknown) => void;
}

/** A writer in memory: it may hold writes until told (paused), take only
 * part of each write, or fail. */
class TestWriter implements ByteWriter {
  /** The buffers passed to `write`, as passed. */
  readonly calls: Uint8Array[] = [];
  /** What each write took, copied at the time. */
  readonly accepted: Uint8Array[] = [];
  /** Most bytes one write takes. */
  maxPerWrite = Number.POSITIVE_INFINITY;
  /** Set to make every later write reject. */
  failWith: Error | null = null;
  active = 0;
  maxActive = 0;
  #paused: boolean;
  #pending: PendingWrite[] = [];

  constructor(paused = false) {
    this.#paused = paused;
  }

  write(data: Uint8Array): Promise<number> {
    this.calls.push(data);
    if (this.failWith !== null) return Promise.reject(this.failWith);
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    if (!this.#paused) return Promise.resolve(this.#accept(data, this.maxPerWrite));
    return new Promise((resolve, reject) => this.#pending.push({ bytes: data, resolve, reject }));
  }

  /** Writes held, waiting for `release`. */
  get pending(): number {
    return this.#pending.length;
  }

  /** Completes the oldest held write, taking at most `count` bytes of it. */
  release(count = Number.POSITIVE_INFINITY): void {
    const write = this.#pending.shift();
    if (write === undefined) throw new Error("No write is waiting to be released");
    write.resolve(this.#accept(write.bytes, count));
  }

  /** Fails the oldest held write. */
  failPending(error: Error): void {
    const write = this.#pending.shift();
    if (write === undefined) throw new Error("No write is waiting to be failed");
    this.active--;
    write.reject(error);
  }

  /** Stops holding writes and completes those held. */
  async resume(): Promise<void> {
    this.#paused = false;
    while (this.#pending.length > 0) this.release();
    await tick();
  }

  text(): string {
    return decoder.decode(concat(this.accepted));
  }

  #accept(data: Uint8Array, count: number): number {
    this.active--;
    const n = Math.min(count, data.length);
    this.accepted.push(data.slice(0, n));
    return n;
  }
}

Deno.test("SendQueue holds at most 1 MiB unless told otherwise", () => {
  const queue = new SendQueue(new TestWriter(true));
  assert.equal(DEFAULT_SEND_QUEUE_BYTES, 1024 * 1024);
  assert.equal(queue.maxBytes, DEFAULT_SEND_QUEUE_BYTES);
  assert.ok(queue.push(new Uint8Array(DEFAULT_SEND_QUEUE_BYTES)));
  assert.equal(queue.push(new Uint8Array(1)), false);
});

Deno.test("SendQueue rejects a cap that is not a positive integer, naming it", () => {
  for (const maxBytes of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
    assert.throws(
      () => new SendQueue(new TestWriter(), { maxBytes }),
      (error: unknown) =>
        error instanceof RangeError &&
        error.message === `Invalid maxBytes "${maxBytes}": must be a positive integer`,
    );
  }
});

Deno.test("SendQueue writes what it is given, in order, byte for byte", async () => {
  const writer = new TestWriter();
  const queue = new SendQueue(writer);
  for (const line of ["one\n", "two\n", "\x00\xff\n", "three\n"]) {
    assert.ok(queue.push(bytes(line)));
  }
  await idleSoon(queue);
  assert.equal(writer.text(), "one\ntwo\n\x00\xff\nthree\n");
  assert.equal(queue.queuedBytes, 0);
});

Deno.test("SendQueue refuses, queuing nothing, a line that would pass its cap", async () => {
  const writer = new TestWriter(true);
  const queue = new SendQueue(writer, { maxBytes: 10 });
  assert.ok(queue.push(bytes("123456\n"))); // 7
  assert.equal(queue.push(bytes("abcd\n")), false); // 7 + 5 > 10
  assert.equal(queue.queuedBytes, 7);
  assert.ok(queue.push(bytes("ab\n"))); // exactly 10
  assert.equal(queue.push(bytes("\n")), false);
  assert.equal(queue.queuedBytes, 10);
  await writer.resume();
  await idleSoon(queue);
  assert.equal(writer.text(), "123456\nab\n");
});

Deno.test("SendQueue counts the write in progress against its cap until it is written", async () => {
  const writer = new TestWriter(true);
  const queue = new SendQueue(writer, { maxBytes: 10 });
  assert.ok(queue.push(bytes("12345678\n")));
  await tick();
  assert.equal(writer.pending, 1);
  assert.equal(queue.queuedBytes, 9);
  assert.equal(queue.push(bytes("ab\n")), false);
  writer.release(4); // partly written: 5 bytes still to go
  await tick();
  assert.equal(queue.queuedBytes, 5);
  assert.ok(queue.push(bytes("ab\n")));
  assert.equal(queue.queuedBytes, 8);
  await writer.resume();
  await idleSoon(queue);
  assert.equal(writer.text(), "12345678\nab\n");
  assert.equal(queue.queuedBytes, 0);
});

Deno.test("SendQueue writes the rest when a write takes only part of its buffer", async () => {
  const writer = new TestWriter();
  writer.maxPerWrite = 7;
  const queue = new SendQueue(writer);
  const lines = Array.from({ length: 50 }, (_, i) => `line ${i} of fifty\n`);
  for (const line of lines) assert.ok(queue.push(bytes(line)));
  await idleSoon(queue);
  assert.equal(writer.text(), lines.join(""));
  assert.ok(writer.accepted.every((part) => part.length <= 7));
});

Deno.test("SendQueue has one write in flight at a time", async () => {
  const writer = new TestWriter(true);
  const queue = new SendQueue(writer);
  for (let i = 0; i < 5; i++) {
    queue.push(new Uint8Array(MAX_WRITE_BYTES).fill(65 + i));
    await tick();
  }
  assert.equal(writer.pending, 1);
  while (writer.pending > 0) {
    writer.release();
    await tick();
  }
  await idleSoon(queue);
  assert.equal(writer.maxActive, 1);
  assert.equal(writer.calls.length, 5);
});

Deno.test("SendQueue sends lines queued together in one write", async () => {
  const writer = new TestWriter();
  const queue = new SendQueue(writer);
  for (let i = 0; i < 100; i++) queue.push(bytes(`message ${i}\n`));
  await idleSoon(queue);
  assert.equal(writer.calls.length, 1);
});

Deno.test("SendQueue sends a flood of tiny lines to a slow reader in few writes of at most 64 KiB", async () => {
  const writer = new TestWriter(true);
  const queue = new SendQueue(writer, { maxBytes: 300_000 });
  assert.ok(queue.push(bytes("first\n")));
  await tick();
  let expected = "first\n";
  for (let i = 0; queue.push(bytes("\n")); i++) expected += "\n";
  assert.equal(queue.queuedBytes, 300_000);
  await writer.resume();
  await idleSoon(queue);
  assertSameBytes(concat(writer.accepted), bytes(expected));
  assert.ok(writer.calls.every((call) => call.length <= MAX_WRITE_BYTES));
  // 300,000 bytes in writes of 64 KiB: 5, after the first line's own write.
  assert.equal(writer.calls.length, 1 + Math.ceil((300_000 - 6) / MAX_WRITE_BYTES));
});

Deno.test("SendQueue writes a line longer than 64 KiB in pieces of 64 KiB", async () => {
  const writer = new TestWriter();
  const queue = new SendQueue(writer);
  const line = new Uint8Array(3 * MAX_WRITE_BYTES + 10).map((_, i) => i % 251);
  assert.ok(queue.push(line));
  await idleSoon(queue);
  assert.deepEqual(writer.calls.map((call) => call.length), [
    MAX_WRITE_BYTES,
    MAX_WRITE_BYTES,
    MAX_WRITE_BYTES,
    10,
  ]);
  assertSameBytes(concat(writer.accepted), line);
});

Deno.test("SendQueue writes a large line by reference, without copying it", async () => {
  const writer = new TestWriter();
  const queue = new SendQueue(writer);
  const line = new Uint8Array(20_000).fill(7);
  assert.ok(queue.push(line));
  await idleSoon(queue);
  assert.equal(writer.calls.length, 1);
  assert.equal(writer.calls[0]?.buffer, line.buffer);
});

Deno.test("SendQueue keeps order through any mix of line sizes, partial writes and pauses", async () => {
  const random = seededRandom(42);
  for (let round = 0; round < 20; round++) {
    const writer = new TestWriter(true);
    const maxBytes = randomInt(random, 1000, 400_000);
    const queue = new SendQueue(writer, { maxBytes });
    const sent: Uint8Array[] = [];
    let serial = 0;
    for (let step = 0; step < 300; step++) {
      const action = random();
      if (action < 0.6) {
        const size = random() < 0.1 ? randomInt(random, 512, 100_000) : randomInt(random, 1, 600);
        const line = new Uint8Array(size).map(() => serial++ % 256);
        const before = queue.queuedBytes;
        const ok = queue.push(line);
        assert.equal(ok, before + size <= maxBytes, `push of ${size} with ${before} queued`);
        if (ok) sent.push(line);
        else serial -= size;
      } else if (writer.pending > 0) {
        writer.release(random() < 0.5 ? randomInt(random, 1, 5000) : Number.POSITIVE_INFINITY);
      }
      if (random() < 0.3) await settleJobs();
      assert.ok(queue.queuedBytes <= maxBytes);
    }
    await writer.resume();
    await idleSoon(queue);
    assertSameBytes(concat(writer.accepted), concat(sent), `round ${round}: `);
    assert.equal(queue.queuedBytes, 0);
    assert.equal(writer.maxActive, 1);
  }
});

Deno.test("SendQueue idle() waits until everything queued is written", async () => {
  const writer = new TestWriter(true);
  const queue = new SendQueue(writer);
  assert.ok(await settled(queue.idle()), "an empty queue is idle");
  queue.push(bytes("hello\n"));
  const idle = queue.idle();
  assert.equal(await settled(idle), false);
  writer.release(3);
  assert.equal(await settled(idle), false);
  writer.release();
  assert.ok(await settled(idle));
  assert.equal(writer.text(), "hello\n");
});

Deno.test("SendQueue stops and drops what it holds when a write fails", async () => {
  const writer = new TestWriter(true);
  const queue = new SendQueue(writer);
  queue.push(bytes("one\n"));
  await tick();
  queue.push(bytes("two\n"));
  const idle = queue.idle();
  writer.failPending(new Error("Connection reset by peer"));
  assert.ok(await settled(idle), "idle() resolves, never rejects");
  assert.equal(queue.failed, true);
  assert.equal(queue.queuedBytes, 0);
  assert.equal(queue.push(bytes("three\n")), false);
  await tick();
  assert.equal(writer.calls.length, 1, "nothing written after the failure");
});

Deno.test("SendQueue treats a writer that throws at once as a failed write", async () => {
  const writer: ByteWriter = {
    write(): Promise<number> {
      throw new Error("Bad file descriptor");
    },
  };
  const queue = new SendQueue(writer);
  assert.ok(queue.push(bytes("one\n")));
  await idleSoon(queue);
  assert.equal(queue.failed, true);
  assert.equal(queue.push(bytes("two\n")), false);
});

Deno.test("SendQueue fails rather than spins when a write takes no bytes", async () => {
  let calls = 0;
  const writer: ByteWriter = {
    write(): Promise<number> {
      calls++;
      // Give up after a while, so that a queue that spins fails the test
      // below instead of hanging it.
      return calls > 100 ? Promise.reject(new Error("Spinning")) : Promise.resolve(0);
    },
  };
  const queue = new SendQueue(writer);
  queue.push(bytes("one\n"));
  await idleSoon(queue);
  assert.equal(queue.failed, true);
  assert.equal(calls, 1);
});

Deno.test("SendQueue close() drops what waits, refuses more and ignores the write in progress", async () => {
  const writer = new TestWriter(true);
  const queue = new SendQueue(writer);
  queue.push(bytes("one\n"));
  await tick();
  queue.push(bytes("two\n"));
  const idle = queue.idle();
  queue.close();
  assert.ok(await settled(idle));
  assert.equal(queue.queuedBytes, 0);
  assert.equal(queue.push(bytes("three\n")), false);
  writer.failPending(new Error("Connection reset by peer"));
  await tick();
  assert.equal(queue.failed, false, "a write failing after close() is moot");
  assert.equal(writer.calls.length, 1);
  assert.equal(writer.text(), "");
});

Deno.test("SendQueue close() before the first write writes nothing", async () => {
  const writer = new TestWriter();
  const queue = new SendQueue(writer);
  queue.push(bytes("one\n"));
  queue.close();
  await tick();
  assert.equal(writer.calls.length, 0);
});
