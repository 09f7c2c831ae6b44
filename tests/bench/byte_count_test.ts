import assert from "node:assert/strict";
import { ByteCounter } from "../../bench/byte_count.ts";
import { seededRandom } from "../_helpers/mod.ts";

Deno.test("ByteCounter counts a byte exactly, at every length and offset, in chunks over 64 KiB", () => {
  const random = seededRandom(7);
  const counter = new ByteCounter(35);
  const bytes = new Uint8Array(200_000).map(
    () => (random() < 0.05 ? 35 : 34 + Math.floor(random() * 3)),
  );
  const slow = (chunk: Uint8Array): number =>
    chunk.reduce((n, byte) => n + (byte === 35 ? 1 : 0), 0);
  for (let length = 0; length < 40; length++) {
    for (let start = 0; start < 20; start++) {
      const chunk = bytes.subarray(start, start + length);
      // The module's memory past the chunk holds what an earlier, longer
      // chunk left there: here, nothing but the counted byte.
      counter.count(new Uint8Array(64).fill(35));
      assert.equal(counter.count(chunk), slow(chunk), `length ${length} from ${start}`);
    }
  }
  assert.equal(counter.count(bytes), slow(bytes));
});
