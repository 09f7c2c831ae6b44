/**
 * Unit tests for {@linkcode LineLabeller}, the server's fast path: which
 * lines it takes and which it leaves, what it writes for them, and that
 * small input and output areas (the options exist for these tests) change
 * only how many writes it makes and that a line bigger than an area is left.
 *
 * The last test drives it as the server does, through a {@linkcode
 * LineFramer}, and compares every byte with what the framer and
 * {@linkcode MessageFormatter.write} (the general path) write for random
 * lines in random chunks, under random formatter options (run, node,
 * label style, the node in the label).
 */

import assert from "node:assert/strict";
import { LineFramer } from "../../lib/wire/line_framer.ts";
import type { LineFlags } from "../../lib/wire/line_flags.ts";
import {
  ANY_BYTE,
  type ByteSink,
  type LineCheck,
  LineLabeller,
  lineLabeller,
  MAX_MIDDLE,
  MAX_PREFIX,
  MAX_SUFFIX,
  PLAIN_JSON_ASCII,
  PRINTABLE_ASCII,
} from "../../lib/format/_line_labeller.ts";
import {
  type ClientInfo,
  keepsCr,
  LABEL_STYLES,
  lineWriterOver,
  type MessageFormatOptions,
  MessageFormatter,
  OUTPUT_FORMATS,
  type OutputFormat,
} from "../../lib/format/message_formatter.ts";
import { isPlainJsonUtf8, isPrintableUtf8 } from "../../lib/text/safe_text.ts";
import { randomChunks, randomInt, seededRandom } from "../_helpers/mod.ts";

const LF = 10;
const CR = 13;
const TAB = 9;

/** Bytes from a binary string (each char code is one byte). */
function binary(text: string): Uint8Array {
  return Uint8Array.from(text, (char) => char.charCodeAt(0));
}

/** A binary string (one char per byte): exact, and readable in a diff. */
function toBinary(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return text;
}

/** Keeps a copy of each write: the labeller passes views of its memory. */
class Output implements ByteSink {
  readonly writes: string[] = [];

  write(bytes: Uint8Array): void {
    this.writes.push(toBinary(bytes));
  }

  get text(): string {
    return this.writes.join("");
  }
}

interface LabelOptions {
  from?: number;
  fresh?: boolean;
  prefix?: string;
  suffix?: string;
  check?: LineCheck;
  maxLine?: number;
  /** Number the lines from `first`, each number followed by `middle`. */
  count?: { first: number; middle: string };
}

/** What one call to `label` did. */
interface Labelled {
  next: number;
  lines: number;
  out: string;
  writes: string[];
}

/** Calls `labeller.label` once, with binary strings for the byte arguments. */
function label(
  labeller: LineLabeller,
  chunk: string | Uint8Array,
  {
    from = 0,
    fresh = true,
    prefix = "",
    suffix = "",
    check = PRINTABLE_ASCII,
    maxLine = 100,
    count,
  }: LabelOptions = {},
): Labelled {
  const output = new Output();
  const input = typeof chunk === "string" ? binary(chunk) : chunk;
  const next = labeller.label(
    input,
    from,
    fresh,
    binary(prefix),
    binary(suffix),
    check,
    maxLine,
    output,
    count === undefined ? undefined : { first: count.first, middle: binary(count.middle) },
  );
  return { next, lines: labeller.lines, out: output.text, writes: output.writes };
}

/** What the labeller writes for `lines`. */
function labelled(lines: string[], prefix = "", suffix = ""): string {
  return lines.map((line) => `${prefix}${line}${suffix}\n`).join("");
}

/** What `label` returns when it takes nothing. */
function nothingFrom(from: number): Labelled {
  return { next: from, lines: 0, out: "", writes: [] };
}

const CHECKS: ReadonlyArray<[string, LineCheck]> = [
  ["text", PRINTABLE_ASCII],
  ["json", PLAIN_JSON_ASCII],
  ["raw", ANY_BYTE],
];

/** The checks under which a CR is refused, except one right before the LF,
 * which is dropped: all but raw's, which keeps every byte. */
const CR_DROPPING = CHECKS.filter(([, check]) => check !== ANY_BYTE);

/** Whether `MessageFormatter.write` writes a line holding `byte` as it is,
 * in the format `check` is for; raw writes every line as it is. */
function writtenAsIs(check: LineCheck, byte: number): boolean {
  const line = Uint8Array.of(byte);
  if (check === PRINTABLE_ASCII) return isPrintableUtf8(line);
  if (check === PLAIN_JSON_ASCII) return isPlainJsonUtf8(line);
  return true;
}

