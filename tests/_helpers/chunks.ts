/**
 * A stream cut into chunks, as reads would cut it, for the tests of what
 * reads a stream piece by piece (framers, parsers): at chosen offsets, one
 * byte at a time, or at random.
 *
 * @module
 */

import { randomInt } from "../../tools/seeded_random.ts";

/** `input` cut at `offsets` (ascending): one chunk more than offsets, the
 * last running to the end. */
export function splitAt(input: Uint8Array, offsets: readonly number[]): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const offset of offsets) {
    chunks.push(input.subarray(start, offset));
    start = offset;
  }
  chunks.push(input.subarray(start));
  return chunks;
}

/** `input` one byte to a chunk. */
export function oneByteChunks(input: Uint8Array): Uint8Array[] {
  return Array.from({ length: input.length }, (_, i) => input.subarray(i, i + 1));
}

/** `input` cut into consecutive chunks of 0 to `largest` bytes each, drawn
 * from `random`: empty chunks too, which a framer must take as nothing. */
export function randomChunks(
  input: Uint8Array,
  random: () => number,
  largest: number,
): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let pos = 0; pos < input.length;) {
    const size = randomInt(random, 0, largest);
    chunks.push(input.subarray(pos, pos + size));
    pos += size;
  }
  return chunks;
}
