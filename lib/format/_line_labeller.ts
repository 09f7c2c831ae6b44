/**
 * The server's fast path: labels runs of whole, clean lines in bulk.
 *
 * Most lines a server gets are short, printable ASCII and whole inside one
 * read. For those, {@linkcode LineLabeller.label} finds each line's end,
 * checks every byte and copies `prefix + line + suffix + "\n"` to the output
 * in one WebAssembly call per read (lib/format/_line_labeller.wat, 16 bytes at a time
 * with SIMD), instead of a `indexOf`, a byte loop and three copies per line in
 * JavaScript. It stops at the first line it cannot take as it is (a byte the
 * format must escape, longer than `maxLine`, unfinished) and says where; the
 * caller's general path takes that line, then may call again. The output is
 * byte for byte what the general path writes for the same lines.
 *
 * The module lives once per thread (see {@linkcode lineLabeller}); its memory
 * is fixed at 512 KiB and never grows. Where WebAssembly SIMD is missing,
 * there is no labeller and the general path does all the work.
 *
 * @module
 */

import { LINE_LABELLER_WASM } from "./_line_labeller_wasm.ts";

/** Where a sequence of bytes goes; it must copy them or use them at once. */
export interface ByteSink {
  write(bytes: Uint8Array): void;
}

/**
 * Which bytes keep a line off the fast path: those below `lo` or above `hi`
 * (unsigned), and `x1` and `x2`, except `allow`. Where CR is among them, the
 * fast path drops a CR right before the LF, as the framer does, and takes no
 * line with another; where it is not ({@linkcode ANY_BYTE}), a CR is a byte
 * like any other, as for a framer with `keepCr`.
 */
export interface LineCheck {
  readonly lo: number;
  readonly hi: number;
  readonly x1: number;
  readonly x2: number;
  readonly allow: number;
}

/** Printable ASCII and tab: what `--format text` writes as it is. */
export const PRINTABLE_ASCII: LineCheck = { lo: 0x20, hi: 0x7e, x1: 0x7f, x2: 0x7f, allow: 0x09 };

/** Printable ASCII without `"` and `\`: what `--format json` quotes as it is. */
export const PLAIN_JSON_ASCII: LineCheck = { lo: 0x20, hi: 0x7e, x1: 0x22, x2: 0x5c, allow: 0x20 };

/** Every byte: what `--format raw` writes as it is, the CR of a CRLF
 * included (its framer keeps it). Only the LF is named, and allowed. */
export const ANY_BYTE: LineCheck = { lo: 0x00, hi: 0xff, x1: 0x0a, x2: 0x0a, allow: 0x0a };

/** Longest prefix the fast path takes; a longer one leaves every line to the
 * general path. */
export const MAX_PREFIX = 3840;

/** Longest suffix the fast path takes. */
export const MAX_SUFFIX = 16;

/** Longest middle (between a line's number and the line) the fast path takes. */
export const MAX_MIDDLE = 16;

/**
 * A number for each line, written between the prefix and the line, then
 * `middle`: the lines of one call are numbered `first`, `first + 1`, ...
 * (JSON's `"seq":17,"text":"`, with `,"text":"` as the middle).
 */
export interface LineCount {
  /** The first line's number: an integer from 0 to `Number.MAX_SAFE_INTEGER`. */
  readonly first: number;
  /** What follows the number, at most {@linkcode MAX_MIDDLE} bytes. */
  readonly middle: Uint8Array;
}

// Addresses in the module's memory, as lib/format/_line_labeller.wat lays it out.
const RESULTS = 0;
const SUFFIX = 64;
const MIDDLE = 96;
const PREFIX = 256;
const INPUT = 65536;
const INPUT_BYTES = 65536;
const OUTPUT = 196608;
const OUTPUT_BYTES = 262144;

// Why the module stopped.
const OUTPUT_FULL = 1;
const LINE_REFUSED = 2;

type LabelFunction = (
  start: number,
  end: number,
  outStart: number,
  outEnd: number,
  prefixLength: number,
  suffixLength: number,
  maxLine: number,
  lo: number,
  hi: number,
  x1: number,
  x2: number,
  allow: number,
  middleLength: number,
  seq: bigint,
) => number;

/** Options for {@linkcode LineLabeller}: smaller areas, for tests. */
export interface LineLabellerOptions {
  /** Input bytes copied into the module at a time, at most 65536.
   * @default {65536} */
  inputBytes?: number;
  /** Output bytes gathered in the module before they go to the sink, at
   * most 262144.
   * @default {262144} */
  outputBytes?: number;
}

/**
 * One instance of the fast path's module.
 *
 * @example
 * ```ts
 * import { LineLabeller, PRINTABLE_ASCII } from "./_line_labeller.ts";
 * import assert from "node:assert/strict";
 *
 * const labeller = new LineLabeller();
 * const out: string[] = [];
 * const sink = { write: (bytes: Uint8Array) => out.push(new TextDecoder().decode(bytes)) };
 * const input = new TextEncoder().encode("hello\r\nworld\n\x1b[2J\nlater\n");
 * const prefix = new TextEncoder().encode("[client 0] ");
 * const next = labeller.label(input, 0, true, prefix, new Uint8Array(0), PRINTABLE_ASCII, 100, sink);
 * assert.equal(out.join(""), "[client 0] hello\n[client 0] world\n");
 * assert.equal(labeller.lines, 2);
 * assert.equal(next, 13); // the escape sequence is left to the general path
 * ```
 */
