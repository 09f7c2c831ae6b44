/**
 * Unit tests for the `--ack` wire format: the acknowledgment line, and the
 * parser that takes acknowledgments out of what a server sends and passes
 * every other byte through untouched, whatever the chunk boundaries; and
 * the errors for malformed or decreasing counts. No sockets.
 */

import assert from "node:assert/strict";
import { ACK_BYTE, AckParser, AckProtocolError, encodeAck } from "../../lib/wire/ack_protocol.ts";
import { bytes, concat, randomInt, seededRandom, splitAt } from "../_helpers/mod.ts";

/** Feeds `chunks` to a new parser; returns the counts and the other bytes. */
function parse(chunks: readonly Uint8Array[]): { acks: number[]; data: Uint8Array } {
  const parser = new AckParser();
  const acks: number[] = [];
  const data: Uint8Array[] = [];
  for (const chunk of chunks) {
    // Copied at once: the views are valid only during the call.
    parser.push(chunk, (count) => acks.push(count), (part) => data.push(part.slice()));
  }
  return { acks, data: concat(data) };
}

/** Asserts that parsing `chunks` throws an AckProtocolError matching `pattern`. */
function rejects(chunks: readonly Uint8Array[], pattern: RegExp): void {
  assert.throws(() => parse(chunks), (error: unknown) => {
    assert.ok(error instanceof AckProtocolError, `expected an AckProtocolError, got ${error}`);
    assert.match(error.message, pattern);
    return true;
  });
}

Deno.test("encodeAck is ACK, the count in decimal, and a newline", () => {
  assert.equal(ACK_BYTE, 6);
  assert.deepEqual(encodeAck(0), bytes("\x060\n"));
  assert.deepEqual(encodeAck(12), bytes("\x0612\n"));
  assert.deepEqual(encodeAck(Number.MAX_SAFE_INTEGER), bytes(`\x06${Number.MAX_SAFE_INTEGER}\n`));
});

Deno.test("encodeAck rejects a count that is not a non-negative safe integer, naming it", () => {
  for (const count of [-1, 1.5, NaN, Infinity, 2 ** 53]) {
    assert.throws(
      () => encodeAck(count),
      (error: unknown) =>
        error instanceof RangeError &&
        error.message ===
          `Invalid acknowledgment count "${count}": must be a non-negative integer`,
    );
  }
});

Deno.test("AckParser takes acknowledgments out from between lines and passes the rest through", () => {
  const { acks, data } = parse([bytes("hello\n\x063\nworld\n\x063\n\x067\nbye")]);
  assert.deepEqual(acks, [3, 3, 7]);
  assert.equal(new TextDecoder().decode(data), "hello\nworld\nbye");
});

Deno.test("AckParser reports the highest count as acknowledged", () => {
  const parser = new AckParser();
  assert.equal(parser.acknowledged, 0);
  parser.push(bytes("\x064\n\x0610\n"), () => {}, () => {});
  assert.equal(parser.acknowledged, 10);
});

Deno.test("AckParser passes every byte that is not an acknowledgment through exactly", () => {
  // ACK bytes inside a line, CR, NUL, invalid UTF-8, and a last line
  // without a newline are all data.
  const data = concat([
    bytes("a\x06b\r\n"),
    new Uint8Array([0, 255, 254, 0x06, 10]),
    bytes("x\x06"),
    bytes("\x06\n"),
    bytes("tail \x06 no newline"),
  ]);
  const parsed = parse([data]);
  assert.deepEqual(parsed.acks, []);
  assert.deepEqual(parsed.data, data);
});

Deno.test("AckParser treats ACK as data after a line that ended in an earlier chunk without a newline", () => {
  // "abc" has no newline, so the ACK in the next chunk is mid-line.
  const parsed = parse([bytes("abc"), bytes("\x065\n"), bytes("\x062\n")]);
  assert.deepEqual(parsed.acks, [2]);
  assert.equal(new TextDecoder().decode(parsed.data), "abc\x065\n");
});

