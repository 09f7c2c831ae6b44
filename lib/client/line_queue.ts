/**
 * The client's bounded queue of lines, for `--retry` and `--ack`: the lines
 * read from the input and not yet sent and, with `--ack`, those sent but not
 * yet acknowledged, oldest first.
 *
 * Two caps bound it: a number of lines and a number of bytes. When either is
 * reached the queue has no room, and the client stops reading its input
 * until lines leave (sent, or acknowledged): nothing is ever dropped, and a
 * producer faster than the network is slowed down instead of growing the
 * heap. A line larger than the whole byte cap is still taken when the queue
 * is empty, so one long line cannot block the queue for good.
 *
 * The queue keeps a cursor between the lines already sent on the current
 * connection and those still to send. Lines leave only from the front
 * ({@linkcode LineQueue.release}); {@linkcode LineQueue.rewind} moves the
 * cursor back to the front after a reconnect, so every line still held is
 * sent again, in order.
 *
 * @module
 */

/** Default cap on the lines held: `--buffer-lines`. */
export const DEFAULT_BUFFER_LINES = 10_000;

/** Default cap on the bytes held: 64 MiB, whatever `--buffer-lines` says. */
export const DEFAULT_BUFFER_BYTES = 64 * 1024 * 1024;

/** Options for {@linkcode LineQueue}. */
export interface LineQueueOptions {
  /** Most lines held at once.
   * @default {10000} */
  maxLines?: number;
  /** Most bytes held at once (a single larger line is taken when the queue is empty).
   * @default {67108864} */
  maxBytes?: number;
}

/**
 * A FIFO of lines with a send cursor, two caps and async waits for room and
 * for lines to send.
 *
 * @example
 * ```ts
 * import { LineQueue } from "./line_queue.ts";
 * import assert from "node:assert/strict";
 *
 * const queue = new LineQueue({ maxLines: 2 });
 * queue.push(new TextEncoder().encode("a\n"));
 * queue.push(new TextEncoder().encode("b\n"));
 * assert.equal(queue.hasRoom(1), false);
 * assert.equal(queue.unsentLines(10).length, 2);
 * queue.markSent(2);
 * queue.release(1); // "a" was acknowledged
 * queue.rewind(); // reconnected: "b" goes out again
 * assert.deepEqual(queue.unsentLines(10).map((line) => line.length), [2]);
 * ```
 */
export class LineQueue {
  /** The configured cap on lines. */
  readonly maxLines: number;
  /** The configured cap on bytes. */
  readonly maxBytes: number;
  /** The lines, oldest first; `#head` skips released ones without shifting. */
  #lines: Uint8Array[] = [];
  #head = 0;
  /** Index (into `#lines`) of the first line not sent on this connection. */
  #cursor = 0;
  #bytes = 0;
  #ended = false;
  /** Woken by every change; each waiter checks its own condition again. */
  #waiters: Array<() => void> = [];

  constructor(options: LineQueueOptions = {}) {
    const maxLines = options.maxLines ?? DEFAULT_BUFFER_LINES;
    const maxBytes = options.maxBytes ?? DEFAULT_BUFFER_BYTES;
    if (!Number.isSafeInteger(maxLines) || maxLines < 1) {
      throw new RangeError(`Invalid maxLines "${maxLines}": must be a positive integer`);
    }
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) {
      throw new RangeError(`Invalid maxBytes "${maxBytes}": must be a positive integer`);
    }
    this.maxLines = maxLines;
    this.maxBytes = maxBytes;
  }

  /** Lines held: not yet sent, or sent and not yet released. */
  get length(): number {
    return this.#lines.length - this.#head;
  }

  /** Bytes held. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Lines sent on this connection and not yet released. */
  get sent(): number {
    return this.#cursor - this.#head;
  }

  /** Lines not yet sent on this connection. */
  get unsent(): number {
    return this.#lines.length - this.#cursor;
  }

  /** Whether {@linkcode LineQueue.end} was called: no more lines will come. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Whether a line of `size` bytes fits under both caps. */
  hasRoom(size: number): boolean {
    if (this.length === 0) return true;
    return this.length < this.maxLines && this.#bytes + size <= this.maxBytes;
  }

  /** Resolves once a line of `size` bytes fits. */
  async waitForRoom(size: number): Promise<void> {
    while (!this.hasRoom(size)) await this.#changed();
  }

  /** Resolves once there is a line to send or the input has ended. */
  async waitForUnsent(): Promise<void> {
    while (this.unsent === 0 && !this.#ended) await this.#changed();
  }

  /** Adds a line at the back; the queue keeps `line` itself, so the caller
   * must not change it afterwards. Throws if it does not fit. */
  push(line: Uint8Array): void {
    if (this.#ended) throw new Error("Cannot push a line after the end of input");
    if (!this.hasRoom(line.length)) {
      throw new RangeError(
        `Cannot push a line of ${line.length} bytes: the queue holds ${this.length} lines, ` +
          `${this.#bytes} bytes`,
      );
    }
    this.#lines.push(line);
    this.#bytes += line.length;
    this.#wake();
  }

  /** Marks the end of input: no more pushes; wakes a sender waiting for lines. */
  end(): void {
    this.#ended = true;
    this.#wake();
  }

  /**
   * The next lines to send, oldest first: at least one if any is unsent, then
   * more while their total stays within `maxBytes`. They stay unsent until
   * {@linkcode LineQueue.markSent}.
   */
  unsentLines(maxBytes: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    let total = 0;
    for (let i = this.#cursor; i < this.#lines.length; i++) {
      const line = this.#lines[i] as Uint8Array;
      if (out.length > 0 && total + line.length > maxBytes) break;
      out.push(line);
      total += line.length;
    }
    return out;
  }

  /** Moves the cursor past `count` lines that were written out. */
  markSent(count: number): void {
    if (!Number.isSafeInteger(count) || count < 0 || count > this.unsent) {
      throw new RangeError(`Cannot mark ${count} lines sent: ${this.unsent} are unsent`);
    }
    this.#cursor += count;
  }

  /** Removes the `count` oldest lines, which must all have been sent:
   * delivered (without `--ack`) or acknowledged (with it). */
  release(count: number): void {
    if (!Number.isSafeInteger(count) || count < 0 || count > this.sent) {
      throw new RangeError(`Cannot release ${count} lines: ${this.sent} were sent`);
    }
    for (let i = this.#head; i < this.#head + count; i++) {
      this.#bytes -= (this.#lines[i] as Uint8Array).length;
    }
    this.#head += count;
    // Compact now and then, not on every release: shifting the array per
    // line would make a long queue quadratic.
    if (this.#head > 1024 && this.#head * 2 > this.#lines.length) {
      this.#lines = this.#lines.slice(this.#head);
      this.#cursor -= this.#head;
      this.#head = 0;
    } else if (this.#head === this.#lines.length) {
      this.#lines = [];
      this.#cursor = 0;
      this.#head = 0;
    }
    if (count > 0) this.#wake();
  }

  /** Makes every line held unsent again, for a new connection. */
  rewind(): void {
    this.#cursor = this.#head;
    this.#wake();
  }

  #changed(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}
