/**
 * Splits an octet-counted byte stream into messages, whatever the chunk
 * boundaries: the framing of RFC 6587 section 3.4.1, which rsyslog's
 * `omfwd` sends with `TCP_Framing="octet-counted"` and syslog-ng's
 * `syslog()` destination by default. Each frame is `MSG-LEN SP SYSLOG-MSG`:
 * the message's length in octets, in decimal without leading zeros
 * (`NONZERO-DIGIT *DIGIT`), one space, then exactly that many octets, with
 * no trailer. A message may hold any byte, `\n` and `\r` included; it is
 * delivered as it came, and the output formats escape what needs it, as for
 * any line.
 *
 * It hands messages to the same {@linkcode LineSink} as
 * {@linkcode LineFramer}, with the same flags, counters and cut, so a
 * server can hold either as a {@linkcode Framer}. The rules where the RFC
 * leaves a receiver to choose:
 *
 * - A frame longer than `maxLine` keeps its first `maxLine` bytes, or up to
 *   three fewer so as not to split a UTF-8 character (the rule LineFramer
 *   shares, lib/wire/_line_split.ts), and is delivered flagged
 *   {@linkcode TRUNCATED} when it ends, with the length it had. The rest of
 *   it is skipped by count, so the next frame is read where it starts, and
 *   counted in {@linkcode OctetFramer.droppedBytes} as it arrives. At most
 *   `maxLine` bytes of a frame are ever held.
 * - A length has at most {@linkcode MAX_LENGTH_DIGITS} digits (frames of
 *   up to 999,999,999 bytes; rsyslog's `maxFrameSize` goes no higher than
 *   200,000,000), so a peer cannot keep the framer reading digits for ever.
 * - A `\n` where a frame would start is skipped: the RFC has no trailer,
 *   but some senders put a `\n` after each frame, and rsyslog reads it as an
 *   empty message, which it discards. Only a `\n`: a `\r\n` is a framing
 *   error, as for rsyslog it is a message of one `\r`.
 * - Anything else that cannot be a frame header (a first byte that is not
 *   a digit from 1 to 9, so also a length of 0 or with a leading zero; a
 *   byte other than a digit or a space after the length; a digit past the
 *   most) is a framing error. The framer then reads the rest of the
 *   connection as lines framed by LF, with the bytes of the bad header as
 *   the start of the first line, and says why in
 *   {@linkcode OctetFramer.framingError} (and to `onFramingError`, at once,
 *   so a server can report it before those lines). Nothing the peer sent is lost, and
 *   `--framing auto` survives a client framing by LF whose first line
 *   starts with a digit (`2024-05-01 boot`). rsyslog falls back to LF
 *   framing too on a length of 0, and OpenBSD's syslogd on any bad length;
 *   closing the connection instead would drop what such a client sends.
 *   There is no going back to octet counting: were each frame judged
 *   afresh, as rsyslog does, a line that starts with digits and a space
 *   would swallow the lines after it.
 * - When the stream ends inside a frame, what came of it is delivered
 *   flagged {@linkcode PARTIAL} (cut as above if it is over `maxLine`), its
 *   length the bytes that came; an empty one if only the header came. When
 *   it ends inside a length, its digits are delivered as a partial line, as
 *   LF framing would have them.
 *
 * Messages are handed on as views, as by LineFramer: a frame that came
 * whole inside one chunk is a `subarray` of it, one assembled from several
 * chunks a view of the framer's own buffer, either valid only during the
 * call.
 *
 * @module
 */

import type { Framer } from "./framer.ts";
import { type LineFlags, PARTIAL, TRUNCATED } from "./line_flags.ts";
import { DEFAULT_MAX_LINE, LineFramer, type LineRun, type LineSink } from "./line_framer.ts";
import { HeldBytes } from "./_held_bytes.ts";
import { LF } from "./_line_split.ts";
import { utf8CutPoint } from "./_utf8_cut.ts";

/** Most digits in a frame's length: frames of up to 999,999,999 bytes. A
 * longer length is a framing error. */
export const MAX_LENGTH_DIGITS = 9;

const SPACE = 0x20;
const ZERO = 0x30;
const ONE = 0x31;
const NINE = 0x39;

/** Where in the stream the framer is: before a frame (its length, or a
 * `\n` to skip, comes next), inside a frame's length, inside its message. */
type Place = typeof START | typeof LENGTH | typeof MESSAGE;
const START = 0;
const LENGTH = 1;
const MESSAGE = 2;

/** Options for {@linkcode OctetFramer}. */
export interface OctetFramerOptions {
  /** Longest message, in bytes, delivered whole; longer ones are cut at
   * this length.
   * @default {65536} */
  maxLine?: number;
  /** After a framing error, when the rest of the stream is read as lines
   * framed by LF: keep the `\r` of each `\r\n`, as LineFramer's `keepCr`
   * does. A frame's message is always delivered as it came.
   * @default {false} */
  keepCr?: boolean;
  /** Told once, with {@linkcode OctetFramer.framingError}'s text, when the
   * stream stops being read as octet-counted: before any line read by LF is
   * delivered, so that a server can report it ahead of those lines.
   * @default {none} */
  onFramingError?: (error: string) => void;
}

