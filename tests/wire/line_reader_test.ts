/**
 * Unit tests for the client's pull-based line reader: exact bytes with their
 * line endings, a last line without a newline, reading only on demand, and
 * cutting long lines where and as the server's framer does, whatever the
 * chunk boundaries. The input is an in-memory reader whose chunks the test
 * chooses.
 */

import assert from "node:assert/strict";
import type { ByteReader } from "../../lib/io/types.ts";
import { LineFramer } from "../../lib/wire/line_framer.ts";
import { type LineFlags, PARTIAL, TRUNCATED } from "../../lib/wire/line_flags.ts";
import { DEFAULT_CLIENT_MAX_LINE, type InputLine, LineReader } from "../../lib/wire/line_reader.ts";
import { bytes, concat, randomInt, seededRandom } from "../_helpers/mod.ts";

const decoder = new TextDecoder();
/** Decodes every byte to one character, so that no two byte strings look alike. */
const binary = new TextDecoder("windows-1252");

/** A reader that hands out `chunks` one per read (split further if the
 * buffer is smaller), then the end of input; counts its reads. */
function chunked(chunks: readonly Uint8Array[]): ByteReader & { reads: number } {
  const queue = [...chunks];
  return {
    reads: 0,
    read(buffer: Uint8Array): Promise<number | null> {
      this.reads++;
      const next = queue.shift();
      if (next === undefined) return Promise.resolve(null);
      const n = Math.min(buffer.length, next.length);
      buffer.set(next.subarray(0, n));
      if (n < next.length) queue.unshift(next.subarray(n));
      return Promise.resolve(n);
    },
  };
}

async function readAll(reader: LineReader): Promise<InputLine[]> {
  const lines: InputLine[] = [];
  for (let line = await reader.next(); line !== null; line = await reader.next()) {
    lines.push(line);
  }
  return lines;
}

const texts = (lines: InputLine[]): string[] => lines.map((line) => decoder.decode(line.bytes));

Deno.test("LineReader returns each line with its own ending, and a last line without one", async () => {
  const reader = new LineReader(chunked([bytes("one\ntwo\r\n\nthree\rx\nlast")]));
  const lines = await readAll(reader);
  assert.deepEqual(texts(lines), ["one\n", "two\r\n", "\n", "three\rx\n", "last"]);
  assert.ok(lines.every((line) => !line.cut));
});

Deno.test("LineReader returns nothing for empty input and no extra line after a final newline", async () => {
  assert.deepEqual(await readAll(new LineReader(chunked([]))), []);
  assert.deepEqual(texts(await readAll(new LineReader(chunked([bytes("a\n")])))), ["a\n"]);
});

Deno.test("LineReader joins a line split across many reads, bytes intact", async () => {
  const text = "h\u00e9llo \u{1f389} world\r\n";
  const data = bytes(text);
  const chunks = Array.from(data, (byte) => new Uint8Array([byte]));
  assert.deepEqual(texts(await readAll(new LineReader(chunked(chunks)))), [text]);
});

Deno.test("LineReader reads the input only when it has no whole line left", async () => {
  const input = chunked([bytes("a\nb\nc\n"), bytes("d\n")]);
  const reader = new LineReader(input);
  await reader.next();
  assert.equal(input.reads, 1);
  await reader.next();
  await reader.next();
  assert.equal(input.reads, 1, "three lines came from one read");
  await reader.next();
  assert.equal(input.reads, 2);
});

Deno.test("LineReader returns lines that stay valid after later reads reuse its buffer", async () => {
  const reader = new LineReader(chunked([bytes("first\n"), bytes("second\n")]), {
    bufferSize: 8,
  });
  const first = await reader.next();
  await reader.next();
  assert.equal(decoder.decode(first?.bytes), "first\n");
});

Deno.test("LineReader cuts a line longer than maxLine and drops the rest up to its newline", async () => {
  const reader = new LineReader(
    chunked([bytes("short\n0123456789abcdef"), bytes("ghij\nnext\n")]),
    { maxLine: 10 },
  );
  const lines = await readAll(reader);
  assert.deepEqual(texts(lines), ["short\n", "0123456789\n", "next\n"]);
  assert.deepEqual(lines.map((line) => line.cut), [false, true, false]);
});

Deno.test("LineReader keeps a line of exactly maxLine bytes, with CRLF, whole", async () => {
  const reader = new LineReader(chunked([bytes("0123456789\r"), bytes("\n012345678\n")]), {
    maxLine: 10,
  });
  const lines = await readAll(reader);
  assert.deepEqual(texts(lines), ["0123456789\r\n", "012345678\n"]);
  assert.ok(lines.every((line) => !line.cut));
});

