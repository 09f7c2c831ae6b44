/**
 * Unit tests for the server's output formats: what a user sees on stdout for
 * each message in `text`, `json` and `raw`, and on stderr (or in the JSON
 * stream) for each connection event.
 */

import assert from "node:assert/strict";
import { BatchWriter } from "../../lib/io/batch_writer.ts";
import { LineFramer } from "../../lib/wire/line_framer.ts";
import { type LineFlags, PARTIAL, TRUNCATED } from "../../lib/wire/line_flags.ts";
import type { ChunkSink } from "../../lib/io/types.ts";
import {
  type ClientInfo,
  formatMessage,
  keepsCr,
  lineWriterOver,
  type MessageFormatOptions,
  MessageFormatter,
  OUTPUT_FORMATS,
  type OutputFormat,
} from "../../lib/format/message_formatter.ts";
import {
  type ConnectionEvent,
  formatJsonEvent,
  formatJsonStart,
  formatJsonStop,
  formatTextEvent,
} from "../../lib/server/events.ts";
import { countOf } from "../../lib/text/count_of.ts";
import { concat, jsonLines, randomInt, seededRandom } from "../_helpers/mod.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

const CLIENT: ClientInfo = { id: 3, address: "127.0.0.1", port: 40000 };
const V6_CLIENT: ClientInfo = { id: 12, address: "::1", port: 5000 };
/** 2023-11-14T22:13:20.123Z */
const TIME = 1700000000123;

function bytes(text: string): Uint8Array {
  return encoder.encode(text);
}

/** A sink that keeps a copy of everything written, as bytes. */
class CollectingSink implements ChunkSink {
  readonly chunks: Uint8Array[] = [];

  write(chunk: string | Uint8Array): void {
    // Copy: formatters may pass views of buffers that are reused afterwards.
    this.chunks.push(typeof chunk === "string" ? encoder.encode(chunk) : chunk.slice());
  }

  get bytes(): Uint8Array {
    const total = this.chunks.reduce((sum, chunk) => sum + chunk.length, 0);
    const all = new Uint8Array(total);
    let offset = 0;
    for (const chunk of this.chunks) {
      all.set(chunk, offset);
      offset += chunk.length;
    }
    return all;
  }

  get text(): string {
    return decoder.decode(this.bytes);
  }
}

function format(
  outputFormat: OutputFormat,
  line: Uint8Array,
  {
    truncated = false,
    partial = false,
    client = CLIENT,
    time = TIME,
    ...options
  }:
    & { truncated?: boolean; partial?: boolean; client?: ClientInfo; time?: number }
    & Parameters<
      typeof formatMessage
    >[6] = {},
): CollectingSink {
  const sink = new CollectingSink();
  const flags = (truncated ? TRUNCATED : 0) | (partial ? PARTIAL : 0);
  formatMessage(sink, outputFormat, client, line, flags, time, options);
  return sink;
}

function text(line: string, flags: { truncated?: boolean; partial?: boolean } = {}): string {
  return format("text", bytes(line), flags).text;
}

function json(line: Uint8Array, flags: { truncated?: boolean; partial?: boolean } = {}): string {
  return format("json", line, flags).text;
}

function disconnect(
  overrides: Partial<Extract<ConnectionEvent, { type: "disconnect" }>> = {},
): ConnectionEvent {
  return {
    type: "disconnect",
    client: CLIENT,
    time: TIME,
    reason: "eof",
    detail: "",
    lines: 2,
    bytes: 10,
    truncated: 0,
    durationMs: 1500,
    ...overrides,
  };
}

/** A peer refused by `--allow`/`--deny`: an event with no client. */
const DENIED: ConnectionEvent = {
  type: "refused",
  address: "10.0.0.1",
  port: 1,
  time: TIME,
  reason: "denied",
  limit: 0,
};

Deno.test("OUTPUT_FORMATS lists text, json and raw", () => {
  assert.deepEqual([...OUTPUT_FORMATS], ["text", "json", "raw"]);
});

Deno.test("text format labels each message with its client number", () => {
  assert.equal(text("hello"), "[client 3] hello\n");
  assert.equal(text(""), "[client 3] \n");
  assert.equal(text("a\tb"), "[client 3] a\tb\n");
});

Deno.test("text format says truncated and partial in the label", () => {
  assert.equal(text("cut", { truncated: true }), "[client 3 truncated] cut\n");
  assert.equal(text("end", { partial: true }), "[client 3 partial] end\n");
  assert.equal(
    text("both", { truncated: true, partial: true }),
    "[client 3 truncated partial] both\n",
  );
});

Deno.test("text format shows non-ASCII text as sent", () => {
  assert.equal(
    text("h\u00e9llo \u{1f389} \u65e5\u672c"),
    "[client 3] h\u00e9llo \u{1f389} \u65e5\u672c\n",
  );
});

Deno.test("text format escapes control characters and terminal sequences", () => {
  assert.equal(text("\x1b]0;pwned\x07hi"), "[client 3] \\x1b]0;pwned\\x07hi\n");
  assert.equal(text("\x1b[2J\rx"), "[client 3] \\x1b[2J\\x0dx\n");
  assert.equal(text("\u009b2J\x7f"), "[client 3] \\x9b2J\\x7f\n");
  assert.equal(
    format("text", new Uint8Array([0x61, 0xff, 0x1b, 0x62]), { partial: true }).text,
    "[client 3 partial] a\ufffd\\x1bb\n",
  );
});

Deno.test("text format writes exactly one newline per message", () => {
  for (const line of ["plain", "\u00e9", "a\rb", "\x1b"]) {
    const out = text(line);
    assert.equal(out.indexOf("\n"), out.length - 1, JSON.stringify(line));
  }
});

Deno.test("json format writes one exact JSON line per message", () => {
  assert.equal(
    json(bytes("hello")),
    '{"time":"2023-11-14T22:13:20.123Z","type":"message","client":3,' +
      '"address":"127.0.0.1","port":40000,"seq":1,"text":"hello"}\n',
  );
});

