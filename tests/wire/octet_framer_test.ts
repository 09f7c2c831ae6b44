/**
 * Unit tests for {@linkcode OctetFramer}: the messages it produces must not
 * depend on where the chunks are cut, an overlong frame must not throw the
 * stream out of step, and memory must stay bounded by `maxLine` whatever a
 * peer sends, garbage and huge lengths included.
 *
 * The reference is {@linkcode LineFramer}: messages without `\n`, framed by
 * octet counting, must come out exactly as the same messages framed by LF
 * (same bytes, flags, lengths, cuts and counters), for random messages in
 * random chunks.
 */

import assert from "node:assert/strict";
import { LineFramer, type LineRun } from "../../lib/wire/line_framer.ts";
import { type LineFlags, PARTIAL, TRUNCATED } from "../../lib/wire/line_flags.ts";
import { MAX_LENGTH_DIGITS, OctetFramer } from "../../lib/wire/octet_framer.ts";
import type { Framer } from "../../lib/wire/framer.ts";
import { oneByteChunks, randomChunks, seededRandom, splitAt } from "../_helpers/mod.ts";

const LF = 10;
const CR = 13;
const encoder = new TextEncoder();

/** One delivered message, copied out of the framer's view. */
interface Frame {
  /** The bytes as a binary string (one char per byte), exact and readable. */
  line: string;
  truncated: boolean;
  partial: boolean;
  /** The length the framer reports the message had before any cut. */
  length: number;
}

/** What a whole stream produced: the messages and the final counters. */
interface Outcome {
  frames: Frame[];
  truncatedLines: number;
  droppedBytes: number;
}

/** Bytes from a binary string (each char code is one byte). */
function binary(text: string): Uint8Array {
  return Uint8Array.from(text, (char) => char.charCodeAt(0));
}

function toBinary(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return text;
}

/** A frame; `length` defaults to the message's own, right for those not cut. */
function frame(line: string, truncated = false, partial = false, length = line.length): Frame {
  return { line, truncated, partial, length };
}

/** A sink that copies each message into `frames`. */
function collect(frames: Frame[]): (line: Uint8Array, flags: LineFlags, length: number) => void {
  return (line, flags, length) => {
    frames.push(frame(toBinary(line), (flags & TRUNCATED) !== 0, (flags & PARTIAL) !== 0, length));
  };
}

/** Feeds `chunks` to `framer` in order, ends the stream, and reports everything. */
function feed(framer: Framer, chunks: Uint8Array[]): Outcome {
  const frames: Frame[] = [];
  const sink = collect(frames);
  for (const chunk of chunks) framer.push(chunk, sink);
  framer.end(sink);
  return { frames, truncatedLines: framer.truncatedLines, droppedBytes: framer.droppedBytes };
}

/** Octet-frames `chunks` and reports the outcome and the framing error. */
function run(
  chunks: Uint8Array[],
  maxLine = 100,
): Outcome & { framingError: string | null } {
  const framer = new OctetFramer({ maxLine });
  return { ...feed(framer, chunks), framingError: framer.framingError };
}

/** The octet-counted encoding of `messages` (RFC 6587 section 3.4.1): each
 * as its length in decimal, a space, and its bytes; `trailer` after each. */
function octetCounted(messages: Uint8Array[], trailer = ""): Uint8Array {
  const parts = messages.flatMap((message) => [
    encoder.encode(`${message.length} `),
    message,
    encoder.encode(trailer),
  ]);
  const stream = new Uint8Array(parts.reduce((total, part) => total + part.length, 0));
  let at = 0;
  for (const part of parts) {
    stream.set(part, at);
    at += part.length;
  }
  return stream;
}

function randomBytes(random: () => number, alphabet: number[], length: number): Uint8Array {
  return Uint8Array.from(
    { length },
    () => alphabet[Math.floor(random() * alphabet.length)] as number,
  );
}

/** Streams full of edge cases for a small maxLine (8): frames at, under and
 * over it, embedded `\n` and `\r`, split characters, trailers, bad headers. */
