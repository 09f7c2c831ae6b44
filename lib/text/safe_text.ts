/**
 * Turns untrusted text (line bytes, and strings a peer controls such as a
 * certificate name) into text that is safe to show in a terminal or a log
 * viewer, with one set of rules for every format.
 *
 * Invalid UTF-8 becomes U+FFFD. Two kinds of character are escaped:
 *
 * - every control character but tab: C0, DEL and the C1 range
 *   U+0080..U+009F, which some terminals obey as escape sequences, so a
 *   client cannot move the cursor, change colours, set the window title or
 *   ring the bell on the operator's terminal;
 * - the characters that draw nothing but change how the text around them
 *   reads (listed below): bidi controls, which can show a line or a label
 *   reversed and so forge what seems to be someone else's output,
 *   zero-width and invisible characters, which make two different names
 *   look alike, and the Unicode line and paragraph separators, at which
 *   some viewers break a line in two.
 *
 * Text output shows them as `\xHH` (controls) and `\u{HHHH}` (the rest);
 * JSON writes both as `\uHHHH`, so `JSON.parse` gives back the exact text.
 * Lines of printable ASCII, the common case, skip the decoder's slow path
 * and the escaping pass.
 *
 * @module
 */

const decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

/**
 * The code points past ASCII that every format escapes, as inclusive
 * ranges: the C1 controls, and the characters that are invisible or reorder
 * the text around them. The soft hyphen is among them: most terminals draw
 * it as `-`, but a browser or log viewer showing JSON output draws nothing,
 * so `ad\u00admin` would read as `admin` there. Variation selectors and tag
 * characters are not: emoji need them and they cannot reorder or split a
 * line. All are below U+10000, so only 2- and 3-byte UTF-8 sequences hold
 * them.
 */
const ESCAPED_RANGES: readonly (readonly [number, number])[] = [
  [0x0080, 0x009f], // C1 controls
  [0x00ad, 0x00ad], // soft hyphen
  [0x061c, 0x061c], // Arabic letter mark (bidi)
  [0x180e, 0x180e], // Mongolian vowel separator (zero width)
  [0x200b, 0x200f], // zero-width space, non-joiner and joiner; LRM, RLM (bidi)
  [0x2028, 0x202e], // line and paragraph separators; LRE, RLE, PDF, LRO, RLO (bidi)
  [0x2060, 0x206f], // word joiner, invisible operators, LRI..PDI (bidi), deprecated controls
  [0xfeff, 0xfeff], // zero-width no-break space, which is also the byte order mark
];

/** One bit per code point below U+10000, set for those in ESCAPED_RANGES:
 * the fast checks look a code point up in one step, whatever the script. */
const ESCAPED_BITS = new Uint8Array(0x10000 / 8);
/** 1 for each first byte of the UTF-8 of a code point in ESCAPED_RANGES
 * (C2, D8, E1, E2, EF): the fast checks decode only sequences starting so,
 * and skip the rest of the world's text (CJK starts E3..E9) at one compare. */
const ESCAPED_FIRST_BYTES = new Uint8Array(256);
{
  const encoder = new TextEncoder();
  for (const [first, last] of ESCAPED_RANGES) {
    for (let code = first; code <= last; code++) {
      ESCAPED_BITS[code >> 3] = (ESCAPED_BITS[code >> 3] as number) | (1 << (code & 7));
      ESCAPED_FIRST_BYTES[encoder.encode(String.fromCharCode(code))[0] as number] = 1;
    }
  }
}

/** Whether a code point below U+10000 is escaped. */
function isEscapedCodePoint(code: number): boolean {
  return (((ESCAPED_BITS[code >> 3] as number) >> (code & 7)) & 1) === 1;
}

function hex4(code: number): string {
  return code.toString(16).padStart(4, "0");
}

/** ESCAPED_RANGES as the inside of a regular expression's character class. */
const ESCAPED_CLASS = ESCAPED_RANGES.map(([first, last]) =>
  first === last ? `\\u${hex4(first)}` : `\\u${hex4(first)}-\\u${hex4(last)}`
).join("");

/** What text output escapes: C0 but tab, DEL, and ESCAPED_RANGES. */
const TEXT_ESCAPED = new RegExp(`[\\x00-\\x08\\x0a-\\x1f\\x7f${ESCAPED_CLASS}]`, "g");