Deno.test("json format lines parse with time, type, client, address, port, seq and text", () => {
  const out = format("json", bytes("h\u00e9llo"), { client: V6_CLIENT, time: 0 }).text;
  assert.equal(out.indexOf("\n"), out.length - 1);
  assert.deepEqual(JSON.parse(out), {
    time: "1970-01-01T00:00:00.000Z",
    type: "message",
    client: 12,
    address: "::1",
    port: 5000,
    seq: 1,
    text: "h\u00e9llo",
  });
});

Deno.test("json format adds truncated and partial only when set", () => {
  const plain = JSON.parse(json(bytes("x")));
  assert.equal("truncated" in plain, false);
  assert.equal("partial" in plain, false);
  const truncated = json(bytes("x"), { truncated: true });
  assert.match(truncated, /"truncated":true,"length":1/);
  assert.doesNotMatch(truncated, /partial/);
  assert.equal(JSON.parse(truncated).truncated, true);
  const partial = json(bytes("x"), { partial: true });
  assert.match(partial, /"partial":true/);
  assert.doesNotMatch(partial, /truncated/);
  const both = JSON.parse(json(bytes("x"), { truncated: true, partial: true }));
  assert.equal(both.truncated, true);
  assert.equal(both.partial, true);
  assert.equal(both.text, "x");
});

Deno.test("json format keeps control characters as data, escaped", () => {
  const line = '\x1b]0;t\x07\r\t\x7f\u0085"\\';
  const out = json(bytes(line));
  assert.equal(JSON.parse(out).text, line);
  const raw = [...out.slice(0, -1)].map((c) => c.codePointAt(0) as number);
  assert.deepEqual(raw.filter((c) => c < 0x20 || (c >= 0x7f && c <= 0x9f)), []);
});

Deno.test("json format shows invalid UTF-8 as U+FFFD", () => {
  assert.equal(JSON.parse(json(new Uint8Array([0x61, 0xff, 0x62]))).text, "a\ufffdb");
});

Deno.test("json format quotes an address that needs escaping", () => {
  const client = { id: 1, address: 'odd"name\\', port: 1 };
  assert.equal(JSON.parse(format("json", bytes("x"), { client }).text).address, 'odd"name\\');
});

Deno.test("json records name the run, and seq counts a client's lines from 1, or from where its hello says", () => {
  const formatter = new MessageFormatter("json", CLIENT, { run: "0123456789abcdef" });
  const sink = new CollectingSink();
  const lines = lineWriterOver(sink);
  for (const line of ["a", "b\x1b", "c"]) formatter.write(lines, bytes(line), 0, TIME);
  const records = jsonLines(sink.text);
  assert.deepEqual(records.map((r) => [r.run, r.client, r.seq]), [
    ["0123456789abcdef", 3, 1],
    ["0123456789abcdef", 3, 2],
    ["0123456789abcdef", 3, 3],
  ]);
  assert.match(
    sink.text,
    /^\{"time":"[^"]+","type":"message","run":"0123456789abcdef","client":3,/,
  );
  assert.equal(JSON.parse(json(bytes("x"))).run, undefined);
  const later = new MessageFormatter("json", CLIENT, { firstSeq: 91 });
  assert.equal(later.nextSeq, 91);
  later.write(lineWriterOver(new CollectingSink()), bytes("x"), 0, TIME);
  assert.equal(later.nextSeq, 92);
  assert.throws(() => new MessageFormatter("json", CLIENT, { firstSeq: -1 }), {
    name: "RangeError",
    message: 'Invalid firstSeq "-1": must be an integer >= 0',
  });
});

Deno.test("json messages name the node right after the run, whether written one by one or in a run", () => {
  const options = { run: "0123456789abcdef", node: "web-3" };
  const head = '{"time":"2023-11-14T22:13:20.123Z","type":"message","run":"0123456789abcdef",' +
    '"node":"web-3","client":3,"address":"127.0.0.1","port":40000,';
  // A clean line and one with a byte to escape, each way.
  const reads = [bytes("plain\nesc\x1b\n")];
  for (const bulk of [false, true]) {
    const written = stream("json", reads, 100, { bulk, options });
    assert.equal(
      written.text,
      `${head}"seq":1,"text":"plain"}\n${head}"seq":2,"text":"esc\\u001b"}\n`,
      `bulk: ${bulk}`,
    );
    assert.equal(written.runLines, bulk ? 1 : 0);
  }
  assert.equal(JSON.parse(format("json", bytes("x"), { node: "web-3" }).text).node, "web-3");
  assert.equal("node" in JSON.parse(json(bytes("x"))), false);
});

Deno.test("text --label-node starts each label with the node and a slash, in every label style", () => {
  const line = bytes("hi");
  const node = { node: "web-3", labelNode: true };
  assert.equal(format("text", line, node).text, "[web-3/client 3] hi\n");
  assert.equal(
    format("text", line, { ...node, label: "address" }).text,
    "[web-3/127.0.0.1:40000] hi\n",
  );
  assert.equal(
    format("text", line, { ...node, label: "both", truncated: true, partial: true }).text,
    "[web-3/client 3 127.0.0.1:40000 truncated partial] hi\n",
  );
  assert.equal(
    format("text", line, { ...node, client: { ...CLIENT, name: "db-2" }, timestamp: true }).text,
    "2023-11-14T22:13:20.123Z [web-3/client 3 db-2] hi\n",
  );
  // Through the fast path too.
  assert.equal(
    stream("text", [bytes("one\ntwo\x1b\n")], 100, { bulk: true, options: node }).text,
    "[web-3/client 3] one\n[web-3/client 3] two\\x1b\n",
  );
  // Off by default, with or without a node: today's label, byte for byte.
  for (const options of [{}, { node: "web-3" }, { labelNode: true }]) {
    assert.equal(format("text", line, options).text, "[client 3] hi\n");
    assert.equal(
      stream("text", [bytes("one\n")], 100, { bulk: true, options }).text,
      "[client 3] one\n",
    );
  }
  // raw has no label to put it in.
  assert.equal(format("raw", line, node).text, "hi\n");
});

