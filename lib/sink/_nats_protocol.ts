/**
 * The NATS client protocol, as far as a JetStream sink needs it: what the
 * client sends (CONNECT, PING, PONG, SUB, and HPUB, a publish with headers)
 * encoded into one growing buffer, and what the server sends (INFO, MSG,
 * HMSG, PING, PONG, +OK, -ERR) read from bytes as they arrive, with no
 * socket in sight, so both are tested on byte arrays alone.
 *
 * Every operation is a line ending in CRLF; MSG and HMSG are followed by a
 * payload of the length the line gives. The parser caps a control line at
 * {@linkcode MAX_CONTROL_LINE} bytes and a payload at `maxPayloadBytes`, so a
 * broken server cannot make it buffer without end.
 *
 * @module
 */

import { ReadBuffer } from "./_read_buffer.ts";
import { WriteBuffer } from "./_write_buffer.ts";

/** An operation from the server. */
export type NatsOp =
  | { readonly op: "INFO"; readonly info: Readonly<Record<string, unknown>> }
  | {
    readonly op: "MSG";
    readonly subject: string;
    readonly sid: string;
    /** The header block (`NATS/1.0 ...\r\n...\r\n\r\n`) of an HMSG, or null. */
    readonly headers: Uint8Array | null;
    readonly payload: Uint8Array;
  }
  | { readonly op: "PING" }
  | { readonly op: "PONG" }
  | { readonly op: "+OK" }
  | { readonly op: "-ERR"; readonly message: string };

/** The server broke the protocol (or this parser's caps). */
export class NatsProtocolError extends Error {
  override name = "NatsProtocolError";
}

/** Longest control line read: the server's own default limit. */
export const MAX_CONTROL_LINE = 4096;

/** Largest payload held, unless told otherwise: PubAcks are a few dozen
 * bytes, stream API replies a few KiB. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 1048576;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const CR = 13;
const LF = 10;

/** Operations appended one after another into one buffer, which grows as
 * needed; `bytes()` is what to write. */
export class NatsBatch {
  readonly #out: WriteBuffer;

  /** @param capacity first size of the buffer, in bytes */
  constructor(capacity = 4096) {
    this.#out = new WriteBuffer(capacity);
  }

  /** Appends a control line (CRLF added); ASCII, as every control line
   * this client sends is (subjects are checked to be). */
  line(text: string): void {
    this.#out.ascii(`${text}\r\n`);
  }

  /** `CONNECT` with these options as JSON. */
  connect(options: Readonly<Record<string, unknown>>): void {
    this.line(`CONNECT ${JSON.stringify(options)}`);
  }

  /**
   * A publish to `subject` asking for the reply on `reply`, with these
   * headers (names and values without CR or LF) and `payload`.
   *
   * @example
   * ```ts
   * import { NatsBatch } from "./_nats_protocol.ts";
   * import assert from "node:assert/strict";
   *
   * const batch = new NatsBatch();
   * batch.publish("lines", "_INBOX.x.1", [["Nats-Msg-Id", "r/0/1"]], "hi");
   * assert.equal(
   *   new TextDecoder().decode(batch.bytes()),
   *   "HPUB lines _INBOX.x.1 32 34\r\nNATS/1.0\r\nNats-Msg-Id: r/0/1\r\n\r\nhi\r\n",
   * );
   * ```
   */
  publish(
    subject: string,
    reply: string,
    headers: readonly (readonly [string, string])[],
    payload: string | Uint8Array,
  ): void {
    let block = "NATS/1.0\r\n";
    for (const [name, value] of headers) block += `${name}: ${value}\r\n`;
    block += "\r\n";
    // The header block and the line are ASCII here (subjects and ids are
    // checked to be), so their lengths are their byte counts. The payload
    // is encoded in place after room for the longest line, which is then
    // written in front of it: one encoding call per message, no copy.
    const out = this.#out;
    const head = `HPUB ${subject} ${reply} ${block.length} `;
    const most = typeof payload === "string" ? payload.length * 3 : payload.length;
    const room = head.length + String(block.length + most).length + 2 + block.length;
    out.reserve(room + most + 2);
    const at = out.length;
    const start = at + room;
    const size = typeof payload === "string"
      ? encoder.encodeInto(payload, out.bytes.subarray(start)).written
      : (out.bytes.set(payload, start), payload.length);
    const line = `${head}${block.length + size}\r\n${block}`;
    if (line.length < room) out.bytes.copyWithin(at + line.length, start, start + size);
    out.ascii(line);
    out.length += size;
    out.ascii("\r\n");
  }

  /** The operations so far (a view, valid until the next append). */
  bytes(): Uint8Array {
    return this.#out.view();
  }

  /** Empties the batch, keeping its buffer. */
  clear(): void {
    this.#out.clear();
  }
}

/** Options for {@linkcode NatsParser}. */
export interface NatsParserOptions {
  /** Largest MSG or HMSG payload (headers included) held, in bytes.
   * @default {1048576} */
  maxPayloadBytes?: number;
}