export class LineLabeller {
  /** Lines written by the last call to {@linkcode LineLabeller.label}. */
  lines = 0;
  readonly #label: LabelFunction;
  readonly #memory: Uint8Array;
  readonly #results: Int32Array;
  readonly #inputBytes: number;
  readonly #outputBytes: number;
  /** The input now in the module's memory: chunk[#pieceStart, #pieceEnd). */
  #chunk: Uint8Array | null = null;
  #pieceStart = 0;
  #pieceEnd = 0;

  constructor(options: LineLabellerOptions = {}) {
    this.#inputBytes = areaOption("inputBytes", options.inputBytes, INPUT_BYTES);
    this.#outputBytes = areaOption("outputBytes", options.outputBytes, OUTPUT_BYTES);
    const instance = new WebAssembly.Instance(new WebAssembly.Module(wasmBytes()));
    const memory = instance.exports.memory as WebAssembly.Memory;
    this.#label = instance.exports.label as LabelFunction;
    this.#memory = new Uint8Array(memory.buffer);
    this.#results = new Int32Array(memory.buffer, RESULTS, 3);
  }

  /**
   * Writes the run of lines in `chunk` from `from` on that the fast path can
   * take, each as `prefix + line + suffix + "\n"` (a CR before the LF
   * dropped, unless `check` allows CR), to `sink`; returns the offset of the first line it left, or
   * `chunk.length`. It leaves an unfinished line, a line longer than
   * `maxLine` bytes, and a line with a byte `check` refuses. {@linkcode
   * LineLabeller.lines} tells how many lines it wrote. With `count`, each
   * line is `prefix + number + middle + line + suffix + "\n"`, numbered
   * from `count.first`; the next line left to the caller is then number
   * `count.first + lines`.
   *
   * `fresh` says that `chunk` may hold other bytes than at the last call;
   * when false and `chunk` is the same object, the copy already in the
   * module is used again (a caller alternating with its general path over
   * one chunk thus copies it once).
   */
  label(
    chunk: Uint8Array,
    from: number,
    fresh: boolean,
    prefix: Uint8Array,
    suffix: Uint8Array,
    check: LineCheck,
    maxLine: number,
    sink: ByteSink,
    count?: LineCount,
  ): number {
    this.lines = 0;
    if (prefix.length > MAX_PREFIX || suffix.length > MAX_SUFFIX) return from;
    if (count !== undefined) {
      if (count.middle.length > MAX_MIDDLE) return from;
      if (!Number.isSafeInteger(count.first) || count.first < 0) {
        throw new RangeError(
          `Invalid first line number "${count.first}": must be an integer from 0 to ` +
            `${Number.MAX_SAFE_INTEGER}`,
        );
      }
    }
    const memory = this.#memory;
    memory.set(prefix, PREFIX);
    memory.set(suffix, SUFFIX);
    if (count !== undefined) memory.set(count.middle, MIDDLE);
    let pos = from;
    let copy = fresh || chunk !== this.#chunk || pos < this.#pieceStart || pos >= this.#pieceEnd;
    while (pos < chunk.length) {
      if (copy) {
        const end = Math.min(chunk.length, pos + this.#inputBytes);
        memory.set(chunk.subarray(pos, end), INPUT);
        this.#chunk = chunk;
        this.#pieceStart = pos;
        this.#pieceEnd = end;
        copy = false;
      }
      const base = INPUT - this.#pieceStart;
      const next = this.#label(
        pos + base,
        this.#pieceEnd + base,
        OUTPUT,
        OUTPUT + this.#outputBytes,
        prefix.length,
        suffix.length,
        maxLine,
        check.lo,
        check.hi,
        check.x1,
        check.x2,
        check.allow,
        count === undefined ? -1 : count.middle.length,
        // The lines written so far by this call took their numbers.
        count === undefined ? 0n : BigInt(count.first + this.lines),
      ) - base;
      const results = this.#results;
      const written = (results[0] as number) - OUTPUT;
      this.lines += results[1] as number;
      const reason = results[2] as number;
      if (written > 0) sink.write(memory.subarray(OUTPUT, OUTPUT + written));
      const progressed = next > pos;
      pos = next;
      if (reason === LINE_REFUSED) break;
      // The output area was full: go on with the same input, unless not even
      // one line fit.
      if (reason === OUTPUT_FULL) {
        if (progressed) continue;
        break;
      }
      // The piece ran out: what is left of the chunk, from the unfinished
      // line on, is the next piece; unless that line already started the
      // piece, and is longer than the input area.
      if (this.#pieceEnd === chunk.length || (!progressed && this.#pieceStart === pos)) break;
      copy = true;
    }
    return pos;
  }
}

let decoded: Uint8Array | null = null;

function wasmBytes(): Uint8Array<ArrayBuffer> {
  decoded ??= Uint8Array.from(atob(LINE_LABELLER_WASM), (char) => char.charCodeAt(0));
  return decoded as Uint8Array<ArrayBuffer>;
}

function areaOption(name: string, value: number | undefined, max: number): number {
  const bytes = value ?? max;
  if (!Number.isSafeInteger(bytes) || bytes < 1 || bytes > max) {
    throw new RangeError(`Invalid ${name} "${value}": must be an integer from 1 to ${max}`);
  }
  return bytes;
}

let shared: LineLabeller | null | undefined;

/** This thread's labeller, made on first use; `null` where this runtime
 * cannot run the module (no WebAssembly SIMD). */
export function lineLabeller(): LineLabeller | null {
  if (shared === undefined) {
    shared = WebAssembly.validate(wasmBytes()) ? new LineLabeller() : null;
  }
  return shared;
}