Deno.test("formatTextEvent names a client with its node when given one, and a refused peer as before", () => {
  assert.equal(
    formatTextEvent({ type: "connect", client: CLIENT, time: TIME }, "web-3"),
    "web-3/client 3 connected from 127.0.0.1:40000\n",
  );
  assert.match(
    formatTextEvent(disconnect({ client: { ...CLIENT, name: "db-2" } }), "web-3"),
    /^web-3\/client 3 \(db-2\) disconnected from 127\.0\.0\.1:40000 \(eof\): /,
  );
  assert.equal(formatTextEvent(DENIED, "web-3"), formatTextEvent(DENIED));
  assert.equal(
    formatTextEvent({ type: "connect", client: CLIENT, time: TIME }),
    "client 3 connected from 127.0.0.1:40000\n",
  );
});

Deno.test("a framing error event names the client and the header, and says the rest is read by LF", () => {
  const detail = 'Invalid octet-counting header "<": a frame must start with its length';
  const event = { type: "framing-error", client: CLIENT, time: TIME, detail } as const;
  assert.equal(
    formatTextEvent(event),
    `client 3 framing error from 127.0.0.1:40000: ${detail}; the rest is read as lines ending in LF\n`,
  );
  assert.match(formatTextEvent(event, "web-3"), /^web-3\/client 3 framing error from /);
  const record = JSON.parse(formatJsonEvent(event, { run: "r", node: "web-3" }));
  assert.deepEqual(record, {
    time: new Date(TIME).toISOString(),
    type: "framing-error",
    run: "r",
    node: "web-3",
    client: 3,
    address: "127.0.0.1",
    port: 40000,
    detail,
  });
});

Deno.test("json says how long a truncated line was, before its cut", () => {
  const record = JSON.parse(format("json", bytes("abcd"), { truncated: true, length: 70000 }).text);
  assert.deepEqual([record.text, record.truncated, record.length], ["abcd", true, 70000]);
  const partial = JSON.parse(
    format("json", bytes("abcd"), { truncated: true, partial: true, length: 9 }).text,
  );
  assert.deepEqual([partial.truncated, partial.length, partial.partial], [true, 9, true]);
  assert.equal("length" in JSON.parse(json(bytes("abcd"))), false);
  assert.equal("length" in JSON.parse(json(bytes("abcd"), { partial: true })), false);
});

Deno.test("json flags a line that is not UTF-8 and gives its bytes in base64; valid text is not flagged", () => {
  const line = Uint8Array.of(0x61, 0xff, 0x1b, 0xc3, 0x62);
  const record = JSON.parse(json(line));
  assert.equal(record.text, "a\ufffd\x1b\ufffdb");
  assert.equal(record.invalid_utf8, true);
  assert.equal(record.bytes, "Yf8bw2I=");
  assert.deepEqual(Uint8Array.from(atob(record.bytes), (c) => c.charCodeAt(0)), line);
  for (const valid of ["plain", "tab\tand \x1b[2J", "caf\u00e9 \u202e", ""]) {
    const plain = JSON.parse(json(bytes(valid)));
    assert.equal("invalid_utf8" in plain || "bytes" in plain, false, JSON.stringify(valid));
  }
  // A truncated, partial line that is not UTF-8 says all three.
  const all = JSON.parse(format("json", line, { truncated: true, partial: true, length: 8 }).text);
  assert.deepEqual(
    [all.truncated, all.length, all.partial, all.invalid_utf8, all.bytes],
    [true, 8, true, true, "Yf8bw2I="],
  );
  // text and raw are unchanged: U+FFFD, and the bytes.
  assert.equal(format("text", line).text, "[client 3] a\ufffd\\x1b\ufffdb\n");
});

Deno.test("text --label address and both name the client's address, IPv6 in brackets", () => {
  const line = bytes("hi");
  assert.equal(format("text", line, { label: "number" }).text, "[client 3] hi\n");
  assert.equal(format("text", line, { label: "address" }).text, "[127.0.0.1:40000] hi\n");
  assert.equal(format("text", line, { label: "both" }).text, "[client 3 127.0.0.1:40000] hi\n");
  assert.equal(
    format("text", line, { label: "both", client: V6_CLIENT, truncated: true }).text,
    "[client 12 [::1]:5000 truncated] hi\n",
  );
  assert.equal(
    format("text", line, { label: "address", client: V6_CLIENT, partial: true }).text,
    "[[::1]:5000 partial] hi\n",
  );
});

Deno.test("text --timestamp starts each line with the time it was read, RFC 3339 UTC with milliseconds", () => {
  assert.equal(
    format("text", bytes("hi"), { timestamp: true }).text,
    "2023-11-14T22:13:20.123Z [client 3] hi\n",
  );
  assert.equal(
    format("text", bytes("cut"), { timestamp: true, truncated: true, time: 0 }).text,
    "1970-01-01T00:00:00.000Z [client 3 truncated] cut\n",
  );
  // One formatter, the time changing from read to read.
  const formatter = new MessageFormatter("text", CLIENT, { timestamp: true, label: "both" });
  const sink = new CollectingSink();
  formatter.write(lineWriterOver(sink), bytes("one"), 0, TIME);
  formatter.write(lineWriterOver(sink), bytes("two"), 0, TIME + 1001);
  assert.equal(
    sink.text,
    "2023-11-14T22:13:20.123Z [client 3 127.0.0.1:40000] one\n" +
      "2023-11-14T22:13:21.124Z [client 3 127.0.0.1:40000] two\n",
  );
});

