/**
 * Unit tests for the terminal-safe decoding of untrusted line bytes: nothing a
 * client sends may reach the operator's terminal as a control character, and
 * ordinary text must come out exactly as sent.
 */

import assert from "node:assert/strict";
import {
  isPlainJsonUtf8,
  isPrintableAscii,
  isPrintableUtf8,
  isWellFormedUtf8,
  jsonString,
  jsonText,
  safeString,
  safeText,
} from "../../lib/text/safe_text.ts";
import { seededRandom } from "../_helpers/mod.ts";

const encoder = new TextEncoder();

function bytes(text: string): Uint8Array {
  return encoder.encode(text);
}

function hex2(code: number): string {
  return code.toString(16).padStart(2, "0");
}

/** Characters that draw nothing but reorder, hide or split the text around
 * them: bidi controls, zero-width and invisible characters, the soft hyphen,
 * and the Unicode line and paragraph separators. Written out here, apart
 * from the list in lib/text/safe_text.ts, so that a change there shows up. */
const HIDDEN = [
  0x00ad,
  0x061c,
  0x180e,
  0x200b,
  0x200c,
  0x200d,
  0x200e,
  0x200f,
  0x2028,
  0x2029,
  0x202a,
  0x202b,
  0x202c,
  0x202d,
  0x202e,
  ...Array.from({ length: 16 }, (_, i) => 0x2060 + i),
  0xfeff,
];

/** Every code point a terminal may obey (C0 except tab, DEL, C1), and every
 * hidden one. */
function isUnsafe(code: number): boolean {
  return (code < 0x20 && code !== 0x09) || (code >= 0x7f && code <= 0x9f) ||
    HIDDEN.includes(code);
}

function unsafeCodes(text: string): number[] {
  return [...text].map((char) => char.codePointAt(0) as number).filter(isUnsafe);
}

/** Random byte strings biased towards control bytes, C1, UTF-8 fragments
 * and the UTF-8 of hidden characters, whole or cut. */
function randomInputs(count: number): Uint8Array[] {
  const random = seededRandom(7);
  const interesting = [0x00, 0x07, 0x09, 0x0a, 0x0d, 0x1b, 0x7f, 0xc2, 0x80, 0x9b, 0x9f, 0xff];
  const hidden = HIDDEN.map((code) => [...bytes(String.fromCharCode(code))]);
  return Array.from({ length: count }, () => {
    const input: number[] = [];
    const length = Math.floor(random() * 24);
    while (input.length < length) {
      const pick = random();
      if (pick < 0.2) {
        const sequence = hidden[Math.floor(random() * hidden.length)] as number[];
        // Sometimes cut short, as at a --max-line cut.
        input.push(...(random() < 0.8 ? sequence : sequence.slice(0, -1)));
      } else if (pick < 0.6) {
        input.push(interesting[Math.floor(random() * interesting.length)] as number);
      } else {
        input.push(Math.floor(random() * 256));
      }
    }
    return Uint8Array.from(input);
  });
}

/** Undoes the escapes of safeText: `\xHH` and `\u{HHHH}`. */
function unescapeText(text: string): string {
  return text.replace(
    /\\x([0-9a-f]{2})|\\u\{([0-9a-f]{4})\}/g,
    (_, hex?: string, code?: string) => String.fromCharCode(parseInt(hex ?? code ?? "", 16)),
  );
}

const UNCHANGED_TEXTS = [
  "hello, world",
  "h\u00e9llo",
  "na\u00efve caf\u00e9 \u00a0non-breaking \u00a1",
  "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8",
  "emoji \u{1f389}\u{1f600}\u2764\ufe0f \u{1f3f4}\u{e0067}\u{e0062}\u{e0065}\u{e006e}\u{e0067}\u{e007f}",
  "Arabic \u0627\u0644\u0639\u0631\u0628\u064a\u0629, Hebrew \u05e2\u05d1\u05e8\u05d9\u05ea",
  "\u03a9\u2248\u00e7\u221a \u20ac100",
  "replacement char \ufffd kept",
  "",
];

