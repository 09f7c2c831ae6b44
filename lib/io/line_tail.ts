/**
 * The start of a line still coming, held by a writer that passes on only
 * whole lines (lib/io/shared_output.ts, a `--workers` Worker's output to the
 * main thread): what followed the last newline it was given, kept until a
 * later write ends the line.
 *
 * @module
 */

/** The buffer starts this small, grows to the longest line held, and goes
 * back to this size once emptied. */
const INITIAL_TAIL = 4096;

/**
 * A growable buffer for the bytes after the last newline.
 *
 * @example
 * ```ts
 * import { LineTail } from "./line_tail.ts";
 * import assert from "node:assert/strict";
 *
 * const tail = new LineTail();
 * tail.keep(new TextEncoder().encode("hal"));
 * tail.keep(new TextEncoder().encode("f a line"));
 * assert.equal(new TextDecoder().decode(tail.bytes()), "half a line");
 * tail.clear();
 * assert.equal(tail.length, 0);
 * ```
 */
export class LineTail {
  #buffer = new Uint8Array(INITIAL_TAIL);
  #length = 0;

  /** Bytes held. */
  get length(): number {
    return this.#length;
  }

  /** The bytes held, as a view valid until the next `keep` or `clear`. */
  bytes(): Uint8Array {
    return this.#buffer.subarray(0, this.#length);
  }

  /** Adds `bytes` to those held (copied). */
  keep(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    const needed = this.#length + bytes.length;
    if (needed > this.#buffer.length) {
      const grown = new Uint8Array(Math.max(needed, this.#buffer.length * 2));
      grown.set(this.#buffer.subarray(0, this.#length));
      this.#buffer = grown;
    }
    this.#buffer.set(bytes, this.#length);
    this.#length = needed;
  }

  /** Lets go of what is held, and of a buffer grown for a long line. */
  clear(): void {
    this.#length = 0;
    if (this.#buffer.length > INITIAL_TAIL) this.#buffer = new Uint8Array(INITIAL_TAIL);
  }
}