Deno.test("a client's chosen name is in its text label, its JSON records and its disconnect event", () => {
  const web1: ClientInfo = { ...CLIENT, name: "web1", session: "0123456789abcdef" };
  assert.equal(format("text", bytes("hi"), { client: web1 }).text, "[client 3 web1] hi\n");
  assert.equal(
    format("text", bytes("hi"), { client: web1, label: "both", partial: true }).text,
    "[client 3 web1 127.0.0.1:40000 partial] hi\n",
  );
  assert.equal(
    format("text", bytes("hi"), { client: web1, label: "address" }).text,
    "[web1 127.0.0.1:40000] hi\n",
  );
  const record = JSON.parse(format("json", bytes("hi"), { client: web1 }).text);
  assert.deepEqual([record.name, record.session], ["web1", "0123456789abcdef"]);
  assert.match(formatTextEvent(disconnect({ client: web1 })), /^client 3 \(web1\) disconnected /);
  const event = JSON.parse(formatJsonEvent(disconnect({ client: web1 })));
  assert.deepEqual([event.name, event.session], ["web1", "0123456789abcdef"]);
  // A name is a peer string like any other: escaped wherever it is shown.
  const odd: ClientInfo = { ...CLIENT, name: "x\x1b[2J\u202e" };
  assert.equal(
    format("text", bytes("hi"), { client: odd }).text,
    "[client 3 x\\x1b[2J\\u{202e}] hi\n",
  );
  assert.equal(JSON.parse(format("json", bytes("hi"), { client: odd }).text).name, odd.name);
  const shown = format("json", bytes("hi"), { client: odd }).text;
  assert.equal(shown.includes("\x1b") || shown.includes("\u202e"), false);
});

Deno.test("the start and stop records name the run and the node and say what a pipeline needs", () => {
  const start = formatJsonStart({
    time: TIME,
    run: "0123456789abcdef",
    node: "web-3",
    version: "1.2.3",
    listen: "[::]:8888",
  });
  assert.equal(
    start,
    '{"time":"2023-11-14T22:13:20.123Z","type":"start","run":"0123456789abcdef",' +
      '"node":"web-3","version":"1.2.3","listen":"[::]:8888"}\n',
  );
  const stop = JSON.parse(formatJsonStop({
    time: TIME,
    run: "0123456789abcdef",
    node: "web-3",
    clients: 3,
    lines: 10,
    bytes: 120,
    truncated: 1,
    refused: 2,
    cutOff: 0,
    dropped: 0,
    kicked: 1,
    throttled: 2,
    throttledMs: 1500,
    framingErrors: 4,
    durationMs: 5000,
  }));
  assert.deepEqual(stop, {
    time: "2023-11-14T22:13:20.123Z",
    type: "stop",
    run: "0123456789abcdef",
    node: "web-3",
    clients: 3,
    lines: 10,
    bytes: 120,
    truncated: 1,
    refused: 2,
    cut_off: 0,
    dropped: 0,
    kicked: 1,
    throttled: 2,
    throttled_ms: 1500,
    framing_errors: 4,
    duration_ms: 5000,
  });
});

Deno.test("formatJsonEvent names the run and the node after the type, in every kind of event", () => {
  const run = "0123456789abcdef";
  const origin = { run, node: "web-3" };
  const connect = formatJsonEvent({ type: "connect", client: CLIENT, time: TIME }, origin);
  assert.match(
    connect,
    /^\{"time":"[^"]+","type":"connect","run":"0123456789abcdef","node":"web-3","client":3,/,
  );
  const left = JSON.parse(formatJsonEvent(disconnect(), origin));
  assert.deepEqual([left.run, left.node], [run, "web-3"]);
  const refused = JSON.parse(formatJsonEvent(DENIED, origin));
  assert.deepEqual([refused.run, refused.node], [run, "web-3"]);
  // Each only when known.
  assert.equal("node" in JSON.parse(formatJsonEvent(disconnect(), { run })), false);
  const bare = JSON.parse(formatJsonEvent(disconnect()));
  assert.equal("run" in bare || "node" in bare, false);
});

Deno.test("raw format passes the bytes through untouched plus a newline", () => {
  const line = new Uint8Array([0x1b, 0x5b, 0x32, 0x4a, 0xff, 0x00, 0x0d, 0xc2, 0x9b, 0x61]);
  const expected = new Uint8Array([...line, 0x0a]);
  assert.deepEqual(format("raw", line).bytes, expected);
  assert.deepEqual(format("raw", line, { truncated: true, partial: true }).bytes, expected);
  assert.deepEqual(format("raw", new Uint8Array(0)).bytes, new Uint8Array([0x0a]));
});

Deno.test("formatTextEvent reports a connection with host:port", () => {
  assert.equal(
    formatTextEvent({ type: "connect", client: CLIENT, time: TIME }),
    "client 3 connected from 127.0.0.1:40000\n",
  );
});

Deno.test("formatTextEvent brackets an IPv6 address", () => {
  assert.equal(
    formatTextEvent({ type: "connect", client: V6_CLIENT, time: TIME }),
    "client 12 connected from [::1]:5000\n",
  );
  assert.equal(
    formatTextEvent(disconnect({ client: V6_CLIENT })),
    "client 12 disconnected from [::1]:5000 (eof): 2 lines, 10 bytes, 1.5 s\n",
  );
});

Deno.test("formatTextEvent reports a disconnect with reason, counts and duration", () => {
  assert.equal(
    formatTextEvent(disconnect()),
    "client 3 disconnected from 127.0.0.1:40000 (eof): 2 lines, 10 bytes, 1.5 s\n",
  );
  assert.equal(
    formatTextEvent(disconnect({ reason: "reset", lines: 1, bytes: 1, durationMs: 0 })),
    "client 3 disconnected from 127.0.0.1:40000 (reset): 1 line, 1 byte, 0.0 s\n",
  );
  assert.equal(
    formatTextEvent(
      disconnect({ reason: "drain-timeout", lines: 0, bytes: 0, durationMs: 61234 }),
    ),
    "client 3 disconnected from 127.0.0.1:40000 (drain-timeout): 0 lines, 0 bytes, 61.2 s\n",
  );
});

Deno.test("formatTextEvent mentions truncated lines only when there were some", () => {
  assert.equal(
    formatTextEvent(disconnect({ truncated: 2 })),
    "client 3 disconnected from 127.0.0.1:40000 (eof): 2 lines, 10 bytes, 2 truncated, 1.5 s\n",
  );
  assert.doesNotMatch(formatTextEvent(disconnect({ truncated: 0 })), /truncated/);
});

