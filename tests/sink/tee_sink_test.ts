/**
 * Unit tests for {@linkcode TeeSink}: every destination gets every record,
 * a record is confirmed only once all have it, and the slowest one sets the
 * pace.
 */

import assert from "node:assert/strict";
import { TeeSink } from "../../lib/sink/mod.ts";
import { BatchWriter } from "../../lib/io/mod.ts";
import { HeldWriter, MemoryWriter, waitFor } from "../_helpers/mod.ts";

Deno.test("TeeSink gives each sink every record, and confirms only once all have written it", async () => {
  const fast = new MemoryWriter();
  const slow = new HeldWriter();
  const tee = new TeeSink([
    new BatchWriter(fast),
    new BatchWriter(slow, { highWaterMark: 8 }),
  ]);
  tee.write("one\n");
  tee.writeLine(new TextEncoder().encode("[x] "), new TextEncoder().encode("two"));
  let confirmed = false;
  const written = tee.whenWritten().then(() => confirmed = true);
  assert.equal(tee.backlogged, true, "the slow sink is past its mark");
  await waitFor("the fast sink to write", () => fast.text() === "one\n[x] two\n");
  assert.equal(confirmed, false, "confirmed while one sink still held the records");
  slow.release();
  await written;
  await tee.flush();
  assert.equal(slow.givenText(), "one\n[x] two\n");
  assert.equal(tee.backlogged, false);
});

Deno.test("TeeSink fails as soon as one sink fails, after waiting for the others", async () => {
  const broken = { write: () => Promise.reject(new Error("disk gone")) };
  const good = new MemoryWriter();
  const tee = new TeeSink([new BatchWriter(good), new BatchWriter(broken, { onError: () => {} })]);
  tee.write("line\n");
  await assert.rejects(tee.flush(), /disk gone/);
  assert.equal(tee.failed, true);
  assert.equal(good.text(), "line\n");
  await assert.rejects(tee.whenWritten(), /disk gone/);
});