/**
 * Incremental, bounded splitter of an octet-counted stream (RFC 6587).
 *
 * @example
 * ```ts
 * import { OctetFramer } from "./octet_framer.ts";
 * import assert from "node:assert/strict";
 *
 * const framer = new OctetFramer();
 * const messages: string[] = [];
 * const sink = (message: Uint8Array) => messages.push(new TextDecoder().decode(message));
 * framer.push(new TextEncoder().encode("10 first\nline"), sink);
 * framer.push(new TextEncoder().encode("5 hello"), sink);
 * assert.deepEqual(messages, ["first\nline", "hello"]);
 *
 * // Not a length: read as lines framed by LF from here on.
 * framer.push(new TextEncoder().encode("<13>plain\n"), sink);
 * assert.equal(messages[2], "<13>plain");
 * assert.match(framer.framingError ?? "", /^Invalid octet-counting header "<"/);
 * ```
 */
export class OctetFramer implements Framer {
  /** The configured cap, in bytes. */
  readonly maxLine: number;
  readonly #keepCr: boolean;
  readonly #onFramingError: ((error: string) => void) | undefined;
  #place: Place = START;
  /** In a length: its value and digits so far. In a message: its length. */
  #length = 0;
  #digits = 0;
  /** In a message: the bytes of it that came so far. */
  #seen = 0;
  /** The message so far, until its cut: at most maxLine bytes. */
  readonly #pending: HeldBytes;
  /** Set once a message over maxLine has been cut: the rest is dropped. */
  #cut = false;
  #truncatedLines = 0;
  #droppedBytes = 0;
  /** After a framing error, the framer of the rest of the stream. */
  #lines: LineFramer | null = null;
  #framingError: string | null = null;

  constructor(options: OctetFramerOptions = {}) {
    const maxLine = options.maxLine ?? DEFAULT_MAX_LINE;
    if (!Number.isSafeInteger(maxLine) || maxLine < 1) {
      throw new RangeError(`Invalid maxLine "${maxLine}": must be a positive integer`);
    }
    this.maxLine = maxLine;
    this.#keepCr = options.keepCr ?? false;
    this.#onFramingError = options.onFramingError;
    this.#pending = new HeldBytes(maxLine);
  }

  /** Bytes of an unfinished message held: at most `maxLine` (`maxLine + 1`
   * after a framing error, as in LineFramer). A length being read is held
   * as a number. */
  get bufferedBytes(): number {
    return this.#lines?.bufferedBytes ?? this.#pending.length;
  }

  /** True while a frame has begun and not yet ended, from the first digit
   * of its length to the last byte of its message (after a framing error,
   * as for LineFramer). */
  get midLine(): boolean {
    return this.#lines?.midLine ?? this.#place !== START;
  }

  /** Messages cut at `maxLine` and delivered so far. */
  get truncatedLines(): number {
    return this.#truncatedLines + (this.#lines?.truncatedLines ?? 0);
  }

  /** Bytes skipped so far from the messages that were cut, counted as they
   * arrive. The headers are framing, not dropped bytes, as a `\n` is. */
  get droppedBytes(): number {
    return this.#droppedBytes + (this.#lines?.droppedBytes ?? 0);
  }

  /** Why the stream stopped being read as octet-counted, quoting the bad
   * header (escaped, at most {@linkcode MAX_LENGTH_DIGITS} + 1 bytes);
   * `null` while it is. A server reports it once, as the peer breaking the
   * protocol, not as an I/O error. */
  get framingError(): string | null {
    return this.#framingError;
  }

  /** Feeds one chunk; calls `sink` for every message it completes. `run`
   * is used only after a framing error, once the stream is framed by LF. */
  push(chunk: Uint8Array, sink: LineSink, run?: LineRun): void {
    let pos = 0;
    while (pos < chunk.length) {
      if (this.#lines !== null) {
        this.#lines.push(pos === 0 ? chunk : chunk.subarray(pos), sink, run);
        return;
      }
      if (this.#place === MESSAGE) {
        pos = this.#takeMessage(chunk, pos, sink);
        continue;
      }
      const byte = chunk[pos] as number;
      const problem = this.#takeHeaderByte(byte);
      if (problem === null) {
        pos++;
        continue;
      }
      this.#fallBack(problem, byte, sink);
    }
  }