Deno.test("AckParser gives the same counts and bytes for every split of a stream", () => {
  const stream = bytes("one\n\x061\ntwo \x06 two\n\x0612\n\x0612\nthree\n\x06345\nend");
  const whole = parse([stream]);
  assert.deepEqual(whole.acks, [1, 12, 12, 345]);
  for (let a = 0; a <= stream.length; a++) {
    for (let b = a; b <= stream.length; b++) {
      const parsed = parse(splitAt(stream, [a, b]));
      assert.deepEqual(parsed, whole, `split at ${a} and ${b}`);
    }
  }
  // And byte by byte.
  assert.deepEqual(parse(splitAt(stream, Array.from(stream, (_, i) => i))), whole);
});

Deno.test("AckParser recovers the exact data and counts of random streams in random chunks", () => {
  const random = seededRandom(99);
  for (let round = 0; round < 200; round++) {
    const parts: Uint8Array[] = [];
    const dataParts: Uint8Array[] = [];
    const acks: number[] = [];
    let count = 0;
    let atLineStart = true;
    for (let piece = randomInt(random, 0, 12); piece > 0; piece--) {
      if (atLineStart && random() < 0.4) {
        count += randomInt(random, 0, 1000);
        acks.push(count);
        parts.push(encodeAck(count));
        continue;
      }
      // A data line (or, last, a fragment) of random bytes that does not
      // start with ACK where a line starts, as the protocol requires.
      const line = Uint8Array.from(
        { length: randomInt(random, 0, 20) },
        () => randomInt(random, 0, 255),
      ).filter((byte) => byte !== 10);
      if (atLineStart && line[0] === ACK_BYTE) line[0] = 0x41;
      const newline = random() < 0.8;
      const bytesOut = newline ? concat([line, new Uint8Array([10])]) : line;
      if (bytesOut.length === 0) continue;
      parts.push(bytesOut);
      dataParts.push(bytesOut);
      atLineStart = newline;
    }
    const stream = concat(parts);
    const cuts: number[] = [];
    for (let at = randomInt(random, 0, 8); at < stream.length; at += randomInt(random, 1, 8)) {
      cuts.push(at);
    }
    const parsed = parse(splitAt(stream, cuts));
    assert.deepEqual(parsed.acks, acks, `round ${round}`);
    assert.deepEqual(parsed.data, concat(dataParts), `round ${round}`);
  }
});

Deno.test("AckParser hands data over as views only while it is called, in order", () => {
  const parser = new AckParser();
  const events: string[] = [];
  parser.push(
    bytes("a\n\x061\nb\n"),
    (count) => events.push(`ack ${count}`),
    (part) => events.push(`data ${JSON.stringify(new TextDecoder().decode(part))}`),
  );
  assert.deepEqual(events, ['data "a\\n"', "ack 1", 'data "b\\n"']);
});

Deno.test("AckParser rejects an acknowledgment without a count", () => {
  rejects([bytes("\x06\n")], /^Invalid acknowledgment from the server: no count$/);
  rejects([bytes("\x06"), bytes("\n")], /no count/);
});

Deno.test("AckParser rejects a count with other bytes, naming the byte", () => {
  rejects(
    [bytes("\x0612a\n")],
    /^Invalid acknowledgment from the server: unexpected byte 0x61 after "12"$/,
  );
  rejects([bytes("\x06-1\n")], /unexpected byte 0x2d after ""/);
  rejects([bytes("\x063\r\n")], /unexpected byte 0x0d after "3"/);
  rejects([bytes("\x06 3\n")], /unexpected byte 0x20 after ""/);
  rejects([bytes("\x061"), bytes("2\x06\n")], /unexpected byte 0x06 after "12"/);
});

Deno.test("AckParser rejects a count of more than 15 digits", () => {
  const fifteen = "9".repeat(15);
  assert.deepEqual(parse([bytes(`\x06${fifteen}\n`)]).acks, [Number(fifteen)]);
  rejects([bytes(`\x06${fifteen}9\n`)], /unexpected byte 0x39 after "9{15}"/);
});

Deno.test("AckParser rejects a count lower than one before it", () => {
  rejects(
    [bytes("\x065\nline\n\x064\n")],
    /^Invalid acknowledgment from the server: count 4 after 5$/,
  );
  rejects([bytes("\x0610\n"), bytes("\x069\n")], /count 9 after 10/);
});