Deno.test("safeText leaves printable ASCII unchanged", () => {
  let printable = "";
  for (let code = 0x20; code < 0x7f; code++) printable += String.fromCharCode(code);
  assert.equal(safeText(bytes(printable)), printable);
  assert.equal(safeText(bytes('say "hi" \\ [1;2] ~')), 'say "hi" \\ [1;2] ~');
});

Deno.test("safeText leaves valid non-ASCII text unchanged", () => {
  for (const text of UNCHANGED_TEXTS) assert.equal(safeText(bytes(text)), text);
});

Deno.test("safeText keeps tabs", () => {
  assert.equal(safeText(bytes("a\tb\t")), "a\tb\t");
  assert.equal(safeText(bytes("\t\u00e9\t")), "\t\u00e9\t");
});

Deno.test("safeText escapes every C0 control character except tab as \\xHH", () => {
  for (let code = 0; code < 0x20; code++) {
    if (code === 0x09) continue;
    const expected = `a\\x${hex2(code)}b`;
    assert.equal(safeText(new Uint8Array([0x61, code, 0x62])), expected, `byte ${code}`);
    // Also next to non-ASCII, where the fast path does not apply.
    assert.equal(
      safeText(new Uint8Array([0xc3, 0xa9, code])),
      `\u00e9\\x${hex2(code)}`,
      `byte ${code} after \u00e9`,
    );
  }
});

Deno.test("safeText escapes DEL as \\x7f", () => {
  assert.equal(safeText(new Uint8Array([0x61, 0x7f, 0x62])), "a\\x7fb");
});

Deno.test("safeText escapes every C1 control character as \\xHH", () => {
  for (let code = 0x80; code <= 0x9f; code++) {
    // U+0080..U+009F are encoded C2 80..C2 9F.
    const input = new Uint8Array([0x78, 0xc2, code, 0x79]);
    assert.equal(safeText(input), `x\\x${hex2(code)}y`, `U+00${hex2(code)}`);
  }
});

Deno.test("safeText does not escape U+00A0, the first character after C1", () => {
  assert.equal(safeText(new Uint8Array([0xc2, 0xa0])), "\u00a0");
});

Deno.test("safeText escapes line breaks so one line stays one line", () => {
  assert.equal(safeText(bytes("a\rb\nc")), "a\\x0db\\x0ac");
});

Deno.test("safeText neutralises terminal escape sequences", () => {
  assert.equal(safeText(bytes("\x1b]0;title\x07")), "\\x1b]0;title\\x07");
  assert.equal(safeText(bytes("\x1b[2J\x1b[H")), "\\x1b[2J\\x1b[H");
  assert.equal(safeText(bytes("\x1b[31mred\x1b[0m")), "\\x1b[31mred\\x1b[0m");
  // The same sequences introduced by C1 CSI (U+009B) and OSC (U+009D).
  assert.equal(safeText(bytes("\u009b2J")), "\\x9b2J");
  assert.equal(safeText(bytes("\u009d0;title\u009c")), "\\x9d0;title\\x9c");
});

Deno.test("safeText replaces invalid UTF-8 with U+FFFD", () => {
  assert.equal(safeText(new Uint8Array([0x61, 0xff, 0x62])), "a\ufffdb");
  // A lone continuation byte, even one in the C1 range, is not C1: it is invalid.
  assert.equal(safeText(new Uint8Array([0x9b, 0x32, 0x4a])), "\ufffd2J");
  // A character cut short, as at a --max-line cut.
  assert.equal(safeText(new Uint8Array([0x61, 0xe2, 0x82])), "a\ufffd");
  // An overlong encoding of "/" and an encoded surrogate.
  assert.equal(safeText(new Uint8Array([0xc0, 0xaf])), "\ufffd\ufffd");
  assert.equal(safeText(new Uint8Array([0xed, 0xa0, 0x80])), "\ufffd\ufffd\ufffd");
});

Deno.test("safeText shows a leading byte order mark, an invisible character, as \\u{feff}", () => {
  assert.equal(safeText(new Uint8Array([0xef, 0xbb, 0xbf, 0x61])), "\\u{feff}a");
});

