/**
 * Splits a byte stream into lines, whatever the chunk boundaries.
 *
 * A line ends at `\n`; one `\r` right before it is removed (or, with
 * `keepCr`, kept, but still not counted against `maxLine`). The framer works on
 * bytes, never on decoded text, so a multi-byte character split across chunks
 * is never damaged. Memory is bounded: at most `maxLine + 1` bytes of an
 * unfinished line are held, and a longer line is cut at `maxLine` bytes (or
 * up to three fewer, so as not to split a UTF-8 character), by the rule the
 * client's `LineReader` shares (lib/wire/_line_split.ts): what the cut keeps
 * is held, the rest of the line up to its `\n` is dropped (and counted in {@linkcode LineFramer.droppedBytes}),
 * and the line is delivered flagged {@linkcode TRUNCATED} when it ends, as
 * every line is, with the length it had; a line the stream ends before its
 * `\n` is flagged {@linkcode PARTIAL} (a cut one both).
 *
 * Lines are handed to a callback as views: a line that came whole inside one
 * chunk is a `subarray` of that chunk, and one assembled from several chunks
 * is a view of the framer's own buffer. Either is valid only until the next
 * call to `push` or `end`, so the callback must use or copy it at once. That
 * is what keeps the hot path free of allocations.
 *
 * @module
 */

import { HeldBytes } from "./_held_bytes.ts";
import { contentLength, CR, isOverLimit, keptLength, LF } from "./_line_split.ts";
import type { Framer } from "./framer.ts";
import { type LineFlags, PARTIAL, TRUNCATED } from "./line_flags.ts";

/** Default cap on a line's length in bytes, not counting the line ending. */
export const DEFAULT_MAX_LINE = 65536;

/**
 * Receives each line; `line` is only valid during the call. `flags` holds
 * {@linkcode TRUNCATED} and {@linkcode PARTIAL}. `length` is how many bytes
 * the line had before any cut, not counting its line ending: `line.length`
 * unless truncated (or, with `keepCr`, a `\r` was kept).
 */
export type LineSink = (line: Uint8Array, flags: LineFlags, length: number) => void;

/**
 * Takes a run of whole lines in bulk, from `from` on in `chunk`, and returns
 * the offset of the first line it left (`from` if none), which the framer
 * then takes as usual. It is called only where a line starts and no earlier
 * bytes are held; `fresh` is true on the first call of each `push`. A run
 * must treat the lines it takes as the framer would: a line ends at `\n`,
 * one `\r` before it is not part of it (unless `keepCr`), and no line over
 * `maxLine` bytes.
 */
export type LineRun = (chunk: Uint8Array, from: number, fresh: boolean) => number;

/** Options for {@linkcode LineFramer}. */
export interface LineFramerOptions {
  /** Longest line, in bytes, delivered whole; longer ones are cut at this length.
   * @default {65536} */
  maxLine?: number;
  /** Keep the `\r` of a `\r\n` at the end of each line delivered whole, for
   * output that shows the bytes as they came (`--format raw`). It still
   * does not count against `maxLine`, and a cut line ends at its cut.
   * @default {false} */
  keepCr?: boolean;
}

/**
 * Incremental, bounded line splitter over bytes.
 *
 * @example
 * ```ts
 * import { LineFramer } from "./line_framer.ts";
 * import assert from "node:assert/strict";
 *
 * const framer = new LineFramer();
 * const lines: string[] = [];
 * const sink = (line: Uint8Array) => lines.push(new TextDecoder().decode(line));
 * const bytes = new TextEncoder().encode("hel");
 * framer.push(bytes, sink);
 * framer.push(new TextEncoder().encode("lo\r\nworld\n"), sink);
 * assert.deepEqual(lines, ["hello", "world"]);
 * ```
 */
export class LineFramer implements Framer {
  /** The configured cap, in bytes. */
  readonly maxLine: number;
  readonly #keepCr: boolean;
  /** An unfinished line: at most maxLine + 1 bytes (see `push`). */
  readonly #pending: HeldBytes;
  /** Set while a cut line is held and the rest of it dropped until its `\n`. */
  #discarding = false;
  /** While discarding: the bytes the line had so far, and the last of them. */
  #lineLength = 0;
  #lastByte = 0;
  #truncatedLines = 0;
  #droppedBytes = 0;

  constructor(options: LineFramerOptions = {}) {
    const maxLine = options.maxLine ?? DEFAULT_MAX_LINE;
    if (!Number.isSafeInteger(maxLine) || maxLine < 1) {
      throw new RangeError(`Invalid maxLine "${maxLine}": must be a positive integer`);
    }
    this.maxLine = maxLine;
    this.#keepCr = options.keepCr ?? false;
    this.#pending = new HeldBytes(maxLine + 1);
  }

  /** Bytes of an unfinished line currently held. */
  get bufferedBytes(): number {
    return this.#pending.length;
  }

  /** True while a line has begun and not yet ended: bytes of it are held,
   * or the tail of a truncated line is being dropped until its newline. */
  get midLine(): boolean {
    return this.#pending.length > 0 || this.#discarding;
  }

