/**
 * Where to cut a line that is too long without splitting a UTF-8 character.
 *
 * A line cut at exactly `--max-line` bytes may end inside a multi-byte
 * character; its first bytes would then show up as U+FFFD in `text` and
 * `json`, and as a dangling byte in `raw`. {@linkcode utf8CutPoint} moves
 * the cut back to the start of that character. It decides from the bytes
 * before the limit alone, so the cut does not depend on how the line
 * arrived in pieces, nor on whether the rest of it has arrived yet.
 *
 * @module
 */

/** Longest UTF-8 sequence, in bytes. */
const MAX_SEQUENCE = 4;

/** Bytes a sequence takes, by its first byte: 0 where no sequence may start
 * (ASCII is a sequence of its own and never cut; continuation bytes, C0,
 * C1 and F5 to FF start none). */
function sequenceLength(first: number): number {
  if (first >= 0xc2 && first <= 0xdf) return 2;
  if (first >= 0xe0 && first <= 0xef) return 3;
  if (first >= 0xf0 && first <= 0xf4) return 4;
  return 0;
}

/** Whether `second` may follow `first` in a well-formed sequence: what rules
 * out overlong forms, surrogates and code points past U+10FFFF, as the
 * WHATWG decoder reads them. */
function isSecondByte(first: number, second: number): boolean {
  const low = first === 0xe0 ? 0xa0 : first === 0xf0 ? 0x90 : 0x80;
  const high = first === 0xed ? 0x9f : first === 0xf4 ? 0x8f : 0xbf;
  return second >= low && second <= high;
}

/**
 * The length at which to cut `bytes` so that it holds at most `limit`
 * bytes and does not end inside a UTF-8 character: `limit`, or less when
 * the bytes right before it are the start of a well-formed multi-byte
 * sequence that only the cut leaves unfinished. Bytes that are not UTF-8
 * anyway are just bytes: the cut stays at `limit`. Only `bytes[0, limit)`
 * is read; `limit` must be at most `bytes.length`.
 *
 * @example
 * ```ts
 * import { utf8CutPoint } from "./_utf8_cut.ts";
 * import assert from "node:assert/strict";
 *
 * const bytes = new TextEncoder().encode("caf\u00e9!"); // 63 61 66 c3 a9 21
 * assert.equal(utf8CutPoint(bytes, 5), 5); // after the e-acute
 * assert.equal(utf8CutPoint(bytes, 4), 3); // not between c3 and a9
 * assert.equal(utf8CutPoint(Uint8Array.of(0x61, 0xff, 0xc3), 2), 2); // 0xff starts nothing
 * ```
 */
export function utf8CutPoint(bytes: Uint8Array, limit: number): number {
  if (!Number.isSafeInteger(limit) || limit < 0 || limit > bytes.length) {
    throw new RangeError(
      `Invalid limit "${limit}": must be an integer from 0 to the length, ${bytes.length}`,
    );
  }
  // The sequence the limit may cut began at most three bytes before it.
  const earliest = Math.max(0, limit - (MAX_SEQUENCE - 1));
  for (let start = limit - 1; start >= earliest; start--) {
    const byte = bytes[start] as number;
    if ((byte & 0xc0) === 0x80) continue; // a continuation byte: look further back
    const length = sequenceLength(byte);
    if (length === 0 || start + length <= limit) return limit;
    // Cut short by the limit: back up only if what came of it is well formed.
    for (let i = start + 1; i < limit; i++) {
      const next = bytes[i] as number;
      const fits = i === start + 1 ? isSecondByte(byte, next) : (next & 0xc0) === 0x80;
      if (!fits) return limit;
    }
    return start;
  }
  return limit;
}
