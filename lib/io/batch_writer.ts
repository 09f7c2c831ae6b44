/**
 * One buffered writer per output stream: many small synchronous `write` calls
 * become few large asynchronous writes.
 *
 * `write` copies into the current chunk and returns at once, so a formatter's
 * calls for one record land side by side: output lines stay whole even with
 * thousands of clients, and there is no per-line system call. A single flush
 * loop writes the gathered chunks in order, each with a write-all loop, while
 * new data gathers behind it; the busier the server, the larger the writes.
 *
 * Memory is bounded by the callers: {@linkcode BatchWriter.backlogged} turns
 * true above `highWaterMark` pending bytes, and the server stops reading
 * sockets until {@linkcode BatchWriter.drained} resolves. A slow stdout or
 * disk therefore slows the clients down (TCP backpressure) instead of growing
 * the heap. The server's accept loop also waits while the writer its events
 * go to is backlogged, so what is pending stays under `highWaterMark` plus
 * what the callers already running write before they look: one read's lines
 * per connection reading, and a record or two per connection open (its
 * connect, its disconnect). Written chunks are kept for reuse up to
 * `spareBytes` (16 MiB), so the writer holds at most that much more once a
 * backlog has been written.
 *
 * @module
 */

import type { RecordSink } from "./record_sink.ts";
import type { ByteWriter } from "./types.ts";

/** Options for {@linkcode BatchWriter}. */
export interface BatchWriterOptions {
  /** Size of each gathering chunk, the usual size of one write.
   * @default {65536} */
  chunkSize?: number;
  /** Pending bytes above which the writer reports itself backlogged.
   * @default {1048576} */
  highWaterMark?: number;
  /** Bytes of written chunks kept for reuse, so that a steady stream
   * allocates no new ones: a fresh chunk is zeroed by the runtime and then
   * faulted in by the kernel page by page, which cost the server more CPU
   * than the copies into it (bench/RESULTS.md, 2026-11-28). A server's
   * output peaks at `highWaterMark` plus one read's records per busy
   * connection: with 50 clients sending 100-byte lines flat out, at the
   * defaults of `deno task server`, 4.2 MB in `text` and 8.6 MB in `json`.
   * @default {16777216} */
  spareBytes?: number;
  /** Called once, with the error, the count of accepted bytes that will
   * never be written and those bytes (in order, for a caller that counts
   * what they hold), when the output fails for good; later output is
   * dropped and `flush` rejects with the same error.
   * @default {undefined} */
  onError?: (error: unknown, lostBytes: number, unwritten: readonly Uint8Array[]) => void;
  /** Decides what a failed write means: a delay in milliseconds keeps the
   * data and tries the same write again after it (a full disk may get space
   * back, a reopened file may work), null fails for good.
   * @default {() => null} */
  retryAfter?: (error: unknown) => number | null;
  /** Called at the first failed write of a stall, one that will be retried.
   * @default {undefined} */
  onStall?: (error: unknown) => void;
  /** Called when a write succeeds again after a stall.
   * @default {undefined} */
  onResume?: () => void;
}

/** Default of {@linkcode BatchWriterOptions.spareBytes}. */
const DEFAULT_SPARE_BYTES = 16777216;

const encoder = new TextEncoder();
const NEWLINE = new Uint8Array([10]);

/** Buffers synchronous writes and writes them out in order: the
 * {@linkcode RecordSink} of a file or stdout, and the buffer under a
 * broker's. */
export class BatchWriter implements RecordSink {
  readonly #out: ByteWriter;
  readonly #chunkSize: number;
  readonly #highWaterMark: number;
  readonly #onError: BatchWriterOptions["onError"];
  readonly #retryAfter: (error: unknown) => number | null;
  readonly #onStall: ((error: unknown) => void) | undefined;
  readonly #onResume: (() => void) | undefined;
  /** The error of the write being retried, while stalled. */
  #stall: { cause: unknown } | null = null;
  /** Set by `giveUp`: the next failure is final. */
  #givingUp = false;
  /** Cuts the wait before the next retry short. */
  #wakeRetry: (() => void) | null = null;
  /** Filled chunks waiting for the flush loop, oldest first. */
  #full: Uint8Array[] = [];
  #current: Uint8Array;
  #used = 0;
  /** Written chunks kept for reuse, so that a steady stream allocates no
   * new ones: a fresh chunk is zeroed by the runtime and then faulted in by
   * the kernel page by page, which cost more than copying into it. */
  readonly #spares: Uint8Array[] = [];
  /** Most chunks kept in `#spares`. */
  readonly #maxSpares: number;
  #pending = 0;
  #flushing: Promise<void> | null = null;
  #error: { cause: unknown } | null = null;
  #drainWaiters: Array<{ resolve: () => void; reject: (error: unknown) => void }> = [];
  /** Bytes written out since the start. */
  #written = 0;
  /** Callers of `whenWritten`, in order of the position they wait for. */
  #writtenWaiters: Array<
    { position: number; resolve: () => void; reject: (error: unknown) => void }
  > = [];