Deno.test("LineLabeller writes each line as prefix, line, suffix and a newline", () => {
  const labeller = new LineLabeller();
  assert.deepEqual(label(labeller, "one\ntwo\n", { prefix: "[c] ", suffix: " <" }), {
    next: 8,
    lines: 2,
    out: "[c] one <\n[c] two <\n",
    writes: ["[c] one <\n[c] two <\n"],
  });
});

Deno.test("LineLabeller starts at from", () => {
  const labeller = new LineLabeller();
  const result = label(labeller, "skip\x1b\nkept\n", { from: 6 });
  assert.deepEqual(result, { next: 11, lines: 1, out: "kept\n", writes: ["kept\n"] });
});

Deno.test("LineLabeller stops at a line with a byte to escape and returns where that line starts", () => {
  const labeller = new LineLabeller();
  const input = "ok\nbad\x1b[2J\nlater\n";
  assert.deepEqual(label(labeller, input), {
    next: 3,
    lines: 1,
    out: "ok\n",
    writes: ["ok\n"],
  });
  // Called again from there, it still leaves that line, and writes nothing.
  assert.deepEqual(label(labeller, input, { from: 3, fresh: false }), nothingFrom(3));
  assert.deepEqual(label(labeller, input, { from: 11, fresh: false }).out, "later\n");
});

Deno.test("LineLabeller leaves a line with a byte to escape wherever it lies in its 16-byte blocks", () => {
  const labeller = new LineLabeller();
  for (let at = 0; at < 40; at++) {
    const line = "x".repeat(at) + "\x07" + "y".repeat(5);
    assert.deepEqual(label(labeller, `ok\n${line}\nmore\n`), {
      next: 3,
      lines: 1,
      out: "ok\n",
      writes: ["ok\n"],
    }, `bad byte at ${at}`);
  }
});

Deno.test("LineLabeller takes a clean line that a line with a byte to escape follows in the same 16 bytes", () => {
  // The bad bytes after the newline belong to the next line, not this one (raw has none).
  for (const [name, check] of CR_DROPPING) {
    const labeller = new LineLabeller();
    const result = label(labeller, 'ab\n\r\x00\x1b"\\\t\xff\ry\n', { check });
    assert.equal(result.next, 3, name);
    assert.equal(result.out, "ab\n", name);
  }
});

Deno.test("LineLabeller drops one \\r before \\n, wherever the line ends in its 16-byte blocks", () => {
  for (const [name, check] of CR_DROPPING) {
    const labeller = new LineLabeller();
    for (let length = 0; length < 40; length++) {
      const line = "z".repeat(length);
      assert.deepEqual(
        label(labeller, `${line}\r\nnext\n`, { check, prefix: "> " }),
        {
          next: length + 7,
          lines: 2,
          out: labelled([line, "next"], "> "),
          writes: [labelled([line, "next"], "> ")],
        },
        `${name}, ${length} bytes`,
      );
    }
  }
});

Deno.test("LineLabeller leaves a line with a \\r anywhere but right before its \\n", () => {
  for (const [name, check] of CR_DROPPING) {
    const labeller = new LineLabeller();
    for (const line of ["\r\r", "a\r\r", "\ra", "a\rb", "a\rb\r", "\r\rb"]) {
      assert.deepEqual(label(labeller, `ok\n${line}\nlater\n`, { check }), {
        next: 3,
        lines: 1,
        out: "ok\n",
        writes: ["ok\n"],
      }, `${name}: ${JSON.stringify(line)}`);
    }
    for (let at = 0; at < 40; at++) {
      const line = "x".repeat(at) + "\r" + "y".repeat(20);
      assert.deepEqual(
        label(labeller, `${line}\r\n`, { check }),
        nothingFrom(0),
        `${name}: \\r at ${at}`,
      );
    }
  }
});

Deno.test("LineLabeller takes tabs in text and raw but leaves them in json", () => {
  const input = "a\tb\n\tlead\n";
  assert.equal(label(new LineLabeller(), input, { check: PRINTABLE_ASCII }).out, input);
  assert.equal(label(new LineLabeller(), input, { check: ANY_BYTE }).out, input);
  assert.deepEqual(label(new LineLabeller(), input, { check: PLAIN_JSON_ASCII }), nothingFrom(0));
});

Deno.test("LineLabeller leaves json lines with a quote or a backslash, which text takes", () => {
  for (const line of ['say "hi"', "C:\\dir", '"', "\\"]) {
    const input = `ok\n${line}\n`;
    assert.deepEqual(label(new LineLabeller(), input, { check: PLAIN_JSON_ASCII }), {
      next: 3,
      lines: 1,
      out: "ok\n",
      writes: ["ok\n"],
    }, line);
    assert.equal(label(new LineLabeller(), input, { check: PRINTABLE_ASCII }).out, input);
  }
});

