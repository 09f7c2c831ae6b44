/**
 * RESP2, the Redis protocol, as far as a stream sink needs it: commands
 * encoded into one growing buffer (a pipelined batch is one write), and
 * replies decoded from bytes as they arrive, with no socket in sight, so
 * both are tested on byte arrays alone.
 *
 * A command is an array of bulk strings (`*3\r\n$4\r\nXADD\r\n...`); a reply
 * is a simple string (`+OK`), an error (`-ERR ...`), an integer (`:1`), a
 * bulk string (`$5\r\nhello`, `$-1` for none) or an array of replies. The
 * decoder caps what it holds: a reply longer than `maxReplyBytes`, or nested
 * deeper than {@linkcode MAX_REPLY_DEPTH}, is a protocol error, not a reason
 * to buffer without end; XADD's replies are a few dozen bytes.
 *
 * @module
 */

import { ReadBuffer } from "./_read_buffer.ts";
import { WriteBuffer } from "./_write_buffer.ts";

/** A decoded reply. */
export type RespReply =
  | { readonly type: "simple"; readonly value: string }
  | { readonly type: "error"; readonly message: string }
  | { readonly type: "integer"; readonly value: number }
  | { readonly type: "bulk"; readonly value: Uint8Array | null }
  | { readonly type: "array"; readonly items: readonly RespReply[] | null };

/** The broker broke the protocol: a malformed or oversized reply. Apart from
 * an I/O error, since reconnecting to the same broker may not help. */
export class RespProtocolError extends Error {
  override name = "RespProtocolError";
}

/** Deepest nesting of arrays in a reply. */
export const MAX_REPLY_DEPTH = 8;

/** Longest reply the decoder holds, unless told otherwise: 1 MiB. */
export const DEFAULT_MAX_REPLY_BYTES = 1048576;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const CR = 13;
const LF = 10;
/** Strings shorter than this are tried as ASCII with a plain loop first. */
const ASCII_LOOP_MAX = 1024;

/** Bytes of `$N\r\n` for a bulk string of `length` bytes. */
function headerLength(length: number): number {
  let digits = 1;
  for (let rest = length; rest >= 10; rest = Math.floor(rest / 10)) digits++;
  return digits + 3;
}

/**
 * Commands appended one after another into one buffer, which grows as
 * needed; `bytes()` is the batch to write.
 *
 * @example
 * ```ts
 * import { RespBatch } from "./_resp.ts";
 * import assert from "node:assert/strict";
 *
 * const batch = new RespBatch();
 * batch.command(["XADD", "s", "*", "text", "h\u00e9"]);
 * assert.equal(
 *   new TextDecoder().decode(batch.bytes()),
 *   "*5\r\n$4\r\nXADD\r\n$1\r\ns\r\n$1\r\n*\r\n$4\r\ntext\r\n$3\r\nh\u00e9\r\n",
 * );
 * ```
 */
export class RespBatch {
  readonly #out: WriteBuffer;
  #commands = 0;

  /** @param capacity first size of the buffer, in bytes */
  constructor(capacity = 4096) {
    this.#out = new WriteBuffer(capacity);
  }

  /** Commands appended so far. */
  get commands(): number {
    return this.#commands;
  }

  /** Appends one command: its name and arguments, then those of `more`
   * (which spares joining a fixed head and each message's fields), strings
   * as UTF-8. */
  command(
    args: readonly (string | Uint8Array)[],
    more: readonly (string | Uint8Array)[] = [],
  ): void {
    this.#out.ascii(`*${args.length + more.length}\r\n`);
    for (const arg of args) this.#argument(arg);
    for (const arg of more) this.#argument(arg);
    this.#commands++;
  }

  /** The batch so far (a view, valid until the next append). */
  bytes(): Uint8Array {
    return this.#out.view();
  }

  /** Empties the batch, keeping its buffer. */
  clear(): void {
    this.#out.clear();
    this.#commands = 0;
  }

