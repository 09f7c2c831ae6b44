/**
 * Unit tests for the bytes a broker client gathers into one write
 * (lib/sink/_write_buffer.ts): ASCII and bytes appended in order, growth
 * that keeps what was there, and a cleared buffer that keeps its storage.
 */

import assert from "node:assert/strict";
import { WriteBuffer } from "../../lib/sink/_write_buffer.ts";
import { bytes } from "../_helpers/mod.ts";

const decoder = new TextDecoder();

Deno.test("WriteBuffer appends text and bytes in order, growing past its first size", () => {
  const out = new WriteBuffer(4);
  out.ascii("*3\r\n");
  out.append(bytes("$4\r\nXADD\r\n"));
  out.ascii("x".repeat(100));
  assert.equal(decoder.decode(out.view()), `*3\r\n$4\r\nXADD\r\n${"x".repeat(100)}`);
});

Deno.test("WriteBuffer cleared keeps its storage, so a steady stream of batches does not allocate", () => {
  const out = new WriteBuffer(16);
  out.ascii("a".repeat(1000));
  const storage = out.bytes;
  out.clear();
  out.ascii("b".repeat(1000));
  assert.equal(out.bytes, storage);
  assert.equal(decoder.decode(out.view()), "b".repeat(1000));
});
