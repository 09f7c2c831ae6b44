/**
 * Unit tests for {@linkcode AutoFramer}: a stream must come out exactly as
 * the framer its first byte asks for would give it, whatever the chunks,
 * and nothing is decided, held or delivered before that byte.
 */

import assert from "node:assert/strict";
import { AutoFramer } from "../../lib/wire/auto_framer.ts";
import type { Framer } from "../../lib/wire/framer.ts";
import { type LineFlags, PARTIAL, TRUNCATED } from "../../lib/wire/line_flags.ts";
import { LineFramer, type LineRun } from "../../lib/wire/line_framer.ts";
import { OctetFramer } from "../../lib/wire/octet_framer.ts";
import { randomChunks, randomInt, seededRandom } from "../_helpers/mod.ts";

/** Bytes from a binary string (each char code is one byte). */
function binary(text: string): Uint8Array {
  return Uint8Array.from(text, (char) => char.charCodeAt(0));
}

/** A delivered message as `bytes|flags|length`, bytes as a binary string. */
function shown(line: Uint8Array, flags: LineFlags, length: number): string {
  const marks = `${flags & TRUNCATED ? "T" : ""}${flags & PARTIAL ? "P" : ""}`;
  return `${String.fromCharCode(...line)}|${marks}|${length}`;
}

/** Feeds `chunks`, ends the stream, and reports the messages and counters. */
function feed(framer: Framer, chunks: Uint8Array[]): string[] {
  const got: string[] = [];
  const sink = (line: Uint8Array, flags: LineFlags, length: number): void => {
    got.push(shown(line, flags, length));
  };
  for (const chunk of chunks) framer.push(chunk, sink);
  framer.end(sink);
  got.push(`truncated ${framer.truncatedLines}, dropped ${framer.droppedBytes}`);
  return got;
}

Deno.test("AutoFramer reads a stream starting with a digit from 1 to 9 as octet-counted", () => {
  const framer = new AutoFramer();
  const got = feed(framer, [binary("11 <13>one\ntwo"), binary("5 three")]);
  assert.deepEqual(got, ["<13>one\ntwo||11", "three||5", "truncated 0, dropped 0"]);
  assert.equal(framer.framing, "octet");
  assert.equal(framer.framingError, null);
});

Deno.test("AutoFramer reads a stream starting with anything else, 0 included, as lines", () => {
  for (const text of ["<13>one\n5 two\n", "0 zero\n", "\nempty first\n", "\x00hello\n"]) {
    const framer = new AutoFramer();
    assert.deepEqual(feed(framer, [binary(text)]), feed(new LineFramer(), [binary(text)]), text);
    assert.equal(framer.framing, "lf", text);
  }
});

Deno.test("AutoFramer decides on the first byte, not the first chunk, and never again", () => {
  const framer = new AutoFramer();
  const got = feed(framer, [new Uint8Array(0), binary("<1"), binary("3>x\n5 hello\n")]);
  assert.deepEqual(got, ["<13>x||5", "5 hello||7", "truncated 0, dropped 0"]);
  assert.equal(framer.framing, "lf");
});

Deno.test("AutoFramer holds nothing and is not mid-line before the first byte", () => {
  const framer = new AutoFramer();
  framer.push(new Uint8Array(0), () => assert.fail("nothing to deliver"));
  assert.equal(framer.framing, null);
  assert.equal(framer.framingError, null);
  assert.equal(framer.bufferedBytes, 0);
  assert.equal(framer.midLine, false);
  assert.equal(framer.truncatedLines, 0);
  assert.equal(framer.droppedBytes, 0);
  framer.end(() => assert.fail("nothing to deliver"));
});

Deno.test("AutoFramer reads a line framed by LF that starts with a date as a line, telling why", () => {
  const errors: string[] = [];
  const framer = new AutoFramer({ onFramingError: (error) => errors.push(error) });
  const got = feed(framer, [binary("2024-05-01 boot\nnext\n")]);
  assert.deepEqual(got, ["2024-05-01 boot||15", "next||4", "truncated 0, dropped 0"]);
  const error = 'Invalid octet-counting header "2024-": a length must be followed by a space';
  assert.deepEqual(errors, [error]);
  assert.equal(framer.framingError, error);
  assert.equal(framer.framing, "octet");
});

Deno.test("AutoFramer passes maxLine and keepCr on to the framer it picks", () => {
  const options = { maxLine: 4, keepCr: true };
  assert.deepEqual(feed(new AutoFramer(options), [binary("abcdef\r\nab\r\n")]), [
    "abcd|T|6",
    "ab\r||2",
    "truncated 1, dropped 3",
  ]);
  assert.deepEqual(feed(new AutoFramer(options), [binary("6 abcdef2 a\r")]), [
    "abcd|T|6",
    "a\r||2",
    "truncated 1, dropped 2",
  ]);
});

Deno.test("AutoFramer offers a LineRun to lines framed by LF, and to no octet-counted frame", () => {
  for (const [text, expected] of [["a\nb\n", [0, 2]], ["3 a\nb", []]] as const) {
    const offered: number[] = [];
    const run: LineRun = (_chunk, from) => {
      offered.push(from);
      return from;
    };
    new AutoFramer().push(binary(text), () => {}, run);
    assert.deepEqual(offered, expected, text);
  }
});

Deno.test("AutoFramer gives any stream, in any chunks, what the framer its first byte asks for gives it", () => {
  const random = seededRandom(0xa470);
  // Digits, spaces and newlines keep headers, bad headers and lines coming.
  const alphabet = binary("0123456789  \n\n\r<ab\xc3\xa9");
  for (let round = 0; round < 1000; round++) {
    const maxLine = randomInt(random, 1, 10);
    const stream = Uint8Array.from(
      { length: randomInt(random, 0, 60) },
      () => alphabet[randomInt(random, 0, alphabet.length - 1)] as number,
    );
    const first = stream[0] ?? 0;
    const reference = first >= 0x31 && first <= 0x39
      ? new OctetFramer({ maxLine })
      : new LineFramer({ maxLine });
    const expected = feed(reference, [stream]);
    const label = `round ${round}, maxLine ${maxLine}, stream [${stream.join(",")}]`;
    for (let trial = 0; trial < 3; trial++) {
      assert.deepEqual(
        feed(new AutoFramer({ maxLine }), randomChunks(stream, random, randomInt(random, 1, 12))),
        expected,
        label,
      );
    }
  }
});

Deno.test("AutoFramer uses 65536 bytes as the default maxLine and rejects an invalid one naming it", () => {
  assert.equal(new AutoFramer().maxLine, 65536);
  assert.equal(new AutoFramer({ maxLine: 7 }).maxLine, 7);
  for (const maxLine of [0, -1, 1.5, NaN]) {
    assert.throws(() => new AutoFramer({ maxLine }), {
      name: "RangeError",
      message: `Invalid maxLine "${maxLine}": must be a positive integer`,
    });
  }
});
