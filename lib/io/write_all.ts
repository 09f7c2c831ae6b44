/**
 * {@linkcode writeAll}: a write is allowed to take only part of what it is
 * given; this writes all of it.
 *
 * @module
 */

import type { ByteWriter } from "./types.ts";

/** Writes all of `bytes`, however many calls `to.write` takes. */
export async function writeAll(to: ByteWriter, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) offset += await to.write(bytes.subarray(offset));
}
