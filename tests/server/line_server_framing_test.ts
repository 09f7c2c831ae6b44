/**
 * `--framing` in a running {@linkcode LineServer} (and a WorkerPool, and
 * over TLS): octet-counted messages (RFC 6587, as rsyslog and syslog-ng
 * send them) come out as messages like lines, with the same flags, escaping
 * and acknowledgments; a header that breaks the framing is reported, ahead
 * of the lines read after it; `auto` frames each connection as its first
 * byte says. Real TCP clients from `Deno.connect` on loopback port 0; each
 * step waits for what the server has done, never for a time.
 */

import assert from "node:assert/strict";
import { connect as tlsConnect } from "node:tls";
import { readKeyPair } from "../../lib/net/tls_files.ts";
import { Hub } from "../../lib/server/hub.ts";
import { TlsAcceptor } from "../../lib/server/tls_acceptor.ts";
import { workersUnavailableReason } from "../../lib/server/workers/pool.ts";
import { AckParser } from "../../lib/wire/ack_protocol.ts";
import {
  bytes,
  certificatesForTests,
  concat,
  connectTo,
  nameUnless,
  proxyV1,
  proxyV2,
  readToEnd,
  startLineServer,
  startPool,
  waitFor,
  withTimeout,
  writeAll,
} from "../_helpers/mod.ts";

const RUN = "0123456789abcdef";
const encoder = new TextEncoder();

/** `messages` octet-counted: each as its length in bytes, a space, itself. */
function octet(...messages: string[]): Uint8Array {
  return bytes(messages.map((message) => `${encoder.encode(message).length} ${message}`).join(""));
}

/** The JSON records of `text`, without the fields that vary (time, port). */
function records(text: string): Array<Record<string, unknown>> {
  return text.trimEnd().split("\n").map((line) => {
    const { time: _time, port: _port, duration_ms: _duration, ...record } = JSON.parse(line);
    return record;
  });
}

/** Waits until the server has reported `count` disconnects: on its log in
 * text, in its output in JSON. */
function disconnects(
  h: { log: { text(): string }; out: { text(): string } },
  count: number,
): Promise<void> {
  const seen = (): number =>
    h.log.text().split(" disconnected from ").length - 1 +
    h.out.text().split('"type":"disconnect"').length - 1;
  return waitFor(`${count} disconnects`, () => seen() >= count, () => h.log.text() + h.out.text());
}

Deno.test("with framing octet, messages holding newlines come out whole, escaped in text", async () => {
  await using h = startLineServer({ framing: "octet" });
  using conn = await connectTo(h.port);
  const stream = octet("<13>1 first\nsecond line", "<14>plain", "crlf\r\n", "tab\tand\x1b[2J");
  // One byte at a time: a frame's bounds never depend on the reads.
  for (let at = 0; at < stream.length; at++) await writeAll(conn, stream.subarray(at, at + 1));
  conn.close();
  await disconnects(h, 1);
  assert.equal(
    h.out.text(),
    "[client 0] <13>1 first\\x0asecond line\n" +
      "[client 0] <14>plain\n" +
      "[client 0] crlf\\x0d\\x0a\n" +
      "[client 0] tab\tand\\x1b[2J\n",
  );
  assert.match(
    h.log.text(),
    new RegExp(`client 0 disconnected from .* \\(eof\\): 4 lines, ${stream.length} bytes, `),
  );
});

Deno.test("with framing octet, raw writes a message's bytes untouched, newlines and all, and a newline", async () => {
  await using h = startLineServer({ framing: "octet", format: "raw" });
  using conn = await connectTo(h.port);
  await writeAll(conn, octet("<13>a\nb", "crlf\r\n"));
  conn.close();
  await disconnects(h, 1);
  // Nothing marks where a raw message ends but the newline after it: raw
  // is the bytes as sent, so a message holding one reads as two lines.
  assert.equal(h.out.text(), "<13>a\nb\ncrlf\r\n\n");
});

