/**
 * One output stream written by several threads at once, whole lines at a
 * time: a `--workers` pool's Workers write their lines to stdout themselves
 * instead of handing them to the main thread, which would copy them once
 * more and add a round trip between threads per chunk.
 *
 * Each thread writes through its own {@linkcode SharedOutput} over the same
 * stream, and all of them share one lock: a word of a `SharedArrayBuffer`
 * that holds 0 when free and the holder's number otherwise. A write takes
 * the lock (waiting with `Atomics.waitAsync`, so the thread's event loop
 * goes on meanwhile), writes everything up to its last newline, and lets
 * go; the bytes after it, the start of a line still coming, wait for the
 * thread's next write. Lines of different threads therefore never mix. The
 * bytes kept are at most one output line, which the server's `--max-line`
 * bounds.
 *
 * For a stream whose failure is final (stdout): a write that fails lets go
 * of the lock and rejects, and what it had written of its lines stays
 * written.
 *
 * @module
 */

import { LineTail } from "./line_tail.ts";
import type { ByteWriter } from "./types.ts";
import { writeAll } from "./write_all.ts";

const LF = 10;

/**
 * A writer of whole lines to a stream other threads write to as well.
 *
 * @example
 * ```ts
 * import { SharedOutput } from "./shared_output.ts";
 * import assert from "node:assert/strict";
 *
 * const written: string[] = [];
 * const stream = {
 *   write: (bytes: Uint8Array) => {
 *     written.push(new TextDecoder().decode(bytes));
 *     return Promise.resolve(bytes.length);
 *   },
 * };
 * const lock = SharedOutput.createLock();
 * const output = new SharedOutput(stream, lock, 1);
 * await output.write(new TextEncoder().encode("one\ntw"));
 * await output.write(new TextEncoder().encode("o\n"));
 * assert.deepEqual(written, ["one\n", "tw", "o\n"]);
 * ```
 */
export class SharedOutput implements ByteWriter {
  readonly #out: ByteWriter;
  readonly #word: Int32Array;
  readonly #owner: number;
  /** Bytes after the last newline written: the start of a line still coming. */
  readonly #tail = new LineTail();

  /** A new lock for the writers of one stream, to be shared with every
   * thread that writes to it. */
  static createLock(): SharedArrayBuffer {
    return new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT);
  }

  /** Lets go of `lock` if `owner` holds it: for a thread that was ended in
   * the middle of a write, so that the others are not kept waiting. */
  static release(lock: SharedArrayBuffer, owner: number): void {
    const word = new Int32Array(lock);
    if (Atomics.compareExchange(word, 0, owner, 0) === owner) Atomics.notify(word, 0);
  }

  /**
   * @param out the stream, as this thread reaches it
   * @param lock from {@linkcode SharedOutput.createLock}, the same for all
   * @param owner this writer's number, unique among those sharing the lock,
   * from 1 (0 means free)
   */
  constructor(out: ByteWriter, lock: SharedArrayBuffer, owner: number) {
    if (!Number.isSafeInteger(owner) || owner < 1 || owner > 0x7fffffff) {
      throw new RangeError(`Invalid owner "${owner}": must be an integer from 1 to 2147483647`);
    }
    this.#out = out;
    this.#word = new Int32Array(lock);
    this.#owner = owner;
  }

  /** Takes all of `bytes`; resolves once the lines they complete are written. */
  async write(bytes: Uint8Array): Promise<number> {
    const end = bytes.lastIndexOf(LF) + 1;
    if (end === 0) {
      this.#tail.keep(bytes);
      return bytes.length;
    }
    await this.#acquire();
    try {
      if (this.#tail.length > 0) {
        await writeAll(this.#out, this.#tail.bytes());
        this.#tail.clear();
      }
      await writeAll(this.#out, bytes.subarray(0, end));
    } finally {
      this.#release();
    }
    this.#tail.keep(bytes.subarray(end));
    return bytes.length;
  }

  async #acquire(): Promise<void> {
    const word = this.#word;
    while (Atomics.compareExchange(word, 0, 0, this.#owner) !== 0) {
      const holder = Atomics.load(word, 0);
      if (holder === 0) continue;
      const wait = Atomics.waitAsync(word, 0, holder);
      if (wait.async) await wait.value;
    }
  }

  #release(): void {
    Atomics.store(this.#word, 0, 0);
    Atomics.notify(this.#word, 0, 1);
  }
}
