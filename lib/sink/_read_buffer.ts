/**
 * {@linkcode ReadBuffer}: the bytes a broker's connection has read and its
 * parser has not yet taken, for the RESP and NATS parsers alike. It grows
 * to hold what is pending and moves what is left to its start rather than
 * grow when that makes room; each parser caps what may be pending.
 *
 * @module
 */

/** Bytes read and not yet parsed: `bytes[start..end)`. */
export class ReadBuffer {
  /** The storage; valid from `start` to `end`. */
  bytes = new Uint8Array(0);
  /** Where the unparsed bytes begin. */
  start = 0;
  /** Where they end. */
  end = 0;

  /** Bytes held that are not yet parsed. */
  get held(): number {
    return this.end - this.start;
  }

  /** Appends bytes read (copied). */
  push(chunk: Uint8Array): void {
    if (this.end + chunk.length > this.bytes.length) {
      const held = this.end - this.start;
      if (held + chunk.length <= this.bytes.length) {
        this.bytes.copyWithin(0, this.start, this.end);
      } else {
        const grown = new Uint8Array(Math.max(held + chunk.length, this.bytes.length * 2, 256));
        grown.set(this.bytes.subarray(this.start, this.end));
        this.bytes = grown;
      }
      this.start = 0;
      this.end = held;
    }
    this.bytes.set(chunk, this.end);
    this.end += chunk.length;
  }

  /** The parser took everything before `to`. */
  consume(to: number): void {
    this.start = to;
    if (this.start === this.end) this.start = this.end = 0;
  }
}