Deno.test("LineLabeller takes exactly the bytes each format writes as they are, in every lane", () => {
  // Every byte but \n, at each position of a 16-byte block and past it.
  for (const [name, check] of CHECKS) {
    const labeller = new LineLabeller();
    for (let byte = 0; byte < 256; byte++) {
      if (byte === LF) continue;
      for (let at = 0; at < 18; at++) {
        const line = "a".repeat(at) + String.fromCharCode(byte) + "z";
        const result = label(labeller, `${line}\n`, { check });
        const what = `${name}: byte 0x${byte.toString(16)} at ${at}`;
        if (writtenAsIs(check, byte)) {
          assert.deepEqual(result, {
            next: line.length + 1,
            lines: 1,
            out: `${line}\n`,
            writes: [`${line}\n`],
          }, what);
        } else {
          assert.deepEqual(result, nothingFrom(0), what);
        }
      }
    }
  }
});

Deno.test("LineLabeller in raw keeps every byte but \\n as it is, the \\r of \\r\\n and lone ones included", () => {
  const all = Array.from({ length: 256 }, (_, i) => String.fromCharCode(i))
    .filter((char) => char !== "\n")
    .join("");
  const input = `${all}\n${all}\r\n\r\r\n`;
  assert.deepEqual(label(new LineLabeller(), input, { check: ANY_BYTE, maxLine: 1000 }), {
    next: input.length,
    lines: 3,
    out: labelled([all, `${all}\r`, "\r\r"]),
    writes: [labelled([all, `${all}\r`, "\r\r"])],
  });
});

Deno.test("LineLabeller takes a line of exactly maxLine bytes and leaves a longer one", () => {
  for (const [name, check] of CHECKS) {
    const labeller = new LineLabeller();
    for (let maxLine = 1; maxLine <= 40; maxLine++) {
      const at = "m".repeat(maxLine);
      const what = `${name}, maxLine ${maxLine}`;
      if (check === ANY_BYTE) {
        // A CR kept counts: that one line is left to the framer, which does
        // not count it and writes it whole.
        assert.deepEqual(
          label(labeller, `${at}\n${at}\r\nlater\n`, { check, maxLine }),
          { next: maxLine + 1, lines: 1, out: labelled([at]), writes: [labelled([at])] },
          what,
        );
        continue;
      }
      // The \r of \r\n does not count.
      assert.deepEqual(
        label(labeller, `${at}\n${at}\r\n${at}x\nlater\n`, { check, maxLine }),
        {
          next: 2 * maxLine + 3,
          lines: 2,
          out: labelled([at, at]),
          writes: [labelled([at, at])],
        },
        what,
      );
      assert.deepEqual(label(labeller, `${at}x\r\n`, { check, maxLine }), nothingFrom(0), what);
    }
  }
});

