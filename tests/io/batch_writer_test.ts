/**
 * Unit tests for {@linkcode BatchWriter} against a fake output that records
 * what it is given, may take only part of each buffer, and may be held up
 * until the test releases it, so every interleaving is chosen by the test
 * rather than by timing.
 */

import assert from "node:assert/strict";
import { BatchWriter } from "../../lib/io/batch_writer.ts";
import type { ByteWriter } from "../../lib/io/types.ts";
import { concat, seededRandom, waitFor } from "../_helpers/mod.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface FakeOptions {
  /** Most bytes taken per call, like a pipe that accepts partial writes. */
  maxPerCall?: number;
  /** Hold every call until `release` (or `open`) is called. */
  gated?: boolean;
  /** Throw this error from the given call (1-based). */
  failOnCall?: { call: number; error: unknown };
  /** Runs at the start of each call, for writes made during a write. */
  onCall?: (call: number) => void;
}

/** A ByteWriter that records what it was given, in order. */
class FakeWriter implements ByteWriter {
  /** The bytes taken by each call, copied once the call completes. */
  readonly writes: Uint8Array[] = [];
  calls = 0;
  readonly #options: FakeOptions;
  #gated: boolean;
  readonly #held: Array<() => void> = [];
  readonly #blockedWaiters: Array<() => void> = [];

  constructor(options: FakeOptions = {}) {
    this.#options = options;
    this.#gated = options.gated ?? false;
  }

