/**
 * {@linkcode WriteBuffer}: bytes gathered to be written in one go (a
 * pipelined batch of commands or publishes), for the RESP and NATS
 * encoders alike. It grows to hold the batch and keeps its storage when
 * cleared, so a steady stream of batches does not allocate.
 *
 * @module
 */

/** Bytes to write: `bytes[0..length)`. */
export class WriteBuffer {
  /** The storage; valid up to `length`. Replaced when it grows. */
  bytes: Uint8Array;
  /** Bytes gathered so far. */
  length = 0;

  /** @param capacity first size of the storage, in bytes */
  constructor(capacity: number) {
    this.bytes = new Uint8Array(capacity);
  }

  /** Makes room for `count` more bytes. */
  reserve(count: number): void {
    const needed = this.length + count;
    if (needed <= this.bytes.length) return;
    const grown = new Uint8Array(Math.max(needed, this.bytes.length * 2));
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
  }

  /** Appends ASCII `text` with a loop: cheaper than an encoding call for
   * the short lines and headers of a protocol. */
  ascii(text: string): void {
    this.reserve(text.length);
    const bytes = this.bytes;
    const at = this.length;
    for (let i = 0; i < text.length; i++) bytes[at + i] = text.charCodeAt(i);
    this.length = at + text.length;
  }

  /** Appends `chunk` (copied). */
  append(chunk: Uint8Array): void {
    this.reserve(chunk.length);
    this.bytes.set(chunk, this.length);
    this.length += chunk.length;
  }

  /** Empties the buffer, keeping its storage. */
  clear(): void {
    this.length = 0;
  }

  /** What was gathered (a view, valid until the next append). */
  view(): Uint8Array {
    return this.bytes.subarray(0, this.length);
  }
}
