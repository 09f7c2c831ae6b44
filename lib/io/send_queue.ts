/**
 * What waits to be sent to one client, with a cap in bytes: the server's
 * defence against a client that stops reading.
 *
 * `push` never blocks and never waits: it queues the bytes and returns true,
 * or returns false, queuing nothing, when they would take the queue past its
 * cap. The server then disconnects that client (`send-queue-full`), so one
 * stalled reader costs at most `maxBytes` of memory and never slows the
 * others down. A single write loop sends what is queued, in order, one write
 * at a time, each write of at most 64 KiB.
 *
 * Bytes are queued by reference, so one line relayed to many clients is
 * shared by their queues. Lines shorter than 512 bytes are the exception:
 * they are copied together into buffers the queue owns, so a flood of tiny
 * lines costs a few buffers rather than one object per line (the memory of a
 * full queue stays close to its cap whatever the size of the lines). Joining
 * small lines is needed anyway to make large writes out of them.
 *
 * @module
 */

import type { ByteWriter } from "./types.ts";

/** The cap of a send queue unless told otherwise (`--send-queue`): 1 MiB. */
export const DEFAULT_SEND_QUEUE_BYTES = 1024 * 1024;

/** Largest single write: bigger chunks are written in pieces of this size. */
export const MAX_WRITE_BYTES = 64 * 1024;

/** Pushed chunks shorter than this are copied into a buffer the queue owns
 * (see the module doc); longer ones are queued by reference. */
const COPY_BELOW = 512;

/** First size of an owned buffer; it doubles up to `MAX_WRITE_BYTES`, so an
 * owned buffer is at most twice the bytes it holds (or this size). */
const OWNED_INITIAL = 256;

/** A first chunk at least this long is written as it is, without joining
 * the chunks behind it: copying it would cost more than the saved write. */
const WRITE_ALONE_FROM = 16 * 1024;

/** Options for {@linkcode SendQueue}. */
export interface SendQueueOptions {
  /** Most bytes waiting to be sent, the write in progress included; a push
   * that would pass it is refused.
   * @default {1048576} */
  maxBytes?: number;
}

/**
 * A capped, ordered queue of bytes for one writer (a client's connection).
 *
 * @example
 * ```ts
 * import { SendQueue } from "./send_queue.ts";
 * import assert from "node:assert/strict";
 *
 * const written: string[] = [];
 * const writer = {
 *   write(bytes: Uint8Array): Promise<number> {
 *     written.push(new TextDecoder().decode(bytes));
 *     return Promise.resolve(bytes.length);
 *   },
 * };
 * const queue = new SendQueue(writer, { maxBytes: 8 });
 * assert.equal(queue.push(new TextEncoder().encode("hello\n")), true);
 * assert.equal(queue.push(new TextEncoder().encode("world\n")), false); // 12 > 8
 * await queue.idle();
 * assert.deepEqual(written, ["hello\n"]);
 * ```
 */
export class SendQueue {
  readonly #writer: ByteWriter;
  /** The cap, in bytes. */
  readonly maxBytes: number;
  /** Chunks waiting for the write loop, oldest first from `#first`. */
  #chunks: Uint8Array[] = [];
  #first = 0;
  /** Bytes of `#chunks[#first]` already taken into a write. */
  #firstTaken = 0;
  /** The buffer behind the last chunk when the queue owns it and may append
   * to it; null when the last chunk is a caller's bytes or was taken. */
  #owned: Uint8Array | null = null;
  /** Bytes in `#chunks` not yet taken into a write. */
  #waiting = 0;
  /** Bytes of the write in progress not yet written. */
  #inFlight = 0;
  #running = false;
  #failed = false;
  #closed = false;
  #idleWaiters: Array<() => void> = [];