  async write(bytes: Uint8Array): Promise<number> {
    const call = ++this.calls;
    this.#options.onCall?.(call);
    if (this.#gated) {
      await new Promise<void>((resolve) => {
        this.#held.push(resolve);
        for (const wake of this.#blockedWaiters.splice(0)) wake();
      });
    }
    const failure = this.#options.failOnCall;
    if (failure !== undefined && failure.call === call) throw failure.error;
    // Copied only now, so a writer that reused a buffer mid-write would show.
    const taken = bytes.slice(0, Math.min(bytes.length, this.#options.maxPerCall ?? Infinity));
    this.writes.push(taken);
    return taken.length;
  }

  /** Resolves once a call is held, waiting for `release`. */
  blocked(): Promise<void> {
    if (this.#held.length > 0) return Promise.resolve();
    return new Promise((resolve) => this.#blockedWaiters.push(resolve));
  }

  /** Lets the oldest held call complete. */
  release(): void {
    const next = this.#held.shift();
    assert.ok(next !== undefined, "release() with no write in progress");
    next();
  }

  /** Lets every held and future call complete at once. */
  open(): void {
    this.#gated = false;
    for (const next of this.#held.splice(0)) next();
  }

  get output(): Uint8Array {
    return concat(this.writes);
  }

  get text(): string {
    return decoder.decode(this.output);
  }
}

async function microtasks(count: number): Promise<void> {
  for (let i = 0; i < count; i++) await Promise.resolve();
}

/** Random mix of strings (with multi-byte characters) and byte arrays. */
function randomPieces(seed: number, count: number): Array<string | Uint8Array> {
  const random = seededRandom(seed);
  const words = ["a", "line\n", "h\u00e9llo", "\u65e5\u672c", "\u{1f389}", "x".repeat(40), ""];
  return Array.from({ length: count }, () => {
    if (random() < 0.5) {
      let text = "";
      const n = Math.floor(random() * 5);
      for (let i = 0; i < n; i++) text += words[Math.floor(random() * words.length)];
      return text;
    }
    return Uint8Array.from({ length: Math.floor(random() * 50) }, () => Math.floor(random() * 256));
  });
}

function encodeAll(pieces: Array<string | Uint8Array>): Uint8Array {
  return concat(pieces.map((piece) => typeof piece === "string" ? encoder.encode(piece) : piece));
}

Deno.test("BatchWriter writes strings as UTF-8 and bytes exactly, in order", async () => {
  const out = new FakeWriter();
  const writer = new BatchWriter(out, { chunkSize: 16 });
  const pieces = randomPieces(1, 300);
  for (const piece of pieces) writer.write(piece);
  await writer.flush();
  assert.deepEqual(out.output, encodeAll(pieces));
  assert.equal(writer.pendingBytes, 0);
});

Deno.test("BatchWriter output is exact through a writer that takes 7 bytes per call", async () => {
  const out = new FakeWriter({ maxPerCall: 7 });
  const writer = new BatchWriter(out, { chunkSize: 16 });
  const pieces = randomPieces(2, 300);
  // Spread over several turns, so writes land before, during and after flushes.
  for (let i = 0; i < pieces.length; i++) {
    writer.write(pieces[i] as string | Uint8Array);
    if (i % 7 === 0) await microtasks(i % 5);
  }
  await writer.flush();
  assert.deepEqual(out.output, encodeAll(pieces));
  assert.ok(out.writes.every((taken) => taken.length <= 7 && taken.length > 0));
});

Deno.test("BatchWriter keeps multi-byte characters whole across chunk boundaries", async () => {
  const out = new FakeWriter({ maxPerCall: 7 });
  const writer = new BatchWriter(out, { chunkSize: 16 });
  const text = "a".repeat(15) + "\u00e9" + "b".repeat(14) + "\u{1f389}" + "\u65e5".repeat(20);
  writer.write(text.slice(0, 15));
  writer.write(text.slice(15));
  writer.write("\u{1f600}");
  await writer.flush();
  assert.equal(new TextDecoder("utf-8", { fatal: true }).decode(out.output), text + "\u{1f600}");
});

Deno.test("BatchWriter copies bytes at once, so the caller may reuse its buffer", async () => {
  const out = new FakeWriter();
  const writer = new BatchWriter(out, { chunkSize: 16 });
  const buffer = encoder.encode("first line\n and more than a chunk\n");
  writer.write(buffer);
  buffer.fill(0x21);
  writer.write(buffer.subarray(0, 3));
  await writer.flush();
  assert.equal(out.text, "first line\n and more than a chunk\n!!!");
});

Deno.test("BatchWriter turns many small writes into one large write", async () => {
  const out = new FakeWriter();
  const writer = new BatchWriter(out);
  let expected = "";
  for (let i = 0; i < 1000; i++) {
    writer.write(`[client ${i % 7}] `);
    writer.write(encoder.encode(`line ${i}\n`));
    expected += `[client ${i % 7}] line ${i}\n`;
  }
  await writer.flush();
  assert.equal(out.calls, 1);
  assert.equal(out.text, expected);
});

Deno.test("BatchWriter writes full chunks when the output keeps up", async () => {
  const out = new FakeWriter();
  const writer = new BatchWriter(out, { chunkSize: 1024 });
  let total = 0;
  for (let i = 0; i < 1000; i++) {
    const line = `message number ${i}\n`;
    writer.write(line);
    total += line.length;
  }
  await writer.flush();
  assert.equal(out.calls, Math.ceil(total / 1024));
  assert.deepEqual(
    out.writes.map((taken) => taken.length),
    [...Array(out.calls - 1).fill(1024), total - 1024 * (out.calls - 1)],
  );
});

Deno.test("BatchWriter gathers writes made during a slow write into the next one", async () => {
  const out = new FakeWriter({ gated: true });
  const writer = new BatchWriter(out);
  writer.write("first\n");
  await out.blocked();
  let rest = "";
  for (let i = 0; i < 100; i++) {
    writer.write(`line ${i}\n`);
    rest += `line ${i}\n`;
  }
  assert.equal(out.calls, 1);
  out.release();
  await out.blocked();
  assert.equal(out.calls, 2);
  out.release();
  await writer.flush();
  assert.deepEqual(out.writes.map((taken) => decoder.decode(taken)), ["first\n", rest]);
});

Deno.test("BatchWriter counts accepted bytes as pending until written", async () => {
  const out = new FakeWriter({ gated: true });
  const writer = new BatchWriter(out, { chunkSize: 16 });
  writer.write("h\u00e9llo");
  writer.write(new Uint8Array(10));
  assert.equal(writer.pendingBytes, 16);
  await out.blocked();
  assert.equal(writer.pendingBytes, 16);
  out.open();
  await writer.flush();
  assert.equal(writer.pendingBytes, 0);
});

Deno.test("BatchWriter is backlogged only above highWaterMark", async () => {
  const out = new FakeWriter({ gated: true });
  const writer = new BatchWriter(out, { chunkSize: 16, highWaterMark: 64 });
  writer.write(new Uint8Array(64));
  assert.equal(writer.backlogged, false);
  await writer.drained();
  writer.write(new Uint8Array(1));
  assert.equal(writer.backlogged, true);
  out.open();
  await writer.flush();
  assert.equal(writer.backlogged, false);
});

Deno.test("BatchWriter drained() resolves once the backlog is written down", async () => {
  const out = new FakeWriter({ gated: true });
  const writer = new BatchWriter(out, { chunkSize: 16, highWaterMark: 64 });
  writer.write(new Uint8Array(100).fill(7));
  assert.equal(writer.backlogged, true);
  let drained = false;
  const done = writer.drained().then(() => {
    drained = true;
  });
  const seen: Array<[number, boolean]> = [];
  await out.blocked();
  for (let i = 0; i < 10 && !drained; i++) {
    out.release();
    await out.blocked();
    seen.push([writer.pendingBytes, drained]);
  }
  // Each write takes one 16-byte chunk; 52 is the first count at or under 64.
  assert.deepEqual(seen, [[84, false], [68, false], [52, true]]);
  assert.equal(writer.backlogged, false);
  await done;
  out.open();
  await writer.flush();
  assert.deepEqual(out.output, new Uint8Array(100).fill(7));
});

Deno.test("BatchWriter drained() resolves at once when not backlogged", async () => {
  const writer = new BatchWriter(new FakeWriter());
  await writer.drained();
  writer.write("small");
  await writer.drained();
  await writer.flush();
});

Deno.test("BatchWriter flush() waits until everything is written", async () => {
  const out = new FakeWriter({ gated: true });
  const writer = new BatchWriter(out, { chunkSize: 16 });
  writer.write("x".repeat(40));
  let flushed = false;
  const flushing = writer.flush().then(() => {
    flushed = true;
  });
  for (let i = 0; i < 3; i++) {
    await out.blocked();
    assert.equal(flushed, false, `flushed before write ${i + 1} completed`);
    out.release();
  }
  await flushing;
  assert.equal(out.text, "x".repeat(40));
  assert.equal(out.calls, 3);
});

Deno.test("BatchWriter flush() waits for data written while it waits", async () => {
  const out = new FakeWriter({ gated: true });
  const writer = new BatchWriter(out);
  writer.write("one\n");
  const flushing = writer.flush();
  await out.blocked();
  writer.write("two\n");
  out.open();
  await flushing;
  assert.equal(out.text, "one\ntwo\n");
});

Deno.test("BatchWriter flush() resolves at once when nothing was written", async () => {
  const out = new FakeWriter();
  const writer = new BatchWriter(out);
  await writer.flush();
  await writer.flush();
  assert.equal(out.calls, 0);
});

Deno.test("BatchWriter writes data issued right after a flush loop finishes", async () => {
  const out = new FakeWriter();
  const writer = new BatchWriter(out);
  writer.write("a");
  await writer.flush();
  writer.write("b");
  await writer.flush();
  assert.equal(out.text, "ab");
  assert.equal(out.calls, 2);
});

Deno.test("BatchWriter strands no data whatever the moment of a write", async () => {
  // A second write at every microtask offset from the first, through slow
  // partial writes, lands before, during, or just after the flush loop ends.
  for (const maxPerCall of [Infinity, 7]) {
    for (let delay = 0; delay < 40; delay++) {
      const out = new FakeWriter({ maxPerCall });
      const writer = new BatchWriter(out, { chunkSize: 16 });
      writer.write("first part, longer than one chunk|");
      await microtasks(delay);
      writer.write("second");
      await writer.flush();
      assert.equal(out.text, "first part, longer than one chunk|second", `delay ${delay}`);
    }
  }
});

Deno.test("BatchWriter writes data issued from a flush() continuation", async () => {
  const out = new FakeWriter();
  const writer = new BatchWriter(out);
  writer.write("a");
  await writer.flush().then(() => writer.write("b"));
  await writer.flush();
  assert.equal(out.text, "ab");
});

Deno.test("BatchWriter writes data issued while its last write is in progress", async () => {
  const out = new FakeWriter({
    onCall: (call) => {
      if (call === 1) writer.write("late");
    },
  });
  const writer = new BatchWriter(out);
  writer.write("early ");
  await writer.flush();
  assert.equal(out.text, "early late");
  assert.equal(out.calls, 2);
});

Deno.test("BatchWriter reports a failing output once and drops later output", async () => {
  const failure = new Error("broken pipe");
  const out = new FakeWriter({ failOnCall: { call: 2, error: failure } });
  const errors: unknown[] = [];
  const writer = new BatchWriter(out, { chunkSize: 16, onError: (error) => errors.push(error) });
  writer.write("0123456789abcdef" + "second chunk....." + "third");
  await assert.rejects(writer.flush(), (error) => error === failure);
  assert.deepEqual(errors, [failure]);
  assert.equal(writer.failed, true);
  assert.equal(writer.pendingBytes, 0);
  assert.equal(writer.backlogged, false);
  await assert.rejects(writer.drained(), (error) => error === failure);
  writer.write("ignored");
  writer.write(new Uint8Array([1, 2, 3]));
  await assert.rejects(writer.flush(), (error) => error === failure);
  assert.equal(out.calls, 2);
  assert.equal(out.text, "0123456789abcdef");
  assert.deepEqual(errors, [failure]);
});

Deno.test("BatchWriter rejects a pending drained() when the output fails", async () => {
  const failure = new Error("disk full");
  const out = new FakeWriter({ gated: true, failOnCall: { call: 1, error: failure } });
  let reported = 0;
  const writer = new BatchWriter(out, {
    chunkSize: 16,
    highWaterMark: 10,
    onError: () => reported++,
  });
  writer.write("more than ten bytes");
  const drained = writer.drained();
  await out.blocked();
  out.release();
  await assert.rejects(drained, (error) => error === failure);
  await assert.rejects(writer.flush(), (error) => error === failure);
  assert.equal(reported, 1);
});

Deno.test("BatchWriter without onError still rejects flush() on failure", async () => {
  const failure = new Error("gone");
  const writer = new BatchWriter(new FakeWriter({ failOnCall: { call: 1, error: failure } }));
  writer.write("x");
  await assert.rejects(writer.flush(), (error) => error === failure);
  assert.equal(writer.failed, true);
});

Deno.test("BatchWriter treats a writer that throws synchronously as failed", async () => {
  const failure = new TypeError("not writable");
  const errors: unknown[] = [];
  const writer = new BatchWriter({
    write(): Promise<number> {
      throw failure;
    },
  }, { onError: (error) => errors.push(error) });
  writer.write("x");
  await assert.rejects(writer.flush(), (error) => error === failure);
  assert.deepEqual(errors, [failure]);
});

Deno.test("BatchWriter rejects a chunkSize under 16, naming it", () => {
  for (const chunkSize of [15, 0, -1, 16.5, NaN]) {
    assert.throws(() => new BatchWriter(new FakeWriter(), { chunkSize }), {
      name: "RangeError",
      message: `Invalid chunkSize "${chunkSize}": must be an integer >= 16`,
    });
  }
});

Deno.test("BatchWriter rejects a negative or fractional highWaterMark, naming it", () => {
  const out: ByteWriter = { write: (bytes) => Promise.resolve(bytes.length) };
  assert.throws(() => new BatchWriter(out, { highWaterMark: -1 }), /Invalid highWaterMark "-1"/);
  assert.throws(() => new BatchWriter(out, { highWaterMark: 1.5 }), /Invalid highWaterMark "1.5"/);
  assert.throws(() => new BatchWriter(out, { highWaterMark: NaN }), RangeError);
});

Deno.test("BatchWriter.writeLine writes prefix, body, suffix and a newline, across chunk edges", async () => {
  const out = new FakeWriter({ maxPerCall: 5 });
  const writer = new BatchWriter(out, { chunkSize: 16 });
  const random = seededRandom(7);
  let expected = "";
  for (let i = 0; i < 300; i++) {
    const prefix = "p".repeat(Math.floor(random() * 20));
    const body = "b" + String(i) + "x".repeat(Math.floor(random() * 40));
    const suffix = random() < 0.5 ? null : "s".repeat(Math.floor(random() * 5));
    writer.writeLine(
      new TextEncoder().encode(prefix),
      new TextEncoder().encode(body),
      suffix === null ? null : new TextEncoder().encode(suffix),
    );
    expected += prefix + body + (suffix ?? "") + "\n";
  }
  await writer.flush();
  assert.equal(new TextDecoder().decode(concat(out.writes)), expected);
  assert.equal(writer.pendingBytes, 0);
});

Deno.test("BatchWriter whenWritten() resolves once earlier bytes are out, without waiting for later ones", async () => {
  const out = new FakeWriter({ gated: true });
  const writer = new BatchWriter(out, { chunkSize: 16 });
  writer.write("first line\n");
  assert.equal(writer.position, 11);
  let written = false;
  const first = writer.whenWritten().then(() => {
    written = true;
  });
  await out.blocked();
  // More data arrives while the first write is held; it needs a write of its own.
  writer.write("second line, longer\n");
  assert.equal(writer.position, 31);
  const second = writer.whenWritten();
  assert.equal(written, false, "resolved before the write completed");
  out.release();
  await first;
  assert.equal(out.text, "first line\n");
  assert.equal(writer.pendingBytes, 20, "the later bytes are still pending");
  out.open();
  await second;
  assert.equal(out.text, "first line\nsecond line, longer\n");
  await writer.whenWritten(); // nothing pending: at once
});

Deno.test("BatchWriter whenWritten() rejects when the output fails first", async () => {
  const failure = new Error("no space left on device");
  const out = new FakeWriter({ gated: true, failOnCall: { call: 1, error: failure } });
  const writer = new BatchWriter(out, { onError: () => {} });
  writer.write("lost\n");
  const waiting = writer.whenWritten();
  await out.blocked();
  out.release();
  await assert.rejects(waiting, (error) => error === failure);
  await assert.rejects(writer.whenWritten(), (error) => error === failure);
});

/** An output that fails every write while `full` is set, like a full disk. */
class FullDisk implements ByteWriter {
  full = true;
  attempts = 0;
  readonly taken: Uint8Array[] = [];

  write(bytes: Uint8Array): Promise<number> {
    this.attempts++;
    if (this.full) return Promise.reject(new Error("No space left on device"));
    this.taken.push(bytes.slice());
    return Promise.resolve(bytes.length);
  }
}

Deno.test("BatchWriter keeps the data through a stall the retry policy allows, and loses nothing", async () => {
  const disk = new FullDisk();
  const events: string[] = [];
  const writer = new BatchWriter(disk, {
    chunkSize: 16,
    highWaterMark: 32,
    retryAfter: () => 1,
    onStall: (error) => events.push(`stall: ${(error as Error).message}`),
    onResume: () => events.push("resume"),
    onError: () => events.push("error"),
  });
  const text = Array.from({ length: 10 }, (_, i) => `line ${i}\n`).join("");
  writer.write(text);
  await waitFor("three attempts at the full disk", () => disk.attempts >= 3);
  assert.equal(writer.stalled, true);
  assert.equal(writer.backlogged, true, "a stalled writer must hold its producers back");
  assert.equal(writer.pendingBytes, text.length);
  let drained = false;
  const draining = writer.drained().then(() => drained = true);
  disk.full = false;
  await writer.flush();
  await draining;
  assert.equal(drained, true);
  assert.equal(decoder.decode(concat(disk.taken)), text);
  assert.deepEqual(events, ["stall: No space left on device", "resume"]);
  assert.equal(writer.stalled, false);
});

Deno.test("BatchWriter giveUp() ends a stall: onError counts the bytes never written", async () => {
  const disk = new FullDisk();
  const lost: number[] = [];
  const writer = new BatchWriter(disk, {
    retryAfter: () => 60_000,
    onError: (_error, bytes) => lost.push(bytes),
  });
  writer.write("held line\n");
  await waitFor("the writer to stall", () => writer.stalled);
  const flushing = writer.flush();
  writer.giveUp(); // cuts the 60 s wait short
  await assert.rejects(flushing, /No space left on device/);
  assert.deepEqual(lost, [10]);
  assert.equal(writer.failed, true);
  assert.equal(writer.stalled, false);
});

Deno.test("BatchWriter without a retry policy fails at the first error, counting what was lost", async () => {
  const disk = new FullDisk();
  const lost: number[] = [];
  const writer = new BatchWriter(disk, { onError: (_error, bytes) => lost.push(bytes) });
  writer.write("one\ntwo\n");
  await assert.rejects(writer.flush(), /No space left on device/);
  assert.equal(disk.attempts, 1);
  assert.deepEqual(lost, [8]);
});

Deno.test("BatchWriter writes a long backlogged stream from a few reused chunks", async () => {
  // A backlog of 8 chunks builds up, again and again; each chunk the output
  // is given is a view of one of the writer's buffers. Without reuse there
  // would be about one buffer per chunk written.
  const buffers = new Set<ArrayBufferLike>();
  let expected = 0;
  const out: ByteWriter = {
    write(bytes): Promise<number> {
      buffers.add(bytes.buffer);
      return Promise.resolve(bytes.length);
    },
  };
  const writer = new BatchWriter(out, { chunkSize: 64, highWaterMark: 256, spareBytes: 640 });
  const line = new Uint8Array(63).fill(120);
  for (let round = 0; round < 50; round++) {
    for (let i = 0; i < 8; i++) writer.writeLine(new Uint8Array(0), line);
    expected += 8 * 64;
    await writer.drained();
  }
  await writer.flush();
  assert.equal(writer.position, expected);
  assert.ok(buffers.size <= 16, `${buffers.size} buffers for 400 chunks`);
});

Deno.test("BatchWriter rejects a negative spareBytes, naming it", () => {
  assert.throws(
    () => new BatchWriter(new FakeWriter(), { spareBytes: -1 }),
    { name: "RangeError", message: /spareBytes "-1"/ },
  );
});

Deno.test("BatchWriter hands onError the bytes it could not write, in order, after a partial write", async () => {
  const out = new FakeWriter({
    maxPerCall: 5,
    failOnCall: { call: 2, error: new Error("gone") },
  });
  let unwrittenText = "";
  const lost: number[] = [];
  const writer = new BatchWriter(out, {
    chunkSize: 16,
    onError: (_error, bytes, unwritten) => {
      lost.push(bytes);
      unwrittenText = decoder.decode(concat([...unwritten]));
    },
  });
  writer.write("first line\nsecond line\nthird\n");
  await assert.rejects(writer.flush(), /gone/);
  // The first call took "first"; everything after it is what was lost.
  assert.equal(out.text, "first");
  assert.equal(unwrittenText, " line\nsecond line\nthird\n");
  assert.deepEqual(lost, [unwrittenText.length]);
});
