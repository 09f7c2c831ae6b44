/**
 * What a framed line carries besides its bytes: whether it was cut at
 * `--max-line` and whether the stream ended before its newline, as one
 * bitmask. One number, rather than two booleans, is what every step of a
 * line's path (framer, formatter, observer) hands on, so none of them has
 * to say which flag is which by position.
 *
 * @module
 */

/** Bits of {@linkcode LineFlags}; 0 is a whole line, as it came. */
export type LineFlags = number;

/** The line was longer than `--max-line` and is cut there. */
export const TRUNCATED: LineFlags = 1;

/** The stream ended before the line's newline. */
export const PARTIAL: LineFlags = 2;
