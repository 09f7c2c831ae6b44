/**
 * Property test over hostile input: 100,000 random byte streams, built from
 * the pieces that break naive line servers, go through the framer and every
 * output format, and the invariants users rely on must hold for each one;
 * and the same pieces, after the start of a PROXY header, through the
 * header's parser into the events a server writes of it.
 *
 * @module
 */

import assert from "node:assert/strict";
import { LineFramer } from "../../lib/wire/line_framer.ts";
import { type LineFlags, PARTIAL, TRUNCATED } from "../../lib/wire/line_flags.ts";
import {
  type ClientInfo,
  lineWriterOver,
  MessageFormatter,
} from "../../lib/format/message_formatter.ts";
import { formatJsonEvent, formatTextEvent } from "../../lib/server/events.ts";
import { parseProxyHeader } from "../../lib/wire/proxy_header.ts";
import { seededRandom } from "../_helpers/mod.ts";

const INPUTS = 100_000;
const MAX_LINE = 16;
const CLIENT: ClientInfo = { id: 7, address: "127.0.0.1", port: 40000 };
const encoder = new TextEncoder();
// A leading U+FEFF is data, as the server decodes it, not a byte order mark.
const decoder = new TextDecoder("utf-8", { ignoreBOM: true });

/** What makes a line server misbehave, as byte pieces. */
const PIECES: readonly Uint8Array[] = [
  encoder.encode("plain text "),
  encoder.encode("h\u00e9llo \u{1f600}"),
  new Uint8Array([0xff]), // never valid in UTF-8
  new Uint8Array([0xc0, 0x80]), // overlong NUL
  new Uint8Array([0xe0, 0x80, 0x80]), // overlong
  new Uint8Array([0xed, 0xa0, 0x80]), // encoded surrogate
  new Uint8Array([0x80]), // lone continuation byte
  new Uint8Array([0xf0, 0x9f, 0x98]), // truncated 4-byte sequence
  new Uint8Array([0]), // NUL
  encoder.encode("\x1b[2J\x1b[31m"), // CSI: clear screen, red
  encoder.encode("\x1b]0;owned\x07"), // OSC: set the window title
  new Uint8Array([0xc2, 0x9b, 0x33, 0x31, 0x6d]), // C1 CSI, UTF-8 encoded
  encoder.encode("\x07\x08\x7f"), // BEL, backspace, DEL
  encoder.encode("\r"), // lone CR
  encoder.encode("\r\n"),
  encoder.encode("\n"),
  encoder.encode('\t"\\'), // what JSON must escape
  encoder.encode("\u202e"), // RLO: shows what follows reversed
  encoder.encode("\u2066\u2069\u202a\u202c"), // bidi isolate and embedding
  encoder.encode("\u061c\u200e\u200f"), // bidi marks
  encoder.encode("\u200b\u200c\u200d\u2060"), // zero width
  encoder.encode("\ufeff\u00ad\u180e"), // invisible
  encoder.encode("\u2028\u2029"), // line and paragraph separators
  new Uint8Array([0xe2, 0x80]), // RLO cut short
  encoder.encode("x".repeat(MAX_LINE - 1) + "\n"),
  encoder.encode("y".repeat(MAX_LINE) + "\n"),
  encoder.encode("z".repeat(MAX_LINE + 1) + "\n"),
  encoder.encode("w".repeat(MAX_LINE) + "\r\n"),
];

interface Line {
  bytes: number[];
  truncated: boolean;
  partial: boolean;
}

function frame(input: Uint8Array, cuts: number[]): { lines: Line[]; maxBuffered: number } {
  const framer = new LineFramer({ maxLine: MAX_LINE });
  const lines: Line[] = [];
  let maxBuffered = 0;
  const sink = (line: Uint8Array, flags: LineFlags): void => {
    lines.push({
      bytes: [...line],
      truncated: (flags & TRUNCATED) !== 0,
      partial: (flags & PARTIAL) !== 0,
    });
  };
  let at = 0;
  for (const cut of [...cuts, input.length]) {
    framer.push(input.subarray(at, cut), sink);
    maxBuffered = Math.max(maxBuffered, framer.bufferedBytes);
    at = cut;
  }
  framer.end(sink);
  return { lines, maxBuffered };
}

