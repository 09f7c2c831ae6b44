/**
 * Unit tests for the NATS client protocol subset (lib/sink/_nats_protocol.ts),
 * on byte arrays alone: publishes with headers as the protocol spells them,
 * the server's operations cut at every byte, and the caps that keep a broken
 * server from making the sink buffer without end.
 */

import assert from "node:assert/strict";
import {
  headerStatus,
  MAX_CONTROL_LINE,
  NatsBatch,
  type NatsOp,
  NatsParser,
  NatsProtocolError,
} from "../../lib/sink/_nats_protocol.ts";
import { bytes } from "../_helpers/mod.ts";

const decoder = new TextDecoder();

Deno.test("NatsBatch writes CONNECT, SUB and HPUB with header and total sizes in bytes", () => {
  const batch = new NatsBatch(8);
  batch.connect({ verbose: false, headers: true });
  batch.line("SUB _INBOX.a.* 1");
  batch.publish("logs.web", "_INBOX.a.7", [["Nats-Msg-Id", "r/3/12"]], '{"text":"caf\u00e9"}');
  batch.publish("s", "_INBOX.a.8", [], new Uint8Array([1, 2]));
  const headers = "NATS/1.0\r\nNats-Msg-Id: r/3/12\r\n\r\n";
  const payload = '{"text":"caf\u00e9"}';
  assert.equal(
    decoder.decode(batch.bytes()),
    'CONNECT {"verbose":false,"headers":true}\r\n' +
      "SUB _INBOX.a.* 1\r\n" +
      `HPUB logs.web _INBOX.a.7 ${headers.length} ${headers.length + bytes(payload).length}\r\n` +
      `${headers}${payload}\r\n` +
      "HPUB s _INBOX.a.8 12 14\r\nNATS/1.0\r\n\r\n\u0001\u0002\r\n",
  );
  batch.clear();
  batch.line("PING");
  assert.equal(decoder.decode(batch.bytes()), "PING\r\n");
});

const OPS = 'INFO {"server_id":"X","headers":true,"max_payload":1048576}\r\n' +
  "+OK\r\nPING\r\npong\r\n" +
  'MSG _INBOX.a.1 1 29\r\n{"stream":"LINES","seq":1234}\r\n' +
  "MSG _INBOX.a.2 1 _INBOX.r 2\r\nhi\r\n" +
  "HMSG _INBOX.a.3 1 16 16\r\nNATS/1.0 503\r\n\r\n\r\n" +
  "-ERR 'Maximum Payload Violation'\r\n";

function allOps(text: string, cut: number): NatsOp[] {
  const parser = new NatsParser();
  const all = bytes(text);
  const ops: NatsOp[] = [];
  for (let at = 0; at < all.length; at += cut) {
    parser.push(all.subarray(at, at + cut));
    let op: NatsOp | undefined;
    while ((op = parser.next()) !== undefined) ops.push(op);
  }
  return ops;
}

Deno.test("NatsParser reads every operation of the server, whatever bytes each read brings", () => {
  const whole = allOps(OPS, OPS.length);
  assert.deepEqual(whole.map((op) => op.op), [
    "INFO",
    "+OK",
    "PING",
    "PONG",
    "MSG",
    "MSG",
    "MSG",
    "-ERR",
  ]);
  const [info, , , , ack, withReply, status, error] = whole;
  assert.equal(info?.op === "INFO" && info.info.max_payload, 1048576);
  assert.equal(
    ack?.op === "MSG" && decoder.decode(ack.payload),
    '{"stream":"LINES","seq":1234}',
  );
  assert.equal(ack?.op === "MSG" && ack.headers, null);
  assert.equal(withReply?.op === "MSG" && decoder.decode(withReply.payload), "hi");
  assert.equal(status?.op === "MSG" && headerStatus(status.headers), 503);
  assert.equal(status?.op === "MSG" && status.payload.length, 0);
  assert.deepEqual(error, { op: "-ERR", message: "Maximum Payload Violation" });
  for (let cut = 1; cut <= 9; cut++) assert.deepEqual(allOps(OPS, cut), whole, `reads of ${cut}`);
});

Deno.test("NatsParser refuses what is not the protocol, and lines or payloads past its caps", () => {
  const cases: Array<[string, RegExp, number?]> = [
    ["HTTP/1.1 400 Bad Request\r\n", /Unknown operation "HTTP\/1.1"/],
    ["INFO nope\r\n", /INFO is not JSON/],
    ["MSG a\r\n", /Invalid MSG line/],
    ["HMSG a 1 20 10\r\n", /Invalid HMSG sizes/],
    ["MSG a 1 3\r\nabcd\r\n", /MSG payload not followed by CRLF/],
    ["MSG a 1 5000\r\n", /MSG of 5000 bytes, more than 1024/, 1024],
    ["+OK" + "x".repeat(MAX_CONTROL_LINE + 10), /Control line longer than 4096 bytes/],
  ];
  for (const [wire, message, maxPayloadBytes] of cases) {
    const parser = new NatsParser(maxPayloadBytes === undefined ? {} : { maxPayloadBytes });
    parser.push(bytes(wire));
    assert.throws(() => parser.next(), (error: unknown) => {
      assert.ok(error instanceof NatsProtocolError, String(error));
      assert.match(error.message, message);
      return true;
    });
  }
});

Deno.test("headerStatus reads the status of a header block, and none from an ordinary one", () => {
  assert.equal(headerStatus(bytes("NATS/1.0 408 Request Timeout\r\n\r\n")), 408);
  assert.equal(headerStatus(bytes("NATS/1.0\r\nNats-Msg-Id: x\r\n\r\n")), null);
  assert.equal(headerStatus(null), null);
});