  /** Lines cut at `maxLine` and delivered so far. */
  get truncatedLines(): number {
    return this.#truncatedLines;
  }

  /** Bytes dropped from the tails of truncated lines so far: everything after
   * the cut up to the `\n`, whatever the chunk boundaries, counted as it
   * arrives. */
  get droppedBytes(): number {
    return this.#droppedBytes;
  }

  /** Feeds one chunk; calls `sink` for every line it completes, except the
   * lines `run`, when given, takes in bulk. */
  push(chunk: Uint8Array, sink: LineSink, run?: LineRun): void {
    let pos = 0;
    const length = chunk.length;
    let fresh = true;
    while (pos < length) {
      if (run !== undefined && this.#pending.length === 0 && !this.#discarding) {
        pos = run(chunk, pos, fresh);
        fresh = false;
        if (pos >= length) return;
      }
      const newline = chunk.indexOf(LF, pos);
      if (this.#discarding) {
        const end = newline < 0 ? length : newline;
        if (end > pos) this.#seeDropped(end - pos, chunk[end - 1] as number);
        if (newline < 0) return;
        this.#deliverCut(sink, 0);
        pos = newline + 1;
        continue;
      }
      if (newline >= 0 && this.#pending.length === 0) {
        // Fast path: the whole line lies inside this chunk.
        this.#deliver(chunk.subarray(pos, newline), 0, sink);
        pos = newline + 1;
        continue;
      }
      const end = newline < 0 ? length : newline;
      const room = this.maxLine + 1 - this.#pending.length;
      const take = Math.min(room, end - pos);
      this.#pending.append(chunk.subarray(pos, pos + take));
      if (take < end - pos) {
        // More than maxLine + 1 bytes without a newline: cut here, drop the rest.
        this.#beginCut();
        this.#seeDropped(end - pos - take, chunk[end - 1] as number);
        if (newline < 0) return;
        this.#deliverCut(sink, 0);
        pos = newline + 1;
        continue;
      }
      if (newline >= 0) {
        this.#deliver(this.#pending.take(), 0, sink);
        pos = newline + 1;
        continue;
      }
      // The chunk ended mid-line. One byte past maxLine is kept only if it is a
      // `\r` that a `\n` may still follow; anything else settles the cut now,
      // so that no more than the cut line is held while the rest streams by.
      const held = this.#pending.length;
      const last = this.#pending.view()[held - 1] as number;
      if (isOverLimit(held, last, this.maxLine)) this.#beginCut();
      return;
    }
  }

  /** Ends the stream: delivers an unfinished last line, flagged
   * {@linkcode PARTIAL} (and {@linkcode TRUNCATED} if it was cut). */
  end(sink: LineSink): void {
    if (this.#discarding) {
      this.#deliverCut(sink, PARTIAL);
      return;
    }
    // Over maxLine only as maxLine bytes and a `\r` that no `\n` followed,
    // which belongs to the line.
    if (this.#pending.length > 0) this.#deliver(this.#pending.take(), PARTIAL, sink);
  }

  /** Delivers a line that is all here: `raw` is what came before its `\n`,
   * or (`ending` {@linkcode PARTIAL}) before the end of the stream. */
  #deliver(raw: Uint8Array, ending: LineFlags, sink: LineSink): void {
    const length = contentLength(raw, ending !== PARTIAL);
    const line = length === raw.length ? raw : raw.subarray(0, length);
    if (length > this.maxLine) {
      // Everything past the cut up to the `\n` is dropped, `\r` included, as
      // when the line arrives in pieces and is cut before the `\r` is seen.
      const cut = keptLength(line, this.maxLine);
      this.#truncatedLines++;
      this.#droppedBytes += raw.length - cut;
      sink(line.subarray(0, cut), TRUNCATED | ending, length);
    } else {
      sink(this.#keepCr ? raw : line, ending, length);
    }
  }

  /** The held bytes (maxLine + 1 of them) are too many: keeps only what the
   * cut leaves and drops the rest of the line until its `\n`. */
  #beginCut(): void {
    const pending = this.#pending.view();
    const seen = pending.length;
    const cut = keptLength(pending, this.maxLine);
    this.#droppedBytes += seen - cut;
    this.#pending.truncate(cut);
    this.#lineLength = seen;
    this.#lastByte = pending[seen - 1] as number;
    this.#discarding = true;
  }

  /** Counts `count` more bytes of a cut line, of which `last` is the last. */
  #seeDropped(count: number, last: number): void {
    if (count === 0) return;
    this.#droppedBytes += count;
    this.#lineLength += count;
    this.#lastByte = last;
  }

  /** The cut line is over, at its `\n` or (`ending` {@linkcode PARTIAL}) at
   * the end of the stream: delivers what the cut kept, with the length the
   * whole line had (a `\r` that a `\n` followed not counted). */
  #deliverCut(sink: LineSink, ending: LineFlags): void {
    this.#discarding = false;
    const crlf = ending !== PARTIAL && this.#lastByte === CR;
    this.#truncatedLines++;
    sink(this.#pending.take(), TRUNCATED | ending, this.#lineLength - (crlf ? 1 : 0));
  }
}
