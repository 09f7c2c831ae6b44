/**
 * Unit tests of the PROXY protocol header's helpers, over bytes alone.
 */

import assert from "node:assert/strict";
import { crc32c } from "../../lib/wire/_crc32c.ts";

const ascii = (text: string): Uint8Array => new TextEncoder().encode(text);

Deno.test("crc32c gives RFC 3720's check values", () => {
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
  assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
  assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e);
  assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c);
  assert.equal(crc32c(ascii("123456789")), 0xe3069283);
});