  constructor(out: ByteWriter, options: BatchWriterOptions = {}) {
    this.#out = out;
    this.#chunkSize = options.chunkSize ?? 65536;
    this.#highWaterMark = options.highWaterMark ?? 1048576;
    this.#onError = options.onError;
    this.#retryAfter = options.retryAfter ?? (() => null);
    this.#onStall = options.onStall;
    this.#onResume = options.onResume;
    if (!Number.isSafeInteger(this.#chunkSize) || this.#chunkSize < 16) {
      throw new RangeError(`Invalid chunkSize "${this.#chunkSize}": must be an integer >= 16`);
    }
    if (!Number.isSafeInteger(this.#highWaterMark) || this.#highWaterMark < 0) {
      throw new RangeError(
        `Invalid highWaterMark "${this.#highWaterMark}": must be a non-negative integer`,
      );
    }
    const spareBytes = options.spareBytes ?? DEFAULT_SPARE_BYTES;
    if (!Number.isSafeInteger(spareBytes) || spareBytes < 0) {
      throw new RangeError(
        `Invalid spareBytes "${spareBytes}": must be a non-negative integer`,
      );
    }
    this.#maxSpares = Math.floor(spareBytes / this.#chunkSize);
    this.#current = new Uint8Array(this.#chunkSize);
  }

  /** Bytes accepted and not yet written, including a write in progress. */
  get pendingBytes(): number {
    return this.#pending;
  }

  /** True while more than `highWaterMark` bytes are pending: stop producing. */
  get backlogged(): boolean {
    return this.#pending > this.#highWaterMark;
  }

  /** Bytes accepted since the start: written ones and pending ones. */
  get position(): number {
    return this.#written + this.#pending;
  }

  /** True while a failed write is waiting to be tried again. */
  get stalled(): boolean {
    return this.#stall !== null;
  }

  /** Stops retrying a stalled write: the output fails for good with the
   * stall's error (see `onError`). No effect unless stalled. */
  giveUp(): void {
    if (this.#stall === null) return;
    this.#givingUp = true;
    this.#wakeRetry?.();
  }

  /** The write error, once one has happened. */
  get failed(): boolean {
    return this.#error !== null;
  }

  /** Appends bytes or a string (as UTF-8). Never blocks; see `backlogged`. */
  write(chunk: string | Uint8Array): void {
    if (this.#error !== null) return;
    if (typeof chunk === "string") this.#writeString(chunk);
    else this.#writeBytes(chunk);
    if (this.#flushing === null) this.#flushing = this.#flushLoop();
  }

  /**
   * Appends `prefix`, `body`, `suffix` and a newline as one line: the hot
   * path for formatted messages, with one bounds check instead of four.
   */
  writeLine(prefix: Uint8Array, body: Uint8Array, suffix: Uint8Array | null = null): void {
    if (this.#error !== null) return;
    const current = this.#current;
    const used = this.#used;
    const total = prefix.length + body.length + (suffix?.length ?? 0) + 1;
    if (total <= current.length - used) {
      current.set(prefix, used);
      current.set(body, used + prefix.length);
      let end = used + prefix.length + body.length;
      if (suffix !== null) {
        current.set(suffix, end);
        end += suffix.length;
      }
      current[end] = 10;
      this.#used = end + 1;
      this.#pending += total;
    } else {
      this.#writeBytes(prefix);
      this.#writeBytes(body);
      if (suffix !== null) this.#writeBytes(suffix);
      this.#writeBytes(NEWLINE);
    }
    if (this.#flushing === null) this.#flushing = this.#flushLoop();
  }

  /** Resolves once pending bytes are at or under `highWaterMark`; rejects if
   * the output has failed. */
  drained(): Promise<void> {
    if (this.#error !== null) return Promise.reject(this.#error.cause);
    if (!this.backlogged) return Promise.resolve();
    return new Promise((resolve, reject) => this.#drainWaiters.push({ resolve, reject }));
  }

  /**
   * Resolves once every byte accepted before the call has been written out,
   * without waiting for what comes later (unlike `flush`, which under steady
   * load may wait long); rejects if the output fails first.
   */
  whenWritten(): Promise<void> {
    if (this.#error !== null) return Promise.reject(this.#error.cause);
    const position = this.position;
    if (this.#written >= position) return Promise.resolve();
    return new Promise((resolve, reject) =>
      this.#writtenWaiters.push({ position, resolve, reject })
    );
  }

  /** Resolves when everything written so far is out; rejects on a write error. */
  async flush(): Promise<void> {
    while (this.#flushing !== null) await this.#flushing;
    if (this.#error !== null) throw this.#error.cause;
  }

  #writeBytes(bytes: Uint8Array): void {
    if (bytes.length <= this.#current.length - this.#used) {
      // The common case, kept free of allocations: it fits the current chunk.
      this.#current.set(bytes, this.#used);
      this.#used += bytes.length;
      this.#pending += bytes.length;
      return;
    }
    let offset = 0;
    while (offset < bytes.length) {
      const room = this.#current.length - this.#used;
      if (room === 0) {
        this.#rotate();
        continue;
      }
      const take = Math.min(room, bytes.length - offset);
      this.#current.set(bytes.subarray(offset, offset + take), this.#used);
      this.#used += take;
      offset += take;
    }
    this.#pending += bytes.length;
  }

  #writeString(text: string): void {
    // At most 3 bytes per UTF-16 unit; strings that surely fit skip a copy.
    if (text.length * 3 <= this.#current.length - this.#used) {
      const { written } = encoder.encodeInto(text, this.#current.subarray(this.#used));
      this.#used += written;
      this.#pending += written;
      return;
    }
    this.#writeBytes(encoder.encode(text));
  }

  #rotate(): void {
    this.#full.push(this.#current.subarray(0, this.#used));
    this.#current = this.#spares.pop() ?? new Uint8Array(this.#chunkSize);
    this.#used = 0;
  }

  async #flushLoop(): Promise<void> {
    // Let the current task finish its burst of writes before the first write.
    await Promise.resolve();
    let chunkWritten = 0;
    try {
      while (this.#full.length > 0 || this.#used > 0) {
        if (this.#full.length === 0) this.#rotate();
        const chunk = this.#full[0] as Uint8Array;
        chunkWritten = 0;
        while (chunkWritten < chunk.length) {
          chunkWritten += await this.#writeOrWait(chunk.subarray(chunkWritten));
        }
        this.#full.shift();
        this.#pending -= chunk.length;
        this.#written += chunk.length;
        this.#wakeWritten();
        if (
          chunk.buffer.byteLength === this.#chunkSize && this.#spares.length < this.#maxSpares
        ) {
          this.#spares.push(new Uint8Array(chunk.buffer));
        }
        if (!this.backlogged) this.#wakeWaiters();
      }
    } catch (error) {
      const lost = this.#pending - chunkWritten;
      const unwritten = this.#full.map((chunk, i) =>
        i === 0 ? chunk.subarray(chunkWritten) : chunk
      );
      if (this.#used > 0) unwritten.push(this.#current.subarray(0, this.#used));
      this.#error = { cause: error };
      this.#stall = null;
      this.#full = [];
      this.#used = 0;
      this.#pending = 0;
      for (const waiter of this.#drainWaiters.splice(0)) waiter.reject(error);
      for (const waiter of this.#writtenWaiters.splice(0)) waiter.reject(error);
      this.#onError?.(error, lost, unwritten);
    } finally {
      // Cleared in the same synchronous step as the last emptiness check, so
      // a write that comes after it always schedules a new loop.
      this.#flushing = null;
    }
  }

  /** One write; a failure the `retryAfter` policy keeps is waited out and
   * counts as 0 bytes written, so the caller tries the same bytes again. */
  async #writeOrWait(bytes: Uint8Array): Promise<number> {
    try {
      const n = await this.#out.write(bytes);
      if (this.#stall !== null) {
        this.#stall = null;
        this.#onResume?.();
      }
      return n;
    } catch (error) {
      const delay = this.#givingUp ? null : this.#retryAfter(error);
      if (delay === null) throw this.#stall?.cause ?? error;
      if (this.#stall === null) {
        this.#stall = { cause: error };
        this.#onStall?.(error);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.#wakeRetry = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wakeRetry = null;
      return 0;
    }
  }

  #wakeWritten(): void {
    const waiters = this.#writtenWaiters;
    let woken = 0;
    while (woken < waiters.length && (waiters[woken]?.position ?? Infinity) <= this.#written) {
      waiters[woken]?.resolve();
      woken++;
    }
    if (woken > 0) waiters.splice(0, woken);
  }

  #wakeWaiters(): void {
    for (const waiter of this.#drainWaiters.splice(0)) waiter.resolve();
  }
}
