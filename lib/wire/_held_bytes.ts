/**
 * The bytes of one unfinished line or frame, held between reads: the one
 * buffer {@linkcode LineFramer} and {@linkcode OctetFramer} both keep. It
 * starts at 256 bytes, doubles as needed up to a cap the framer sets, and is
 * let go once its line is taken if it grew past 4 KiB, so a client that once
 * sent a long line does not keep the memory while idle.
 *
 * @module
 */

/** Smallest buffer allocated; it doubles as needed. */
const INITIAL_BYTES = 256;

/** A buffer larger than this is released once its bytes are taken. */
const KEEP_BYTES = 4096;

/** The held bytes of one line or frame, at most `cap` of them. */
export class HeldBytes {
  /** Most bytes ever held; the caller never appends past it. */
  readonly cap: number;
  #buffer: Uint8Array | null = null;
  #length = 0;

  constructor(cap: number) {
    this.cap = cap;
  }

  /** Bytes held now. */
  get length(): number {
    return this.#length;
  }

  /** The held bytes, as a view valid until the next append. */
  view(): Uint8Array {
    return this.#buffer === null ? new Uint8Array(0) : this.#buffer.subarray(0, this.#length);
  }

  /** Adds `bytes` after those held; the total stays within `cap`. */
  append(bytes: Uint8Array): void {
    const needed = this.#length + bytes.length;
    let buffer = this.#buffer;
    if (buffer === null || buffer.length < needed) {
      let size = Math.max(INITIAL_BYTES, buffer?.length ?? 0);
      while (size < needed) size *= 2;
      const grown = new Uint8Array(Math.min(size, this.cap));
      if (buffer !== null) grown.set(buffer.subarray(0, this.#length));
      this.#buffer = buffer = grown;
    }
    buffer.set(bytes, this.#length);
    this.#length = needed;
  }

  /** Keeps only the first `length` bytes held. */
  truncate(length: number): void {
    this.#length = Math.min(length, this.#length);
  }

  /** Returns the held bytes as a view and holds none. The view stays valid
   * until the next append, which is after the caller has used it. */
  take(): Uint8Array {
    const held = this.view();
    this.#length = 0;
    if (this.#buffer !== null && this.#buffer.length > KEEP_BYTES) this.#buffer = null;
    return held;
  }
}
