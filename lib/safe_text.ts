/**
 * Turns untrusted line bytes into text that is safe to show in a terminal.
 *
 * Invalid UTF-8 becomes U+FFFD. Every control character except tab (C0, DEL
 * and the C1 range U+0080..U+009F, which some terminals obey as escape
 * sequences) is replaced by a visible `\xHH` escape, so a client cannot move
 * the cursor, change colours, set the window title or ring the bell on the
 * operator's terminal. Lines of printable ASCII, the common case, skip the
 * decoder's slow path and the escaping pass.
 *
 * @module
 */

const decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

// Matches what must never reach a terminal raw: C0 but tab, DEL, C1.
// deno-lint-ignore no-control-regex
const UNSAFE = /[\x00-\x08\x0a-\x1f\x7f-\x9f]/g;

// Same set, for JSON: JSON.stringify already escapes C0, but not DEL or C1.
const UNSAFE_AFTER_JSON = /[\x7f-\x9f]/g;

const TAB = 9;
const SPACE = 32;
const DEL = 127;
const QUOTE = 34;
const BACKSLASH = 92;

/** For each ASCII byte, 1 where a line may hold it as it is. */
function asciiTable(allowed: (byte: number) => boolean): Uint8Array {
  return Uint8Array.from({ length: 128 }, (_, byte) => (allowed(byte) ? 1 : 0));
}

/** Printable ASCII and tab: shown as they are. */
const PRINTABLE = asciiTable((byte) => (byte >= SPACE && byte < DEL) || byte === TAB);
/** Printable ASCII but `"` and `\`: quoted as they are in JSON. */
const PLAIN_JSON = asciiTable((byte) =>
  byte >= SPACE && byte < DEL && byte !== QUOTE && byte !== BACKSLASH
);

/** Whether every byte is printable ASCII or tab, so the bytes can be shown
 * as they are. */
export function isPrintableAscii(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i] as number;
    if (byte >= 0x80 || PRINTABLE[byte] === 0) return false;
  }
  return true;
}

/**
 * Whether the bytes are well-formed UTF-8 holding no control character but
 * tab (no C0, DEL or C1), so that {@linkcode safeText} would give them back
 * unchanged and they can be shown as they are, with no decoding.
 *
 * @example
 * ```ts
 * import { isPrintableUtf8 } from "./safe_text.ts";
 * import assert from "node:assert/strict";
 *
 * const encode = (text: string) => new TextEncoder().encode(text);
 * assert.equal(isPrintableUtf8(encode("h\u00e9llo\tw\u00f6rld")), true);
 * assert.equal(isPrintableUtf8(encode("\u0085 is C1")), false);
 * assert.equal(isPrintableUtf8(new Uint8Array([0xc0, 0xaf])), false); // overlong "/"
 * ```
 */
export function isPrintableUtf8(bytes: Uint8Array): boolean {
  return isCleanUtf8(bytes, PRINTABLE);
}

/**
 * Whether the bytes are well-formed UTF-8 holding no control character (tab
 * included), `"` or `\`, so that `"` + bytes + `"` is already what
 * {@linkcode jsonText} makes of them.
 */
export function isPlainJsonUtf8(bytes: Uint8Array): boolean {
  return isCleanUtf8(bytes, PLAIN_JSON);
}

/** Whether the bytes are well-formed UTF-8 whose ASCII bytes `ascii` allows
 * and which holds no C1 control. */
function isCleanUtf8(bytes: Uint8Array, ascii: Uint8Array): boolean {
  const length = bytes.length;
  let i = 0;
  while (i < length) {
    const byte = bytes[i] as number;
    if (byte < 0x80) {
      if (ascii[byte] === 0) return false;
      i++;
    } else {
      const size = safeSequenceLength(bytes, i);
      if (size === 0) return false;
      i += size;
    }
  }
  return true;
}

/** The length of the multi-byte UTF-8 sequence at `i`, or 0 when the WHATWG
 * decoder would not read it as one character (not the shortest form, a
 * surrogate, above U+10FFFF, cut short) or when it is a C1 control
 * (U+0080..U+009F, encoded C2 80..C2 9F). */
function safeSequenceLength(bytes: Uint8Array, i: number): number {
  const byte = bytes[i] as number;
  // The allowed range of the second byte depends on the first.
  let need: number;
  let low = 0x80;
  let high = 0xbf;
  if (byte >= 0xc2 && byte <= 0xdf) {
    need = 1;
    if (byte === 0xc2) low = 0xa0; // C2 80..C2 9F are the C1 controls
  } else if (byte >= 0xe0 && byte <= 0xef) {
    need = 2;
    if (byte === 0xe0) low = 0xa0; // no overlong forms
    else if (byte === 0xed) high = 0x9f; // no surrogates
  } else if (byte >= 0xf0 && byte <= 0xf4) {
    need = 3;
    if (byte === 0xf0) low = 0x90; // no overlong forms
    else if (byte === 0xf4) high = 0x8f; // nothing above U+10FFFF
  } else {
    return 0; // a continuation byte, or C0, C1, F5..FF first
  }
  if (i + need >= bytes.length) return 0; // cut short by the end of the line
  const second = bytes[i + 1] as number;
  if (second < low || second > high) return 0;
  for (let k = 2; k <= need; k++) {
    const next = bytes[i + k] as number;
    if (next < 0x80 || next > 0xbf) return 0;
  }
  return need + 1;
}

function hexEscape(char: string): string {
  return "\\x" + char.charCodeAt(0).toString(16).padStart(2, "0");
}

function unicodeEscape(char: string): string {
  return "\\u" + char.charCodeAt(0).toString(16).padStart(4, "0");
}

/**
 * Decodes `bytes` as UTF-8 (invalid sequences become U+FFFD) and escapes
 * control characters other than tab as `\xHH`.
 *
 * @example
 * ```ts
 * import { safeText } from "./safe_text.ts";
 * import assert from "node:assert/strict";
 *
 * const bytes = new Uint8Array([0x1b, 0x5b, 0x32, 0x4a, 0x68, 0x69, 0xff]);
 * assert.deepEqual(safeText(bytes), "\\x1b[2Jhi\ufffd");
 * ```
 */
export function safeText(bytes: Uint8Array): string {
  const text = decoder.decode(bytes);
  return isPrintableAscii(bytes) ? text : text.replace(UNSAFE, hexEscape);
}

/**
 * Encodes line bytes as a JSON string literal that is safe in a terminal: the
 * text is decoded as {@linkcode safeText} does, but control characters are
 * kept as data and written as JSON escapes (`\u001b`, `\t`, `\u0085`), so
 * `JSON.parse` gives back exactly what the client sent, U+FFFD aside.
 *
 * @example
 * ```ts
 * import { jsonText } from "./safe_text.ts";
 * import assert from "node:assert/strict";
 *
 * const literal = jsonText(new TextEncoder().encode("a\x1b\x7fb"));
 * assert.deepEqual(literal, '"a\\u001b\\u007fb"');
 * assert.deepEqual(JSON.parse(literal), "a\x1b\x7fb");
 * ```
 */
export function jsonText(bytes: Uint8Array): string {
  const literal = JSON.stringify(decoder.decode(bytes));
  return isPrintableAscii(bytes) ? literal : literal.replace(UNSAFE_AFTER_JSON, unicodeEscape);
}
