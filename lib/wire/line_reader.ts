/**
 * Pulls lines, one at a time, from a byte stream such as stdin: the input
 * side of the client's `--retry` and `--ack` modes.
 *
 * Unlike {@linkcode LineFramer}, which hands every line of a chunk to a
 * callback at once, the reader returns one line per call and reads more
 * input only when it has no whole line left, so a caller that stops asking
 * stops the reading too (that is how a full queue stops reading stdin).
 *
 * Each line keeps its bytes exactly as read, `\n` (and a `\r` before it)
 * included; a last line without a newline comes back without one. A line is
 * cut by the rule the server's framer applies (lib/wire/_line_split.ts):
 * when it holds more than `maxLine` bytes before its `\n` (not counting one
 * `\r` right before the `\n`), the reader returns its first `maxLine` bytes
 * (up to three fewer, so as not to split a UTF-8 character) and a `\n` as
 * soon as that is known, with `cut` set, and drops the rest up to the next
 * `\n`. Memory is bounded by the
 * read buffer and `maxLine + 2` bytes of an unfinished line.
 *
 * @module
 */

import type { ByteReader } from "../io/mod.ts";
import { DEFAULT_MAX_LINE } from "./line_framer.ts";
import { contentLength, isOverLimit, keptLength, LF } from "./_line_split.ts";

/** Default cap on a line's length in bytes: the server's default `--max-line`,
 * so that by default the client cuts a line exactly where the server would. */
export const DEFAULT_CLIENT_MAX_LINE = DEFAULT_MAX_LINE;

/** Size of the buffer the input is read into. */
const READ_BUFFER = 65536;

/** One line of input. */
export interface InputLine {
  /** The bytes to send: the line as read, with its `\n` if it had one. */
  readonly bytes: Uint8Array;
  /** Whether the line was longer than `maxLine` and cut there. */
  readonly cut: boolean;
}

/** Options for {@linkcode LineReader}. */
export interface LineReaderOptions {
  /** Longest line, in bytes before the line ending, returned whole.
   * @default {65536} */
  maxLine?: number;
  /** Size of the read buffer, in bytes.
   * @default {65536} */
  bufferSize?: number;
}

/**
 * Reads lines on demand from a {@linkcode ByteReader}.
 *
 * @example
 * ```ts
 * import { LineReader } from "./line_reader.ts";
 * import assert from "node:assert/strict";
 *
 * const data = new TextEncoder().encode("one\r\ntwo");
 * let done = false;
 * const input = {
 *   read(buffer: Uint8Array): Promise<number | null> {
 *     if (done) return Promise.resolve(null);
 *     done = true;
 *     buffer.set(data);
 *     return Promise.resolve(data.length);
 *   },
 * };
 * const reader = new LineReader(input);
 * const text = (line: { bytes: Uint8Array } | null) =>
 *   line === null ? null : new TextDecoder().decode(line.bytes);
 * assert.equal(text(await reader.next()), "one\r\n");
 * assert.equal(text(await reader.next()), "two");
 * assert.equal(await reader.next(), null);
 * ```
 */
export class LineReader {
  /** The configured cap, in bytes. */
  readonly maxLine: number;
  readonly #input: ByteReader;
  readonly #buffer: Uint8Array;
  #start = 0;
  #end = 0;
  #ended = false;
  /** Pieces of a line that began in an earlier read. */
  #pending: Uint8Array[] = [];
  #pendingLength = 0;
  /** After a cut: dropping the rest of the line up to its `\n`. */
  #discarding = false;

  constructor(input: ByteReader, options: LineReaderOptions = {}) {
    const maxLine = options.maxLine ?? DEFAULT_CLIENT_MAX_LINE;
    const bufferSize = options.bufferSize ?? READ_BUFFER;
    if (!Number.isSafeInteger(maxLine) || maxLine < 1) {
      throw new RangeError(`Invalid maxLine "${maxLine}": must be a positive integer`);
    }
    if (!Number.isSafeInteger(bufferSize) || bufferSize < 1) {
      throw new RangeError(`Invalid bufferSize "${bufferSize}": must be a positive integer`);
    }
    this.maxLine = maxLine;
    this.#input = input;
    this.#buffer = new Uint8Array(bufferSize);
  }

  /** The next line, or null at the end of input. A failed read rejects with
   * the reader's error. */
  async next(): Promise<InputLine | null> {
    while (true) {
      if (this.#start < this.#end) {
        const view = this.#buffer.subarray(this.#start, this.#end);
        const newline = view.indexOf(LF);
        if (this.#discarding) {
          this.#start = newline < 0 ? this.#end : this.#start + newline + 1;
          if (newline >= 0) this.#discarding = false;
          continue;
        }
        if (newline >= 0) {
          this.#start += newline + 1;
          return this.#finish(view.subarray(0, newline + 1));
        }
        // Keeps only what can matter: the cut is decided within maxLine + 2 bytes.
        const keep = Math.min(view.length, this.maxLine + 2 - this.#pendingLength);
        this.#pending.push(view.slice(0, keep));
        this.#pendingLength += keep;
        this.#start = this.#end;
        // The piece just kept holds at least one byte: nothing over the
        // limit came before it.
        const last = this.#pending.at(-1)?.at(-1) as number;
        if (isOverLimit(this.#pendingLength, last, this.maxLine)) {
          // This read held no newline, so the rest of the line is still to come.
          this.#discarding = true;
          return this.#cutLine(this.#takePending(new Uint8Array(0)), true);
        }
        continue;
      }
      if (this.#ended) return this.#pendingLength > 0 ? this.#last() : null;
      const n = await this.#input.read(this.#buffer);
      if (n === null) {
        this.#ended = true;
      } else {
        this.#start = 0;
        this.#end = n;
      }
    }
  }

  /** A line ending in `piece` (which holds its `\n`). */
  #finish(piece: Uint8Array): InputLine {
    const line = this.#takePending(piece);
    const length = contentLength(line.subarray(0, -1), true);
    if (length > this.maxLine) return this.#cutLine(line.subarray(0, length), true);
    return { bytes: line, cut: false };
  }

  /** The last line of the input, which has no newline. */
  #last(): InputLine {
    const line = this.#takePending(new Uint8Array(0));
    // A pending line ends up longer than maxLine only as maxLine bytes and a
    // `\r` whose `\n` never came, which is the line's own.
    if (contentLength(line, false) > this.maxLine) return this.#cutLine(line, false);
    return { bytes: line, cut: false };
  }

  /** What is kept of a line over maxLine whose content starts `line`, and a
   * `\n` if it had one. */
  #cutLine(line: Uint8Array, newline: boolean): InputLine {
    const cut = keptLength(line, this.maxLine);
    const bytes = new Uint8Array(cut + (newline ? 1 : 0));
    bytes.set(line.subarray(0, cut));
    if (newline) bytes[cut] = LF;
    return { bytes, cut: true };
  }

  /** The pending pieces and `piece`, joined into a new array (the read
   * buffer is reused, so a line must never be a view of it). */
  #takePending(piece: Uint8Array): Uint8Array {
    if (this.#pendingLength === 0) return piece.slice();
    const line = new Uint8Array(this.#pendingLength + piece.length);
    let offset = 0;
    for (const part of this.#pending) {
      line.set(part, offset);
      offset += part.length;
    }
    line.set(piece, offset);
    this.#pending = [];
    this.#pendingLength = 0;
    return line;
  }
}