  #argument(arg: string | Uint8Array): void {
    const out = this.#out;
    if (typeof arg === "string") {
      this.#string(arg);
      return;
    }
    out.ascii(`$${arg.length}\r\n`);
    out.append(arg);
    out.ascii("\r\n");
  }

  /** `$N\r\n` and the string's UTF-8. Most arguments are short ASCII
   * (field names, numbers, times), copied by a loop here: a call to
   * `encodeInto` costs more than the copy for those (it made encoding a
   * record 9 us instead of under 1 us). Other text is encoded in place,
   * after room for the longest header, then moved back to the header. */
  #string(text: string): void {
    const out = this.#out;
    const length = text.length;
    out.reserve(length * 3 + 24);
    const buffer = out.bytes;
    const at = out.length;
    if (length < ASCII_LOOP_MAX) {
      const start = at + headerLength(length);
      let i = 0;
      while (i < length) {
        const code = text.charCodeAt(i);
        if (code > 0x7f) break;
        buffer[start + i] = code;
        i++;
      }
      if (i === length) {
        out.length = finish(buffer, at, length);
        return;
      }
    }
    const start = at + headerLength(length * 3);
    const { written } = encoder.encodeInto(text, buffer.subarray(start));
    const room = headerLength(written);
    if (at + room < start) buffer.copyWithin(at + room, start, start + written);
    out.length = finish(buffer, at, written);
  }
}

/** Writes into `buffer` the header of a bulk string of `length` bytes at
 * `at`, whose bytes follow it already, and the CRLF after them; returns
 * the end. */
function finish(buffer: Uint8Array, at: number, length: number): number {
  buffer[at] = 0x24; // $
  let end = at + headerLength(length) - 2;
  for (let rest = length, i = end - 1; i > at; i--, rest = Math.floor(rest / 10)) {
    buffer[i] = 0x30 + (rest % 10);
  }
  buffer[end] = CR;
  buffer[end + 1] = LF;
  end += 2 + length;
  buffer[end] = CR;
  buffer[end + 1] = LF;
  return end + 2;
}

/** Encodes one command on its own. */
export function encodeCommand(args: readonly (string | Uint8Array)[]): Uint8Array {
  const batch = new RespBatch(64);
  batch.command(args);
  return batch.bytes().slice();
}

/** Options for {@linkcode RespDecoder}. */
export interface RespDecoderOptions {
  /** Longest reply held, in bytes, before it is a protocol error.
   * @default {1048576} */
  maxReplyBytes?: number;
}

/**
 * Replies from the bytes a connection reads, in order. `push` what was read,
 * then take replies with `next` until it returns undefined (the next one is
 * not complete yet).
 *
 * @example
 * ```ts
 * import { RespDecoder } from "./_resp.ts";
 * import assert from "node:assert/strict";
 *
 * const decoder = new RespDecoder();
 * decoder.push(new TextEncoder().encode("$15\r\n1700000000000-0\r\n-ERR no\r"));
 * assert.equal(decoder.next()?.type, "bulk");
 * assert.equal(decoder.next(), undefined); // "-ERR no" has no LF yet
 * decoder.push(new TextEncoder().encode("\n"));
 * assert.deepEqual(decoder.next(), { type: "error", message: "ERR no" });
 * ```
 */
export class RespDecoder {
  readonly #maxReplyBytes: number;
  readonly #input = new ReadBuffer();

  constructor(options: RespDecoderOptions = {}) {
    this.#maxReplyBytes = options.maxReplyBytes ?? DEFAULT_MAX_REPLY_BYTES;
  }

  /** Bytes held that are not yet a whole reply. */
  get buffered(): number {
    return this.#input.held;
  }

  /** Adds bytes read from the connection (copied). */
  push(bytes: Uint8Array): void {
    this.#input.push(bytes);
  }

  /** The next whole reply, or undefined until more bytes arrive. Throws
   * {@linkcode RespProtocolError} for bytes that are not RESP. */
  next(): RespReply | undefined {
    const input = this.#input;
    const parsed = this.#parse(input.start, 0);
    if (parsed === undefined) {
      if (input.held > this.#maxReplyBytes) {
        throw new RespProtocolError(
          `Reply longer than ${this.#maxReplyBytes} bytes and still incomplete`,
        );
      }
      return undefined;
    }
    input.consume(parsed.next);
    return parsed.reply;
  }