Deno.test("with framing octet, JSON records carry a message's newlines exactly", async () => {
  await using h = startLineServer({ framing: "octet", format: "json", run: RUN });
  using conn = await connectTo(h.port);
  await writeAll(conn, octet("<13>a\nb", "caf\u00e9\n"));
  conn.close();
  await disconnects(h, 1);
  const messages = records(h.out.text()).filter((record) => record.type === "message");
  assert.deepEqual(messages.map((record) => record.text), ["<13>a\nb", "caf\u00e9\n"]);
  assert.deepEqual(messages.map((record) => record.seq), [1, 2]);
});

Deno.test("with framing octet, a frame over max-line is cut and flagged, and the next is read whole", async () => {
  for (const format of ["text", "json"] as const) {
    await using h = startLineServer({ framing: "octet", maxLine: 8, format, run: RUN });
    using conn = await connectTo(h.port);
    const stream = octet("0123456789abcdef", "next", "\u00e9\u00e9\u00e9\u00e9\u00e9");
    await writeAll(conn, stream);
    conn.close();
    await disconnects(h, 1);
    const stats = await h.stop();
    assert.equal(stats.truncated, 2, format);
    if (format === "text") {
      assert.equal(
        h.out.text(),
        "[client 0 truncated] 01234567\n[client 0] next\n[client 0 truncated] \u00e9\u00e9\u00e9\u00e9\n",
      );
      assert.ok(h.log.text().includes(`: 3 lines, ${stream.length} bytes, 2 truncated, `));
      continue;
    }
    const messages = records(h.out.text()).filter((record) => record.type === "message");
    assert.deepEqual(
      messages.map(({ text, truncated, length }) => ({ text, truncated, length })),
      [
        { text: "01234567", truncated: true, length: 16 },
        { text: "next", truncated: undefined, length: undefined },
        { text: "\u00e9\u00e9\u00e9\u00e9", truncated: true, length: 10 },
      ],
    );
  }
});

Deno.test("with framing octet, a frame the connection ends in comes out flagged partial", async () => {
  await using h = startLineServer({ framing: "octet" });
  using conn = await connectTo(h.port);
  await writeAll(conn, bytes("5 whole20 cut short"));
  conn.close();
  await disconnects(h, 1);
  assert.equal(h.out.text(), "[client 0] whole\n[client 0 partial] cut short\n");
});

Deno.test("with framing octet, a bad header is reported before the lines read by LF after it, and the client stays", async () => {
  await using h = startLineServer({ framing: "octet", format: "json", run: RUN });
  using conn = await connectTo(h.port);
  await writeAll(conn, bytes("5 hello<13>plain line\n2 more\n"));
  await waitFor("the second line", () => h.out.text().includes("2 more"), () => h.out.text());
  await writeAll(conn, bytes("and on\n"));
  conn.close();
  await disconnects(h, 1);
  await h.stop();
  const [connect, hello, error, ...rest] = records(h.out.text());
  assert.equal(connect?.type, "connect");
  assert.equal(hello?.text, "hello");
  assert.deepEqual(error, {
    type: "framing-error",
    run: RUN,
    client: 0,
    address: "127.0.0.1",
    detail:
      'Invalid octet-counting header "<": a frame must start with its length, a digit from 1 to 9',
  });
  assert.deepEqual(rest.map((record) => record.text ?? record.type), [
    "<13>plain line",
    "2 more",
    "and on",
    "disconnect",
  ]);
});

Deno.test("with framing octet, a bad header is told on stderr in text, naming the client and the header", async () => {
  await using h = startLineServer({ framing: "octet" });
  using conn = await connectTo(h.port);
  await writeAll(conn, bytes("1234567890 too long a length\n"));
  conn.close();
  await disconnects(h, 1);
  const port = conn.localAddr.port;
  assert.equal(
    h.log.text().split("\n")[1],
    `client 0 framing error from 127.0.0.1:${port}: Invalid octet-counting header ` +
      `"1234567890": a length has at most 9 digits; the rest is read as lines ending in LF`,
  );
  assert.equal(h.out.text(), "[client 0] 1234567890 too long a length\n");
});

