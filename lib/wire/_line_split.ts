/**
 * The one rule for where a line ends and how much of it is kept, shared by
 * the server's `LineFramer` and the client's `LineReader` so that a client
 * cuts a line exactly where the server would: an LF ends a line; one CR right before that LF is part of
 * the line ending, not of the line, and never counts against `maxLine`; a
 * line longer than `maxLine` keeps its first `maxLine` bytes, or up to three
 * fewer so as not to split a UTF-8 character (lib/wire/_utf8_cut.ts). The
 * server's fast path applies the same rule 16 bytes at a time in
 * lib/format/_line_labeller.wat; its tests compare it with the framer.
 *
 * The framer and the reader differ only in how they hold an unfinished line
 * between reads; these functions are pure, on bytes and lengths alone.
 *
 * @module
 */

import { utf8CutPoint } from "./_utf8_cut.ts";

/** The byte that ends a line. */
export const LF = 10;
/** The byte that, right before an LF, belongs to the line ending. */
export const CR = 13;

/**
 * How many bytes of `line` are the line itself: `line` is what came before
 * its LF, or, when `newline` is false, the last bytes of a stream that ended
 * without one. A CR at the end is the line ending's only before an LF; at
 * the end of a stream no LF came, and the CR is the line's own.
 *
 * @example
 * ```ts
 * import { contentLength } from "./_line_split.ts";
 * import assert from "node:assert/strict";
 *
 * const line = new TextEncoder().encode("hi\r");
 * assert.equal(contentLength(line, true), 2);
 * assert.equal(contentLength(line, false), 3);
 * ```
 */
export function contentLength(line: Uint8Array, newline: boolean): number {
  return newline && line.length > 0 && line[line.length - 1] === CR ? line.length - 1 : line.length;
}

/**
 * How many bytes of a line whose content is `content` are kept: all of them
 * when it fits in `maxLine`; else `maxLine`, or up to three fewer where that
 * would split a UTF-8 character.
 *
 * @example
 * ```ts
 * import { keptLength } from "./_line_split.ts";
 * import assert from "node:assert/strict";
 *
 * const line = new TextEncoder().encode("caf\u00e9"); // 63 61 66 c3 a9
 * assert.equal(keptLength(line, 5), 5);
 * assert.equal(keptLength(line, 4), 3); // not between c3 and a9
 * ```
 */
export function keptLength(content: Uint8Array, maxLine: number): number {
  return content.length <= maxLine ? content.length : utf8CutPoint(content, maxLine);
}

/**
 * Whether a line still unfinished, `held` bytes so far of which `last` is
 * the last, is longer than `maxLine` whatever comes next: it holds more than
 * `maxLine + 1` bytes, or `maxLine + 1` of which the last is not a CR that
 * an LF may still follow. Until then, holding `maxLine + 1` bytes is enough
 * to decide.
 *
 * @example
 * ```ts
 * import { CR, isOverLimit } from "./_line_split.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(isOverLimit(4, 0x61, 4), false); // "abcd" may still end here
 * assert.equal(isOverLimit(5, CR, 4), false); // "abcd\r" may be "abcd\r\n"
 * assert.equal(isOverLimit(5, 0x65, 4), true); // "abcde" is over
 * ```
 */
export function isOverLimit(held: number, last: number, maxLine: number): boolean {
  return held > maxLine + 1 || (held === maxLine + 1 && last !== CR);
}
