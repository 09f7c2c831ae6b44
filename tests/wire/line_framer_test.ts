/**
 * Unit tests for {@linkcode LineFramer}: the lines it produces must not depend
 * on where the chunks happen to be cut, and memory must stay bounded by
 * `maxLine` whatever a client sends.
 *
 * Several tests compare the framer with a tiny reference model that sees the
 * whole input at once; random inputs and random chunkings then check that the
 * streaming implementation agrees with it, counters included, with and
 * without a `LineRun` taking some of the lines in bulk.
 */

import assert from "node:assert/strict";
import { DEFAULT_MAX_LINE, LineFramer, type LineRun } from "../../lib/wire/line_framer.ts";
import { type LineFlags, PARTIAL, TRUNCATED } from "../../lib/wire/line_flags.ts";
import { utf8CutPoint } from "../../lib/wire/_utf8_cut.ts";
import { oneByteChunks, randomChunks, seededRandom, splitAt } from "../_helpers/mod.ts";

const CR = 13;
const encoder = new TextEncoder();

/** One delivered line, copied out of the framer's view. */
interface Frame {
  /** The line's bytes as a binary string (one char per byte), exact and readable. */
  line: string;
  truncated: boolean;
  partial: boolean;
  /** The length the framer reports the line had before any cut. */
  length: number;
}

/** What a whole stream produced: the lines and the final counters. */
interface Outcome {
  frames: Frame[];
  truncatedLines: number;
  droppedBytes: number;
}