Deno.test("with framing auto, an LF client and an octet-counting client are each read their own way at once", async () => {
  await using h = startLineServer({ framing: "auto", format: "json", run: RUN });
  using lf = await connectTo(h.port);
  using counted = await connectTo(h.port);
  // Interleaved, each in pieces: neither connection's framing leaks into
  // the other's.
  const lfStream = bytes("<13>lf one\n5 not a length\n");
  const octetStream = octet("<13>octet\none", "<13>octet two");
  for (let at = 0; at < Math.max(lfStream.length, octetStream.length); at += 3) {
    await writeAll(lf, lfStream.subarray(at, at + 3));
    await writeAll(counted, octetStream.subarray(at, at + 3));
  }
  lf.close();
  counted.close();
  await disconnects(h, 2);
  const byPort = new Map<number, string[]>();
  for (const line of h.out.text().trimEnd().split("\n")) {
    const record = JSON.parse(line);
    if (record.type !== "message") continue;
    byPort.set(record.port, [...(byPort.get(record.port) ?? []), record.text]);
  }
  assert.deepEqual(byPort.get(lf.localAddr.port), ["<13>lf one", "5 not a length"]);
  assert.deepEqual(byPort.get(counted.localAddr.port), ["<13>octet\none", "<13>octet two"]);
  assert.doesNotMatch(h.out.text(), /framing-error/);
});

Deno.test("with framing auto, an LF line that starts with a date is read whole, with the framing error told", async () => {
  await using h = startLineServer({ framing: "auto" });
  using conn = await connectTo(h.port);
  await writeAll(conn, bytes("2024-05-01 boot\nnext\n"));
  conn.close();
  await disconnects(h, 1);
  assert.equal(h.out.text(), "[client 0] 2024-05-01 boot\n[client 0] next\n");
  assert.match(
    h.log.text(),
    /client 0 framing error from .*: Invalid octet-counting header "2024-"/,
  );
});

Deno.test("with framing auto behind a PROXY header, each connection's first byte after the header decides", async () => {
  await using h = startLineServer({ framing: "auto", proxy: {}, label: "address" });
  using counted = await connectTo(h.port);
  using lf = await connectTo(h.port);
  await writeAll(counted, concat([proxyV1("192.0.2.7", 40007), octet("<13>a\nb")]));
  await writeAll(lf, concat([proxyV2("192.0.2.8", 40008), bytes("<14>a line\n5 not a length\n")]));
  counted.close();
  lf.close();
  await disconnects(h, 2);
  assert.deepEqual(h.out.text().split("\n").slice(0, -1).sort(), [
    "[192.0.2.7:40007] <13>a\\x0ab",
    "[192.0.2.8:40008] 5 not a length",
    "[192.0.2.8:40008] <14>a line",
  ]);
});

Deno.test("with framing lf (the default), an octet-counted stream is read as lines, as before", async () => {
  await using h = startLineServer();
  using conn = await connectTo(h.port);
  await writeAll(conn, bytes("11 <13>a\nb c\n"));
  conn.close();
  await disconnects(h, 1);
  assert.equal(h.out.text(), "[client 0] 11 <13>a\n[client 0] b c\n");
});

Deno.test("with framing octet and ack, each frame written is acknowledged on the same connection", async () => {
  await using h = startLineServer({ framing: "octet", ack: true });
  using conn = await connectTo(h.port);
  await writeAll(conn, octet("one\ntwo", "three"));
  await writeAll(conn, bytes("9 partial"));
  await conn.closeWrite();
  const acks: number[] = [];
  const back = await withTimeout(readToEnd(conn), 10_000, "the acknowledgments");
  new AckParser().push(back, (count) => acks.push(count), (data) => {
    assert.fail(`Unexpected data from the server: ${JSON.stringify(data)}`);
  });
  // Two whole frames and the partial one: three messages, whatever their
  // newlines.
  assert.equal(acks.at(-1), 3);
  assert.equal(
    h.out.text(),
    "[client 0] one\\x0atwo\n[client 0] three\n[client 0 partial] partial\n",
  );
});

