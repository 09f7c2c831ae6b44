/**
 * Unit tests for the RESP2 encoder and decoder (lib/sink/_resp.ts), on byte
 * arrays alone: commands byte for byte against a plain reference encoder,
 * replies of every type cut at every byte, and the caps that keep a broker
 * from making the sink buffer without end.
 */

import assert from "node:assert/strict";
import {
  encodeCommand,
  RespBatch,
  RespDecoder,
  RespProtocolError,
  type RespReply,
} from "../../lib/sink/_resp.ts";
import { bytes, concat, seededRandom } from "../_helpers/mod.ts";

const decoder = new TextDecoder();

/** RESP as the protocol's description spells it, with no shortcut. */
function reference(args: readonly (string | Uint8Array)[]): Uint8Array {
  const parts = [bytes(`*${args.length}\r\n`)];
  for (const arg of args) {
    const value = typeof arg === "string" ? bytes(arg) : arg;
    parts.push(bytes(`$${value.length}\r\n`), value, bytes("\r\n"));
  }
  return concat(parts);
}

Deno.test("RespBatch encodes ASCII, UTF-8, empty and binary arguments as the protocol spells them", () => {
  const cases: (string | Uint8Array)[][] = [
    ["PING"],
    ["XADD", "lines", "*", "text", ""],
    ["XADD", "s", "*", "text", "h\u00e9llo \u65e5\u672c \u{1f389}"],
    ["SET", new Uint8Array([0, 13, 10, 255])],
    // Lengths whose decimal digits differ from those of 3 times the length
    // (the in-place encoding's room): 9/10, 99/100, 1000+.
    ["A", "\u00e9".repeat(5), "\u00e9".repeat(50), "\u00e9".repeat(600)],
    ["B", "x".repeat(1023), "x".repeat(1024), "y".repeat(5000)],
  ];
  for (const args of cases) {
    assert.deepEqual(encodeCommand(args), reference(args), JSON.stringify(args).slice(0, 60));
  }
});

Deno.test("RespBatch appends many commands into one buffer that grows, head and fields joined", () => {
  const batch = new RespBatch(16);
  const random = seededRandom(7);
  const expected: Uint8Array[] = [];
  for (let i = 0; i < 500; i++) {
    const text = "w\u00e9".repeat(Math.floor(random() * 300));
    batch.command(["XADD", "s", "*"], ["seq", String(i), "text", text]);
    expected.push(reference(["XADD", "s", "*", "seq", String(i), "text", text]));
  }
  assert.equal(batch.commands, 500);
  assert.deepEqual(batch.bytes(), concat(expected));
  batch.clear();
  batch.command(["PING"]);
  assert.equal(decoder.decode(batch.bytes()), "*1\r\n$4\r\nPING\r\n");
});

const REPLIES: Array<[string, RespReply]> = [
  ["+OK\r\n", { type: "simple", value: "OK" }],
  ["-ERR wrong number of arguments\r\n", {
    type: "error",
    message: "ERR wrong number of arguments",
  }],
  [":-42\r\n", { type: "integer", value: -42 }],
  ["$15\r\n1700000000000-0\r\n", { type: "bulk", value: bytes("1700000000000-0") }],
  ["$0\r\n\r\n", { type: "bulk", value: new Uint8Array(0) }],
  ["$4\r\na\r\nb\r\n", { type: "bulk", value: bytes("a\r\nb") }],
  ["$-1\r\n", { type: "bulk", value: null }],
  ["*-1\r\n", { type: "array", items: null }],
  [
    "*2\r\n*1\r\n:1\r\n$1\r\nx\r\n",
    {
      type: "array",
      items: [{ type: "array", items: [{ type: "integer", value: 1 }] }, {
        type: "bulk",
        value: bytes("x"),
      }],
    },
  ],
];

Deno.test("RespDecoder reads every reply type, whatever bytes each read brings", () => {
  const all = bytes(REPLIES.map(([wire]) => wire).join(""));
  for (let cut = 1; cut <= 7; cut++) {
    const replies = new RespDecoder();
    const got: RespReply[] = [];
    for (let at = 0; at < all.length; at += cut) {
      replies.push(all.subarray(at, at + cut));
      let reply: RespReply | undefined;
      while ((reply = replies.next()) !== undefined) got.push(reply);
    }
    assert.deepEqual(got, REPLIES.map(([, reply]) => reply), `reads of ${cut} bytes`);
    assert.equal(replies.buffered, 0);
  }
});

Deno.test("RespDecoder waits for the rest of an incomplete reply instead of guessing", () => {
  const replies = new RespDecoder();
  replies.push(bytes("$5\r\nhel"));
  assert.equal(replies.next(), undefined);
  replies.push(bytes("lo\r"));
  assert.equal(replies.next(), undefined);
  replies.push(bytes("\n+OK\r\n"));
  assert.deepEqual(replies.next(), { type: "bulk", value: bytes("hello") });
  assert.deepEqual(replies.next(), { type: "simple", value: "OK" });
});

Deno.test("RespDecoder refuses what is not RESP, naming the problem", () => {
  const cases: Array<[string, RegExp]> = [
    ["HTTP/1.1 400 Bad Request\r\n", /Unknown reply type byte 0x48/],
    [":12a\r\n", /Invalid integer "12a"/],
    ["$3\r\nabcd\r\n", /Bulk string not followed by CRLF/],
    ["$-7\r\n", /Invalid bulk string length "-7"/],
  ];
  for (const [wire, message] of cases) {
    const replies = new RespDecoder();
    replies.push(bytes(wire));
    assert.throws(() => replies.next(), (error: unknown) => {
      assert.ok(error instanceof RespProtocolError, String(error));
      assert.match(error.message, message);
      return true;
    });
  }
});

Deno.test("RespDecoder caps what it holds: an oversized bulk string, a line without end, deep nesting", () => {
  const big = new RespDecoder({ maxReplyBytes: 1024 });
  big.push(bytes("$5000\r\n"));
  assert.throws(() => big.next(), /Invalid bulk string length "5000"/);

  const endless = new RespDecoder({ maxReplyBytes: 1024 });
  endless.push(bytes("+" + "x".repeat(2000)));
  assert.throws(() => endless.next(), /longer than 1024 bytes/);

  const deep = new RespDecoder();
  deep.push(bytes("*1\r\n".repeat(20) + ":1\r\n"));
  assert.throws(() => deep.next(), /nested deeper than 8/);
});