/**
 * Operations from the bytes a connection reads, in order. `push` what was
 * read, then take operations with `next` until it returns undefined.
 *
 * @example
 * ```ts
 * import { NatsParser } from "./_nats_protocol.ts";
 * import assert from "node:assert/strict";
 *
 * const parser = new NatsParser();
 * parser.push(new TextEncoder().encode('PING\r\nMSG _INBOX.x.1 1 22\r\n{"stream":"L","seq":1}\r\n'));
 * assert.deepEqual(parser.next(), { op: "PING" });
 * const msg = parser.next();
 * assert.equal(msg?.op === "MSG" && new TextDecoder().decode(msg.payload), '{"stream":"L","seq":1}');
 * ```
 */
export class NatsParser {
  readonly #maxPayloadBytes: number;
  readonly #input = new ReadBuffer();

  constructor(options: NatsParserOptions = {}) {
    this.#maxPayloadBytes = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
  }

  /** Adds bytes read from the connection (copied). */
  push(bytes: Uint8Array): void {
    this.#input.push(bytes);
  }

  /** The next whole operation, or undefined until more bytes arrive.
   * Throws {@linkcode NatsProtocolError} for what is not the protocol. */
  next(): NatsOp | undefined {
    const lineEnd = this.#lineEnd();
    if (lineEnd === -1) return undefined;
    const input = this.#input;
    const line = decoder.decode(input.bytes.subarray(input.start, lineEnd));
    const after = lineEnd + 2;
    const space = line.indexOf(" ");
    const verb = (space === -1 ? line : line.slice(0, space)).toUpperCase();
    const rest = space === -1 ? "" : line.slice(space + 1).trim();
    switch (verb) {
      case "PING":
      case "PONG":
      case "+OK":
        input.consume(after);
        return { op: verb };
      case "-ERR":
        input.consume(after);
        return { op: "-ERR", message: rest.replace(/^'(.*)'$/, "$1") };
      case "INFO": {
        let info: unknown;
        try {
          info = JSON.parse(rest);
        } catch {
          throw new NatsProtocolError("INFO is not JSON");
        }
        if (typeof info !== "object" || info === null || Array.isArray(info)) {
          throw new NatsProtocolError("INFO is not a JSON object");
        }
        input.consume(after);
        return { op: "INFO", info: info as Record<string, unknown> };
      }
      case "MSG":
      case "HMSG":
        return this.#message(verb, rest, after);
      default:
        throw new NatsProtocolError(`Unknown operation "${verb.slice(0, 16)}"`);
    }
  }

  /** A MSG (`subject sid [reply] size`) or HMSG (`subject sid [reply]
   * header-size total-size`) whose line ends before `after`. */
  #message(verb: "MSG" | "HMSG", rest: string, after: number): NatsOp | undefined {
    const words = rest.split(/\s+/);
    const sizes = verb === "MSG" ? 1 : 2;
    if (words.length < 2 + sizes || words.length > 3 + sizes) {
      throw new NatsProtocolError(`Invalid ${verb} line "${rest.slice(0, 64)}"`);
    }
    const numbers = words.slice(-sizes).map((word) => /^\d{1,10}$/.test(word) ? Number(word) : -1);
    const total = numbers.at(-1) ?? -1;
    const headerSize = verb === "HMSG" ? numbers[0] ?? -1 : 0;
    if (total < 0 || headerSize < 0 || headerSize > total) {
      throw new NatsProtocolError(`Invalid ${verb} sizes in "${rest.slice(0, 64)}"`);
    }
    if (total > this.#maxPayloadBytes) {
      throw new NatsProtocolError(`${verb} of ${total} bytes, more than ${this.#maxPayloadBytes}`);
    }
    const input = this.#input;
    if (after + total + 2 > input.end) return undefined;
    const buffer = input.bytes;
    if (buffer[after + total] !== CR || buffer[after + total + 1] !== LF) {
      throw new NatsProtocolError(`${verb} payload not followed by CRLF`);
    }
    const body = buffer.slice(after, after + total);
    input.consume(after + total + 2);
    return {
      op: "MSG",
      subject: words[0] as string,
      sid: words[1] as string,
      headers: verb === "HMSG" ? body.subarray(0, headerSize) : null,
      payload: body.subarray(headerSize),
    };
  }

  /** The index of the CR of the CRLF that ends the line at the start, or
   * -1; a control line longer than the cap is a protocol error. */
  #lineEnd(): number {
    const { bytes: buffer, start, end } = this.#input;
    const last = Math.min(end - 1, start + MAX_CONTROL_LINE);
    for (let i = start; i < last; i++) {
      if (buffer[i] === CR && buffer[i + 1] === LF) return i;
    }
    if (end - start > MAX_CONTROL_LINE) {
      throw new NatsProtocolError(`Control line longer than ${MAX_CONTROL_LINE} bytes`);
    }
    return -1;
  }
}

/** The status code of a header block (`NATS/1.0 503` gives 503), or null. */
export function headerStatus(headers: Uint8Array | null): number | null {
  if (headers === null) return null;
  const first = decoder.decode(headers).split("\r\n", 1)[0] ?? "";
  const match = /^NATS\/1\.0 (\d{3})/.exec(first);
  return match === null ? null : Number(match[1]);
}