/** The same set, for JSON: JSON.stringify already escapes C0, but nothing
 * else of it. */
const JSON_ESCAPED = new RegExp(`[\\x7f${ESCAPED_CLASS}]`, "g");

const TAB = 9;
const SPACE = 32;
const DEL = 127;
const QUOTE = 34;
const BACKSLASH = 92;
/** The last control character; past it, text output writes `\u{HHHH}`. */
const LAST_C1 = 0x9f;

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
 * Whether the bytes are well-formed UTF-8 holding no character that
 * {@linkcode safeText} escapes (no control character but tab, no bidi
 * control, no invisible character), so that it would give them back
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
 * assert.equal(isPrintableUtf8(encode("\u202e reverses")), false);
 * assert.equal(isPrintableUtf8(new Uint8Array([0xc0, 0xaf])), false); // overlong "/"
 * ```
 */
export function isPrintableUtf8(bytes: Uint8Array): boolean {
  return isCleanUtf8(bytes, PRINTABLE);
}

/**
 * Whether the bytes are well-formed UTF-8 holding no control character (tab
 * included), `"`, `\` or other character {@linkcode jsonText} escapes, so
 * that `"` + bytes + `"` is already what it makes of them.
 */
export function isPlainJsonUtf8(bytes: Uint8Array): boolean {
  return isCleanUtf8(bytes, PLAIN_JSON);
}

/**
 * For each first byte of a multi-byte UTF-8 sequence: its length (0 where no
 * sequence starts: continuation bytes, C0, C1, F5..FF) and the range its
 * second byte must be in, which excludes overlong forms, surrogates and
 * code points above U+10FFFF, as the WHATWG decoder does. Tables keep the
 * loop below free of branches on the first byte.
 */
const SEQUENCE_LENGTH = new Uint8Array(256);
const SECOND_LOW = new Uint8Array(256).fill(0x80);
const SECOND_HIGH = new Uint8Array(256).fill(0xbf);
SEQUENCE_LENGTH.fill(2, 0xc2, 0xe0).fill(3, 0xe0, 0xf0).fill(4, 0xf0, 0xf5);
SECOND_LOW[0xe0] = 0xa0; // no overlong forms
SECOND_HIGH[0xed] = 0x9f; // no surrogates
SECOND_LOW[0xf0] = 0x90; // no overlong forms
SECOND_HIGH[0xf4] = 0x8f; // nothing above U+10FFFF

/**
 * Whether the bytes are well-formed UTF-8, whatever characters they hold:
 * what the WHATWG decoder reads without a single U+FFFD. Where they are not,
 * {@linkcode safeText} and {@linkcode jsonText} show U+FFFD in place of the
 * bad bytes, and the JSON output says so and adds the bytes themselves.
 *
 * @example
 * ```ts
 * import { isWellFormedUtf8 } from "./safe_text.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(isWellFormedUtf8(new TextEncoder().encode("\x1b[2J caf\u00e9 \u{1f600}")), true);
 * assert.equal(isWellFormedUtf8(new Uint8Array([0x61, 0xff])), false);
 * assert.equal(isWellFormedUtf8(new Uint8Array([0xed, 0xa0, 0x80])), false); // a surrogate
 * ```
 */
export function isWellFormedUtf8(bytes: Uint8Array): boolean {
  const length = bytes.length;
  let i = 0;
  while (i < length) {
    const byte = bytes[i] as number;
    if (byte < 0x80) {
      i++;
      continue;
    }
    const size = SEQUENCE_LENGTH[byte] as number;
    if (size === 0 || i + size > length) return false;
    const second = bytes[i + 1] as number;
    if (second < (SECOND_LOW[byte] as number) || second > (SECOND_HIGH[byte] as number)) {
      return false;
    }
    if (size > 2 && ((bytes[i + 2] as number) & 0xc0) !== 0x80) return false;
    if (size > 3 && ((bytes[i + 3] as number) & 0xc0) !== 0x80) return false;
    i += size;
  }
  return true;
}

/** Whether the bytes are well-formed UTF-8 (what the WHATWG decoder reads
 * without a U+FFFD) whose ASCII bytes `ascii` allows and which holds no code
 * point of ESCAPED_RANGES. */
