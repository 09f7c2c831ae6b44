/**
 * Unit tests for {@linkcode MessageSplitter}: the server's JSON records, cut
 * anywhere (inside a record, inside a UTF-8 character), become the messages
 * a broker stores, with the fields a consumer reads, and nothing else.
 */

import assert from "node:assert/strict";
import { MessageSplitter, type SinkMessage } from "../../lib/sink/mod.ts";
import { formatMessage } from "../../lib/format/mod.ts";
import { bytes, LogSink } from "../_helpers/mod.ts";

/** The records a json server writes for these lines of client 3. */
function records(lines: string[]): string {
  const out = new LogSink();
  out.write(
    '{"time":"2026-11-24T07:10:02.001Z","type":"connect","run":"r1","client":3,' +
      '"address":"10.0.0.9","port":5000}\n',
  );
  lines.forEach((line, i) =>
    formatMessage(out, "json", { id: 3, address: "10.0.0.9", port: 5000 }, bytes(line), 0, 1000, {
      run: "r1",
      firstSeq: i + 1,
    })
  );
  return out.text();
}

/** A message's fields as an object, for readable assertions. */
function fieldsOf(message: SinkMessage | undefined): Record<string, string> {
  const fields = message?.fields ?? [];
  const object: Record<string, string> = {};
  for (let i = 0; i < fields.length; i += 2) object[fields[i] as string] = fields[i + 1] as string;
  return object;
}

Deno.test("MessageSplitter makes each message record one message with the record's fields, events left out", () => {
  const splitter = new MessageSplitter();
  const messages = splitter.push(bytes(records(["hello", 'say "hi"\t\u00e9'])));
  assert.equal(messages.length, 2);
  assert.deepEqual(fieldsOf(messages[0]), {
    time: "1970-01-01T00:00:01.000Z",
    run: "r1",
    client: "3",
    address: "10.0.0.9",
    port: "5000",
    seq: "1",
    text: "hello",
  });
  assert.equal(fieldsOf(messages[1]).text, 'say "hi"\t\u00e9');
  assert.deepEqual(messages.map((message) => message.id), ["r1/3/1", "r1/3/2"]);
  assert.equal(splitter.heldBytes, 0);
});

Deno.test("MessageSplitter folds the truncated, partial and invalid_utf8 flags into one flags field", () => {
  const splitter = new MessageSplitter();
  const [message] = splitter.push(bytes(
    '{"time":"t","type":"message","run":"r","client":0,"seq":9,"text":"ab\\ufffd",' +
      '"truncated":true,"length":70000,"partial":true,"invalid_utf8":true,"bytes":"YWL/"}\n',
  ));
  const fields = fieldsOf(message);
  assert.equal(fields.flags, "truncated,partial,invalid_utf8");
  assert.equal(fields.length, "70000");
  assert.equal(fields.bytes, "YWL/");
  assert.equal(fields.text, "ab\ufffd");
  assert.equal(fields.truncated, undefined);
  const [plain] = splitter.push(
    bytes('{"type":"message","run":"r","client":0,"seq":1,"text":""}\n'),
  );
  assert.equal(fieldsOf(plain).flags, undefined, "no flags field when no flag is set");
});

Deno.test("MessageSplitter names the node in a message's id when the record has one", () => {
  const [message] = new MessageSplitter().push(bytes(
    '{"type":"message","node":"eu-1","run":"r","client":4,"seq":12,"text":"x"}\n',
  ));
  assert.equal(message?.id, "eu-1/r/4/12");
  assert.equal(fieldsOf(message).node, "eu-1");
});

Deno.test("MessageSplitter gives the same messages however the records are cut, even inside a character", () => {
  const text = records(["one", "\u65e5\u672c\u8a9e", "\u{1f389} three", ""]);
  const all = bytes(text);
  const whole = new MessageSplitter().push(all);
  assert.equal(whole.length, 4);
  for (let cut = 1; cut < all.length; cut++) {
    const splitter = new MessageSplitter();
    const got = [...splitter.push(all.subarray(0, cut)), ...splitter.push(all.subarray(cut))];
    assert.deepEqual(got, whole, `cut at byte ${cut}`);
  }
});

Deno.test("MessageSplitter counts records that are not JSON objects instead of dropping them silently", () => {
  const splitter = new MessageSplitter();
  const messages = splitter.push(bytes('not json\n[1,2]\n{"type":"message","text":"ok"}\n'));
  assert.equal(messages.length, 1);
  assert.equal(splitter.unreadable, 2);
});