// Raw control characters, and the bidi, zero-width and invisible characters
// that can forge or hide text, none of which may reach text or JSON output
// (the newline that ends each output line aside).
const RAW_UNSAFE = new RegExp(
  "[\\x00-\\x08\\x0a-\\x1f\\x7f-\\x9f\\u00ad\\u061c\\u180e\\u200b-\\u200f\\u2028-\\u202e" +
    "\\u2060-\\u206f\\ufeff]",
);

/** 1 to 8 pieces, and now and then random bytes, end to end. */
function hostileBytes(random: () => number): Uint8Array {
  const parts: Uint8Array[] = [];
  const count = 1 + Math.floor(random() * 8);
  for (let i = 0; i < count; i++) {
    if (random() < 0.15) {
      parts.push(Uint8Array.from({ length: 1 + Math.floor(random() * 6) }, () => random() * 256));
    } else {
      parts.push(PIECES[Math.floor(random() * PIECES.length)] as Uint8Array);
    }
  }
  const input = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    input.set(part, offset);
    offset += part.length;
  }
  return input;
}

Deno.test(`framer and formats keep their invariants over ${INPUTS} hostile inputs`, () => {
  const random = seededRandom(20261124);
  for (let n = 0; n < INPUTS; n++) {
    const input = hostileBytes(random);
    // Half the clients have a certificate whose name is as hostile as a line.
    const client: ClientInfo = random() < 0.5
      ? CLIENT
      : { ...CLIENT, identity: decoder.decode(hostileBytes(random)) };
    const formatters = {
      text: new MessageFormatter("text", client),
      json: new MessageFormatter("json", client),
      raw: new MessageFormatter("raw", client),
    };
    // The same input, whole and cut at random places, frames the same.
    const cuts: number[] = [];
    for (let i = 1; i < input.length; i++) if (random() < 0.3) cuts.push(i);
    const whole = frame(input, []);
    const chunked = frame(input, cuts);
    const where = `input ${n}: [${[...input]}]`;
    assert.deepEqual(chunked.lines, whole.lines, where);
    assert.ok(chunked.maxBuffered <= MAX_LINE + 1, `${where}: held ${chunked.maxBuffered} bytes`);

    for (const line of whole.lines) {
      const bytes = Uint8Array.from(line.bytes);
      assert.ok(bytes.length <= MAX_LINE, where);
      for (const [name, formatter] of Object.entries(formatters)) {
        const out: Uint8Array[] = [];
        formatter.write(
          lineWriterOver({ write: (c) => out.push(typeof c === "string" ? encoder.encode(c) : c) }),
          bytes,
          (line.truncated ? TRUNCATED : 0) | (line.partial ? PARTIAL : 0),
          0,
        );
        const joined = new Uint8Array(out.reduce((sum, part) => sum + part.length, 0));
        let at = 0;
        for (const part of out) {
          joined.set(part, at);
          at += part.length;
        }
        // Exactly one output line per message, whole.
        assert.equal(joined[joined.length - 1], 10, `${where}: ${name} output ends with \\n`);
        if (name === "raw") {
          assert.deepEqual([...joined.subarray(0, -1)], line.bytes, `${where}: raw is untouched`);
          continue;
        }
        const text = decoder.decode(joined.subarray(0, -1));
        assert.ok(!RAW_UNSAFE.test(text), `${where}: raw unsafe character in ${name}: ${text}`);
        if (name === "json") {
          const record = JSON.parse(text);
          assert.equal(record.client, 7, where);
          assert.equal(record.identity, client.identity, where);
          assert.equal(record.truncated === true, line.truncated, where);
          assert.equal(record.partial === true, line.partial, where);
          // JSON keeps the text itself: what it decodes to is the line.
          assert.equal(record.text, decoder.decode(bytes), where);
        } else {
          const flags = [line.truncated ? "truncated" : "", line.partial ? "partial" : ""]
            .filter(Boolean).join(" ");
          assert.ok(text.startsWith(`[client 7${flags ? " " + flags : ""}] `), `${where}: ${text}`);
        }
      }
    }
  }
});

