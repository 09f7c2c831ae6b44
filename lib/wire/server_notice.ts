/**
 * The one line the server says when it ends a connection of its own accord,
 * as pure functions over text and bytes. It is plain text that a person
 * reading with `nc` understands, in a shape `linehub-client` recognises:
 *
 * ```
 * linehub-server: refused (full): server full (100 clients); try again later
 * linehub-server: closing (idle-timeout): nothing received for 30 s (--idle-timeout)
 * ```
 *
 * `refused` is said to a peer the server will not serve (it reads nothing it
 * sends), `closing` to a client it cuts off. The word in parentheses is the
 * reason, for programs (the server's refusal and disconnect reasons, such as
 * `full`, `per-ip`, `denied`, `kicked`); the rest is for people. The server
 * closes the connection right after either line.
 *
 * In the modes that relay what clients send (echo, broker), any line a peer
 * sends reaches the others byte for byte, so a peer can send a line that looks
 * like a notice. {@linkcode NoticeReader} therefore takes a line as a notice
 * only when the server closes the connection right after it, and a refusal
 * only when it is also the first thing the server sent: a forged line is
 * data unless the connection ends at that very moment anyway.
 *
 * @module
 */

/** How every notice starts: the server's name, as in its other messages. */
export const NOTICE_PREFIX = "linehub-server: ";

/** Longest notice, newline included: a longer line is never one. */
export const MAX_NOTICE_BYTES = 512;

/** `refused`: the peer is not served; `closing`: a client is cut off. */
export type NoticeKind = "refused" | "closing";

/** A notice taken apart. */
export interface ServerNotice {
  readonly kind: NoticeKind;
  /** The reason as a word for programs: `full`, `kicked`, `idle-timeout`... */
  readonly reason: string;
  /** The rest of the line, for people. */
  readonly text: string;
}

const LF = 10;
const CR = 13;
const REASON = /^[a-z0-9][a-z0-9-]{0,39}$/;
const NOTICE = /^linehub-server: (refused|closing) \(([a-z0-9][a-z0-9-]{0,39})\): (.+)$/s;
const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** The two ways a notice line can start, as bytes. */
const HEADS = [
  encoder.encode(`${NOTICE_PREFIX}refused (`),
  encoder.encode(`${NOTICE_PREFIX}closing (`),
];

/**
 * The notice line, newline included.
 *
 * @throws {TypeError} when `reason` is not a lowercase word (letters, digits,
 * `-`) or `text` is empty or holds a line break
 *
 * @example
 * ```ts
 * import { formatNotice } from "./server_notice.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(
 *   formatNotice("closing", "kicked", "disconnected by the operator"),
 *   "linehub-server: closing (kicked): disconnected by the operator\n",
 * );
 * ```
 */
export function formatNotice(kind: NoticeKind, reason: string, text: string): string {
  if (!REASON.test(reason)) {
    throw new TypeError(
      `Invalid notice reason ${JSON.stringify(reason)}: must be a word in a-z, 0-9, -`,
    );
  }
  if (text === "" || /[\r\n]/.test(text)) {
    throw new TypeError(
      `Invalid notice text ${JSON.stringify(text.slice(0, 40))}: must be one non-empty line`,
    );
  }
  const line = `${NOTICE_PREFIX}${kind} (${reason}): ${text}\n`;
  if (encoder.encode(line).length > MAX_NOTICE_BYTES) {
    throw new TypeError(`Invalid notice text: longer than ${MAX_NOTICE_BYTES} bytes in all`);
  }
  return line;
}

/**
 * Reads one line (with or without its `\n` or `\r\n`) as a notice; null when
 * it is not one.
 *
 * @example
 * ```ts
 * import { parseNotice } from "./server_notice.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(
 *   parseNotice("linehub-server: refused (full): server full (1 client); try again later\n"),
 *   { kind: "refused", reason: "full", text: "server full (1 client); try again later" },
 * );
 * assert.equal(parseNotice("linehub-server: listening on 0.0.0.0:8888"), null);
 * ```
 */
export function parseNotice(line: string | Uint8Array): ServerNotice | null {
  let bytes = typeof line === "string" ? encoder.encode(line) : line;
  if (bytes.length > MAX_NOTICE_BYTES) return null;
  if (bytes.at(-1) === LF) bytes = bytes.subarray(0, -1);
  if (bytes.at(-1) === CR) bytes = bytes.subarray(0, -1);
  const match = NOTICE.exec(decoder.decode(bytes));
  if (match === null || /[\r\n]/.test(match[3] as string)) return null;
  return {
    kind: match[1] as NoticeKind,
    reason: match[2] as string,
    text: match[3] as string,
  };
}

/** A notice {@linkcode NoticeReader} found, and its line as it came, for a
 * caller that decides to treat it as data after all. */
export interface HeldNotice {
  readonly notice: ServerNotice;
  readonly line: Uint8Array;
}