Deno.test("safeText shows bidi controls as \\u{HHHH}, so a line cannot be shown reversed", () => {
  // RLO makes "[client 3] " + this read as "exe.txt" in a terminal that does bidi.
  assert.equal(safeText(bytes("\u202etxt.exe")), "\\u{202e}txt.exe");
  const bidi = [0x061c, 0x200e, 0x200f, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e];
  for (const code of [...bidi, 0x2066, 0x2067, 0x2068, 0x2069]) {
    const hex = code.toString(16).padStart(4, "0");
    assert.equal(safeText(bytes(`a${String.fromCharCode(code)}b`)), `a\\u{${hex}}b`, hex);
  }
});

Deno.test("safeText shows zero-width and invisible characters as \\u{HHHH}, so look-alike names differ", () => {
  assert.equal(safeText(bytes("ad\u200bmin")), "ad\\u{200b}min");
  assert.equal(safeText(bytes("ad\u00admin")), "ad\\u{00ad}min");
  for (const code of [0x180e, 0x200b, 0x200c, 0x200d, 0x2060, 0x2061, 0x2062, 0x2063, 0x2064]) {
    const hex = code.toString(16).padStart(4, "0");
    assert.equal(safeText(bytes(`${String.fromCharCode(code)}x`)), `\\u{${hex}}x`, hex);
  }
});

Deno.test("safeText shows the Unicode line and paragraph separators, so one line stays one line", () => {
  assert.equal(safeText(bytes("a\u2028b\u2029c")), "a\\u{2028}b\\u{2029}c");
});

Deno.test("safeText escapes the zero-width joiner inside an emoji sequence too; the emoji stay", () => {
  // The price of showing every hidden joiner: a family emoji shows its parts.
  assert.equal(
    safeText(bytes("\u{1f468}\u200d\u{1f469}")),
    "\u{1f468}\\u{200d}\u{1f469}",
  );
});

Deno.test("safeText never lets a control character through, whatever the bytes", () => {
  const decoder = new TextDecoder("utf-8", { ignoreBOM: true }); // as safeText decodes
  for (const input of randomInputs(2000)) {
    const shown = safeText(input);
    assert.deepEqual(unsafeCodes(shown), [], `input [${input.join(",")}]`);
    // Unescaping gives back the decoded text: nothing else was altered.
    const decoded = decoder.decode(input);
    if (!decoded.includes("\\")) {
      assert.equal(unescapeText(shown), decoded, `input [${input.join(",")}]`);
    }
  }
});

Deno.test("isPrintableAscii accepts only printable ASCII and tab", () => {
  assert.equal(isPrintableAscii(new Uint8Array(0)), true);
  assert.equal(isPrintableAscii(bytes(" ~hello\tworld")), true);
  for (const byte of [0x00, 0x0a, 0x0d, 0x1b, 0x1f, 0x7f, 0x80, 0xc3, 0xff]) {
    assert.equal(isPrintableAscii(new Uint8Array([0x61, byte])), false, `byte ${byte}`);
  }
});

Deno.test("isPrintableUtf8 accepts text with no control character, as safeText leaves it", () => {
  assert.equal(isPrintableUtf8(new Uint8Array(0)), true);
  assert.equal(isPrintableUtf8(bytes("h\u00e9llo\tw\u00f6rld \u00a0 \u{1f389} \u2027")), true);
  assert.equal(isPrintableUtf8(bytes('say "hi" \\x1b')), true);
  const escaped = ["a\x1b", "a\x7f", "a\u0080", "a\u009f", "a\n", "a\r", "a\u202e", "a\ufeff"];
  for (const text of escaped) {
    assert.equal(isPrintableUtf8(bytes(text)), false, JSON.stringify(text));
  }
});