  /** The reply at `at`, and where the next one starts; undefined if it is
   * not all there yet. */
  #parse(at: number, depth: number): { reply: RespReply; next: number } | undefined {
    const lineEnd = this.#lineEnd(at);
    if (lineEnd === -1) return undefined;
    const buffer = this.#input.bytes;
    const kind = buffer[at];
    const next = lineEnd + 2;
    // Only simple strings and errors are text; the other lines are numbers,
    // read from the bytes (one reply per message: no decoding, no regex).
    switch (kind) {
      case 0x2b: // +
        return { reply: { type: "simple", value: this.#text(at + 1, lineEnd) }, next };
      case 0x2d: // -
        return { reply: { type: "error", message: this.#text(at + 1, lineEnd) }, next };
      case 0x3a: // :
        return { reply: { type: "integer", value: this.#integer(at + 1, lineEnd) }, next };
      case 0x24: { // $
        const length = this.#integer(at + 1, lineEnd);
        if (length === -1) return { reply: { type: "bulk", value: null }, next };
        if (length < 0 || length > this.#maxReplyBytes) {
          throw new RespProtocolError(
            `Invalid bulk string length "${this.#text(at + 1, lineEnd)}"`,
          );
        }
        if (next + length + 2 > this.#input.end) return undefined;
        if (buffer[next + length] !== CR || buffer[next + length + 1] !== LF) {
          throw new RespProtocolError("Bulk string not followed by CRLF");
        }
        const value = buffer.slice(next, next + length);
        return { reply: { type: "bulk", value }, next: next + length + 2 };
      }
      case 0x2a: { // *
        const count = this.#integer(at + 1, lineEnd);
        if (count === -1) return { reply: { type: "array", items: null }, next };
        if (depth >= MAX_REPLY_DEPTH) {
          throw new RespProtocolError(`Reply nested deeper than ${MAX_REPLY_DEPTH} arrays`);
        }
        // Each element takes at least 3 bytes, so a count the cap could not
        // hold is refused before any of it is read.
        if (count < 0 || count * 3 > this.#maxReplyBytes) {
          throw new RespProtocolError(`Invalid array length "${this.#text(at + 1, lineEnd)}"`);
        }
        const items: RespReply[] = [];
        let position = next;
        for (let i = 0; i < count; i++) {
          const item = this.#parse(position, depth + 1);
          if (item === undefined) return undefined;
          items.push(item.reply);
          position = item.next;
        }
        return { reply: { type: "array", items }, next: position };
      }
      default:
        throw new RespProtocolError(
          `Unknown reply type byte 0x${(kind ?? 0).toString(16).padStart(2, "0")}`,
        );
    }
  }

  /** The index of the CR of the CRLF that ends the line at `at`, or -1.
   * Reply lines are short: a loop costs less than `indexOf` on a view. */
  #lineEnd(at: number): number {
    const { bytes: buffer, end } = this.#input;
    for (let i = at; i < end - 1; i++) {
      if (buffer[i] === CR && buffer[i + 1] === LF) return i;
    }
    if (end - at > this.#maxReplyBytes) {
      throw new RespProtocolError(`Reply line longer than ${this.#maxReplyBytes} bytes`);
    }
    return -1;
  }

  /** The bytes from `start` to `end` as text. */
  #text(start: number, end: number): string {
    return decoder.decode(this.#input.bytes.subarray(start, end));
  }

  /** The decimal integer from `start` to `end`: an optional minus, then 1
   * to 16 digits. */
  #integer(start: number, end: number): number {
    const buffer = this.#input.bytes;
    const negative = buffer[start] === 0x2d;
    const first = negative ? start + 1 : start;
    let value = 0;
    for (let i = first; i < end; i++) {
      const digit = (buffer[i] ?? 0) - 0x30;
      if (digit < 0 || digit > 9) value = Number.NaN;
      value = value * 10 + digit;
    }
    if (end === first || end - first > 16 || Number.isNaN(value)) {
      throw new RespProtocolError(`Invalid integer "${this.#text(start, end)}"`);
    }
    return negative ? -value : value;
  }
}
