/**
 * The acknowledgment wire format of `--ack`, as pure functions over bytes.
 *
 * With `--ack`, the server tells each client how many of its lines have been
 * written to the output: a line of its own, made of the ASCII ACK control
 * byte (0x06), the count in decimal, and `\n`. The count is cumulative for
 * the connection (every line the server took from it, truncated and partial
 * ones included), so a lost or late acknowledgment is covered by the next.
 * Acknowledgments only ever come between whole lines of whatever else the
 * server sends, so {@linkcode AckParser} finds them at line starts and passes
 * every other byte through untouched. Without `--ack` nothing of this is on
 * the wire, and the protocol stays plain lines.
 *
 * @module
 */

/** First byte of an acknowledgment line: ASCII ACK. */
export const ACK_BYTE = 0x06;

/** Most digits an acknowledgment may carry: counts stay safe integers. */
const MAX_ACK_DIGITS = 15;

const LF = 10;
const ZERO = 48;
const NINE = 57;

/**
 * The acknowledgment line for `count` lines.
 *
 * @example
 * ```ts
 * import { encodeAck } from "./ack_protocol.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(encodeAck(12), new Uint8Array([6, 49, 50, 10]));
 * ```
 */
export function encodeAck(count: number): Uint8Array {
  if (!Number.isSafeInteger(count) || count < 0) {
    throw new RangeError(`Invalid acknowledgment count "${count}": must be a non-negative integer`);
  }
  const digits = String(count);
  const bytes = new Uint8Array(digits.length + 2);
  bytes[0] = ACK_BYTE;
  for (let i = 0; i < digits.length; i++) bytes[i + 1] = digits.charCodeAt(i);
  bytes[bytes.length - 1] = LF;
  return bytes;
}

/** The server sent something that breaks the acknowledgment format. */
export class AckProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AckProtocolError";
  }
}

/**
 * Splits what a server sends into acknowledgments and everything else,
 * whatever the chunk boundaries.
 *
 * @example
 * ```ts
 * import { AckParser } from "./ack_protocol.ts";
 * import assert from "node:assert/strict";
 *
 * const parser = new AckParser();
 * const acks: number[] = [];
 * let text = "";
 * const onData = (bytes: Uint8Array) => text += new TextDecoder().decode(bytes);
 * parser.push(new TextEncoder().encode("hi\n\x063"), (n) => acks.push(n), onData);
 * parser.push(new TextEncoder().encode("\n"), (n) => acks.push(n), onData);
 * assert.deepEqual(acks, [3]);
 * assert.equal(text, "hi\n");
 * ```
 */
export class AckParser {
  #atLineStart = true;
  /** Inside an acknowledgment line: the digits so far, or null outside one. */
  #digits: string | null = null;
  #last = 0;

  /** The highest count seen so far. */
  get acknowledged(): number {
    return this.#last;
  }

  /**
   * Feeds one chunk. `onAck` gets each count; `onData` gets the other bytes
   * as views of `chunk`, valid only during the call. Throws
   * {@linkcode AckProtocolError} on a malformed or decreasing count.
   */
  push(
    chunk: Uint8Array,
    onAck: (count: number) => void,
    onData: (bytes: Uint8Array) => void,
  ): void {
    let dataStart = 0;
    let i = 0;
    while (i < chunk.length) {
      if (this.#digits !== null) {
        const byte = chunk[i] as number;
        i++;
        if (byte === LF) {
          this.#finishAck(onAck);
          dataStart = i;
        } else if (byte >= ZERO && byte <= NINE && this.#digits.length < MAX_ACK_DIGITS) {
          this.#digits += String.fromCharCode(byte);
        } else {
          throw new AckProtocolError(
            `Invalid acknowledgment from the server: unexpected byte 0x${
              byte.toString(16).padStart(2, "0")
            } after "${this.#digits}"`,
          );
        }
        continue;
      }
      if (this.#atLineStart && chunk[i] === ACK_BYTE) {
        if (i > dataStart) onData(chunk.subarray(dataStart, i));
        this.#digits = "";
        i++;
        continue;
      }
      // Ordinary bytes: pass them through up to and including the next newline.
      const newline = chunk.indexOf(LF, i);
      if (newline === -1) {
        this.#atLineStart = false;
        i = chunk.length;
      } else {
        this.#atLineStart = true;
        i = newline + 1;
      }
    }
    if (this.#digits === null && i > dataStart) onData(chunk.subarray(dataStart, i));
  }

  #finishAck(onAck: (count: number) => void): void {
    const digits = this.#digits ?? "";
    this.#digits = null;
    this.#atLineStart = true;
    if (digits === "") {
      throw new AckProtocolError("Invalid acknowledgment from the server: no count");
    }
    const count = Number(digits);
    if (count < this.#last) {
      throw new AckProtocolError(
        `Invalid acknowledgment from the server: count ${count} after ${this.#last}`,
      );
    }
    this.#last = count;
    onAck(count);
  }
}
