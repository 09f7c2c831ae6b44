/**
 * Unit tests for {@linkcode utf8CutPoint}: a cut never splits a well-formed
 * UTF-8 character, never moves for bytes that are not UTF-8, and agrees
 * with the WHATWG decoder (what `TextDecoder` holds back at the end of a
 * stream) on every sequence of up to four bytes drawn from the bytes where
 * the rules change.
 */

import assert from "node:assert/strict";
import { utf8CutPoint } from "../../lib/wire/_utf8_cut.ts";
import { seededRandom } from "../_helpers/mod.ts";

const encoder = new TextEncoder();

/**
 * The cut the WHATWG decoder implies: the bytes it holds back after
 * decoding `bytes` as the first part of a stream are those of a character
 * the end cut short, and the cut goes before them.
 */
function decoderCut(bytes: Uint8Array): number {
  const shown = new TextDecoder().decode(bytes, { stream: true });
  for (let held = 0; held < bytes.length; held++) {
    if (new TextDecoder().decode(bytes.subarray(0, bytes.length - held)) === shown) {
      return bytes.length - held;
    }
  }
  return 0;
}

/** The first bytes of each class and the edges of each second-byte range. */
const EDGES = [
  0x00,
  0x41,
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

/** Every sequence of `length` bytes from EDGES. */
function* sequences(length: number): Generator<Uint8Array> {
  const indices = new Array<number>(length).fill(0);
  while (true) {
    yield Uint8Array.from(indices, (i) => EDGES[i] as number);
    let position = length - 1;
    while (position >= 0 && indices[position] === EDGES.length - 1) {
      indices[position] = 0;
      position--;
    }
    if (position < 0) return;
    indices[position] = (indices[position] as number) + 1;
  }
}

Deno.test("utf8CutPoint cuts where the WHATWG decoder would hold bytes back, for every sequence of up to 4 edge bytes", () => {
  let moved = 0;
  for (let length = 1; length <= 4; length++) {
    for (const bytes of sequences(length)) {
      const expected = decoderCut(bytes);
      assert.equal(utf8CutPoint(bytes, length), expected, `${Array.from(bytes, hex)}`);
      if (expected < length) moved++;
    }
  }
  // The comparison must have covered cuts that move, not only ones that stay.
  assert.ok(moved > 10_000, `${moved} cuts moved`);
});

Deno.test("utf8CutPoint keeps whole characters and backs up over a cut one, at every limit", () => {
  const text = "a\u00e9\u20ac\u{1f600}b\u0800\u{10ffff}\u07ff\uffff\u{10000}z";
  const bytes = encoder.encode(text);
  /** Offsets where a character starts, and the end. */
  const boundaries = [0];
  for (const char of text) {
    boundaries.push((boundaries.at(-1) as number) + encoder.encode(char).length);
  }
  for (let limit = 0; limit <= bytes.length; limit++) {
    const cut = utf8CutPoint(bytes, limit);
    const expected = Math.max(...boundaries.filter((offset) => offset <= limit));
    assert.equal(cut, expected, `limit ${limit}`);
    // What is kept decodes without a single U+FFFD.
    new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(0, cut));
  }
});

Deno.test("utf8CutPoint reads only the bytes before the limit", () => {
  const random = seededRandom(0xc07);
  for (let round = 0; round < 2000; round++) {
    const bytes = Uint8Array.from(
      { length: 1 + Math.floor(random() * 12) },
      () => EDGES[Math.floor(random() * EDGES.length)] as number,
    );
    const limit = Math.floor(random() * (bytes.length + 1));
    assert.equal(
      utf8CutPoint(bytes, limit),
      utf8CutPoint(bytes.slice(0, limit), limit),
      `${Array.from(bytes, hex)} at ${limit}`,
    );
  }
});

Deno.test("utf8CutPoint leaves bytes that are not UTF-8 as they are", () => {
  const cases: Array<[number[], number]> = [
    [[0x61, 0xff, 0xfe], 3], // never UTF-8
    [[0x61, 0xc0, 0xaf], 2], // an overlong "/": C0 starts nothing
    [[0x61, 0xe0, 0x80], 3], // overlong: E0 needs A0..BF next
    [[0x61, 0xed, 0xa0], 3], // a surrogate
    [[0x61, 0xf4, 0x90], 3], // past U+10FFFF
    [[0x80, 0x80, 0x80], 3], // continuation bytes with no start
    [[0xe2, 0x82, 0xac, 0x80], 4], // a whole euro sign, then a stray continuation byte
  ];
  for (const [values, limit] of cases) {
    assert.equal(utf8CutPoint(Uint8Array.from(values), limit), limit, `${values.map(hex)}`);
  }
});

Deno.test("utf8CutPoint rejects a limit out of range with a RangeError naming it", () => {
  const bytes = encoder.encode("abc");
  for (const limit of [-1, 4, 1.5, Number.NaN]) {
    assert.throws(() => utf8CutPoint(bytes, limit), {
      name: "RangeError",
      message: `Invalid limit "${limit}": must be an integer from 0 to the length, 3`,
    });
  }
});

function hex(byte: number): string {
  return byte.toString(16).padStart(2, "0");
}
