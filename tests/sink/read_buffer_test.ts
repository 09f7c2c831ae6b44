/**
 * Unit tests for the bytes a broker client has read and not yet parsed
 * (lib/sink/_read_buffer.ts): what is held survives growing and moving, and
 * the storage is reused rather than grown when what is left fits.
 */

import assert from "node:assert/strict";
import { ReadBuffer } from "../../lib/sink/_read_buffer.ts";
import { bytes } from "../_helpers/mod.ts";

const decoder = new TextDecoder();

/** The unparsed bytes, as text. */
function held(buffer: ReadBuffer): string {
  return decoder.decode(buffer.bytes.subarray(buffer.start, buffer.end));
}

Deno.test("ReadBuffer keeps what is not parsed across reads, in order, growing as needed", () => {
  const buffer = new ReadBuffer();
  buffer.push(bytes("+OK\r\n+PA"));
  buffer.consume(5);
  buffer.push(bytes("RTIAL\r\n".repeat(100)));
  assert.equal(buffer.held, 3 + 700);
  assert.ok(held(buffer).startsWith("+PARTIAL\r\nRTIAL"));
  buffer.consume(buffer.end);
  assert.deepEqual([buffer.held, buffer.start, buffer.end], [0, 0, 0], "empty: back to the start");
});

Deno.test("ReadBuffer moves what is left to the start rather than grow, when that makes room", () => {
  const buffer = new ReadBuffer();
  buffer.push(new Uint8Array(256).fill(0x61));
  const storage = buffer.bytes;
  buffer.consume(250);
  buffer.push(bytes("0123456789"));
  assert.equal(buffer.bytes, storage, "the same storage");
  assert.equal(held(buffer), "aaaaaa0123456789");
  assert.equal(buffer.start, 0);
});