Deno.test("LineLabeller leaves an unfinished last line", () => {
  const labeller = new LineLabeller();
  for (const tail of ["b", "b\r", "\r", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"]) {
    assert.deepEqual(label(labeller, `a\n${tail}`), {
      next: 2,
      lines: 1,
      out: "a\n",
      writes: ["a\n"],
    }, JSON.stringify(tail));
  }
  assert.deepEqual(label(labeller, "no newline"), nothingFrom(0));
});

Deno.test("LineLabeller writes empty lines, with \\n or \\r\\n", () => {
  const labeller = new LineLabeller();
  for (const [name, check] of CHECKS) {
    // Raw keeps the CR: the second line is that one byte.
    const out = check === ANY_BYTE ? "ps\np\rs\nps\n" : "ps\nps\nps\n";
    assert.deepEqual(label(labeller, "\n\r\n\n", { check, prefix: "p", suffix: "s" }), {
      next: 4,
      lines: 3,
      out,
      writes: [out],
    }, name);
  }
});

Deno.test("LineLabeller counts only the lines of its last call", () => {
  const labeller = new LineLabeller();
  label(labeller, "a\nb\nc\n");
  assert.equal(labeller.lines, 3);
  label(labeller, "\x1b\n");
  assert.equal(labeller.lines, 0);
  label(labeller, "d\n");
  assert.equal(labeller.lines, 1);
});

Deno.test("LineLabeller with a small output area writes every line, in order, in several writes", () => {
  const labeller = new LineLabeller({ outputBytes: 64 });
  const lines = Array.from({ length: 200 }, (_, i) => `line ${i}`.padEnd(1 + (i % 40), "."));
  const input = lines.map((line, i) => line + (i % 3 === 0 ? "\r\n" : "\n")).join("");
  const result = label(labeller, input, { prefix: "[client 3] ", suffix: "}" });
  assert.equal(result.next, input.length);
  assert.equal(result.lines, lines.length);
  assert.equal(result.out, labelled(lines, "[client 3] ", "}"));
  assert.ok(result.writes.length > 100, `${result.writes.length} writes`);
  for (const write of result.writes) {
    // Whole lines only, each write at most one area.
    assert.ok(write.length <= 64 && write.endsWith("\n"), JSON.stringify(write));
  }
});

Deno.test("LineLabeller takes a line that exactly fills its output area and leaves a bigger one", () => {
  const prefix = "0123456789";
  const suffix = "ab";
  // prefix + line + suffix + "\n" is 64 bytes for a line of 51.
  const fits = "f".repeat(51);
  const labeller = new LineLabeller({ outputBytes: 64 });
  assert.deepEqual(label(labeller, `${fits}\n`, { prefix, suffix }), {
    next: 52,
    lines: 1,
    out: `${prefix}${fits}${suffix}\n`,
    writes: [`${prefix}${fits}${suffix}\n`],
  });
  assert.equal(label(labeller, `${fits}\r\n`, { prefix, suffix }).lines, 1);
  // After smaller lines, it starts a new area for it.
  assert.deepEqual(label(labeller, `a\n${fits}\n`, { prefix, suffix }), {
    next: 54,
    lines: 2,
    out: labelled(["a", fits], prefix, suffix),
    writes: [labelled(["a"], prefix, suffix), labelled([fits], prefix, suffix)],
  });
  // One byte more can never fit: it is left, where it starts.
  assert.deepEqual(label(labeller, `${fits}g\nafter\n`, { prefix, suffix }), nothingFrom(0));
  assert.deepEqual(label(labeller, `a\n${fits}g\nafter\n`, { prefix, suffix }), {
    next: 2,
    lines: 1,
    out: labelled(["a"], prefix, suffix),
    writes: [labelled(["a"], prefix, suffix)],
  });
});

Deno.test("LineLabeller takes nothing when the prefix alone does not fit its output area", () => {
  const labeller = new LineLabeller({ outputBytes: 8 });
  assert.deepEqual(label(labeller, "a\n", { prefix: "123456789" }), nothingFrom(0));
  assert.deepEqual(label(labeller, "a\n", { prefix: "123456" }), {
    next: 2,
    lines: 1,
    out: "123456a\n",
    writes: ["123456a\n"],
  });
});

Deno.test("LineLabeller with a small input area takes every line of a bigger chunk", () => {
  for (const inputBytes of [16, 17, 31, 32, 33]) {
    const labeller = new LineLabeller({ inputBytes });
    const lines = Array.from({ length: 100 }, (_, i) => "l".repeat(i % (inputBytes - 1)));
    const input = lines.map((line) => `${line}\n`).join("");
    const result = label(labeller, input, { prefix: "> " });
    assert.equal(result.next, input.length, `inputBytes ${inputBytes}`);
    assert.equal(result.lines, 100, `inputBytes ${inputBytes}`);
    assert.equal(result.out, labelled(lines, "> "), `inputBytes ${inputBytes}`);
  }
});

Deno.test("LineLabeller takes a line that exactly fills its input area and leaves a longer one", () => {
  const labeller = new LineLabeller({ inputBytes: 32 });
  const fits = "i".repeat(31);
  for (const input of [`${fits}\n`, `${fits.slice(1)}\r\n`, `ab\n${fits}\n`, `ab\ncd\n${fits}\n`]) {
    const result = label(labeller, input);
    assert.equal(result.next, input.length, JSON.stringify(input));
    assert.equal(result.out, labelled(input.split(/\r?\n/).slice(0, -1)), JSON.stringify(input));
  }
  assert.deepEqual(label(labeller, `${fits}i\nafter\n`), nothingFrom(0));
  assert.deepEqual(label(labeller, `ab\n${fits}i\nafter\n`), {
    next: 3,
    lines: 1,
    out: "ab\n",
    writes: ["ab\n"],
  });
  // The caller takes the long line; the labeller goes on after it.
  assert.equal(label(labeller, `ab\n${fits}i\nafter\n`, { from: 36, fresh: false }).out, "after\n");
});

Deno.test("LineLabeller takes nothing with a prefix over MAX_PREFIX or a suffix over MAX_SUFFIX", () => {
  const labeller = new LineLabeller();
  // Every byte different, so a slip in copying shows.
  const codes = Array.from({ length: MAX_PREFIX }, (_, i) => i % 251);
  const longest = String.fromCharCode(...codes);
  const suffix = "0123456789abcdef".slice(0, MAX_SUFFIX);
  assert.deepEqual(label(labeller, "a\nb\n", { prefix: longest, suffix }), {
    next: 4,
    lines: 2,
    out: labelled(["a", "b"], longest, suffix),
    writes: [labelled(["a", "b"], longest, suffix)],
  });
  assert.deepEqual(label(labeller, "a\nb\n", { prefix: `${longest}+`, suffix }), nothingFrom(0));
  assert.deepEqual(
    label(labeller, "a\nb\n", { prefix: "p", suffix: `${suffix}+` }),
    nothingFrom(0),
  );
  assert.deepEqual(
    label(labeller, "x\na\nb\n", { from: 2, prefix: `${longest}+` }),
    nothingFrom(2),
  );
});

/** What the labeller writes for `lines` numbered from `first`. */
function counted(
  lines: string[],
  first: number,
  prefix: string,
  middle: string,
  suffix = "",
): string {
  return lines.map((line, i) => `${prefix}${first + i}${middle}${line}${suffix}\n`).join("");
}

Deno.test("LineLabeller with a count writes each line's number between the prefix and the middle", () => {
  const labeller = new LineLabeller();
  const count = { first: 1, middle: ',"text":"' };
  assert.deepEqual(
    label(labeller, "one\ntwo\r\n\nthree\n\x1bleft\n", { prefix: '{"seq":', suffix: '"}', count }),
    {
      next: 16,
      lines: 4,
      out: counted(["one", "two", "", "three"], 1, '{"seq":', ',"text":"', '"}'),
      writes: [counted(["one", "two", "", "three"], 1, '{"seq":', ',"text":"', '"}')],
    },
  );
  // An empty prefix, middle and suffix: just the numbers.
  assert.equal(label(labeller, "a\nb\n", { count: { first: 0, middle: "" } }).out, "0a\n1b\n");
});

Deno.test("LineLabeller counts up across every carry, from one digit to sixteen", () => {
  const labeller = new LineLabeller();
  const lines = Array.from({ length: 25 }, (_, i) => `l${i}`);
  const input = lines.map((line) => `${line}\n`).join("");
  const firsts = [0, 5, 8, 9, 90, 95, 989, 9990, 123456789, 999999999999990, 9007199254740900];
  for (const first of firsts) {
    const result = label(labeller, input, { prefix: "<", count: { first, middle: "> " } });
    assert.equal(result.lines, 25, `from ${first}`);
    assert.equal(result.out, counted(lines, first, "<", "> "), `from ${first}`);
  }
});

Deno.test("LineLabeller numbers on from call to call within one label, however small its areas", () => {
  const lines = Array.from({ length: 300 }, (_, i) => "n".repeat(i % 37));
  const input = lines.map((line) => `${line}\n`).join("");
  for (
    const options of [{ outputBytes: 64 }, { inputBytes: 40 }, { inputBytes: 50, outputBytes: 100 }]
  ) {
    const labeller = new LineLabeller(options);
    const result = label(labeller, input, {
      prefix: "[",
      suffix: "]",
      count: { first: 95, middle: "|" },
    });
    assert.equal(result.lines, 300, JSON.stringify(options));
    assert.equal(result.out, counted(lines, 95, "[", "|", "]"), JSON.stringify(options));
  }
});

Deno.test("LineLabeller with a count stops where a line is left, and a later call numbers on from what the caller says", () => {
  const labeller = new LineLabeller();
  const input = "a\nb\n\x07\nc\n";
  const first = label(labeller, input, { count: { first: 9, middle: " " } });
  assert.deepEqual(first, { next: 4, lines: 2, out: "9 a\n10 b\n", writes: ["9 a\n10 b\n"] });
  // The caller wrote the bell line as number 11.
  const rest = label(labeller, input, { from: 6, fresh: false, count: { first: 12, middle: " " } });
  assert.equal(rest.out, "12 c\n");
});

Deno.test("LineLabeller takes nothing with a middle over MAX_MIDDLE, and refuses a first number out of range", () => {
  const labeller = new LineLabeller();
  const middle = "m".repeat(MAX_MIDDLE);
  assert.equal(label(labeller, "a\n", { count: { first: 1, middle } }).out, `1${middle}a\n`);
  assert.deepEqual(
    label(labeller, "a\n", { count: { first: 1, middle: `${middle}+` } }),
    nothingFrom(0),
  );
  for (const first of [-1, 1.5, Number.NaN, 2 ** 53]) {
    assert.throws(() => label(labeller, "a\n", { count: { first, middle: "" } }), {
      name: "RangeError",
      message:
        `Invalid first line number "${first}": must be an integer from 0 to 9007199254740991`,
    });
  }
});

Deno.test("LineLabeller goes on through the same chunk after the caller took a line, with fresh false", () => {
  // A small input area, so the chunk is read in several pieces.
  const labeller = new LineLabeller({ inputBytes: 16 });
  const lines = [
    "first",
    "second line",
    "\x1bleft",
    "third",
    "fourteen bytes",
    "\x07",
    "end",
  ];
  const chunk = binary(lines.map((line) => `${line}\n`).join(""));
  const taken: string[] = [];
  let pos = 0;
  let fresh = true;
  while (pos < chunk.length) {
    const output = new Output();
    pos = labeller.label(chunk, pos, fresh, binary("> "), binary(""), PRINTABLE_ASCII, 100, output);
    fresh = false;
    taken.push(output.text);
    // The caller's general path takes the line left.
    if (pos < chunk.length) pos = chunk.indexOf(LF, pos) + 1;
  }
  assert.deepEqual(
    taken.join(""),
    labelled(["first", "second line", "third", "fourteen bytes", "end"], "> "),
  );
  assert.deepEqual(
    taken,
    [
      labelled(["first", "second line"], "> "),
      labelled(["third", "fourteen bytes"], "> "),
      "> end\n",
    ],
  );
});

Deno.test("LineLabeller reads the chunk again with fresh true after its bytes changed in place", () => {
  for (const options of [{}, { inputBytes: 16 }]) {
    const labeller = new LineLabeller(options);
    const chunk = binary("aaaa\nbbbb\ncccc\n");
    assert.equal(label(labeller, chunk).out, "aaaa\nbbbb\ncccc\n");
    chunk.set(binary("dddd\neeee\nffff\n"));
    assert.equal(label(labeller, chunk, { fresh: true }).out, "dddd\neeee\nffff\n");
    chunk.set(binary("gggg\nhhhh\niiii\n"));
    assert.equal(label(labeller, chunk, { from: 5, fresh: true }).out, "hhhh\niiii\n");
  }
});

Deno.test("LineLabeller reads another chunk even with fresh false", () => {
  const labeller = new LineLabeller();
  assert.equal(label(labeller, "aaaa\nbbbb\n").out, "aaaa\nbbbb\n");
  assert.equal(label(labeller, "cccc\ndddd\n", { fresh: false }).out, "cccc\ndddd\n");
  assert.equal(label(labeller, "eeee\nffff\n", { from: 5, fresh: false }).out, "ffff\n");
});

Deno.test("LineLabeller reads the right bytes with fresh false from before or past its last piece", () => {
  const labeller = new LineLabeller({ inputBytes: 16 });
  const chunk = binary("zero\none\ntwo\nthree\nfour\nfive\nsix\nseven\n\x1b\neight\n");
  const all = label(labeller, chunk);
  assert.equal(all.out, "zero\none\ntwo\nthree\nfour\nfive\nsix\nseven\n");
  // Back to the start of the same chunk: that piece is no longer in memory.
  assert.deepEqual(label(labeller, chunk, { fresh: false }), all);
  assert.equal(
    label(labeller, chunk, { from: 9, fresh: false }).out,
    "two\nthree\nfour\nfive\nsix\nseven\n",
  );
  // Past the escape: a piece it has not read yet.
  assert.equal(label(labeller, chunk, { from: all.next + 2, fresh: false }).out, "eight\n");
});

Deno.test("LineLabeller with fresh false takes a whole line that crosses the end of its last piece", () => {
  const labeller = new LineLabeller({ inputBytes: 16 });
  const chunk = binary("ab\n\x1b\n" + "x".repeat(15) + "\n");
  assert.equal(label(labeller, chunk).next, 3);
  // The caller took the escape line; the next line runs past the 16 bytes
  // copied from offset 0, so the labeller must copy again from it.
  const rest = label(labeller, chunk, { from: 5, fresh: false });
  assert.equal(rest.out, "x".repeat(15) + "\n");
  assert.equal(rest.next, chunk.length);
});

Deno.test("LineLabeller never reads bytes past the end of the chunk", () => {
  const labeller = new LineLabeller();
  const buffer = binary("abc\ndef\nghi\n");
  // A view that ends right before a newline of the buffer behind it.
  assert.deepEqual(label(labeller, buffer.subarray(0, 7)), {
    next: 4,
    lines: 1,
    out: "abc\n",
    writes: ["abc\n"],
  });
  assert.deepEqual(label(labeller, buffer.subarray(4, 7)), nothingFrom(0));
  assert.deepEqual(label(labeller, buffer.subarray(4, 11), { from: 4 }), nothingFrom(4));
  // Nor bytes that an earlier, longer chunk left in the module's memory.
  for (const [name, check] of CHECKS) {
    for (let length = 0; length < 40; length++) {
      label(labeller, "x".repeat(length) + "\n".repeat(40), { check });
      for (let cut = 0; cut <= length; cut++) {
        assert.deepEqual(
          label(labeller, "y".repeat(cut), { check }),
          nothingFrom(0),
          `${name}: ${cut} of ${length}`,
        );
        assert.deepEqual(
          label(labeller, "y".repeat(cut) + "\r", { check }),
          nothingFrom(0),
          `${name}: ${cut} and \\r of ${length}`,
        );
      }
    }
  }
});

Deno.test("LineLabeller with a small input area never takes the bytes of an earlier piece as input", () => {
  const labeller = new LineLabeller({ inputBytes: 20 });
  // The first piece is 20 newlines; the last piece, "abc", is shorter.
  const input = "\n".repeat(20) + "abc";
  assert.deepEqual(label(labeller, input, { prefix: "> " }), {
    next: 20,
    lines: 20,
    out: "> \n".repeat(20),
    writes: ["> \n".repeat(20)],
  });
});

Deno.test("LineLabeller rejects area sizes out of range with a RangeError naming them", () => {
  for (const inputBytes of [0, -1, 1.5, NaN, 65537]) {
    assert.throws(() => new LineLabeller({ inputBytes }), {
      name: "RangeError",
      message: `Invalid inputBytes "${inputBytes}": must be an integer from 1 to 65536`,
    });
  }
  for (const outputBytes of [0, 2.5, 262145]) {
    assert.throws(() => new LineLabeller({ outputBytes }), {
      name: "RangeError",
      message: `Invalid outputBytes "${outputBytes}": must be an integer from 1 to 262144`,
    });
  }
  new LineLabeller({ inputBytes: 65536, outputBytes: 262144 });
  new LineLabeller({ inputBytes: 1, outputBytes: 1 });
});

Deno.test("lineLabeller gives each thread one labeller, here where WebAssembly SIMD runs", () => {
  const labeller = lineLabeller();
  assert.ok(labeller instanceof LineLabeller);
  assert.equal(lineLabeller(), labeller);
});

// ---------------------------------------------------------------------------
// Against the general path, for random lines in random chunks.

const CLIENT: ClientInfo = { id: 3, address: "127.0.0.1", port: 40000 };
/** 2023-11-14T22:13:20.123Z */
const TIME = 1700000000123;

/** Bytes that no fast path may take, or only at the end of a line (`\r`). */
const SPECIALS = [
  [TAB],
  [CR],
  [0x22],
  [0x5c],
  [0x00],
  [0x1b],
  [0x1f],
  [0x7f],
  [0xc3, 0xa9],
  [0xe2, 0x82, 0xac],
  [0xf0, 0x9f, 0x98, 0x80],
  [0xff],
  [0x80],
  [0xc2, 0x85],
];

/** A random line without its ending: empty, short, around `maxLine` or much
 * longer; clean printable ASCII more often than not. */
function randomLine(random: () => number, maxLine: number): number[] {
  const kind = random();
  const length = kind < 0.1
    ? 0
    : kind < 0.6
    ? randomInt(random, 1, 20)
    : kind < 0.92
    ? Math.max(0, randomInt(random, maxLine - 2, maxLine + 2))
    : randomInt(random, maxLine, 3 * maxLine);
  const dirty = random() < 0.35;
  const line: number[] = [];
  while (line.length < length) {
    if (dirty && random() < 0.15) {
      line.push(...SPECIALS[Math.floor(random() * SPECIALS.length)] as number[]);
    } else {
      line.push(randomInt(random, 0x20, 0x7e));
    }
  }
  return line;
}

/** Random lines, with `\n`, `\r\n` or `\r\r\n`, and sometimes an unfinished tail. */
function randomStream(random: () => number, maxLine: number): Uint8Array {
  const bytes: number[] = [];
  const count = randomInt(random, 0, 40);
  for (let i = 0; i < count; i++) {
    bytes.push(...randomLine(random, maxLine));
    const ending = random();
    bytes.push(...(ending < 0.75 ? [LF] : ending < 0.95 ? [CR, LF] : [CR, CR, LF]));
  }
  if (random() < 0.3) bytes.push(...randomLine(random, maxLine), ...(random() < 0.3 ? [CR] : []));
  return Uint8Array.from(bytes);
}

/** Cuts `input` into random chunks, empty ones included, or leaves it whole. */
function randomReads(input: Uint8Array, random: () => number): Uint8Array[] {
  if (random() < 0.1) return [input];
  return randomChunks(input, random, randomInt(random, 1, 200));
}

/** What a whole stream wrote, in how many lines, and how many of them the
 * labeller wrote. */
interface Written {
  out: string;
  lines: number;
  labelled: number;
}

/** Frames `chunks` and writes each line with `MessageFormatter.write`; with
 * a labeller, the lines it takes are written by it instead. */
function writeStream(
  format: OutputFormat,
  chunks: Uint8Array[],
  maxLine: number,
  options: MessageFormatOptions,
  labeller?: LineLabeller,
): Written {
  const output = new Output();
  const lines = lineWriterOver({
    write: (chunk) => output.write(typeof chunk === "string" ? binary(chunk) : chunk),
  });
  const formatter = new MessageFormatter(format, CLIENT, options);
  const framer = new LineFramer({ maxLine, keepCr: keepsCr(format) });
  let count = 0;
  let labelledCount = 0;
  const sink = (line: Uint8Array, flags: LineFlags, length: number): void => {
    formatter.write(lines, line, flags, TIME, length);
    count++;
  };
  const run = labeller === undefined
    ? undefined
    : (chunk: Uint8Array, from: number, fresh: boolean): number => {
      const { next } = formatter.writeRun(output, chunk, from, fresh, maxLine, TIME, labeller);
      labelledCount += labeller.lines;
      return next;
    };
  for (const chunk of chunks) framer.push(chunk, sink, run);
  framer.end(sink);
  return { out: output.text, lines: count + labelledCount, labelled: labelledCount };
}

/** Node names a server may have: the shortest, a host name, the longest. */
const NODES = ["a", "web-3.eu_1", "n".repeat(64)];

/** Random formatter options: with or without a run and a node (in the JSON
 * head), any label style, the node in the text label or not. */
function randomOptions(random: () => number): MessageFormatOptions {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  return {
    ...(random() < 0.7 ? { run: "0123456789abcdef" } : {}),
    ...(random() < 0.7 ? { node: pick(NODES) } : {}),
    label: pick(LABEL_STYLES),
    labelNode: random() < 0.5,
  };
}

const INPUT_AREAS = [1, 2, 15, 16, 17, 24, 31, 32, 33, 47, 64, 100, 65536];
const OUTPUT_AREAS = [1, 16, 40, 64, 100, 120, 128, 150, 200, 256, 1000, 262144];

Deno.test("LineLabeller with a LineFramer writes what the framer and MessageFormatter.write do, for random lines in random chunks", () => {
  const random = seededRandom(0x1abe11);
  // One labeller per pair of area sizes, reused, so earlier streams' bytes
  // are in its memory.
  const labellers = new Map<string, LineLabeller>();
  const taken: Record<OutputFormat, number> = { text: 0, json: 0, raw: 0 };
  for (let round = 0; round < 1000; round++) {
    const maxLine = randomInt(random, 1, 60);
    const input = randomStream(random, maxLine);
    for (const format of OUTPUT_FORMATS) {
      const inputBytes = INPUT_AREAS[Math.floor(random() * INPUT_AREAS.length)] as number;
      const outputBytes = OUTPUT_AREAS[Math.floor(random() * OUTPUT_AREAS.length)] as number;
      const key = `${inputBytes}/${outputBytes}`;
      let labeller = labellers.get(key);
      if (labeller === undefined) {
        labeller = new LineLabeller({ inputBytes, outputBytes });
        labellers.set(key, labeller);
      }
      const chunks = randomReads(input, random);
      const options = randomOptions(random);
      const general = writeStream(format, chunks, maxLine, options);
      const fast = writeStream(format, chunks, maxLine, options, labeller);
      const what = `round ${round}, ${format}, maxLine ${maxLine}, inputBytes ${inputBytes}, ` +
        `outputBytes ${outputBytes}, options ${JSON.stringify(options)}, ` +
        `chunks ${chunks.map((chunk) => chunk.length)}, input ${JSON.stringify(toBinary(input))}`;
      assert.equal(fast.out, general.out, what);
      assert.equal(fast.lines, general.lines, what);
      taken[format] += fast.labelled;
    }
  }
  // The fast path must have done real work, or the comparison proves nothing.
  for (const format of OUTPUT_FORMATS) {
    assert.ok(taken[format] > 2000, `${format}: ${taken[format]}`);
  }
});