const TRICKY_STREAMS = [
  "5 hello5 world",
  "8 12345678" + "9 123456789" + "7 1234567",
  "3 a\nb" + "4 \r\n\r\n" + "2 \n\n" + "1 \r",
  "20 abcdefghijklmnopqrst1 x",
  "7 h\xc3\xa9llo!" + "9 abcdefg\xc3\xa9" + "6 \xe2\x82\xac\xe2\x82\xac",
  "5 hello\n5 world\n\n",
  "5 hello\r\n5 world",
  "3 abc05 hello\n",
  "12a\nnext\n",
  "1234567890 x\n",
  "5 hel",
  "12",
  "5 ",
  "",
];

Deno.test("OctetFramer reads each frame as its length, a space, and that many bytes", () => {
  const message =
    "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - 'su root' failed";
  const stream = encoder.encode(`${message.length} ${message}5 hello1 x`);
  assert.deepEqual(run([stream]), {
    frames: [frame(message), frame("hello"), frame("x")],
    truncatedLines: 0,
    droppedBytes: 0,
    framingError: null,
  });
});

Deno.test("OctetFramer delivers \\n and \\r inside a frame as part of the message", () => {
  const messages = ["two\nlines", "crlf\r\n", "\n", "\r", "ends in cr\r", "\r\n\r\n"];
  const stream = octetCounted(messages.map(binary));
  const expected = messages.map((message) => frame(message));
  assert.deepEqual(run([stream]).frames, expected);
  assert.deepEqual(run(oneByteChunks(stream)).frames, expected);
});

Deno.test("OctetFramer skips a \\n between frames, as rsyslog does, and frames on", () => {
  const stream = binary("\n5 hello\n5 world\n\n\n1 x");
  assert.deepEqual(run([stream]), {
    frames: [frame("hello"), frame("world"), frame("x")],
    truncatedLines: 0,
    droppedBytes: 0,
    framingError: null,
  });
});

Deno.test("OctetFramer takes a \\r\\n between frames as a framing error and reads lines by LF from there", () => {
  assert.deepEqual(run([binary("5 hello\r\n5 world\n")]), {
    frames: [frame("hello"), frame(""), frame("5 world")],
    truncatedLines: 0,
    droppedBytes: 0,
    framingError:
      'Invalid octet-counting header "\\x0d": a frame must start with its length, a digit from 1 to 9',
  });
});

Deno.test("OctetFramer rejects a length of 0 or with a leading zero, keeping its bytes as a line", () => {
  assert.deepEqual(run([binary("0 \n05 hello\n")]), {
    frames: [frame("0 "), frame("05 hello")],
    truncatedLines: 0,
    droppedBytes: 0,
    framingError: 'Invalid octet-counting header "0": a length is never 0 and has no leading zero',
  });
});

Deno.test("OctetFramer reads a stream framed by LF whose first line starts with digits as lines", () => {
  // What --framing auto meets when a client framing by LF starts with a date.
  const stream = binary("2024-05-01 boot\n10 lines after\n");
  for (const chunks of [[stream], oneByteChunks(stream)]) {
    assert.deepEqual(run(chunks), {
      frames: [frame("2024-05-01 boot"), frame("10 lines after")],
      truncatedLines: 0,
      droppedBytes: 0,
      framingError: 'Invalid octet-counting header "2024-": a length must be followed by a space',
    });
  }
});

Deno.test("OctetFramer tells onFramingError once, before the first line read by LF", () => {
  const events: string[] = [];
  const framer = new OctetFramer({ onFramingError: (error) => events.push(`error: ${error}`) });
  const sink = (line: Uint8Array): void => {
    events.push(`line: ${toBinary(line)}`);
  };
  for (const chunk of ["5 hello", "12", "a\nb\n", "3 x\n"]) framer.push(binary(chunk), sink);
  framer.end(sink);
  assert.deepEqual(events, [
    "line: hello",
    'error: Invalid octet-counting header "12a": a length must be followed by a space',
    "line: 12a",
    "line: b",
    "line: 3 x",
  ]);
  assert.equal(framer.framingError, events[1]?.slice("error: ".length));
});

