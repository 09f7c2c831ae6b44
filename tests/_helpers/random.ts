/**
 * Seeded randomness for property tests: the same seed gives the same
 * sequence, so a failure can be replayed; and a stream cut into random
 * chunks with it, as reads would cut it. The one PRNG lives with the soak
 * in tools/seeded_random.ts, which the tests share.
 *
 * @module
 */

import { randomInt } from "../../tools/seeded_random.ts";

export { randomInt, seededRandom } from "../../tools/seeded_random.ts";

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