Deno.test("formatTextEvent adds the detail of an error after the reason", () => {
  assert.equal(
    formatTextEvent(disconnect({ reason: "error", detail: "connection reset by peer" })),
    "client 3 disconnected from 127.0.0.1:40000 (error: connection reset by peer): " +
      "2 lines, 10 bytes, 1.5 s\n",
  );
  assert.match(
    formatTextEvent(disconnect({ reason: "drain-timeout" })),
    /\(drain-timeout\): /,
  );
});

Deno.test("formatJsonEvent writes a connect event as one JSON line", () => {
  const out = formatJsonEvent({ type: "connect", client: V6_CLIENT, time: TIME });
  assert.equal(
    out,
    '{"time":"2023-11-14T22:13:20.123Z","type":"connect","client":12,' +
      '"address":"::1","port":5000}\n',
  );
  assert.deepEqual(JSON.parse(out), {
    time: "2023-11-14T22:13:20.123Z",
    type: "connect",
    client: 12,
    address: "::1",
    port: 5000,
  });
});

Deno.test("formatJsonEvent writes a disconnect event with reason and counts", () => {
  const out = formatJsonEvent(disconnect({ truncated: 1 }));
  assert.equal(out.indexOf("\n"), out.length - 1);
  assert.deepEqual(JSON.parse(out), {
    time: "2023-11-14T22:13:20.123Z",
    type: "disconnect",
    client: 3,
    address: "127.0.0.1",
    port: 40000,
    reason: "eof",
    lines: 2,
    bytes: 10,
    truncated: 1,
    duration_ms: 1500,
  });
});

Deno.test("formatJsonEvent includes detail only when there is one", () => {
  assert.doesNotMatch(formatJsonEvent(disconnect()), /detail/);
  const event = JSON.parse(
    formatJsonEvent(disconnect({ reason: "error", detail: 'bad "thing"\n\\' })),
  );
  assert.equal(event.reason, "error");
  assert.equal(event.detail, 'bad "thing"\n\\');
});

Deno.test("countOf pluralises the noun unless the count is 1", () => {
  assert.equal(countOf(0, "line"), "0 lines");
  assert.equal(countOf(1, "line"), "1 line");
  assert.equal(countOf(2, "byte"), "2 bytes");
  assert.equal(countOf(1000000, "byte"), "1000000 bytes");
});

Deno.test("formatTextEvent escapes control characters in an error detail", () => {
  assert.equal(
    formatTextEvent(disconnect({ reason: "error", detail: "bad\x1b[2J\nthing" })),
    "client 3 disconnected from 127.0.0.1:40000 (error: bad\\x1b[2J\\x0athing): " +
      "2 lines, 10 bytes, 1.5 s\n",
  );
});

Deno.test("the per-client fast path through a BatchWriter writes exactly what formatMessage does", async () => {
  // Lines mixing plain ASCII, quotes, backslashes, tabs, UTF-8, controls and
  // invalid bytes, so both the copy-as-bytes path and the escaping path run.
  const alphabet = [..."abc xyz09~", '"', "\\", "\t", "\u00e9", "\u{1f600}", "\x1b", "\x7f", "\r"];
  let seed = 12345;
  const random = (): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 4294967296;
  };
  const lines: Uint8Array[] = [];
  for (let i = 0; i < 2000; i++) {
    let text = "";
    const length = Math.floor(random() * 30);
    for (let j = 0; j < length; j++) text += alphabet[Math.floor(random() * alphabet.length)];
    const line = encoder.encode(text);
    lines.push(random() < 0.1 ? Uint8Array.of(...line, 0xff, 0xc3) : line);
  }
  for (const fmt of OUTPUT_FORMATS) {
    const written: Uint8Array[] = [];
    const writer = new BatchWriter(
      { write: (chunk) => Promise.resolve(written.push(chunk.slice()) && chunk.length) },
      { chunkSize: 256 },
    );
    const formatter = new MessageFormatter(fmt, CLIENT);
    const plain: Uint8Array[] = [];
    const sink: ChunkSink = {
      write: (chunk) =>
        plain.push(typeof chunk === "string" ? encoder.encode(chunk) : chunk.slice()),
    };
    lines.forEach((line, i) => {
      const truncated = i % 7 === 0;
      const partial = i % 11 === 0;
      const length = truncated ? line.length + i : line.length;
      // The time changes every few lines, as it does once per read.
      const time = TIME + Math.floor(i / 5);
      const flags = (truncated ? TRUNCATED : 0) | (partial ? PARTIAL : 0);
      formatter.write(writer, line, flags, time, length);
      formatMessage(sink, fmt, CLIENT, line, flags, time, { firstSeq: i + 1, length });
    });
    await writer.flush();
    const fast = decoder.decode(concat(written));
    assert.equal(fast, decoder.decode(concat(plain)), `format ${fmt}`);
    assert.equal(fast.split("\n").length, lines.length + 1, `format ${fmt}: one line per message`);
    if (fmt === "json") {
      const records = fast.trimEnd().split("\n").map((record) => JSON.parse(record));
      assert.deepEqual(
        records.map((record) => [record.client, record.seq]),
        lines.map((_, i) => [3, i + 1]),
      );
    }
  }
});

Deno.test("refused connections read as one line saying why, in text and JSON", () => {
  const denied = {
    type: "refused",
    address: "::1",
    port: 5000,
    time: TIME,
    reason: "denied",
    limit: 0,
  } as const;
  const full = { ...denied, address: "10.0.0.9", reason: "full", limit: 100 } as const;
  const perIp = { ...full, reason: "per-ip", limit: 1 } as const;
  assert.equal(formatTextEvent(denied), "refused [::1]:5000: denied by --allow/--deny\n");
  assert.equal(formatTextEvent(full), "refused 10.0.0.9:5000: server full (100 clients)\n");
  assert.equal(
    formatTextEvent(perIp),
    "refused 10.0.0.9:5000: too many connections from 10.0.0.9 (limit 1)\n",
  );
  assert.deepEqual(JSON.parse(formatJsonEvent(denied)), {
    time: "2023-11-14T22:13:20.123Z",
    type: "refused",
    address: "::1",
    port: 5000,
    reason: "denied",
  });
  assert.deepEqual(JSON.parse(formatJsonEvent(perIp)), {
    time: "2023-11-14T22:13:20.123Z",
    type: "refused",
    address: "10.0.0.9",
    port: 5000,
    reason: "per-ip",
    limit: 1,
  });
});