/**
 * Picks the server's notice out of what it sends on one connection, whatever
 * the chunk boundaries: every byte is passed on at once, except a line that
 * may be a notice, which is held until the next byte shows it was data, or
 * the end of the connection shows it was the notice. Only lines that start
 * like a notice (`linehub-server: refused (` or `... closing (`) are held,
 * and at most {@linkcode MAX_NOTICE_BYTES} of them.
 *
 * With `--ack`, feed it what {@linkcode AckParser} passes on: acknowledgments
 * may follow a notice without making it data.
 *
 * @example
 * ```ts
 * import { NoticeReader } from "./server_notice.ts";
 * import assert from "node:assert/strict";
 *
 * const reader = new NoticeReader();
 * let data = "";
 * const onData = (bytes: Uint8Array) => data += new TextDecoder().decode(bytes);
 * reader.push(new TextEncoder().encode("hi\nlinehub-server: closing (kicked): bye\n"), onData);
 * assert.equal(data, "hi\n");
 * assert.equal(reader.end(onData)?.notice.reason, "kicked");
 * ```
 */
export class NoticeReader {
  /** The held start of a line, or null when nothing is held. */
  #held: Uint8Array | null = null;
  #heldLength = 0;
  /** The held line once it is whole and a notice, waiting for the close. */
  #notice: ServerNotice | null = null;
  #atLineStart = true;
  /** Whether any byte was passed on: a refusal must come before all. */
  #passedData = false;

  /**
   * Feeds one chunk; `onData` gets the bytes to pass on now, as views valid
   * only during the call.
   */
  push(chunk: Uint8Array, onData: (bytes: Uint8Array) => void): void {
    let from = 0;
    let i = 0;
    const pass = (end: number): void => {
      if (end <= from) return;
      this.#passedData = true;
      onData(chunk.subarray(from, end));
    };
    while (i < chunk.length) {
      if (this.#held !== null) {
        if (this.#notice !== null) {
          // More came after a whole notice: it was a line like any other.
          this.#release(onData);
          continue;
        }
        const newline = chunk.indexOf(LF, i);
        const end = newline === -1 ? chunk.length : newline + 1;
        if (!this.#hold(chunk.subarray(i, end))) {
          // Not a notice after all: what was held is data, and this part
          // is passed on with what follows it.
          this.#release(onData);
          from = i;
          i = end;
          this.#atLineStart = newline !== -1;
          continue;
        }
        i = end;
        from = i;
        if (newline !== -1) this.#lineComplete(onData);
        continue;
      }
      if (this.#atLineStart && couldStartNotice(chunk, i)) {
        pass(i);
        from = i;
        this.#held = new Uint8Array(MAX_NOTICE_BYTES);
        this.#heldLength = 0;
        continue;
      }
      const newline = chunk.indexOf(LF, i);
      if (newline === -1) {
        this.#atLineStart = false;
        i = chunk.length;
      } else {
        this.#atLineStart = true;
        i = newline + 1;
      }
    }
    if (this.#held === null) pass(i);
  }

  /**
   * The connection ended: returns the notice if the last line was one, else
   * passes what was held (a partial line) to `onData` and returns null.
   */
  end(onData: (bytes: Uint8Array) => void): HeldNotice | null {
    const held = this.#held;
    if (held === null) return null;
    const notice = this.#notice;
    if (notice === null) {
      this.#release(onData);
      return null;
    }
    const line = held.slice(0, this.#heldLength);
    this.#held = null;
    this.#notice = null;
    return { notice, line };
  }

  /** Appends `part` to the held line; false, appending nothing, when the
   * line can no longer be a notice (past the cap, or unlike one). */
  #hold(part: Uint8Array): boolean {
    const held = this.#held as Uint8Array;
    const before = this.#heldLength;
    if (before + part.length > MAX_NOTICE_BYTES) return false;
    held.set(part, before);
    this.#heldLength += part.length;
    if (couldStartNotice(held.subarray(0, this.#heldLength), 0)) return true;
    this.#heldLength = before; // `part` is the caller's to pass on
    return false;
  }

  /** The held line is whole: kept if it is a notice that may stand here,
   * passed on otherwise. */
  #lineComplete(onData: (bytes: Uint8Array) => void): void {
    const notice = parseNotice((this.#held as Uint8Array).subarray(0, this.#heldLength));
    if (notice === null || (notice.kind === "refused" && this.#passedData)) {
      this.#release(onData);
      this.#atLineStart = true;
      return;
    }
    this.#notice = notice;
  }

  /** Passes the held bytes on as data and holds nothing. */
  #release(onData: (bytes: Uint8Array) => void): void {
    const held = this.#held as Uint8Array;
    const length = this.#heldLength;
    const whole = this.#notice !== null;
    this.#held = null;
    this.#heldLength = 0;
    this.#notice = null;
    if (whole) this.#atLineStart = true;
    if (length === 0) return;
    this.#passedData = true;
    onData(held.subarray(0, length));
  }
}

/** Whether the bytes from `at` on agree with the start of a notice as far
 * as they go (or begin with all of it). */
function couldStartNotice(bytes: Uint8Array, at: number): boolean {
  const available = bytes.length - at;
  return HEADS.some((head) => {
    const n = Math.min(available, head.length);
    for (let k = 0; k < n; k++) {
      if (bytes[at + k] !== head[k]) return false;
    }
    return true;
  });
}