  /** Ends the stream: delivers an unfinished last frame flagged
   * {@linkcode PARTIAL} (and {@linkcode TRUNCATED} if it was cut), or the
   * digits of an unfinished length as a partial line. */
  end(sink: LineSink): void {
    if (this.#lines !== null) {
      this.#lines.end(sink);
    } else if (this.#place === LENGTH) {
      // Not yet a header: the digits are what LF framing would make of them.
      const lines = this.#lineFramer();
      lines.push(this.#digitBytes(), sink);
      lines.end(sink);
      this.#truncatedLines += lines.truncatedLines;
      this.#droppedBytes += lines.droppedBytes;
      this.#place = START;
    } else if (this.#place === MESSAGE) {
      this.#deliver(PARTIAL, sink);
    }
  }

  /** Reads one byte where a frame header is expected; returns what is wrong
   * with it, or null if it was taken. */
  #takeHeaderByte(byte: number): string | null {
    if (this.#place === START) {
      if (byte === LF) return null;
      if (byte === ZERO) return "a length is never 0 and has no leading zero";
      if (byte < ONE || byte > NINE) {
        return "a frame must start with its length, a digit from 1 to 9";
      }
      this.#place = LENGTH;
      this.#length = byte - ZERO;
      this.#digits = 1;
      return null;
    }
    if (byte === SPACE) {
      this.#place = MESSAGE;
      this.#seen = 0;
      this.#cut = false;
      return null;
    }
    if (byte < ZERO || byte > NINE) return "a length must be followed by a space";
    if (this.#digits === MAX_LENGTH_DIGITS) {
      return `a length has at most ${MAX_LENGTH_DIGITS} digits`;
    }
    this.#length = this.#length * 10 + byte - ZERO;
    this.#digits++;
    return null;
  }

  /** Takes what `chunk` holds of the current message from `pos` on, and
   * delivers the message if it ends there; returns where it stopped. */
  #takeMessage(chunk: Uint8Array, pos: number, sink: LineSink): number {
    const take = Math.min(chunk.length - pos, this.#length - this.#seen);
    if (this.#seen === 0 && take === this.#length) {
      // Fast path: the whole message lies inside this chunk.
      const message = chunk.subarray(pos, pos + take);
      this.#place = START;
      if (take > this.maxLine) {
        const kept = utf8CutPoint(message, this.maxLine);
        this.#truncatedLines++;
        this.#droppedBytes += take - kept;
        sink(message.subarray(0, kept), TRUNCATED, take);
      } else {
        sink(message, 0, take);
      }
      return pos + take;
    }
    let kept = 0;
    if (!this.#cut) {
      // Until the cut, all that came of the message is held: at most maxLine.
      kept = Math.min(take, this.maxLine - this.#pending.length);
      this.#pending.append(chunk.subarray(pos, pos + kept));
      // A byte past maxLine settles the cut, as in LineFramer: a message of
      // maxLine bytes that the stream ends after is whole, if partial.
      if (take > kept) this.#beginCut();
    }
    this.#droppedBytes += take - kept;
    this.#seen += take;
    if (this.#seen === this.#length) this.#deliver(0, sink);
    return pos + take;
  }

  /** Keeps what the cut leaves of the maxLine bytes held; the rest of the
   * message is dropped as it comes. */
  #beginCut(): void {
    const kept = utf8CutPoint(this.#pending.view(), this.maxLine);
    this.#droppedBytes += this.maxLine - kept;
    this.#pending.truncate(kept);
    this.#cut = true;
  }

  /** Delivers the held message, at its end or (`ending` {@linkcode PARTIAL})
   * at the end of the stream, with the length it had: the bytes that came. */
  #deliver(ending: LineFlags, sink: LineSink): void {
    this.#place = START;
    const message = this.#pending.take();
    if (this.#cut) {
      this.#truncatedLines++;
      sink(message, TRUNCATED | ending, this.#seen);
    } else {
      sink(message, ending, this.#seen);
    }
  }

  /** `byte` cannot be part of a header: from here on the stream is read as
   * lines framed by LF, starting with the digits of the length so far. The
   * caller then pushes the rest of the chunk, from `byte` on, to them. */
  #fallBack(problem: string, byte: number, sink: LineSink): void {
    const error = `Invalid octet-counting header "${this.#shownHeader(byte)}": ${problem}`;
    this.#framingError = error;
    this.#onFramingError?.(error);
    const lines = this.#lineFramer();
    if (this.#place === LENGTH) lines.push(this.#digitBytes(), sink);
    this.#place = START;
    this.#lines = lines;
  }

  #lineFramer(): LineFramer {
    return new LineFramer({ maxLine: this.maxLine, keepCr: this.#keepCr });
  }

  /** The digits of the length being read, as the bytes they came as. */
  #digitBytes(): Uint8Array {
    const digits = String(this.#length);
    return Uint8Array.from(digits, (char) => char.charCodeAt(0));
  }

  /** The header so far and the byte that broke it, with that byte escaped
   * unless it is printable ASCII. */
  #shownHeader(byte: number): string {
    const digits = this.#place === LENGTH ? String(this.#length) : "";
    if (byte === 0x22 || byte === 0x5c) return `${digits}\\${String.fromCharCode(byte)}`;
    if (byte >= SPACE && byte < 0x7f) return digits + String.fromCharCode(byte);
    return `${digits}\\x${byte.toString(16).padStart(2, "0")}`;
  }
}
