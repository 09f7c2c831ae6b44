/**
 * Counts one byte value in a stream's chunks, for the bench's reader of
 * server output: SIMD WebAssembly (bench/byte_count.wat), 16 bytes at a
 * time, where a JavaScript `indexOf` loop goes byte by byte.
 *
 * @module
 */

import { BYTE_COUNT_WASM } from "./byte_count_wasm.ts";

/** Bytes copied into the module at a time. */
const WINDOW = 65536;

/** Counts `byte` in chunks. */
export class ByteCounter {
  readonly #byte: number;
  readonly #count: (length: number, byte: number) => number;
  readonly #memory: Uint8Array;

  constructor(byte: number) {
    this.#byte = byte;
    const wasm = Uint8Array.from(atob(BYTE_COUNT_WASM), (char) => char.charCodeAt(0));
    const instance = new WebAssembly.Instance(new WebAssembly.Module(wasm));
    this.#count = instance.exports.count as (length: number, byte: number) => number;
    this.#memory = new Uint8Array((instance.exports.memory as WebAssembly.Memory).buffer);
  }

  /** How many bytes of `chunk` are the counted byte. */
  count(chunk: Uint8Array): number {
    let total = 0;
    for (let at = 0; at < chunk.length; at += WINDOW) {
      const piece = chunk.subarray(at, at + WINDOW);
      this.#memory.set(piece);
      total += this.#count(piece.length, this.#byte);
    }
    return total;
  }
}