Deno.test("isPrintableUtf8 refuses what the decoder would replace with U+FFFD", () => {
  const malformed = [
    [0x80], // a continuation byte first
    [0xc0, 0xaf], // overlong "/"
    [0xc1, 0xbf], // overlong
    [0xe0, 0x80, 0xaf], // overlong
    [0xed, 0xa0, 0x80], // a surrogate, U+D800
    [0xf0, 0x80, 0x80, 0xaf], // overlong
    [0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
    [0xf5, 0x80, 0x80, 0x80], // no such first byte
    [0xc3], // cut short
    [0xe2, 0x82], // cut short
    [0xe2, 0x28, 0xa1], // a bad continuation
  ];
  for (const sequence of malformed) {
    const line = new Uint8Array([0x61, ...sequence, 0x62]);
    assert.equal(isPrintableUtf8(line), false, `bytes [${sequence}]`);
    assert.equal(isPlainJsonUtf8(line), false, `bytes [${sequence}]`);
  }
});

Deno.test("isWellFormedUtf8 says exactly when the decoder replaces nothing, whatever the characters", () => {
  const fatal = new TextDecoder("utf-8", { fatal: true });
  const decodes = (line: Uint8Array): boolean => {
    try {
      fatal.decode(line);
      return true;
    } catch {
      return false;
    }
  };
  const random = seededRandom(0x0f8);
  // Bytes where the rules change, and controls, which do not matter here.
  const alphabet = [0x00, 0x1b, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc1, 0xc2, 0xdf];
  alphabet.push(0xe0, 0xe1, 0xed, 0xef, 0xf0, 0xf1, 0xf4, 0xf5, 0xff);
  let wellFormed = 0;
  for (let round = 0; round < 20_000; round++) {
    const line = Uint8Array.from(
      { length: Math.floor(random() * 8) },
      () => alphabet[Math.floor(random() * alphabet.length)] as number,
    );
    assert.equal(isWellFormedUtf8(line), decodes(line), `bytes [${line}]`);
    if (decodes(line)) wellFormed++;
  }
  assert.ok(wellFormed > 1000, `${wellFormed} well-formed`);
  assert.equal(isWellFormedUtf8(bytes("\x1b[2J\u202e \u{10ffff}")), true);
});

Deno.test("isPrintableUtf8 and isPlainJsonUtf8 say exactly when safeText and jsonText change nothing", () => {
  // Bytes around every boundary of UTF-8 and of the control ranges.
  const edges = [
    0x00,
    0x09,
    0x0a,
    0x1f,
    0x20,
    0x22,
    0x41,
    0x5c,
    0x7e,
    0x7f,
    0x80,
    0x8f,
    0x90,
    0x9f,
    0xa0,
    0xbf,
    0xc0,
    0xc1,
    0xc2,
    0xc3,
    0xdf,
    0xe0,
    0xe1,
    0xec,
    0xed,
    0xee,
    0xef,
    0xf0,
    0xf1,
    0xf3,
    0xf4,
    0xf5,
    0xff,
  ];
  const random = seededRandom(11);
  const encoder = new TextEncoder();
  let printable = 0;
  let plainJson = 0;
  for (let n = 0; n < 100_000; n++) {
    const line = new Uint8Array(Math.floor(random() * 7)).map(() =>
      edges[Math.floor(random() * edges.length)] as number
    );
    const unchanged = equalBytes(encoder.encode(safeText(line)), line);
    assert.equal(isPrintableUtf8(line), unchanged, `bytes [${line}]`);
    const quoted = equalBytes(encoder.encode(jsonText(line)), new Uint8Array([34, ...line, 34]));
    assert.equal(isPlainJsonUtf8(line), quoted, `bytes [${line}]`);
    if (unchanged) printable++;
    if (quoted) plainJson++;
  }
  // Both answers came up often enough for the comparison to mean something.
  assert.ok(printable > 10_000 && plainJson > 10_000, `${printable}, ${plainJson}`);
});

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

Deno.test("jsonText writes printable text as a plain JSON string", () => {
  assert.equal(jsonText(bytes("hello")), '"hello"');
  assert.equal(jsonText(bytes('say "hi" \\')), '"say \\"hi\\" \\\\"');
  assert.equal(jsonText(new Uint8Array(0)), '""');
  assert.equal(jsonText(bytes("h\u00e9llo \u{1f389}")), '"h\u00e9llo \u{1f389}"');
});

Deno.test("jsonText writes controls, DEL and C1 as JSON escapes", () => {
  assert.equal(jsonText(bytes("a\x1b[2Jb")), '"a\\u001b[2Jb"');
  assert.equal(jsonText(bytes("\x7f")), '"\\u007f"');
  assert.equal(jsonText(bytes("\u0085\u009b")), '"\\u0085\\u009b"');
  assert.equal(jsonText(bytes("a\tb\rc")), '"a\\tb\\rc"');
  assert.equal(jsonText(bytes("\x1b]0;title\x07")), '"\\u001b]0;title\\u0007"');
});

Deno.test("jsonText round-trips every control character through JSON.parse", () => {
  for (let code = 0; code <= 0xa0; code++) {
    const char = String.fromCharCode(code);
    const literal = jsonText(bytes(`<${char}>`));
    assert.equal(JSON.parse(literal), `<${char}>`, `U+${code.toString(16)}`);
    assert.deepEqual(unsafeCodes(literal), [], `U+${code.toString(16)} left raw`);
  }
});

Deno.test("jsonText replaces invalid UTF-8 with U+FFFD", () => {
  assert.equal(JSON.parse(jsonText(new Uint8Array([0x61, 0xff, 0x9b, 0x62]))), "a\ufffd\ufffdb");
});

Deno.test("jsonText is a valid, terminal-safe literal for any bytes", () => {
  const decoder = new TextDecoder("utf-8", { ignoreBOM: true }); // as safeText decodes
  for (const input of randomInputs(2000)) {
    const literal = jsonText(input);
    const label = `input [${input.join(",")}]`;
    assert.equal(JSON.parse(literal), decoder.decode(input), label);
    assert.deepEqual(unsafeCodes(literal), [], label);
    assert.match(literal, /^".*"$/s, label);
  }
});

Deno.test("jsonText writes bidi controls and invisible characters as \\uHHHH and round-trips them", () => {
  assert.equal(jsonText(bytes("a\u202eb\u200bc")), '"a\\u202eb\\u200bc"');
  for (const code of HIDDEN) {
    const text = `<${String.fromCharCode(code)}>`;
    const literal = jsonText(bytes(text));
    assert.equal(literal, `"<\\u${code.toString(16).padStart(4, "0")}>"`);
    assert.equal(JSON.parse(literal), text);
  }
});

Deno.test("isPrintableUtf8 and isPlainJsonUtf8 agree with safeText and jsonText on every character below U+10000", () => {
  // Between two letters, so that a fast check reading past a character, or
  // stopping short, shows.
  for (let code = 0x80; code < 0x10000; code++) {
    if (code >= 0xd800 && code <= 0xdfff) continue; // surrogates: no UTF-8 form
    const char = String.fromCharCode(code);
    const line = bytes(`a${char}b`);
    const hex = code.toString(16);
    assert.equal(isPrintableUtf8(line), safeText(line) === `a${char}b`, `U+${hex}`);
    assert.equal(isPlainJsonUtf8(line), jsonText(line) === `"a${char}b"`, `U+${hex}`);
    assert.equal(isPrintableUtf8(line), !isUnsafe(code), `U+${hex}`);
  }
});

Deno.test("safeString escapes a string as safeText escapes its UTF-8", () => {
  const hostile = "CN=\x7f\u009b31m\u202eevil\u200b\x1b]0;t\x07 ok \u00e9\t\u{1f600}";
  assert.equal(safeString(hostile), safeText(bytes(hostile)));
  assert.equal(
    safeString(hostile),
    "CN=\\x7f\\x9b31m\\u{202e}evil\\u{200b}\\x1b]0;t\\x07 ok \u00e9\t\u{1f600}",
  );
  assert.equal(safeString("alice"), "alice");
});

Deno.test("jsonString writes a string as jsonText writes its UTF-8, and JSON.parse gives it back", () => {
  const hostile = 'CN=\x7f\u009b31m\u202eevil\u200b\x1b]0;t\x07 "q" \\ \u00e9\t\u{1f600}';
  const literal = jsonString(hostile);
  assert.equal(literal, jsonText(bytes(hostile)));
  assert.equal(JSON.parse(literal), hostile);
  assert.deepEqual(unsafeCodes(literal), []);
});

Deno.test("safeString and jsonString never let a control or hidden character through", () => {
  const decoder = new TextDecoder("utf-8", { ignoreBOM: true }); // as safeText decodes
  for (const input of randomInputs(2000)) {
    const text = decoder.decode(input);
    const label = `input [${input.join(",")}]`;
    assert.deepEqual(unsafeCodes(safeString(text)), [], label);
    assert.deepEqual(unsafeCodes(jsonString(text)), [], label);
    assert.equal(JSON.parse(jsonString(text)), text, label);
  }
});