  constructor(writer: ByteWriter, options: SendQueueOptions = {}) {
    const maxBytes = options.maxBytes ?? DEFAULT_SEND_QUEUE_BYTES;
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) {
      throw new RangeError(`Invalid maxBytes "${maxBytes}": must be a positive integer`);
    }
    this.#writer = writer;
    this.maxBytes = maxBytes;
  }

  /** Bytes waiting to be sent, the unwritten part of the write in progress
   * included. */
  get queuedBytes(): number {
    return this.#waiting + this.#inFlight;
  }

  /** True once a write failed: the connection is broken (the read loop
   * reports it), and the queue holds and takes nothing more. */
  get failed(): boolean {
    return this.#failed;
  }

  /**
   * Queues `bytes` to be written after everything queued before. The caller
   * must not change them afterwards (they are queued by reference). Returns
   * false, queuing nothing, when `queuedBytes + bytes.length` would pass
   * `maxBytes`, or once the queue is closed or has failed.
   */
  push(bytes: Uint8Array): boolean {
    if (this.#closed || this.#failed) return false;
    if (this.queuedBytes + bytes.length > this.maxBytes) return false;
    if (bytes.length === 0) return true;
    if (bytes.length < COPY_BELOW) this.#append(bytes);
    else {
      this.#chunks.push(bytes);
      this.#owned = null;
    }
    this.#waiting += bytes.length;
    if (!this.#running) {
      this.#running = true;
      void this.#run();
    }
    return true;
  }

  /** Resolves once everything queued so far has been written, or the queue
   * has failed or been closed. Never rejects. */
  idle(): Promise<void> {
    if (!this.#running || this.#closed || this.#failed) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Drops everything queued; later pushes return false. A write already in
   * progress runs to its end, its result ignored. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#drop();
  }

  /** Copies a small chunk onto the end of the owned last chunk, growing or
   * starting an owned buffer as needed. */
  #append(bytes: Uint8Array): void {
    const last = this.#chunks.length - 1;
    const owned = this.#owned;
    const used = owned === null ? 0 : (this.#chunks[last] as Uint8Array).length;
    const needed = used + bytes.length;
    if (owned !== null && needed <= owned.length) {
      owned.set(bytes, used);
      this.#chunks[last] = owned.subarray(0, needed);
      return;
    }
    if (owned !== null && needed <= MAX_WRITE_BYTES) {
      // Grow by doubling. A write in progress may still be reading the old
      // buffer; it is not changed, only replaced.
      const grown = new Uint8Array(Math.min(MAX_WRITE_BYTES, Math.max(owned.length * 2, needed)));
      grown.set(owned.subarray(0, used));
      grown.set(bytes, used);
      this.#owned = grown;
      this.#chunks[last] = grown.subarray(0, needed);
      return;
    }
    const fresh = new Uint8Array(Math.max(OWNED_INITIAL, bytes.length));
    fresh.set(bytes);
    this.#owned = fresh;
    this.#chunks.push(fresh.subarray(0, bytes.length));
  }

  /** Takes the next write's bytes (at most `MAX_WRITE_BYTES`) off the front. */
  #take(): Uint8Array {
    const first = this.#chunks[this.#first] as Uint8Array;
    const rest = first.subarray(this.#firstTaken);
    const several = this.#chunks.length - this.#first > 1;
    let out: Uint8Array;
    if (!several || rest.length >= WRITE_ALONE_FROM) {
      out = rest.subarray(0, MAX_WRITE_BYTES);
      this.#advance(out.length);
    } else {
      // Small chunks behind each other: one write instead of many.
      out = new Uint8Array(Math.min(MAX_WRITE_BYTES, this.#waiting));
      let filled = 0;
      while (filled < out.length) {
        const chunk = this.#chunks[this.#first] as Uint8Array;
        const part = chunk.subarray(this.#firstTaken, this.#firstTaken + out.length - filled);
        out.set(part, filled);
        filled += part.length;
        this.#advance(part.length);
      }
    }
    return out;
  }

  /** Marks `count` bytes of the first chunk as taken. */
  #advance(count: number): void {
    this.#waiting -= count;
    this.#firstTaken += count;
    const first = this.#chunks[this.#first] as Uint8Array;
    if (this.#firstTaken < first.length) return;
    this.#firstTaken = 0;
    this.#first++;
    if (this.#first === this.#chunks.length) {
      // Taken whole, the owned buffer must not be appended to any more: the
      // chunk that grew from it is gone.
      this.#chunks = [];
      this.#first = 0;
      this.#owned = null;
    } else if (this.#first >= 1024 && this.#first * 2 >= this.#chunks.length) {
      this.#chunks = this.#chunks.slice(this.#first);
      this.#first = 0;
    }
  }

  async #run(): Promise<void> {
    try {
      // Let the current task finish its burst of pushes (the lines of one
      // read, relayed) so they go out in one write.
      await Promise.resolve();
      while (this.#waiting > 0 && !this.#closed) {
        const bytes = this.#take();
        this.#inFlight = bytes.length;
        let offset = 0;
        // A write may take only part of the buffer: write the rest.
        while (offset < bytes.length) {
          const n = await this.#writer.write(bytes.subarray(offset));
          if (this.#closed) return;
          if (!Number.isSafeInteger(n) || n < 1 || n > bytes.length - offset) {
            throw new RangeError(
              `Invalid write result "${n}": expected 1 to ${bytes.length - offset} bytes`,
            );
          }
          offset += n;
          this.#inFlight -= n;
        }
        this.#inFlight = 0;
      }
    } catch {
      // The connection is broken; its read loop sees and reports the error,
      // so here it only stops the queue. After close() the error is moot.
      if (!this.#closed) {
        this.#failed = true;
        this.#drop();
      }
    } finally {
      this.#running = false;
      this.#wakeIdle();
    }
  }

  #drop(): void {
    this.#chunks = [];
    this.#first = 0;
    this.#firstTaken = 0;
    this.#owned = null;
    this.#waiting = 0;
    this.#inFlight = 0;
    this.#wakeIdle();
  }

  #wakeIdle(): void {
    for (const resolve of this.#idleWaiters.splice(0)) resolve();
  }
}