Deno.test(
  `connection events keep hostile certificate names and details inert over ${INPUTS / 10} inputs`,
  () => {
    const random = seededRandom(20260212);
    for (let n = 0; n < INPUTS / 10; n++) {
      const identity = decoder.decode(hostileBytes(random));
      const detail = decoder.decode(hostileBytes(random));
      const client: ClientInfo = { ...CLIENT, identity };
      const events = [
        { type: "connect", client, time: 0 } as const,
        {
          type: "disconnect",
          client,
          time: 0,
          reason: "error",
          detail,
          lines: 0,
          bytes: 0,
          truncated: 0,
          durationMs: 0,
        } as const,
        { type: "framing-error", client, time: 0, detail } as const,
        {
          type: "refused",
          address: "10.0.0.1",
          port: 1,
          time: 0,
          reason: "tls",
          limit: 0,
          detail,
        } as const,
      ];
      const where = `identity ${JSON.stringify(identity)}, detail ${JSON.stringify(detail)}`;
      for (const event of events) {
        const text = formatTextEvent(event);
        const json = formatJsonEvent(event);
        for (const line of [text, json]) {
          // One whole line each, with nothing unsafe in it.
          assert.equal(line.indexOf("\n"), line.length - 1, `${where}: ${line}`);
          assert.ok(!RAW_UNSAFE.test(line.slice(0, -1)), `${where}: ${line}`);
        }
        const record = JSON.parse(json);
        if (event.type !== "refused") assert.equal(record.identity, identity, where);
        if (event.type !== "connect") assert.equal(record.detail, detail, where);
      }
    }
  },
);

/** Starts of a PROXY header, so that hostile bytes reach every part of the
 * parser, not only its first check. */
const PROXY_STARTS: readonly Uint8Array[] = [
  new Uint8Array(0),
  encoder.encode("PROXY "),
  encoder.encode("PROXY TCP4 "),
  encoder.encode("PROXY TCP6 "),
  encoder.encode("PROXY UNKNOWN"),
  Uint8Array.of(0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a),
];

Deno.test(
  `what a PROXY header says, or why it is refused, stays inert in events over ${
    INPUTS / 10
  } inputs`,
  () => {
    const random = seededRandom(20261215);
    let refusals = 0;
    for (let n = 0; n < INPUTS / 10; n++) {
      const start = PROXY_STARTS[Math.floor(random() * PROXY_STARTS.length)] as Uint8Array;
      const input = new Uint8Array([...start, ...hostileBytes(random)]);
      const parse = parseProxyHeader(input);
      const where = `input ${n}: [${[...input]}]`;
      const events = [];
      if (parse.status === "invalid") {
        refusals++;
        // As the server reports it: the reason as the detail of a refusal.
        events.push(
          {
            type: "refused",
            address: "10.0.0.1",
            port: 1,
            time: 0,
            reason: "proxy",
            limit: 0,
            detail: parse.reason,
          } as const,
        );
      } else if (parse.status === "done" && parse.header.source !== null) {
        const { address, port } = parse.header.source;
        events.push(
          { type: "connect", client: { ...CLIENT, address, port: port ?? 0 }, time: 0 } as const,
        );
      }
      for (const event of events) {
        for (const line of [formatTextEvent(event), formatJsonEvent(event)]) {
          assert.equal(line.indexOf("\n"), line.length - 1, `${where}: ${line}`);
          assert.ok(!RAW_UNSAFE.test(line.slice(0, -1)), `${where}: ${line}`);
        }
        const record = JSON.parse(formatJsonEvent(event));
        if (event.type === "refused") assert.equal(record.detail, event.detail, where);
        else assert.equal(record.address, event.client.address, where);
      }
    }
    // Most such inputs are not headers: the refusals are what is tested.
    assert.ok(refusals > INPUTS / 20, `${refusals} refusals`);
  },
);
