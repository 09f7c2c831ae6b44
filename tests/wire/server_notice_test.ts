/**
 * Unit tests of the server's notice line (lib/wire/server_notice.ts), without
 * sockets: its format, its parsing, and how {@linkcode NoticeReader} finds it
 * in what a server sends, cut at every place.
 */

import assert from "node:assert/strict";
import {
  formatNotice,
  MAX_NOTICE_BYTES,
  NoticeReader,
  parseNotice,
  type ServerNotice,
} from "../../lib/wire/server_notice.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

const FULL = "linehub-server: refused (full): server full (1 client); try again later\n";
const KICKED = "linehub-server: closing (kicked): disconnected by the operator\n";

Deno.test("formatNotice writes one line that parseNotice reads back", () => {
  const cases: ServerNotice[] = [
    { kind: "refused", reason: "full", text: "server full (1 client); try again later" },
    { kind: "refused", reason: "tls-on-plain-port", text: "this port speaks plain TCP" },
    { kind: "closing", reason: "idle-timeout", text: "nothing received for 30 s" },
  ];
  for (const notice of cases) {
    const line = formatNotice(notice.kind, notice.reason, notice.text);
    assert.equal(line, `linehub-server: ${notice.kind} (${notice.reason}): ${notice.text}\n`);
    assert.deepEqual(parseNotice(line), notice);
    assert.deepEqual(parseNotice(encoder.encode(line)), notice);
    assert.deepEqual(parseNotice(line.slice(0, -1)), notice, "without its newline");
    assert.deepEqual(parseNotice(line.replace("\n", "\r\n")), notice, "with CRLF");
  }
});

Deno.test("formatNotice refuses a reason that is not a word and a text that is not one line", () => {
  assert.throws(() => formatNotice("refused", "Full", "x"), TypeError);
  assert.throws(() => formatNotice("refused", "a b", "x"), TypeError);
  assert.throws(() => formatNotice("refused", "", "x"), TypeError);
  assert.throws(() => formatNotice("closing", "kicked", ""), TypeError);
  assert.throws(() => formatNotice("closing", "kicked", "two\nlines"), TypeError);
  assert.throws(() => formatNotice("closing", "kicked", "x".repeat(MAX_NOTICE_BYTES)), TypeError);
});

Deno.test("parseNotice returns null for the server's other lines and for near misses", () => {
  for (
    const line of [
      "linehub-server: listening on 0.0.0.0:8888",
      "linehub-server: server full (1 client); try again later",
      "linehub-server: refused full: server full",
      "linehub-server: refused (full):",
      "linehub-server: refused (full): ",
      "linehub-server: closed (kicked): bye",
      "linehub-server: closing (Kicked): bye",
      " linehub-server: closing (kicked): bye",
      "linehub-server: closing (kicked): two\rlines",
      `linehub-server: closing (kicked): ${"x".repeat(MAX_NOTICE_BYTES)}`,
      "* client 3 left",
      "",
    ]
  ) {
    assert.equal(parseNotice(line), null, JSON.stringify(line));
  }
});

/** Feeds `parts` to a reader; returns the data passed on and the notice. */
function read(parts: readonly Uint8Array[]): { data: string; notice: ServerNotice | null } {
  const reader = new NoticeReader();
  const out: Uint8Array[] = [];
  // Copied: the views are valid only during the call.
  const onData = (bytes: Uint8Array): void => void out.push(bytes.slice());
  for (const part of parts) reader.push(part, onData);
  const held = reader.end(onData);
  const data = decoder.decode(new Uint8Array(out.flatMap((b) => [...b])));
  return { data, notice: held?.notice ?? null };
}

/** Every way to cut `text` into two or three pieces (and none). */
function splits(text: string): Uint8Array[][] {
  const bytes = encoder.encode(text);
  const out: Uint8Array[][] = [[bytes]];
  for (let a = 1; a < bytes.length; a++) {
    out.push([bytes.subarray(0, a), bytes.subarray(a)]);
    for (let b = a + 1; b < bytes.length; b += Math.max(7, Math.floor(bytes.length / 8))) {
      out.push([bytes.subarray(0, a), bytes.subarray(a, b), bytes.subarray(b)]);
    }
  }
  return out;
}

Deno.test("NoticeReader finds a refusal that is all the server sent, however it is cut", () => {
  for (const parts of splits(FULL)) {
    assert.deepEqual(read(parts), {
      data: "",
      notice: { kind: "refused", reason: "full", text: "server full (1 client); try again later" },
    });
  }
});

Deno.test("NoticeReader finds a closing notice after data, passing the data on unchanged", () => {
  const before = "* you are client 0\nlinehub-serv\nhello\n";
  for (const parts of splits(before + KICKED)) {
    const result = read(parts);
    assert.equal(result.data, before);
    assert.equal(result.notice?.reason, "kicked");
  }
});

Deno.test("NoticeReader passes a notice on as data when anything follows it", () => {
  // A peer in broker mode can send such a line; only a close right after
  // it makes it the server's.
  for (const text of [KICKED + "more\n", FULL + "x", KICKED + KICKED.slice(0, 20)]) {
    for (const parts of splits(text)) {
      assert.deepEqual(read(parts), { data: text, notice: null });
    }
  }
});

Deno.test("NoticeReader takes a refusal after other data as data", () => {
  const text = "welcome\n" + FULL;
  for (const parts of splits(text)) assert.deepEqual(read(parts), { data: text, notice: null });
});

Deno.test("NoticeReader passes the server's other lines on, also at the end", () => {
  for (
    const text of [
      "linehub-server: listening\n",
      "linehub-server: refused (full) no colon\n",
      "linehub-server: closing (kicked): no newline at the end",
      "linehub-server: clo",
      `linehub-server: closing (kicked): ${"x".repeat(MAX_NOTICE_BYTES)}\nafter\n`,
      "plain\nlines\n",
    ]
  ) {
    for (const parts of splits(text)) assert.deepEqual(read(parts), { data: text, notice: null });
  }
});

Deno.test("NoticeReader holds nothing back from a line that stops looking like a notice", () => {
  const reader = new NoticeReader();
  const out: string[] = [];
  const onData = (bytes: Uint8Array): void => void out.push(decoder.decode(bytes));
  reader.push(encoder.encode("linehub-ser"), onData);
  assert.deepEqual(out, [], "may still be a notice");
  reader.push(encoder.encode("ver: listening"), onData);
  assert.equal(out.join(""), "linehub-server: listening", "no newline needed to know");
  reader.push(encoder.encode("log line\n"), onData);
  assert.equal(out.join(""), "linehub-server: listeninglog line\n");
});

Deno.test("NoticeReader gives back the notice line as it came", () => {
  const reader = new NoticeReader();
  reader.push(encoder.encode(KICKED), () => assert.fail("nothing passes"));
  const held = reader.end(() => assert.fail("nothing passes"));
  assert.equal(decoder.decode(held?.line), KICKED);
});