Deno.test("with framing octet and line-timeout, a frame left unfinished closes the connection", async () => {
  await using h = startLineServer({ framing: "octet", lineTimeout: 0.2 });
  using conn = await connectTo(h.port);
  await writeAll(conn, bytes("5 whole20 never finished"));
  const notice = new TextDecoder().decode(await withTimeout(readToEnd(conn), 10_000, "the close"));
  assert.equal(
    notice,
    "linehub-server: closing (line-timeout): line unfinished after 0.2 s (--line-timeout)\n",
  );
  await disconnects(h, 1);
  assert.equal(h.out.text(), "[client 0] whole\n[client 0 partial] never finished\n");
});

Deno.test("with framing octet in echo mode, each message is sent back as a line", async () => {
  await using h = startLineServer({ framing: "octet", observer: new Hub("echo") });
  using conn = await connectTo(h.port);
  await writeAll(conn, octet("hello", "two words"));
  await conn.closeWrite();
  const back = new TextDecoder().decode(await withTimeout(readToEnd(conn), 10_000, "the echo"));
  assert.equal(back, "hello\ntwo words\n");
});

const WORKERS_SKIP = workersUnavailableReason();

Deno.test({
  name: nameUnless(
    WORKERS_SKIP,
    "with framing octet, each Worker of a pool reads octet-counted frames",
  ),
  ignore: WORKERS_SKIP !== null,
  async fn(): Promise<void> {
    await using h = await startPool({ framing: "octet", workers: 2 });
    const clients = 4;
    await Promise.all(Array.from({ length: clients }, async (_, k) => {
      using conn = await connectTo(h.port);
      await writeAll(conn, octet(`c${k} first\nhalf`, `c${k} second`));
    }));
    await disconnects(h, clients);
    await h.stop();
    const lines = h.out.text().trimEnd().split("\n").map((line) =>
      line.replace(/^\[client \d+\] /, "")
    );
    const expected = Array.from(
      { length: clients },
      (_, k) => [`c${k} first\\x0ahalf`, `c${k} second`],
    );
    assert.deepEqual(lines.sort(), expected.flat().sort());
  },
});

const { files, skip: TLS_SKIP } = await certificatesForTests();

Deno.test({
  name: nameUnless(
    TLS_SKIP,
    "with framing octet over TLS, frames are read from the decrypted stream",
  ),
  ignore: TLS_SKIP !== null,
  async fn(): Promise<void> {
    const { server, ca } = files();
    const tls = new TlsAcceptor({ keyPair: await readKeyPair(server.cert, server.key) });
    await using h = startLineServer({ framing: "octet", tls });
    const closed = Promise.withResolvers<void>();
    const socket = tlsConnect({
      host: "127.0.0.1",
      port: h.port,
      servername: "localhost",
      ca: Deno.readTextFileSync(ca.cert),
    });
    socket.on("secureConnect", () => socket.end(octet("<13>over\ntls", "<13>again")));
    socket.on("error", (error: Error) => closed.reject(error));
    socket.on("close", () => closed.resolve());
    socket.resume();
    await withTimeout(closed.promise, 10_000, "the TLS session");
    await disconnects(h, 1);
    assert.equal(h.out.text(), "[client 0] <13>over\\x0atls\n[client 0] <13>again\n");
  },
});

Deno.test("LineServer refuses a framing it does not know, naming it", () => {
  assert.throws(
    () => startLineServer({ framing: "octet-counted" as "octet" }),
    {
      name: "RangeError",
      message: 'Invalid framing "octet-counted": must be one of lf, octet, auto',
    },
  );
});