Deno.test("OctetFramer quotes the byte that broke a header escaped, after the digits so far", () => {
  const cases: Array<[string, string]> = [
    ["12\n", '"12\\x0a": a length must be followed by a space'],
    ['7"', '"7\\"": a length must be followed by a space'],
    ["\\", '"\\\\": a frame must start with its length, a digit from 1 to 9'],
    ["\x1b[2J", '"\\x1b": a frame must start with its length, a digit from 1 to 9'],
    ["3\xff", '"3\\xff": a length must be followed by a space'],
    ["<13>", '"<": a frame must start with its length, a digit from 1 to 9'],
  ];
  for (const [input, reason] of cases) {
    assert.equal(run([binary(input)]).framingError, `Invalid octet-counting header ${reason}`);
  }
});

Deno.test("OctetFramer takes lengths of up to 9 digits and no more", () => {
  assert.equal(MAX_LENGTH_DIGITS, 9);
  const framer = new OctetFramer({ maxLine: 4 });
  const frames: Frame[] = [];
  framer.push(binary("999999999 abcdef"), collect(frames));
  assert.equal(framer.framingError, null);
  assert.equal(framer.midLine, true);
  assert.equal(framer.bufferedBytes, 4);
  assert.equal(framer.droppedBytes, 2);

  assert.deepEqual(run([binary("1234567890 x\n")]), {
    frames: [frame("1234567890 x")],
    truncatedLines: 0,
    droppedBytes: 0,
    framingError: 'Invalid octet-counting header "1234567890": a length has at most 9 digits',
  });
});

Deno.test("OctetFramer reads what follows a framing error as lines, digits and spaces included", () => {
  const framer = new OctetFramer();
  const frames: Frame[] = [];
  const sink = collect(frames);
  framer.push(binary("x\n5 hello\n"), sink);
  framer.push(binary("3 abc"), sink);
  framer.end(sink);
  assert.deepEqual(frames, [frame("x"), frame("5 hello"), frame("3 abc", false, true)]);
});

Deno.test("OctetFramer delivers what came of a frame the stream ends in, flagged partial", () => {
  assert.deepEqual(run([binary("5 hello3 ab")]).frames, [
    frame("hello"),
    frame("ab", false, true),
  ]);
  // Only the header came: an empty partial message.
  assert.deepEqual(run([binary("5 hello3 ")]).frames, [frame("hello"), frame("", false, true)]);
});

Deno.test("OctetFramer delivers the digits of a length the stream ends in as a partial line", () => {
  assert.deepEqual(run([binary("5 hello12")]), {
    frames: [frame("hello"), frame("12", false, true)],
    truncatedLines: 0,
    droppedBytes: 0,
    framingError: null,
  });
  // Cut at maxLine like any line.
  assert.deepEqual(run([binary("12345")], 3), {
    frames: [frame("123", true, true, 5)],
    truncatedLines: 1,
    droppedBytes: 2,
    framingError: null,
  });
});

Deno.test("OctetFramer cuts a frame over maxLine, skips the rest by count, and stays in step", () => {
  const stream = binary(
    "100 " + "x".repeat(90) + "\n123 5 ok!" + "6 intact" + "13 12345678\r\n5 z" + "1 !",
  );
  const expected = {
    frames: [
      frame("xxxxxxxx", true, false, 100),
      frame("intact"),
      frame("12345678", true, false, 13),
      frame("!"),
    ],
    truncatedLines: 2,
    droppedBytes: 92 + 5,
    framingError: null,
  };
  assert.deepEqual(run([stream], 8), expected);
  for (let i = 0; i <= stream.length; i++) {
    assert.deepEqual(run(splitAt(stream, [i]), 8), expected, `split at ${i}`);
  }
});

Deno.test("OctetFramer delivers frames one below, at and one over maxLine", () => {
  assert.deepEqual(run([binary("7 12345678 123456789 123456789")], 8), {
    frames: [frame("1234567"), frame("12345678"), frame("12345678", true, false, 9)],
    truncatedLines: 1,
    droppedBytes: 1,
    framingError: null,
  });
});