Deno.test("a failed TLS handshake is a refusal with its detail, in text and JSON", () => {
  const tls = {
    type: "refused",
    address: "10.0.0.9",
    port: 5000,
    time: TIME,
    reason: "tls",
    limit: 0,
    detail: "no client certificate",
  } as const;
  assert.equal(formatTextEvent(tls), "refused 10.0.0.9:5000: TLS: no client certificate\n");
  assert.deepEqual(JSON.parse(formatJsonEvent(tls)), {
    time: "2023-11-14T22:13:20.123Z",
    type: "refused",
    address: "10.0.0.9",
    port: 5000,
    reason: "tls",
    detail: "no client certificate",
  });
});

Deno.test("a client known by its certificate is named in its events and JSON messages", () => {
  const alice: ClientInfo = { ...CLIENT, identity: "alice\x1b[2J" };
  assert.equal(
    formatTextEvent({ type: "connect", client: alice, time: TIME }),
    "client 3 connected from 127.0.0.1:40000 as alice\\x1b[2J\n",
  );
  assert.equal(
    JSON.parse(formatJsonEvent({ type: "connect", client: alice, time: TIME })).identity,
    "alice\x1b[2J",
  );
  assert.equal(JSON.parse(formatJsonEvent(disconnect({ client: alice }))).identity, "alice\x1b[2J");
  const message = format("json", bytes("hi"), { client: alice }).text;
  assert.equal(JSON.parse(message).identity, "alice\x1b[2J");
  // Without mutual TLS there is no identity field at all.
  assert.equal("identity" in JSON.parse(json(bytes("hi"))), false);
  assert.equal(text("hi"), "[client 3] hi\n");
});

/** Code points of every control (C0 but tab, DEL, C1), bidi control and
 * invisible character in `text`: what must never reach output raw. */
function rawUnsafe(text: string): number[] {
  return [...text].map((char) => char.codePointAt(0) as number).filter((code) =>
    (code < 0x20 && code !== 0x09) || (code >= 0x7f && code <= 0x9f) || code === 0xad ||
    code === 0x61c || code === 0x180e || (code >= 0x200b && code <= 0x200f) ||
    (code >= 0x2028 && code <= 0x202e) || (code >= 0x2060 && code <= 0x206f) || code === 0xfeff
  );
}

Deno.test("a certificate name with DEL, C1 CSI and a bidi override reaches no output raw, and JSON gives it back", () => {
  // A CN a trusted CA signed: DEL, U+009B (C1 CSI: "31m" would turn the
  // terminal red), U+202E (shows the rest reversed), a zero-width space.
  const identity = "mallory\x7f\u009b31m\u202eelif\u200b";
  const client: ClientInfo = { ...CLIENT, identity };
  const connect = { type: "connect", client, time: TIME } as const;
  const jsonLines = [
    formatJsonEvent(connect),
    formatJsonEvent(disconnect({ client })),
    format("json", bytes("hi"), { client }).text,
    format("json", bytes("\x1b"), { client }).text,
  ];
  for (const line of jsonLines) {
    assert.deepEqual(rawUnsafe(line.slice(0, -1)), [], line);
    assert.equal(JSON.parse(line).identity, identity);
    assert.match(line, /"identity":"mallory\\u007f\\u009b31m\\u202eelif\\u200b"/);
  }
  const textLines = [formatTextEvent(connect), formatTextEvent(disconnect({ client }))];
  assert.equal(
    textLines[0],
    "client 3 connected from 127.0.0.1:40000 as mallory\\x7f\\x9b31m\\u{202e}elif\\u{200b}\n",
  );
  for (const line of textLines) assert.deepEqual(rawUnsafe(line.slice(0, -1)), [], line);
});

Deno.test("text format shows bidi controls and invisible characters in a message as \\u{HHHH}", () => {
  assert.equal(text("\u202e3 tneilc[ hi"), "[client 3] \\u{202e}3 tneilc[ hi\n");
  assert.equal(text("ad\u200bmin\u2066x\u2069"), "[client 3] ad\\u{200b}min\\u{2066}x\\u{2069}\n");
  assert.equal(text("a\u2028b"), "[client 3] a\\u{2028}b\n");
});

Deno.test("json format writes bidi controls and invisible characters in a message as \\uHHHH", () => {
  const line = "\u202eabc\u200b\ufeff";
  const out = json(bytes(line));
  assert.match(out, /"text":"\\u202eabc\\u200b\\ufeff"/);
  assert.equal(JSON.parse(out).text, line);
  assert.deepEqual(rawUnsafe(out.slice(0, -1)), []);
});

Deno.test("error details and TLS refusal details reach no output raw, and JSON gives them back", () => {
  const detail = "peer said \x1b[2J\u009b\u202egnp.exe";
  const refused = {
    type: "refused",
    address: "10.0.0.9",
    port: 5000,
    time: TIME,
    reason: "tls",
    limit: 0,
    detail,
  } as const;
  const failed = disconnect({ reason: "error", detail });
  for (const event of [refused, failed]) {
    const textLine = formatTextEvent(event);
    assert.deepEqual(rawUnsafe(textLine.slice(0, -1)), [], textLine);
    assert.ok(textLine.includes("peer said \\x1b[2J\\x9b\\u{202e}gnp.exe"), textLine);
    const jsonLine = formatJsonEvent(event);
    assert.deepEqual(rawUnsafe(jsonLine.slice(0, -1)), [], jsonLine);
    assert.equal(JSON.parse(jsonLine).detail, detail);
  }
});