Deno.test("LineReader returns a cut line before the rest of it arrives", async () => {
  // The rest never comes within the test: the input stays open.
  let reads = 0;
  const input: ByteReader = {
    read(buffer: Uint8Array): Promise<number | null> {
      if (reads++ > 0) return new Promise(() => {});
      buffer.set(bytes("x".repeat(12)));
      return Promise.resolve(12);
    },
  };
  const line = await new LineReader(input, { maxLine: 10 }).next();
  assert.deepEqual({ text: decoder.decode(line?.bytes), cut: line?.cut }, {
    text: "x".repeat(10) + "\n",
    cut: true,
  });
});

Deno.test("LineReader cuts before a UTF-8 character that maxLine would split", async () => {
  // "abcd\u20ac" is 61 62 63 64 e2 82 ac: a cut at 5 or 6 would leave part of the euro sign.
  const input = bytes("abcd\u20ac\u20ac\nnext\n");
  for (
    const [maxLine, first] of [[4, "abcd"], [5, "abcd"], [6, "abcd"], [7, "abcd\u20ac"]] as const
  ) {
    const lines = await readAll(new LineReader(chunked([input]), { maxLine }));
    assert.deepEqual(texts(lines), [`${first}\n`, "next\n"], `maxLine ${maxLine}`);
    assert.deepEqual(lines.map((line) => line.cut), [true, false]);
  }
});

Deno.test("LineReader defaults maxLine to the server's 65536 bytes", async () => {
  assert.equal(DEFAULT_CLIENT_MAX_LINE, 65536);
  const long = "y".repeat(65537) + "\n";
  const fits = "z".repeat(65536) + "\n";
  const lines = await readAll(new LineReader(chunked([bytes(long + fits)])));
  assert.deepEqual(lines.map((line) => [line.bytes.length, line.cut]), [
    [65537, true],
    [65537, false],
  ]);
});

Deno.test("LineReader holds a bounded amount of a line that never ends", async () => {
  // 4 MiB without a newline, maxLine 100: one cut line, and nothing else.
  const chunks = Array.from({ length: 64 }, () => new Uint8Array(65536).fill(120));
  const lines = await readAll(new LineReader(chunked(chunks), { maxLine: 100 }));
  assert.deepEqual(lines.map((line) => [line.bytes.length, line.cut]), [[101, true]]);
});

/** A line as the server's framer would report it: content, truncated, and
 * partial for a line not cut. (The reader sends a cut line with a newline as
 * soon as it is cut, not knowing whether the input ends before the rest of
 * the line does, while the framer, which reports the cut line at its end,
 * then calls it partial too; the cut itself is the same.) */
function asServerSees(line: InputLine): [string, boolean, boolean] {
  let text = binary.decode(line.bytes);
  const partial = !line.cut && !text.endsWith("\n");
  if (text.endsWith("\n")) {
    text = text.slice(0, -1);
    if (!line.cut && text.endsWith("\r")) text = text.slice(0, -1);
  }
  return [text, line.cut, partial];
}

Deno.test("LineReader splits and cuts exactly as the server's LineFramer, whatever the chunks", async () => {
  const random = seededRandom(2024);
  // CR, LF, and the bytes of an e-acute and a euro sign, whose cuts move.
  const alphabet = [97, 98, 13, 10, 0xc3, 0xa9, 0xe2, 0x82, 0xac];
  for (let round = 0; round < 600; round++) {
    const maxLine = randomInt(random, 1, 8);
    const data = Uint8Array.from(
      { length: randomInt(random, 0, 60) },
      () => alphabet[randomInt(random, 0, alphabet.length - 1)] as number,
    );
    const chunks: Uint8Array[] = [];
    for (let at = 0; at < data.length;) {
      const size = randomInt(random, 1, 12);
      chunks.push(data.subarray(at, at + size));
      at += size;
    }
    const expected: Array<[string, boolean, boolean]> = [];
    const framer = new LineFramer({ maxLine });
    const sink = (line: Uint8Array, flags: LineFlags): void => {
      const [truncated, partial] = [(flags & TRUNCATED) !== 0, (flags & PARTIAL) !== 0];
      expected.push([binary.decode(line), truncated, partial && !truncated]);
    };
    framer.push(data, sink);
    framer.end(sink);
    const lines = await readAll(
      new LineReader(chunked(chunks), { maxLine, bufferSize: randomInt(random, 1, 16) }),
    );
    assert.deepEqual(
      lines.map(asServerSees),
      expected,
      `maxLine ${maxLine}, input ${JSON.stringify(binary.decode(concat(chunks)))}`,
    );
  }
});

Deno.test("LineReader rejects bad options, naming the value", () => {
  assert.throws(() => new LineReader(chunked([]), { maxLine: 0 }), /Invalid maxLine "0"/);
  assert.throws(() => new LineReader(chunked([]), { bufferSize: 0 }), /Invalid bufferSize "0"/);
});