Deno.test("OctetFramer cuts before a UTF-8 character that maxLine would split", () => {
  // "a\u00e9\u20ac" is 61 c3 a9 e2 82 ac.
  const cuts: Array<[number, string]> = [[1, "a"], [2, "a"], [3, "a\xc3\xa9"], [5, "a\xc3\xa9"]];
  for (const [maxLine, kept] of cuts) {
    const stream = binary("6 a\xc3\xa9\xe2\x82\xac");
    for (const chunks of [[stream], oneByteChunks(stream)]) {
      assert.deepEqual(run(chunks, maxLine), {
        frames: [frame(kept, true, false, 6)],
        truncatedLines: 1,
        droppedBytes: 6 - kept.length,
        framingError: null,
      }, `maxLine ${maxLine}`);
    }
  }
});

Deno.test("OctetFramer does not cut a frame the stream ends in after exactly maxLine bytes", () => {
  // As LineFramer: the message had maxLine bytes when the stream ended.
  assert.deepEqual(run([binary("9 abc\xc3")], 4).frames, [frame("abc\xc3", false, true)]);
  assert.deepEqual(run([binary("9 abc\xc3\xa9")], 4).frames, [frame("abc", true, true, 5)]);
});

Deno.test("OctetFramer produces the same messages for a split at every byte position", () => {
  for (const text of TRICKY_STREAMS) {
    const stream = binary(text);
    const whole = run([stream], 8);
    for (let i = 0; i <= stream.length; i++) {
      assert.deepEqual(
        run(splitAt(stream, [i]), 8),
        whole,
        `split at ${i} of ${JSON.stringify(text)}`,
      );
    }
  }
});

Deno.test("OctetFramer produces the same messages for two splits at every pair of positions", () => {
  for (const text of TRICKY_STREAMS) {
    const stream = binary(text);
    const whole = run([stream], 8);
    for (let i = 0; i <= stream.length; i++) {
      for (let j = i; j <= stream.length; j++) {
        assert.deepEqual(run(splitAt(stream, [i, j]), 8), whole, `splits ${i},${j} of ${text}`);
      }
    }
  }
});

Deno.test("OctetFramer produces the same messages when fed one byte at a time", () => {
  for (const text of TRICKY_STREAMS) {
    const stream = binary(text);
    assert.deepEqual(run(oneByteChunks(stream), 8), run([stream], 8), JSON.stringify(text));
  }
});

/** Random messages for the comparison with LineFramer: 1 to 30 bytes each,
 * of few symbols, so that lengths around maxLine, `\r`, split characters and
 * digits keep coming up. None holds a `\n` (LF framing could not carry it),
 * none is empty (octet counting has no empty frame) and none ends in `\r`
 * (before a `\n`, LF framing takes it for part of the line ending). */
function randomMessages(random: () => number): Uint8Array[] {
  const alphabet = [0x61, 0x62, CR, 0xc3, 0xa9, 0xe2, 0x82, 0xac, 0x00, 0xff, 0x31, 0x20];
  return Array.from({ length: Math.floor(random() * 8) }, () => {
    const message = randomBytes(random, alphabet, 1 + Math.floor(random() * 30));
    if (message.at(-1) === CR) message[message.length - 1] = 0x61;
    return message;
  });
}

function lfJoined(messages: Uint8Array[]): Uint8Array {
  const stream = new Uint8Array(messages.reduce((total, message) => total + message.length + 1, 0));
  let at = 0;
  for (const message of messages) {
    stream.set(message, at);
    stream[at + message.length] = LF;
    at += message.length + 1;
  }
  return stream;
}