Deno.test("an address with hidden characters, as a proxy header could carry, is escaped in every event", () => {
  const address = "10.0.0.1\u202e";
  const client: ClientInfo = { ...CLIENT, address };
  const perIp = {
    type: "refused",
    address,
    port: 5,
    time: TIME,
    reason: "per-ip",
    limit: 2,
  } as const;
  assert.equal(
    formatTextEvent(perIp),
    "refused 10.0.0.1\\u{202e}:5: too many connections from 10.0.0.1\\u{202e} (limit 2)\n",
  );
  const connect = { type: "connect", client, time: TIME } as const;
  assert.equal(
    formatTextEvent(connect),
    "client 3 connected from 10.0.0.1\\u{202e}:40000\n",
  );
  for (const line of [formatJsonEvent(perIp), formatJsonEvent(connect), json(bytes("x"))]) {
    assert.deepEqual(rawUnsafe(line.slice(0, -1)), [], line);
  }
  assert.equal(JSON.parse(format("json", bytes("x"), { client }).text).address, address);
  assert.equal(JSON.parse(formatJsonEvent(perIp)).address, address);
});

Deno.test("disconnect events name a kick and a full send queue", () => {
  assert.match(formatTextEvent(disconnect({ reason: "kicked" })), /\(kicked\): 2 lines/);
  assert.equal(
    JSON.parse(formatJsonEvent(disconnect({ reason: "send-queue-full" }))).reason,
    "send-queue-full",
  );
});

/** What a stream of reads wrote, and in how many lines. */
interface Streamed {
  text: string;
  lines: number;
  /** Of those, the lines `writeRun` wrote. */
  runLines: number;
}

/**
 * Frames `reads` (with `maxLine`) and writes each line with
 * {@linkcode MessageFormatter.write}, as the server does with an observer;
 * with `bulk`, runs of lines go through {@linkcode MessageFormatter.writeRun}
 * first, as it does in log mode. The time changes with every read.
 */
function stream(
  outputFormat: OutputFormat,
  reads: Uint8Array[],
  maxLine: number,
  {
    bulk = false,
    client = CLIENT,
    options = {},
  }: { bulk?: boolean; client?: ClientInfo; options?: MessageFormatOptions } = {},
): Streamed {
  const sink = new CollectingSink();
  const lines = lineWriterOver(sink);
  const formatter = new MessageFormatter(outputFormat, client, options);
  const framer = new LineFramer({ maxLine, keepCr: keepsCr(outputFormat) });
  let time = TIME;
  let count = 0;
  let runLines = 0;
  const onLine = (line: Uint8Array, flags: LineFlags, length: number): void => {
    formatter.write(lines, line, flags, time, length);
    count++;
  };
  const run = (chunk: Uint8Array, from: number, fresh: boolean): number => {
    const { next, lines } = formatter.writeRun(sink, chunk, from, fresh, maxLine, time);
    runLines += lines;
    return next;
  };
  for (const read of reads) {
    framer.push(read, onLine, bulk ? run : undefined);
    time += 1;
  }
  framer.end(onLine);
  return { text: decoder.decode(sink.bytes), lines: count + runLines, runLines };
}

/** Random reads of random lines: clean ASCII more often than not, else
 * mixed with every kind of byte a format escapes, lengths around `maxLine`,
 * `\n` or `\r\n`, and sometimes an unfinished last line. */
function randomReads(random: () => number, maxLine: number): Uint8Array[] {
  const clean = [..."abc xyz09~!{}"];
  const dirty = [
    ...clean,
    '"',
    "\\",
    "\t",
    "\r",
    "\x00",
    "\x1b",
    "\x7f",
    "\u00e9",
    "\u0085",
    "\u{1f600}",
    "\u202e",
    "\u200b",
  ];
  const parts: Uint8Array[] = [];
  const count = randomInt(random, 0, 30);
  for (let i = 0; i <= count; i++) {
    const alphabet = random() < 0.6 ? clean : dirty;
    const length = random() < 0.3
      ? randomInt(random, maxLine - 2, maxLine + 2)
      : randomInt(random, 0, 20);
    let text = "";
    while (text.length < length) text += alphabet[Math.floor(random() * alphabet.length)];
    parts.push(bytes(text));
    if (random() < 0.05) parts.push(Uint8Array.of(0xff, 0xc3));
    // The last line may stay unfinished.
    if (i < count || random() < 0.7) parts.push(bytes(random() < 0.7 ? "\n" : "\r\n"));
  }
  const input = concat(parts);
  const reads: Uint8Array[] = [];
  const largest = randomInt(random, 1, 120);
  for (let pos = 0; pos < input.length;) {
    const size = randomInt(random, 0, largest);
    reads.push(input.subarray(pos, pos + size));
    pos += size;
  }
  return reads;
}

/** Clients and options the formats are compared under: every field a label
 * or a JSON head can hold, and a `seq` that carries over to a new digit. */
const VARIANTS: ReadonlyArray<{ client: ClientInfo; options: MessageFormatOptions }> = [
  { client: CLIENT, options: {} },
  { client: CLIENT, options: { run: "0123456789abcdef", firstSeq: 95 } },
  {
    client: { ...V6_CLIENT, identity: "alice", name: "web1", session: "fedcba9876543210" },
    options: { run: "0123456789abcdef", label: "both", timestamp: true, firstSeq: 999_999 },
  },
  { client: { ...CLIENT, name: "db-2" }, options: { label: "address", timestamp: true } },
  { client: CLIENT, options: { run: "0123456789abcdef", node: "web-3", labelNode: true } },
  {
    client: { ...V6_CLIENT, name: "web1", session: "fedcba9876543210" },
    options: {
      run: "0123456789abcdef",
      node: "n".repeat(64),
      label: "both",
      labelNode: true,
      timestamp: true,
      firstSeq: 9,
    },
  },
  { client: CLIENT, options: { node: "web-3", label: "address" } },
];

