/**
 * The framer of `--framing auto`: it waits for a connection's first byte,
 * lets {@linkcode detectFraming} say which framing that byte asks for, and
 * from then on hands every chunk to a {@linkcode LineFramer} or an
 * {@linkcode OctetFramer}, as if that one had been chosen from the start.
 * The choice is made once per connection, as rsyslog's imtcp makes it per
 * frame; why once is said in detect_framing.ts.
 *
 * Until the first byte it holds nothing and is not mid-line, so an idle
 * connection is judged by `--idle-timeout` alone, as with either framer.
 *
 * @module
 */

import { detectFraming, type Framing } from "./detect_framing.ts";
import type { Framer } from "./framer.ts";
import { DEFAULT_MAX_LINE, LineFramer, type LineRun, type LineSink } from "./line_framer.ts";
import { OctetFramer, type OctetFramerOptions } from "./octet_framer.ts";

/** Options for {@linkcode AutoFramer}: those of the framer it picks. The
 * framing error is told only when the stream was taken as octet-counted. */
export type AutoFramerOptions = OctetFramerOptions;

/**
 * Splits a stream framed by LF or by octet counting, whichever its first
 * byte says.
 *
 * @example
 * ```ts
 * import { AutoFramer } from "./auto_framer.ts";
 * import assert from "node:assert/strict";
 *
 * const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
 * for (const input of ["5 hello", "hello\n"]) {
 *   const framer = new AutoFramer();
 *   const got: string[] = [];
 *   framer.push(new TextEncoder().encode(input), (line) => got.push(decode(line)));
 *   assert.deepEqual(got, ["hello"]);
 *   assert.equal(framer.framing, input === "hello\n" ? "lf" : "octet");
 * }
 * ```
 */
export class AutoFramer implements Framer {
  /** The configured cap, in bytes. */
  readonly maxLine: number;
  readonly #options: AutoFramerOptions;
  /** The framer the first byte chose; null before it came. */
  #framer: LineFramer | OctetFramer | null = null;

  constructor(options: AutoFramerOptions = {}) {
    const maxLine = options.maxLine ?? DEFAULT_MAX_LINE;
    if (!Number.isSafeInteger(maxLine) || maxLine < 1) {
      throw new RangeError(`Invalid maxLine "${maxLine}": must be a positive integer`);
    }
    this.maxLine = maxLine;
    this.#options = options;
  }

  /** The framing the first byte chose; null until it came. */
  get framing(): Framing | null {
    if (this.#framer === null) return null;
    return this.#framer instanceof OctetFramer ? "octet" : "lf";
  }

  /** Why a stream taken as octet-counted stopped being read so (see
   * {@linkcode OctetFramer.framingError}); null otherwise. */
  get framingError(): string | null {
    return this.#framer instanceof OctetFramer ? this.#framer.framingError : null;
  }

  get bufferedBytes(): number {
    return this.#framer?.bufferedBytes ?? 0;
  }

  get midLine(): boolean {
    return this.#framer?.midLine ?? false;
  }

  get truncatedLines(): number {
    return this.#framer?.truncatedLines ?? 0;
  }

  get droppedBytes(): number {
    return this.#framer?.droppedBytes ?? 0;
  }

  /** Feeds one chunk; the first byte of the stream picks the framer. */
  push(chunk: Uint8Array, sink: LineSink, run?: LineRun): void {
    if (this.#framer === null) {
      const first = chunk[0];
      if (first === undefined) return;
      this.#framer = detectFraming(first) === "octet"
        ? new OctetFramer(this.#options)
        : new LineFramer(this.#options);
    }
    this.#framer.push(chunk, sink, run);
  }

  /** Ends the stream; nothing to deliver if no byte came. */
  end(sink: LineSink): void {
    this.#framer?.end(sink);
  }
}
