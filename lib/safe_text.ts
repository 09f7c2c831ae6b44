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

/** Whether every byte is printable ASCII or tab, so the bytes can be shown
 * as they are. */
export function isPrintableAscii(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i] as number;
    if ((byte < SPACE && byte !== TAB) || byte >= DEL) return false;
  }
  return true;
}

const QUOTE = 34;
const BACKSLASH = 92;

/** Whether the bytes are printable ASCII (tab excluded) without `"` or `\\`,
 * so that `"` + bytes + `"` is already the JSON string for them. */
export function isPlainJsonAscii(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i] as number;
    if (byte < SPACE || byte >= DEL || byte === QUOTE || byte === BACKSLASH) return false;
  }
  return true;
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