Deno.test("writeRun through a framer writes exactly what write does, for random lines in random reads", () => {
  const random = seededRandom(0x5eed);
  for (const outputFormat of OUTPUT_FORMATS) {
    let runLines = 0;
    for (let round = 0; round < 300; round++) {
      const maxLine = randomInt(random, 4, 45);
      const reads = randomReads(random, maxLine);
      const { client, options } = VARIANTS[round % VARIANTS.length] as typeof VARIANTS[number];
      const what = `${outputFormat}, round ${round}, maxLine ${maxLine}, reads ${
        JSON.stringify(reads.map((read) => decoder.decode(read)))
      }`;
      const bulk = stream(outputFormat, reads, maxLine, { bulk: true, client, options });
      const oneByOne = stream(outputFormat, reads, maxLine, { client, options });
      assert.equal(bulk.text, oneByOne.text, what);
      assert.equal(bulk.lines, oneByOne.lines, what);
      runLines += bulk.runLines;
    }
    // Most clean lines must have gone the bulk way, or this compares nothing.
    assert.ok(runLines > 1000, `${outputFormat}: ${runLines} lines written by writeRun`);
  }
});

Deno.test("with writeRun, an overlong line still goes to the framer, which cuts it before a character it would split", () => {
  // "ok\u20ac" is 6f 6b e2 82 ac: a cut at 3 or 4 would split the euro sign.
  const reads = [bytes("hi\nok\u20ac and more\nend\n")];
  for (const maxLine of [3, 4]) {
    assert.equal(
      stream("text", reads, maxLine, { bulk: true }).text,
      "[client 3] hi\n[client 3 truncated] ok\n[client 3] end\n",
    );
    const json = stream("json", reads, maxLine, { bulk: true }).text.trimEnd().split("\n");
    assert.deepEqual(
      json.map((line) => JSON.parse(line)).map((r) => [r.text, r.truncated, r.length]),
      [["hi", undefined, undefined], ["ok", true, 14], ["end", undefined, undefined]],
    );
    assert.equal(stream("raw", reads, maxLine, { bulk: true }).text, "hi\nok\nend\n");
    // The clean lines did go the fast way.
    assert.equal(stream("text", reads, maxLine, { bulk: true }).runLines, 2);
  }
});

Deno.test("writeRun writes a read larger than the fast path's areas exactly as write does", () => {
  // Over 64 KiB in, and (with the JSON head) over 256 KiB out, in one read.
  const lines: string[] = [];
  for (let i = 0; i < 6000; i++) lines.push(i % 500 === 7 ? `tab\there ${i}` : `line number ${i}`);
  const read = bytes(lines.map((line) => `${line}\n`).join(""));
  assert.ok(read.length > 65536);
  for (const outputFormat of OUTPUT_FORMATS) {
    const bulk = stream(outputFormat, [read], 100_000, { bulk: true });
    const oneByOne = stream(outputFormat, [read], 100_000);
    assert.equal(bulk.text, oneByOne.text, outputFormat);
    assert.equal(bulk.lines, 6000, outputFormat);
    // All but the 12 lines with a tab, which json leaves to write.
    assert.ok(bulk.runLines >= 5988, `${outputFormat}: ${bulk.runLines}`);
  }
  assert.ok(stream("json", [read], 100_000).text.length > 262144);
});

Deno.test("writeRun puts the time of each read in its JSON records, and runLines counts them", () => {
  const formatter = new MessageFormatter("json", CLIENT);
  const sink = new CollectingSink();
  const first = bytes("one\ntwo\n");
  const firstRun = formatter.writeRun(sink, first, 0, true, 100, TIME);
  assert.equal(firstRun.next, first.length);
  assert.equal(firstRun.lines, 2);
  const second = bytes("three\n");
  const secondRun = formatter.writeRun(sink, second, 0, true, 100, TIME + 1000);
  assert.equal(secondRun.next, second.length);
  assert.equal(secondRun.lines, 1);
  const records = jsonLines(sink.text);
  assert.deepEqual(records.map((record) => [record.time, record.text]), [
    ["2023-11-14T22:13:20.123Z", "one"],
    ["2023-11-14T22:13:20.123Z", "two"],
    ["2023-11-14T22:13:21.123Z", "three"],
  ]);
  assert.equal(
    sink.text,
    json(bytes("one")) + format("json", bytes("two"), { firstSeq: 2 }).text +
      format("json", bytes("three"), { time: TIME + 1000, firstSeq: 3 }).text,
  );
});

Deno.test("writeRun leaves every line to write when a client's JSON head is too long for the fast path", () => {
  const client: ClientInfo = { ...CLIENT, identity: "n".repeat(5000) };
  const formatter = new MessageFormatter("json", client);
  const sink = new CollectingSink();
  const run = formatter.writeRun(sink, bytes("a\nb\n"), 0, true, 100, TIME);
  assert.equal(run.next, 0);
  assert.equal(run.lines, 0);
  assert.equal(sink.text, "");
  const reads = [bytes("hello\nworld\n")];
  const bulk = stream("json", reads, 100, { bulk: true, client });
  assert.equal(bulk.text, stream("json", reads, 100, { client }).text);
  assert.equal(JSON.parse(bulk.text.split("\n")[0] as string).identity, client.identity);
  // The text label stays short, so text still goes the bulk way.
  assert.equal(stream("text", reads, 100, { bulk: true, client }).runLines, 2);
});

Deno.test("writeRun through a framer writes the new bytes when a read reuses the same buffer", () => {
  for (const outputFormat of OUTPUT_FORMATS) {
    const buffer = bytes("first\nread\n");
    const sink = new CollectingSink();
    const formatter = new MessageFormatter(outputFormat, CLIENT);
    const framer = new LineFramer({ keepCr: keepsCr(outputFormat) });
    const onLine = (line: Uint8Array, flags: LineFlags): void => {
      formatter.write(lineWriterOver(sink), line, flags, TIME);
    };
    const run = (chunk: Uint8Array, from: number, fresh: boolean): number =>
      formatter.writeRun(sink, chunk, from, fresh, 100, TIME).next;
    framer.push(buffer, onLine, run);
    buffer.set(bytes("other\nbyte\n"));
    framer.push(buffer, onLine, run);
    const expected = ["first", "read", "other", "byte"]
      .map((line, i) => format(outputFormat, bytes(line), { firstSeq: i + 1 }).text);
    assert.equal(sink.text, expected.join(""), outputFormat);
  }
});