Deno.test("OctetFramer delivers random messages exactly as LineFramer does the same lines, for any chunking", () => {
  const random = seededRandom(0x6587);
  for (let round = 0; round < 400; round++) {
    const maxLine = 1 + Math.floor(random() * 10);
    const messages = randomMessages(random);
    const expected = feed(new LineFramer({ maxLine }), [lfJoined(messages)]);
    const label = `round ${round}, maxLine ${maxLine}, messages ${
      JSON.stringify(messages.map(toBinary))
    }`;
    for (const trailer of ["", "\n"]) {
      const stream = octetCounted(messages, trailer);
      const chunkings = [[stream], oneByteChunks(stream)];
      for (let trial = 0; trial < 5; trial++) {
        chunkings.push(randomChunks(stream, random, 1 + Math.floor(random() * 12)));
      }
      for (const chunks of chunkings) {
        const sizes = chunks.map((chunk) => chunk.length).join(",");
        const framer = new OctetFramer({ maxLine });
        assert.deepEqual(feed(framer, chunks), expected, `${label}, chunks ${sizes}`);
        assert.equal(framer.framingError, null, label);
      }
    }
  }
});

Deno.test("OctetFramer delivers a random last message the stream ends in as LineFramer does a last line", () => {
  const random = seededRandom(0xc0de);
  for (let round = 0; round < 400; round++) {
    const maxLine = 1 + Math.floor(random() * 10);
    const messages = randomMessages(random);
    const last = messages.pop();
    if (last === undefined || last.length < 2) continue;
    // The stream ends after 1 to all but one of the last message's bytes.
    const sent = last.subarray(0, 1 + Math.floor(random() * (last.length - 1)));
    const lines = lfJoined(messages);
    const lfStream = new Uint8Array(lines.length + sent.length);
    lfStream.set(lines);
    lfStream.set(sent, lines.length);
    const whole = octetCounted([...messages, last]);
    const octetStream = whole.subarray(0, whole.length - (last.length - sent.length));
    const expected = feed(new LineFramer({ maxLine }), [lfStream]);
    const label = `round ${round}, maxLine ${maxLine}, stream ${
      JSON.stringify(toBinary(octetStream))
    }`;
    for (let trial = 0; trial < 5; trial++) {
      const chunks = randomChunks(octetStream, random, 1 + Math.floor(random() * 12));
      assert.deepEqual(feed(new OctetFramer({ maxLine }), chunks), expected, label);
    }
  }
});

Deno.test("OctetFramer never throws and holds at most maxLine + 1 bytes, whatever the garbage", () => {
  const random = seededRandom(0xbad);
  const alphabet = [0x30, 0x31, 0x35, 0x39, 0x20, LF, CR, 0x61, 0xc3, 0xa9, 0xff, 0x00];
  for (let round = 0; round < 2000; round++) {
    const maxLine = 1 + Math.floor(random() * 10);
    const stream = randomBytes(random, alphabet, Math.floor(random() * 120));
    const label = `round ${round}, maxLine ${maxLine}, stream [${stream.join(",")}]`;
    const whole = run([stream], maxLine);
    for (let trial = 0; trial < 3; trial++) {
      const framer = new OctetFramer({ maxLine });
      const frames: Frame[] = [];
      const sink = collect(frames);
      for (const chunk of randomChunks(stream, random, 1 + Math.floor(random() * 12))) {
        framer.push(chunk, sink);
        // LineFramer's own bound after a framing error; maxLine before it.
        const cap = framer.framingError === null ? maxLine : maxLine + 1;
        assert.ok(framer.bufferedBytes <= cap, `${label}: held ${framer.bufferedBytes}`);
      }
      framer.end(sink);
      assert.deepEqual(frames, whole.frames, label);
      assert.equal(framer.framingError, whole.framingError, label);
    }
  }
});

Deno.test("OctetFramer holds at most maxLine bytes of a 999,999,999-byte frame and is in step after it", () => {
  const maxLine = 1024;
  const framer = new OctetFramer({ maxLine });
  const frames: Frame[] = [];
  const sink = collect(frames);
  const length = 999_999_999;
  framer.push(encoder.encode(`${length} `), sink);
  const chunk = new Uint8Array(1024 * 1024).fill(0x78);
  let maxBuffered = 0;
  for (let sent = 0; sent < length; sent += chunk.length) {
    framer.push(chunk.subarray(0, Math.min(chunk.length, length - sent)), sink);
    maxBuffered = Math.max(maxBuffered, framer.bufferedBytes);
  }
  assert.equal(maxBuffered, maxLine);
  assert.equal(framer.droppedBytes, length - maxLine);
  framer.push(encoder.encode("5 after"), sink);
  assert.deepEqual(frames, [frame("x".repeat(maxLine), true, false, length), frame("after")]);
  assert.equal(framer.midLine, false);
});