function bytes(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Bytes from a binary string (each char code is one byte). */
function binary(text: string): Uint8Array {
  return Uint8Array.from(text, (char) => char.charCodeAt(0));
}

function toBinary(line: Uint8Array): string {
  let text = "";
  for (const byte of line) text += String.fromCharCode(byte);
  return text;
}

/** A frame; `length` defaults to the line's own, right for lines not cut. */
function frame(line: string, truncated = false, partial = false, length = line.length): Frame {
  return { line, truncated, partial, length };
}

/** A framer plus the frames it has delivered so far. */
function collector(maxLine?: number, keepCr = false): {
  framer: LineFramer;
  frames: Frame[];
  push: (chunk: Uint8Array) => void;
  end: () => void;
} {
  const framer = maxLine === undefined
    ? new LineFramer({ keepCr })
    : new LineFramer({ maxLine, keepCr });
  const frames: Frame[] = [];
  // The line is a view valid only during the call, so copy it at once.
  const sink = (line: Uint8Array, flags: LineFlags, length: number): void => {
    frames.push(frame(toBinary(line), (flags & TRUNCATED) !== 0, (flags & PARTIAL) !== 0, length));
  };
  return {
    framer,
    frames,
    push: (chunk) => framer.push(chunk, sink),
    end: () => framer.end(sink),
  };
}

/** Feeds `chunks` in order, ends the stream, and reports everything. */
function run(chunks: Uint8Array[], maxLine?: number, keepCr = false): Outcome {
  const { framer, frames, push, end } = collector(maxLine, keepCr);
  for (const chunk of chunks) push(chunk);
  end();
  return { frames, truncatedLines: framer.truncatedLines, droppedBytes: framer.droppedBytes };
}

/** A random maxLine from 1 to 10 and up to 80 bytes of few symbols, so that
 * `\r`, `\n` and lengths around maxLine keep coming up. */
function randomCase(random: () => number): { maxLine: number; input: Uint8Array } {
  const alphabet = [0x61, 0x62, CR, 10, 0xc3, 0xa9, 0x00, 0xff];
  const maxLine = 1 + Math.floor(random() * 10);
  const input = Uint8Array.from(
    { length: Math.floor(random() * 80) },
    () => alphabet[Math.floor(random() * alphabet.length)] as number,
  );
  return { maxLine, input };
}

/**
 * The reference: frames the whole input at once. A line's bytes are those
 * before its `\n`, one trailing `\r` removed; past `maxLine` the line is cut
 * (where lib/wire/_utf8_cut.ts says, so no character is split) and every byte
 * after the cut up to the `\n` counts as dropped; each line reports the
 * length it had. An unfinished last line is `partial`, and `truncated` too if
 * it is longer than `maxLine` (a `\r` at its end is part of it: no `\n`
 * followed). With `keepCr`, a line delivered whole keeps the `\r` of its
 * `\r\n`, which still does not count against `maxLine`.
 */
function model(input: Uint8Array, maxLine: number, keepCr = false): Outcome {
  const frames: Frame[] = [];
  let truncatedLines = 0;
  let droppedBytes = 0;
  let start = 0;
  for (let newline = input.indexOf(10); newline >= 0; newline = input.indexOf(10, start)) {
    const raw = input.subarray(start, newline);
    const line = raw.at(-1) === CR ? raw.subarray(0, -1) : raw;
    if (line.length > maxLine) {
      const cut = utf8CutPoint(line, maxLine);
      truncatedLines++;
      droppedBytes += raw.length - cut;
      frames.push(frame(toBinary(line.subarray(0, cut)), true, false, line.length));
    } else {
      frames.push(frame(toBinary(keepCr ? raw : line), false, false, line.length));
    }
    start = newline + 1;
  }
  const rest = input.subarray(start);
  if (rest.length > maxLine) {
    const cut = utf8CutPoint(rest, maxLine);
    truncatedLines++;
    droppedBytes += rest.length - cut;
    frames.push(frame(toBinary(rest.subarray(0, cut)), true, true, rest.length));
  } else if (rest.length > 0) {
    frames.push(frame(toBinary(rest), false, true));
  }
  return { frames, truncatedLines, droppedBytes };
}

/** Inputs full of edge cases for a small maxLine (8). */
const TRICKY_INPUTS = [
  "hello\nworld\n",
  "a\r\nb\rc\r\n\r\n\n\r\r\nlast",
  "12345678\n123456789\n1234567\n",
  "12345678\r\n123456789\r\n1234567\r\n12345678\r\r\n",
  "abcdefghijklmnop\nnext\n",
  "abcdefghijklmnop\r\nnext\r\n",
  "12345678\rX\n12345678\r",
  "123456789",
  "12345678",
  "1234567\r",
  "x\n\n\n",
  "",
  "\n",
  "\r",
  "h\u00e9llo w\u00f6rld \u65e5\u672c\u8a9e \u{1f389}\n\u00e9\u00e9\u00e9\u00e9\u00e9\n",
];

Deno.test("LineFramer splits lines at \\n and removes one \\r before it", () => {
  assert.deepEqual(run([bytes("one\ntwo\r\nthree\n")]).frames, [
    frame("one"),
    frame("two"),
    frame("three"),
  ]);
});

Deno.test("LineFramer keeps a lone \\r inside a line", () => {
  assert.deepEqual(run([bytes("a\rb\n\rlead\ntrail\r\r\n")]).frames, [
    frame("a\rb"),
    frame("\rlead"),
    frame("trail\r"),
  ]);
});

Deno.test("LineFramer keeps one \\r of \\r\\r\\n", () => {
  assert.deepEqual(run([bytes("x\r\r\n")]).frames, [frame("x\r")]);
  assert.deepEqual(run(oneByteChunks(bytes("x\r\r\n"))).frames, [frame("x\r")]);
});

Deno.test("LineFramer with keepCr keeps the \\r of \\r\\n, and lone ones, as raw output shows them", () => {
  const input = bytes("one\ntwo\r\nthree\r\r\n\r\n\rlead\nlast\r");
  // The length a line reports does not count the CR of its CRLF.
  const expected = [
    frame("one"),
    frame("two\r", false, false, 3),
    frame("three\r\r", false, false, 6),
    frame("\r", false, false, 0),
    frame("\rlead"),
    frame("last\r", false, true),
  ];
  assert.deepEqual(run([input], 100, true).frames, expected);
  assert.deepEqual(run(oneByteChunks(input), 100, true).frames, expected);
});

Deno.test("LineFramer with keepCr does not count the \\r of \\r\\n towards maxLine, and a cut line ends at its cut", () => {
  const input = bytes("12345678\r\n123456789\r\n");
  for (const chunks of [[input], oneByteChunks(input)]) {
    assert.deepEqual(run(chunks, 8, true), {
      frames: [frame("12345678\r", false, false, 8), frame("12345678", true, false, 9)],
      truncatedLines: 1,
      droppedBytes: 2,
    });
  }
});

Deno.test("LineFramer delivers empty lines, with \\n or \\r\\n", () => {
  assert.deepEqual(run([bytes("\n\r\n\n")]).frames, [frame(""), frame(""), frame("")]);
});

Deno.test("LineFramer delivers a final line without newline as partial", () => {
  const { frames, push, end } = collector();
  push(bytes("done\nunfinished"));
  assert.deepEqual(frames, [frame("done")]);
  end();
  assert.deepEqual(frames, [frame("done"), frame("unfinished", false, true)]);
});

Deno.test("LineFramer keeps a trailing \\r of a partial last line", () => {
  // Only a `\r` followed by `\n` is a line ending.
  assert.deepEqual(run([bytes("abc\r")]).frames, [frame("abc\r", false, true)]);
});

Deno.test("LineFramer delivers nothing at the end when the last line was complete", () => {
  assert.deepEqual(run([bytes("a\n")]).frames, [frame("a")]);
  assert.deepEqual(run([]).frames, []);
  assert.deepEqual(run([new Uint8Array(0)]).frames, []);
});

Deno.test("LineFramer produces the same lines for a split at every byte position", () => {
  for (const text of TRICKY_INPUTS) {
    const input = bytes(text);
    const whole = run([input], 8);
    assert.deepEqual(whole, model(input, 8), `whole ${JSON.stringify(text)}`);
    for (let i = 0; i <= input.length; i++) {
      assert.deepEqual(
        run(splitAt(input, [i]), 8),
        whole,
        `split at ${i} of ${JSON.stringify(text)}`,
      );
    }
  }
});

Deno.test("LineFramer produces the same lines for two splits at every pair of positions", () => {
  for (const text of TRICKY_INPUTS) {
    const input = bytes(text);
    const whole = run([input], 8);
    for (let i = 0; i <= input.length; i++) {
      for (let j = i; j <= input.length; j++) {
        assert.deepEqual(run(splitAt(input, [i, j]), 8), whole, `splits ${i},${j} of ${text}`);
      }
    }
  }
});

Deno.test("LineFramer produces the same lines when fed one byte at a time", () => {
  for (const text of TRICKY_INPUTS) {
    const input = bytes(text);
    assert.deepEqual(run(oneByteChunks(input), 8), run([input], 8), JSON.stringify(text));
  }
});

Deno.test("LineFramer matches the whole-input model for random input in random chunks", () => {
  const random = seededRandom(0x1ee7);
  for (let round = 0; round < 400; round++) {
    const { maxLine, input } = randomCase(random);
    const expected = model(input, maxLine);
    const label = `round ${round}, maxLine ${maxLine}, input [${input.join(",")}]`;
    assert.deepEqual(run([input], maxLine), expected, `${label}, whole`);
    assert.deepEqual(run(oneByteChunks(input), maxLine), expected, `${label}, 1-byte chunks`);
    for (let trial = 0; trial < 5; trial++) {
      const chunks = randomChunks(input, random, 1 + Math.floor(random() * 12));
      const sizes = chunks.map((chunk) => chunk.length).join(",");
      assert.deepEqual(run(chunks, maxLine), expected, `${label}, chunks ${sizes}`);
    }
  }
});

Deno.test("LineFramer with keepCr matches the whole-input model for random input in random chunks", () => {
  const random = seededRandom(0xc12);
  for (let round = 0; round < 400; round++) {
    const { maxLine, input } = randomCase(random);
    const expected = model(input, maxLine, true);
    const label = `round ${round}, maxLine ${maxLine}, input [${input.join(",")}]`;
    assert.deepEqual(run(oneByteChunks(input), maxLine, true), expected, `${label}, 1-byte chunks`);
    for (let trial = 0; trial < 5; trial++) {
      const chunks = randomChunks(input, random, 1 + Math.floor(random() * 12));
      const sizes = chunks.map((chunk) => chunk.length).join(",");
      assert.deepEqual(run(chunks, maxLine, true), expected, `${label}, chunks ${sizes}`);
    }
  }
});

Deno.test("LineFramer delivers lines one below, at and one over maxLine", () => {
  assert.deepEqual(run([bytes("1234567\n12345678\n123456789\n")], 8), {
    frames: [frame("1234567"), frame("12345678"), frame("12345678", true, false, 9)],
    truncatedLines: 1,
    droppedBytes: 1,
  });
});

Deno.test("LineFramer does not count \\r\\n towards maxLine", () => {
  assert.deepEqual(run([bytes("1234567\r\n12345678\r\n123456789\r\n")], 8), {
    frames: [frame("1234567"), frame("12345678"), frame("12345678", true, false, 9)],
    truncatedLines: 1,
    // The `9` and the `\r` after it: everything between the cut and the `\n`.
    droppedBytes: 2,
  });
});

Deno.test("LineFramer handles lines around maxLine split anywhere", () => {
  for (const ending of ["\n", "\r\n"]) {
    for (const length of [7, 8, 9]) {
      const body = "abcdefghi".slice(0, length);
      const input = bytes(`${body}${ending}after${ending}`);
      const expected = {
        frames: [frame(body.slice(0, 8), length > 8, false, length), frame("after")],
        truncatedLines: length > 8 ? 1 : 0,
        droppedBytes: length > 8 ? ending.length : 0,
      };
      for (let i = 0; i <= input.length; i++) {
        for (let j = i; j <= input.length; j++) {
          const label = `${JSON.stringify(body + ending)} split at ${i},${j}`;
          assert.deepEqual(run(splitAt(input, [i, j]), 8), expected, label);
        }
      }
    }
  }
});

Deno.test("LineFramer holds a line of maxLine bytes plus \\r until it knows what follows", () => {
  const { frames, push, end, framer } = collector(8);
  push(bytes("12345678\r"));
  assert.deepEqual(frames, []);
  assert.equal(framer.bufferedBytes, 9);
  push(bytes("\n"));
  assert.deepEqual(frames, [frame("12345678")]);
  end();
  assert.equal(framer.truncatedLines, 0);
  assert.equal(framer.droppedBytes, 0);
});

Deno.test("LineFramer cuts maxLine bytes plus \\r at the end of the stream", () => {
  assert.deepEqual(run([bytes("12345678\r")], 8), {
    // No LF followed: the CR is part of the line, and of its length.
    frames: [frame("12345678", true, true, 9)],
    truncatedLines: 1,
    droppedBytes: 1,
  });
});

Deno.test("LineFramer delivers an overlong line when it ends, with the length it had, holding only the cut", () => {
  const { frames, push, framer } = collector(8);
  push(bytes("abcdefghijkl"));
  assert.deepEqual(frames, []);
  assert.equal(framer.bufferedBytes, 8);
  assert.equal(framer.midLine, true);
  push(bytes("mnop"));
  assert.deepEqual(frames, []);
  assert.equal(framer.bufferedBytes, 8);
  push(bytes("qr\r"));
  push(bytes("\nnext\n"));
  assert.deepEqual(frames, [frame("abcdefgh", true, false, 18), frame("next")]);
  assert.equal(framer.truncatedLines, 1);
  assert.equal(framer.droppedBytes, "ijklmnopqr\r".length);
  assert.equal(framer.midLine, false);
});

Deno.test("LineFramer settles the cut as soon as byte maxLine + 1 arrives, and counts the rest as dropped as it comes", () => {
  const { frames, push, end, framer } = collector(8);
  const input = bytes("abcdefghi");
  for (let i = 0; i < 8; i++) push(input.subarray(i, i + 1));
  assert.equal(framer.bufferedBytes, 8);
  push(input.subarray(8));
  assert.equal(framer.bufferedBytes, 8);
  assert.equal(framer.droppedBytes, 1);
  push(bytes("jk"));
  assert.equal(framer.droppedBytes, 3);
  assert.deepEqual(frames, []);
  // The stream ends before the newline: the cut line is partial too.
  end();
  assert.deepEqual(frames, [frame("abcdefgh", true, true, 11)]);
  assert.equal(framer.bufferedBytes, 0);
});

Deno.test("LineFramer drops the rest of an overlong line and keeps the next line intact", () => {
  const input = bytes("x".repeat(100) + "\r\nintact line\nsecond\r\n");
  const expected = {
    frames: [frame("xxxxxxxxxxxx", true, false, 100), frame("intact line"), frame("second")],
    truncatedLines: 1,
    droppedBytes: 89,
  };
  assert.deepEqual(run([input], 12), expected);
  assert.deepEqual(run(oneByteChunks(input), 12), expected);
  for (let i = 0; i <= input.length; i++) {
    assert.deepEqual(run(splitAt(input, [i]), 12), expected, `split at ${i}`);
  }
});

Deno.test("LineFramer counts truncated lines and dropped bytes across lines", () => {
  const input = bytes("0123456789\nok\n0123456789ABCDEF\n01234\n012345678");
  assert.deepEqual(run([input], 5), {
    frames: [
      frame("01234", true, false, 10),
      frame("ok"),
      frame("01234", true, false, 16),
      frame("01234"),
      frame("01234", true, true, 9),
    ],
    truncatedLines: 3,
    droppedBytes: 5 + 11 + 4,
  });
});

Deno.test("LineFramer counters start at zero", () => {
  const framer = new LineFramer();
  assert.equal(framer.truncatedLines, 0);
  assert.equal(framer.droppedBytes, 0);
  assert.equal(framer.bufferedBytes, 0);
});

Deno.test("LineFramer reports the bytes of an unfinished line as buffered", () => {
  const { framer, push, end } = collector(8);
  push(bytes("ab"));
  assert.equal(framer.bufferedBytes, 2);
  push(bytes("cd"));
  assert.equal(framer.bufferedBytes, 4);
  push(bytes("\nxy"));
  assert.equal(framer.bufferedBytes, 2);
  end();
  assert.equal(framer.bufferedBytes, 0);
});

Deno.test("LineFramer holds at most maxLine + 1 bytes of 50 MB without a newline", () => {
  const { framer, frames, push } = collector();
  const chunk = new Uint8Array(64 * 1024).fill(0x78);
  const total = 50 * 1024 * 1024;
  let maxBuffered = 0;
  for (let fed = 0; fed < total; fed += chunk.length) {
    push(chunk);
    maxBuffered = Math.max(maxBuffered, framer.bufferedBytes);
  }
  assert.ok(maxBuffered <= DEFAULT_MAX_LINE + 1, `buffered ${maxBuffered} bytes`);
  assert.equal(frames.length, 0);
  assert.equal(framer.droppedBytes, total - DEFAULT_MAX_LINE);
  push(bytes("tail\nok\n"));
  assert.deepEqual(frames, [
    frame("x".repeat(DEFAULT_MAX_LINE), true, false, total + 4),
    frame("ok"),
  ]);
  assert.equal(framer.truncatedLines, 1);
  assert.equal(framer.droppedBytes, total - DEFAULT_MAX_LINE + 4);
});

Deno.test("LineFramer holds at most maxLine + 1 bytes for any chunking of a long line", () => {
  const random = seededRandom(42);
  const input = binary("y".repeat(300) + "\r".repeat(3) + "z".repeat(50) + "\n");
  for (const maxLine of [1, 2, 7, 64, 299, 300, 301]) {
    for (let trial = 0; trial < 20; trial++) {
      const { framer, push } = collector(maxLine);
      for (const chunk of randomChunks(input, random, 40)) {
        push(chunk);
        assert.ok(framer.bufferedBytes <= maxLine + 1, `maxLine ${maxLine}`);
      }
    }
  }
});

Deno.test("LineFramer uses 65536 bytes as the default maxLine", () => {
  assert.equal(DEFAULT_MAX_LINE, 65536);
  assert.equal(new LineFramer().maxLine, 65536);
  assert.equal(new LineFramer({}).maxLine, 65536);
  assert.equal(new LineFramer({ maxLine: 3 }).maxLine, 3);
  const atCap = "z".repeat(65536);
  assert.deepEqual(run([bytes(`${atCap}\n${atCap}z\n`)]).frames, [
    frame(atCap),
    frame(atCap, true, false, 65537),
  ]);
});

Deno.test("LineFramer accepts maxLine 1", () => {
  assert.deepEqual(run([bytes("a\nbc\r\n\r\n")], 1), {
    frames: [frame("a"), frame("b", true, false, 2), frame("")],
    truncatedLines: 1,
    droppedBytes: 2,
  });
});

Deno.test("LineFramer rejects an invalid maxLine with a RangeError naming it", () => {
  for (const maxLine of [0, -1, 1.5, NaN, Infinity, 2 ** 53]) {
    assert.throws(() => new LineFramer({ maxLine }), {
      name: "RangeError",
      message: `Invalid maxLine "${maxLine}": must be a positive integer`,
    });
    assert.throws(() => new LineFramer({ maxLine }), RangeError);
  }
});

Deno.test("LineFramer keeps multi-byte UTF-8 characters split across chunks intact", () => {
  const text = "h\u00e9llo w\u00f6rld\n\u65e5\u672c\u8a9e\r\n\u{1f389}\u{1f600}\n\u00e9";
  const input = bytes(text);
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const expected = ["h\u00e9llo w\u00f6rld", "\u65e5\u672c\u8a9e", "\u{1f389}\u{1f600}", "\u00e9"];
  const chunkings = [oneByteChunks(input)];
  for (let i = 0; i <= input.length; i++) chunkings.push(splitAt(input, [i]));
  for (const chunks of chunkings) {
    const lines = run(chunks).frames.map((f) => decoder.decode(binary(f.line)));
    assert.deepEqual(lines, expected);
  }
});

Deno.test("LineFramer cuts before a multi-byte character that maxLine would split, and counts its bytes as dropped", () => {
  // "a\u00e9\u20ac" is 61 c3 a9 e2 82 ac.
  const line = bytes("a\u00e9\u20ac\n");
  const cuts: Array<[number, string, number]> = [
    [1, "a", 5],
    [2, "a", 5],
    [3, "a\xc3\xa9", 3],
    [4, "a\xc3\xa9", 3],
    [5, "a\xc3\xa9", 3],
  ];
  for (const [maxLine, kept, dropped] of cuts) {
    for (const chunks of [[line], oneByteChunks(line)]) {
      assert.deepEqual(run(chunks, maxLine), {
        frames: [frame(kept, true, false, 6)],
        truncatedLines: 1,
        droppedBytes: dropped,
      }, `maxLine ${maxLine}, ${chunks.length} chunks`);
    }
  }
  // A character cut at the very start leaves an empty line.
  assert.deepEqual(run([bytes("\u20ac\n")], 2).frames, [frame("", true, false, 3)]);
});

Deno.test("LineFramer cuts bytes that are not UTF-8 at maxLine exactly", () => {
  assert.deepEqual(run([binary("a\xff\xbf\xc3\n")], 3).frames, [
    frame("a\xff\xbf", true, false, 4),
  ]);
  assert.deepEqual(run([binary("a\xe0\x80\x80\n")], 3).frames, [
    frame("a\xe0\x80", true, false, 4),
  ]);
});

Deno.test("LineFramer passes any byte other than \\n through unchanged", () => {
  const all = Uint8Array.from({ length: 256 }, (_, i) => i).filter((b) => b !== 10);
  const input = new Uint8Array(all.length + 1);
  input.set(all);
  input[all.length] = 10;
  assert.deepEqual(run([input], 1000).frames, [frame(toBinary(all))]);
  assert.deepEqual(run(oneByteChunks(input), 1000).frames, [frame(toBinary(all))]);
});

Deno.test("LineFramer starts a fresh line after end", () => {
  const { frames, push, end } = collector(4);
  push(bytes("abcdefg"));
  end();
  push(bytes("xy\n"));
  end();
  assert.deepEqual(frames, [frame("abcd", true, true, 7), frame("xy")]);
});

/** Where and how the framer called a run. */
interface RunCall {
  from: number;
  fresh: boolean;
}

/**
 * A `LineRun` as the contract asks: from `from` on, it takes each whole line
 * that `take` accepts, as the framer would deliver it (one `\r` before the
 * `\n` dropped, at most `maxLine` bytes), records it in `frames`, and stops
 * at the first line it does not take.
 */
function takingRun(
  frames: Frame[],
  maxLine: number,
  take: (line: Uint8Array) => boolean,
  calls: RunCall[] = [],
): LineRun {
  return (chunk, from, fresh) => {
    calls.push({ from, fresh });
    let pos = from;
    for (let newline = chunk.indexOf(10, pos); newline >= 0; newline = chunk.indexOf(10, pos)) {
      const raw = chunk.subarray(pos, newline);
      const line = raw.at(-1) === CR ? raw.subarray(0, -1) : raw;
      if (line.length > maxLine || !take(line)) break;
      frames.push(frame(toBinary(line)));
      pos = newline + 1;
    }
    return pos;
  };
}

/** Like `run`, with a run that takes the lines `take` accepts. */
function runTaking(
  chunks: Uint8Array[],
  maxLine: number,
  take: (line: Uint8Array) => boolean,
  calls: RunCall[] = [],
): Outcome {
  const framer = new LineFramer({ maxLine });
  const frames: Frame[] = [];
  const sink = (line: Uint8Array, flags: LineFlags, length: number): void => {
    frames.push(frame(toBinary(line), (flags & TRUNCATED) !== 0, (flags & PARTIAL) !== 0, length));
  };
  const lineRun = takingRun(frames, maxLine, take, calls);
  for (const chunk of chunks) framer.push(chunk, sink, lineRun);
  framer.end(sink);
  return { frames, truncatedLines: framer.truncatedLines, droppedBytes: framer.droppedBytes };
}

Deno.test("LineFramer with a run delivers the same lines, in order, for random input in random chunks", () => {
  const random = seededRandom(0x2a11);
  // Lines holding a zero byte are left to the framer; the run takes the rest.
  const take = (line: Uint8Array): boolean => !line.includes(0x00);
  let runCalls = 0;
  for (let round = 0; round < 400; round++) {
    const { maxLine, input } = randomCase(random);
    const expected = model(input, maxLine);
    const label = `round ${round}, maxLine ${maxLine}, input [${input.join(",")}]`;
    const chunkings = [[input], oneByteChunks(input)];
    for (let trial = 0; trial < 5; trial++) {
      chunkings.push(randomChunks(input, random, 1 + Math.floor(random() * 12)));
    }
    for (const chunks of chunkings) {
      const calls: RunCall[] = [];
      const sizes = chunks.map((chunk) => chunk.length).join(",");
      assert.deepEqual(
        runTaking(chunks, maxLine, take, calls),
        expected,
        `${label}, chunks ${sizes}`,
      );
      runCalls += calls.length;
    }
  }
  assert.ok(runCalls > 1000, `run called ${runCalls} times`);
});

Deno.test("LineFramer calls run only where a line starts, never inside a held or overlong line", () => {
  const calls: RunCall[] = [];
  const frames: Frame[] = [];
  const framer = new LineFramer({ maxLine: 8 });
  const sink = (line: Uint8Array, flags: LineFlags, length: number): void => {
    frames.push(frame(toBinary(line), (flags & TRUNCATED) !== 0, (flags & PARTIAL) !== 0, length));
  };
  const lineRun = takingRun(frames, 8, () => true, calls);
  framer.push(bytes("one\ntw"), sink, lineRun);
  framer.push(bytes("o\nthree\n"), sink, lineRun);
  framer.push(bytes("0123456789ab"), sink, lineRun);
  framer.push(bytes("cdef"), sink, lineRun);
  framer.push(bytes("gh\nfour\n"), sink, lineRun);
  assert.deepEqual(frames, [
    frame("one"),
    frame("two"),
    frame("three"),
    frame("01234567", true, false, 18),
    frame("four"),
  ]);
  assert.deepEqual(calls, [
    { from: 0, fresh: true },
    // "tw" is held: the run is offered the chunk only after the framer
    // finished that line.
    { from: 2, fresh: true },
    { from: 0, fresh: true },
    // The rest of the cut line is dropped, up to its newline.
    { from: 3, fresh: true },
  ]);
});

Deno.test("LineFramer tells run a chunk is fresh on its first call of each push only", () => {
  const calls: RunCall[] = [];
  const take = (line: Uint8Array): boolean => !line.includes(0x00);
  const input = binary("a\n\x00\nb\n\x00\nc\n");
  assert.deepEqual(runTaking([input, input], 8, take, calls).frames.map((f) => f.line), [
    "a",
    "\x00",
    "b",
    "\x00",
    "c",
    "a",
    "\x00",
    "b",
    "\x00",
    "c",
  ]);
  const first = [{ from: 0, fresh: true }, { from: 4, fresh: false }, { from: 8, fresh: false }];
  assert.deepEqual(calls, [...first, ...first]);
});
