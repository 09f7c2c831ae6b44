/**
 * Unit tests for {@linkcode SharedOutput}: writers sharing one lock over
 * one stream that takes a few bytes per call and yields between calls, so
 * that writers without the lock would mix their lines.
 */

import assert from "node:assert/strict";
import { SharedOutput } from "../../lib/io/shared_output.ts";
import type { ByteWriter } from "../../lib/io/types.ts";

const encoder = new TextEncoder();

/** A stream that takes at most 7 bytes per call, a tick later. */
class SlowStream implements ByteWriter {
  text = "";

  async write(bytes: Uint8Array): Promise<number> {
    await new Promise((resolve) => setTimeout(resolve, 0));
    const taken = bytes.subarray(0, 7);
    this.text += new TextDecoder().decode(taken);
    return taken.length;
  }
}

Deno.test("SharedOutput writers sharing a lock never mix their lines", async () => {
  const stream = new SlowStream();
  const lock = SharedOutput.createLock();
  const writers = [1, 2, 3].map((owner) => new SharedOutput(stream, lock, owner));
  // Here the writers share one thread, whose event loop a wait on the lock
  // does not keep alive (a server's threads have their sockets for that).
  const alive = setInterval(() => {}, 1);
  await Promise.all(writers.map(async (writer, w) => {
    for (let chunk = 0; chunk < 4; chunk++) {
      await writer.write(
        encoder.encode(`writer ${w} line ${chunk}a\nwriter ${w} line ${chunk}b\n`),
      );
    }
  }));
  clearInterval(alive);
  const lines = stream.text.split("\n").slice(0, -1);
  assert.equal(lines.length, 24);
  for (const line of lines) assert.match(line, /^writer \d line \d[ab]$/);
});

Deno.test("SharedOutput holds an unfinished line until a later write ends it", async () => {
  const stream = new SlowStream();
  const lock = SharedOutput.createLock();
  const a = new SharedOutput(stream, lock, 1);
  const b = new SharedOutput(stream, lock, 2);
  await a.write(encoder.encode("a1\na2 sta"));
  await b.write(encoder.encode("b1\n"));
  assert.equal(stream.text, "a1\nb1\n");
  await a.write(encoder.encode("rted\n"));
  assert.equal(stream.text, "a1\nb1\na2 started\n");
});

Deno.test("SharedOutput.release frees a lock its holder can no longer let go of", async () => {
  const stream = new SlowStream();
  const lock = SharedOutput.createLock();
  // Owner 7 took the lock and was ended mid-write.
  Atomics.store(new Int32Array(lock), 0, 7);
  const writing = new SharedOutput(stream, lock, 1).write(encoder.encode("waited\n"));
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(stream.text, "");
  SharedOutput.release(lock, 2); // not the holder: no effect
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(stream.text, "");
  const alive = setInterval(() => {}, 1);
  SharedOutput.release(lock, 7);
  await writing;
  clearInterval(alive);
  assert.equal(stream.text, "waited\n");
});

Deno.test("SharedOutput rejects an owner number of 0, naming it", () => {
  assert.throws(
    () => new SharedOutput(new SlowStream(), SharedOutput.createLock(), 0),
    { name: "RangeError", message: /owner "0"/ },
  );
});