Deno.test("OctetFramer holds a megabyte of digits as a framing error, not a length", () => {
  const framer = new OctetFramer({ maxLine: 16 });
  const frames: Frame[] = [];
  const chunk = new Uint8Array(64 * 1024).fill(0x37);
  for (let i = 0; i < 16; i++) {
    framer.push(chunk, collect(frames));
    assert.ok(framer.bufferedBytes <= 17, `held ${framer.bufferedBytes}`);
  }
  assert.match(framer.framingError ?? "", /"7777777777": a length has at most 9 digits$/);
  framer.end(collect(frames));
  assert.deepEqual(frames, [frame("7".repeat(16), true, true, 1024 * 1024)]);
});

Deno.test("OctetFramer is mid-line from a frame's first digit to its last byte", () => {
  const framer = new OctetFramer();
  const states: boolean[] = [];
  for (const piece of ["", "1", "1", " ", "hello", "world!", "\n", "3 ab", "c"]) {
    framer.push(binary(piece), () => {});
    states.push(framer.midLine);
  }
  assert.deepEqual(states, [false, true, true, true, true, false, false, true, false]);
});

Deno.test("OctetFramer leaves a LineRun alone until the stream falls back to LF framing", () => {
  const calls: number[] = [];
  // Takes no line itself; records where the framer offered it some.
  const run: LineRun = (_chunk, from) => {
    calls.push(from);
    return from;
  };
  const framer = new OctetFramer();
  const frames: Frame[] = [];
  framer.push(binary("6 a\nb\nc\n5 hello"), collect(frames), run);
  assert.deepEqual(calls, []);
  framer.push(binary("<13>x\ny\n"), collect(frames), run);
  assert.deepEqual(calls, [0, 6]);
  assert.deepEqual(frames, [frame("a\nb\nc\n"), frame("hello"), frame("<13>x"), frame("y")]);
});

Deno.test("OctetFramer with keepCr keeps \\r\\n only in lines after a framing error; a frame is as it came", () => {
  const framer = new OctetFramer({ keepCr: true });
  const frames: Frame[] = [];
  framer.push(binary("4 ab\r\nx\r\n"), collect(frames));
  assert.deepEqual(frames, [frame("ab\r\n"), frame("x\r", false, false, 1)]);
  const plain = run([binary("4 ab\r\nx\r\n")]).frames;
  assert.deepEqual(plain, [frame("ab\r\n"), frame("x")]);
});

Deno.test("OctetFramer uses 65536 bytes as the default maxLine and rejects an invalid one naming it", () => {
  assert.equal(new OctetFramer().maxLine, 65536);
  assert.equal(new OctetFramer({ maxLine: 3 }).maxLine, 3);
  const atCap = "z".repeat(65536);
  assert.deepEqual(run([encoder.encode(`65536 ${atCap}65537 ${atCap}z`)], 65536).frames, [
    frame(atCap),
    frame(atCap, true, false, 65537),
  ]);
  for (const maxLine of [0, -1, 1.5, NaN, Infinity, 2 ** 53]) {
    assert.throws(() => new OctetFramer({ maxLine }), {
      name: "RangeError",
      message: `Invalid maxLine "${maxLine}": must be a positive integer`,
    });
  }
});

Deno.test("OctetFramer counters start at zero", () => {
  const framer = new OctetFramer();
  assert.equal(framer.truncatedLines, 0);
  assert.equal(framer.droppedBytes, 0);
  assert.equal(framer.bufferedBytes, 0);
  assert.equal(framer.midLine, false);
  assert.equal(framer.framingError, null);
});