function isCleanUtf8(bytes: Uint8Array, ascii: Uint8Array): boolean {
  const length = bytes.length;
  let i = 0;
  while (i < length) {
    const byte = bytes[i] as number;
    if (byte < 0x80) {
      if (ascii[byte] === 0) return false;
      i++;
      continue;
    }
    const size = SEQUENCE_LENGTH[byte] as number;
    if (size === 0 || i + size > length) return false; // no sequence, or cut short
    const second = bytes[i + 1] as number;
    if (second < (SECOND_LOW[byte] as number) || second > (SECOND_HIGH[byte] as number)) {
      return false;
    }
    if (size > 2 && ((bytes[i + 2] as number) & 0xc0) !== 0x80) return false;
    if (size > 3 && ((bytes[i + 3] as number) & 0xc0) !== 0x80) return false;
    if (ESCAPED_FIRST_BYTES[byte] === 1) {
      const code = size === 2
        ? ((byte & 0x1f) << 6) | (second & 0x3f)
        : ((byte & 0x0f) << 12) | ((second & 0x3f) << 6) | ((bytes[i + 2] as number) & 0x3f);
      if (isEscapedCodePoint(code)) return false;
    }
    i += size;
  }
  return true;
}

/** `\xHH` for a control character, `\u{HHHH}` for the invisible ones. */
function textEscape(char: string): string {
  const code = char.charCodeAt(0);
  // Controls keep the short form people know from C and from earlier
  // versions of this output; the rest need four digits.
  return code <= LAST_C1 ? "\\x" + code.toString(16).padStart(2, "0") : `\\u{${hex4(code)}}`;
}

function unicodeEscape(char: string): string {
  return "\\u" + hex4(char.charCodeAt(0));
}

/**
 * Escapes, in a string a peer controls (a certificate name, an address, an
 * error detail), what {@linkcode safeText} escapes in line bytes: control
 * characters but tab as `\xHH`, bidi controls and invisible characters as
 * `\u{HHHH}`.
 *
 * @example
 * ```ts
 * import { safeString } from "./safe_text.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(safeString("eve\u202egnp.exe"), "eve\\u{202e}gnp.exe");
 * assert.equal(safeString("bell\x07"), "bell\\x07");
 * ```
 */
export function safeString(text: string): string {
  return text.replace(TEXT_ESCAPED, textEscape);
}

/**
 * Encodes a string a peer controls as a JSON string literal with the
 * escapes of {@linkcode jsonText}: `JSON.parse` gives back exactly `text`,
 * and no control, bidi or invisible character appears raw.
 *
 * @example
 * ```ts
 * import { jsonString } from "./safe_text.ts";
 * import assert from "node:assert/strict";
 *
 * const literal = jsonString("mallory\x7f\u009b\u202e");
 * assert.equal(literal, '"mallory\\u007f\\u009b\\u202e"');
 * assert.equal(JSON.parse(literal), "mallory\x7f\u009b\u202e");
 * ```
 */
export function jsonString(text: string): string {
  return JSON.stringify(text).replace(JSON_ESCAPED, unicodeEscape);
}

/**
 * Decodes `bytes` as UTF-8 (invalid sequences become U+FFFD) and escapes
 * control characters other than tab as `\xHH`, and bidi controls and
 * invisible characters as `\u{HHHH}`.
 *
 * @example
 * ```ts
 * import { safeText } from "./safe_text.ts";
 * import assert from "node:assert/strict";
 *
 * const bytes = new Uint8Array([0x1b, 0x5b, 0x32, 0x4a, 0x68, 0x69, 0xff]);
 * assert.deepEqual(safeText(bytes), "\\x1b[2Jhi\ufffd");
 * assert.deepEqual(safeText(new TextEncoder().encode("a\u200bb")), "a\\u{200b}b");
 * ```
 */
export function safeText(bytes: Uint8Array): string {
  const text = decoder.decode(bytes);
  return isPrintableAscii(bytes) ? text : safeString(text);
}

/**
 * Encodes line bytes as a JSON string literal that is safe in a terminal: the
 * text is decoded as {@linkcode safeText} does, but what it escapes is kept
 * as data and written as JSON escapes (`\u001b`, `\t`, `\u0085`, `\u202e`),
 * so `JSON.parse` gives back exactly what the client sent, U+FFFD aside.
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
  const text = decoder.decode(bytes);
  return isPrintableAscii(bytes) ? JSON.stringify(text) : jsonString(text);
}
