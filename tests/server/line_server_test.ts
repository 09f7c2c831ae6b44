/**
 * Integration tests for {@linkcode LineServer} in this process: a real
 * listener on loopback port 0, real TCP clients from `Deno.connect`, and the
 * output and log collected in memory. Each step that depends on the server
 * having seen something waits for it in the output or the log, so the
 * expected output is exact and no test depends on timing. A test holds its
 * server and connections with `await using` and `using`, so that however it
 * ends they are closed, connections first, then the server.
 */

import assert from "node:assert/strict";
import { AckParser } from "../../lib/wire/ack_protocol.ts";
import { formatHostPort } from "../../lib/net/address.ts";
import { BatchWriter } from "../../lib/io/batch_writer.ts";
import { encodeHelloLine } from "../../lib/wire/hello_line.ts";
import type { ClientHandle, ClientObserver } from "../../lib/server/client_handle.ts";
import {
  assertNotServed,
  bytes,
  clientHello,
  closeQuietly,
  concat,
  connectTo,
  hasCommand,
  HeldWriter,
  jsonLines,
  LogSink,
  LOOPBACK_MS,
  MemoryWriter,
  nameUnless,
  noIPv6Reason,
  readToEnd,
  type ServerHarness,
  sleep,
  spawnProgram,
  startLineServer,
  waitFor,
  withTimeout,
  writeAll,
} from "../_helpers/mod.ts";
import { LineServer } from "../../lib/server/line_server.ts";
import { PARTIAL, TRUNCATED } from "../../lib/wire/line_flags.ts";
import { ListenError } from "../../lib/server/server.ts";
import { emptyStats } from "../../lib/server/stats.ts";

type Harness = ServerHarness<LineServer>;

/** Waits until the log shows client `id` connected from `conn`'s address. */
function accepted(h: Harness, conn: Deno.TcpConn, id: number): Promise<void> {
  const from = formatHostPort(conn.localAddr.hostname, conn.localAddr.port);
  const line = `client ${id} connected from ${from}\n`;
  return waitFor(`"${line.trim()}"`, () => h.log.text().includes(line), () => h.log.text());
}

/** Waits until the log shows client `id` disconnected. */
function disconnected(h: Harness, id: number): Promise<void> {
  const start = `client ${id} disconnected from `;
  return waitFor(
    `client ${id} to disconnect`,
    () => h.log.text().includes(start),
    () => h.log.text(),
  );
}

/** Waits until the output includes `text`. */
function outputShows(h: Harness, text: string): Promise<void> {
  return waitFor(
    `output ${JSON.stringify(text)}`,
    () => h.out.text().includes(text),
    () => h.out.text(),
  );
}

Deno.test("server numbers clients from 0 in the order it accepts them", async () => {
  await using h = startLineServer();
  using opened = new DisposableStack();
  const conns: Deno.TcpConn[] = [];
  for (let id = 0; id < 3; id++) {
    const conn = opened.use(await connectTo(h.port));
    conns.push(conn);
    await accepted(h, conn, id);
  }
  const [a, b, c] = conns as [Deno.TcpConn, Deno.TcpConn, Deno.TcpConn];
  // Sent in the reverse order, one client at a time.
  const turns: Array<[number, Deno.TcpConn, string]> = [
    [2, c, "from c"],
    [1, b, "from b"],
    [0, a, "from a"],
  ];
  for (const [id, conn, text] of turns) {
    await writeAll(conn, bytes(text + "\n"));
    conn.close();
    await disconnected(h, id);
  }
  const stats = await h.stop();
  assert.equal(h.out.text(), "[client 2] from c\n[client 1] from b\n[client 0] from a\n");
  // Every other total is 0.
  assert.deepEqual(stats, {
    ...emptyStats(),
    clients: 3,
    lines: 3,
    bytes: 21,
    disconnects: { ...emptyStats().disconnects, eof: 3 },
  });
  const [pa, pb, pc] = conns.map((conn) => conn.localAddr.port);
  assert.deepEqual(h.log.lines(), [
    `client 0 connected from 127.0.0.1:${pa}`,
    `client 1 connected from 127.0.0.1:${pb}`,
    `client 2 connected from 127.0.0.1:${pc}`,
    `client 2 disconnected from 127.0.0.1:${pc} (eof): 1 line, 7 bytes, D s`,
    `client 1 disconnected from 127.0.0.1:${pb} (eof): 1 line, 7 bytes, D s`,
    `client 0 disconnected from 127.0.0.1:${pa} (eof): 1 line, 7 bytes, D s`,
  ]);
});

Deno.test("server reassembles lines written a byte at a time and splits many lines from one write", async () => {
  await using h = startLineServer();
  using conn = await connectTo(h.port);
  conn.setNoDelay(true);
  await accepted(h, conn, 0);
  // Multi-byte characters split between writes must come out undamaged.
  const slow = bytes("h\u00e9llo w\u00f6rld \u2713 split across many writes\n");
  for (let i = 0; i < slow.length; i++) {
    await writeAll(conn, slow.subarray(i, i + 1));
    if (i % 8 === 0) await sleep(1); // give the server separate reads
  }
  const many = Array.from({ length: 200 }, (_, i) => `line ${i} of one write`);
  await writeAll(conn, bytes(many.map((line) => line + "\n").join("")));
  conn.close();
  const stats = await h.stop();
  const expected = ["h\u00e9llo w\u00f6rld \u2713 split across many writes", ...many]
    .map((line) => `[client 0] ${line}\n`).join("");
  assert.equal(h.out.text(), expected);
  assert.equal(stats.lines, 201);
});

Deno.test("server strips CRLF line endings, even split between writes, and shows a lone CR", async () => {
  await using h = startLineServer();
  using conn = await connectTo(h.port);
  conn.setNoDelay(true);
  await accepted(h, conn, 0);
  await writeAll(conn, bytes("dos line\r\nsplit crlf\r"));
  // The server has read the first write, so the CR and its LF come in two.
  await outputShows(h, "[client 0] dos line\n");
  await writeAll(conn, bytes("\nbare\rcr\n\r\nlast\r\n"));
  conn.close();
  await h.stop();
  assert.equal(
    h.out.text(),
    "[client 0] dos line\n[client 0] split crlf\n[client 0] bare\\x0dcr\n[client 0] \n" +
      "[client 0] last\n",
  );
});

Deno.test("server in raw format keeps the CR of CRLF lines, as nc -lk shows them, and still cuts at --max-line", async () => {
  await using h = startLineServer({ format: "raw", maxLine: 8 });
  using conn = await connectTo(h.port);
  conn.setNoDelay(true);
  await accepted(h, conn, 0);
  await writeAll(conn, bytes("dos line\r\nsplit crlf\r"));
  // The server has read the first write, so the CR and its LF come in two.
  await outputShows(h, "dos line\r\n");
  await writeAll(conn, bytes("\nunix\n12345678\r\n\r\n"));
  conn.close();
  await h.stop();
  assert.equal(
    h.out.text(),
    "dos line\r\nsplit cr\nunix\n12345678\r\n\r\n",
  );
});

Deno.test("server delivers a final line without newline, flagged partial", async () => {
  await using h = startLineServer();
  using conn = await connectTo(h.port);
  await accepted(h, conn, 0);
  await writeAll(conn, bytes("done\nunfinished"));
  conn.close();
  await disconnected(h, 0);
  const stats = await h.stop();
  assert.equal(h.out.text(), "[client 0] done\n[client 0 partial] unfinished\n");
  assert.equal(stats.lines, 2);
  const port = conn.localAddr.port;
  assert.equal(
    h.log.lines()[1],
    `client 0 disconnected from 127.0.0.1:${port} (eof): 2 lines, 15 bytes, D s`,
  );
});

Deno.test("server cuts lines longer than --max-line, flags them truncated and counts them", async () => {
  await using h = startLineServer({ maxLine: 8 });
  using conn = await connectTo(h.port);
  conn.setNoDelay(true);
  await accepted(h, conn, 0);
  await writeAll(conn, bytes("12345678\n123456789\n"));
  // 100 bytes in pieces of 7, so the cut falls inside a piece.
  const long = bytes("x".repeat(50) + "y".repeat(50) + "\n");
  for (let i = 0; i < long.length; i += 7) await writeAll(conn, long.subarray(i, i + 7));
  // A last line of exactly maxLine bytes and a CR: a CR is data when no LF follows.
  await writeAll(conn, bytes("ok\nABCDEFGH\r"));
  conn.close();
  const stats = await h.stop();
  assert.equal(
    h.out.text(),
    "[client 0] 12345678\n" +
      "[client 0 truncated] 12345678\n" +
      "[client 0 truncated] xxxxxxxx\n" +
      "[client 0] ok\n" +
      "[client 0 truncated partial] ABCDEFGH\n",
  );
  assert.equal(stats.truncated, 3);
  assert.equal(stats.lines, 5);
  assert.equal(stats.bytes, 9 + 10 + 101 + 3 + 9);
  assert.equal(
    h.log.lines()[1],
    `client 0 disconnected from 127.0.0.1:${conn.localAddr.port} (eof): ` +
      "5 lines, 132 bytes, 3 truncated, D s",
  );
});

Deno.test("server escapes terminal escape sequences, control bytes and invalid UTF-8 in text output", async () => {
  await using h = startLineServer();
  using conn = await connectTo(h.port);
  await accepted(h, conn, 0);
  await writeAll(
    conn,
    concat([
      bytes("\x1b]0;pwned\x07\x1b[2J\x1b[31mred\x1b[0m\n"),
      new Uint8Array([0x66, 0xff, 0xfe, 0x6f, 0xc3, 0x0a]), // f, 2 bad bytes, o, cut sequence
      new Uint8Array([0xc2, 0x9b, 0x33, 0x31, 0x6d, 0x0a]), // C1 CSI "31m"
      bytes("tab\tkept\n\x00\x7f\b\n"),
    ]),
  );
  conn.close();
  await h.stop();
  assert.equal(
    h.out.text(),
    "[client 0] \\x1b]0;pwned\\x07\\x1b[2J\\x1b[31mred\\x1b[0m\n" +
      "[client 0] f\ufffd\ufffdo\ufffd\n" +
      "[client 0] \\x9b31m\n" +
      "[client 0] tab\tkept\n" +
      "[client 0] \\x00\\x7f\\x08\n",
  );
});

Deno.test("server in json format writes events and messages in order, one object per line", async () => {
  const run = "0123456789abcdef";
  await using h = startLineServer({ format: "json", maxLine: 10, run });
  const records = (): Array<Record<string, unknown>> =>
    h.out.text().split("\n").filter((line) => line !== "").map((line) => JSON.parse(line));
  const has = (type: string, client: number) => (): boolean =>
    records().some((record) => record.type === type && record.client === client);
  using a = await connectTo(h.port);
  await waitFor("client 0 to connect", has("connect", 0), () => h.out.text());
  using b = await connectTo(h.port);
  await waitFor("client 1 to connect", has("connect", 1), () => h.out.text());
  await writeAll(b, bytes("0123456789AB\n"));
  b.close();
  await waitFor("client 1 to disconnect", has("disconnect", 1), () => h.out.text());
  await writeAll(a, bytes("hello\n\x1b[31m\ttab\ntail"));
  a.close();
  await h.stop();
  const pa = a.localAddr.port;
  const pb = b.localAddr.port;
  const got = records();
  assert.ok(h.out.text().endsWith("}\n"), "output ends with a whole line");
  for (const record of got) {
    assert.match(String(record.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    delete record.time;
    if (record.type === "disconnect") {
      assert.ok(Number.isInteger(record.duration_ms) && (record.duration_ms as number) >= 0);
      delete record.duration_ms;
    }
  }
  const who = (client: number, port: number) => ({ run, client, address: "127.0.0.1", port });
  assert.deepEqual(got, [
    { type: "connect", ...who(0, pa) },
    { type: "connect", ...who(1, pb) },
    { type: "message", ...who(1, pb), seq: 1, text: "0123456789", truncated: true, length: 12 },
    {
      type: "disconnect",
      ...who(1, pb),
      reason: "eof",
      lines: 1,
      bytes: 13,
      truncated: 1,
    },
    { type: "message", ...who(0, pa), seq: 1, text: "hello" },
    { type: "message", ...who(0, pa), seq: 2, text: "\x1b[31m\ttab" },
    { type: "message", ...who(0, pa), seq: 3, text: "tail", partial: true },
    {
      type: "disconnect",
      ...who(0, pa),
      reason: "eof",
      lines: 3,
      bytes: 20,
      truncated: 0,
    },
  ]);
  // The escape is sent as a JSON escape, never as a raw ESC byte.
  assert.ok(!h.out.text().includes("\x1b"));
  assert.equal(h.log.text(), "", "json events go to the output, not the log");
});

Deno.test("with a node, every JSON record names it after the run, messages of either path and refusals included", async () => {
  const run = "0123456789abcdef";
  await using h = startLineServer({ format: "json", run, node: "web-3", maxClients: 1 });
  using conn = await connectTo(h.port);
  await outputShows(h, `"type":"connect"`);
  await refusalMessage(h.port);
  await outputShows(h, `"type":"refused"`);
  // After the first line (which may be a hello, so never goes the fast way),
  // a clean line (the fast path) and one with a byte to escape (the general).
  await writeAll(conn, bytes("first\nclean\nesc\x1b\n"));
  conn.close();
  await h.stop();
  const lines = h.out.text().trimEnd().split("\n");
  assert.deepEqual(
    lines.map((line) => JSON.parse(line).type),
    ["connect", "refused", "message", "message", "message", "disconnect"],
  );
  for (const line of lines) {
    assert.match(
      line,
      /^\{"time":"[^"]+","type":"[a-z]+","run":"0123456789abcdef","node":"web-3",/,
    );
  }
  assert.deepEqual(
    lines.slice(2, 5).map((line) => JSON.parse(line).text),
    ["first", "clean", "esc\x1b"],
  );
});

Deno.test("labelNode names the node in text labels and client events; without it the text is as before", async () => {
  for (const labelNode of [true, false]) {
    await using h = startLineServer({ node: "web-3", labelNode });
    using conn = await connectTo(h.port);
    await writeAll(conn, bytes("clean\nesc\x1b\ncut"));
    conn.close();
    await h.stop();
    const node = labelNode ? "web-3/" : "";
    assert.equal(
      h.out.text(),
      `[${node}client 0] clean\n[${node}client 0] esc\\x1b\n[${node}client 0 partial] cut\n`,
    );
    const from = formatHostPort(conn.localAddr.hostname, conn.localAddr.port);
    assert.deepEqual(h.log.lines(), [
      `${node}client 0 connected from ${from}`,
      `${node}client 0 disconnected from ${from} (eof): 3 lines, 14 bytes, D s`,
    ]);
  }
});

Deno.test("a node name that is not one is refused before any socket is opened, naming it", () => {
  for (const node of ["", "web 3", "web/3", "x".repeat(65), "caf\u00e9"]) {
    assert.throws(
      () => new LineServer(new BatchWriter(new MemoryWriter()), new LogSink(), { node }),
      {
        name: "RangeError",
        message: `Invalid node ${JSON.stringify(node)}: must be 1 to 64 ASCII letters, ` +
          "digits or . _ -",
      },
    );
  }
});

Deno.test("a client closing mid-line gets its partial line delivered and never disturbs another client's line", async () => {
  await using h = startLineServer();
  using a = await connectTo(h.port);
  a.setNoDelay(true);
  await accepted(h, a, 0);
  using b = await connectTo(h.port);
  b.setNoDelay(true);
  await accepted(h, b, 1);
  await writeAll(b, bytes("b1\n"));
  await outputShows(h, "[client 1] b1\n");
  await writeAll(a, bytes("a1\n"));
  await outputShows(h, "[client 0] a1\n");
  // B is mid-line while A goes away mid-line.
  await writeAll(b, bytes("b2 sta"));
  await writeAll(a, bytes("half-a"));
  a.close();
  await disconnected(h, 0);
  await writeAll(b, bytes("rted, b2 ends\nb3\n"));
  b.close();
  await h.stop();
  assert.equal(
    h.out.text(),
    "[client 1] b1\n[client 0] a1\n[client 0 partial] half-a\n" +
      "[client 1] b2 started, b2 ends\n[client 1] b3\n",
  );
});

// Deno cannot set SO_LINGER, so the resetting client is socat with
// linger=0, killed: the kernel then sends RST instead of FIN.
const noSocat = await hasCommand("socat") ? null : "socat is not installed";

Deno.test({
  name: nameUnless(
    noSocat,
    "a client that resets its connection is reported as reset and never disturbs another client's line",
  ),
  ignore: noSocat !== null,
  async fn(): Promise<void> {
    await using h = startLineServer();
    using other = await connectTo(h.port);
    await using socat = spawnProgram(
      "socat",
      ["-u", "STDIN", `TCP:127.0.0.1:${h.port},linger=0`],
      { stdin: "piped" },
    );
    await accepted(h, other, 0);
    await writeAll(other, bytes("other sta"));
    await waitFor("socat to connect", () => h.log.text().includes("client 1 connected"));
    await socat.write("whole\n");
    await outputShows(h, "[client 1] whole\n");
    await socat.stop("SIGKILL");
    await disconnected(h, 1);
    assert.match(
      h.log.lines()[2] ?? "",
      /^client 1 disconnected from 127\.0\.0\.1:\d+ \(reset\): 1 line, 6 bytes, D s$/,
    );
    await writeAll(other, bytes("rted, then ended\n"));
    other.close();
    const stats = await h.stop();
    assert.equal(h.out.text(), "[client 1] whole\n[client 0] other started, then ended\n");
    assert.equal(stats.clients, 2);
  },
});

Deno.test("listen() on a port in use throws ListenError naming the address", () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const server = new LineServer(new BatchWriter(new MemoryWriter()), new LogSink(), {
    host: "127.0.0.1",
    port: taken.addr.port,
  });
  assert.throws(() => server.listen(), (error: unknown) => {
    assert.ok(error instanceof ListenError);
    assert.equal(
      error.message,
      `Cannot listen on 127.0.0.1:${taken.addr.port}: address already in use`,
    );
    return true;
  });
});

Deno.test("shutdown stops accepting and writes every line of a client that finishes in time", async () => {
  await using h = startLineServer({ drainTimeout: 10 });
  using conn = await connectTo(h.port);
  await accepted(h, conn, 0);
  await writeAll(conn, bytes("first\n"));
  await outputShows(h, "[client 0] first\n");
  const stopping = h.stop();
  await assertNotServed(h.port, () => h.log.text());
  await writeAll(conn, bytes("second\nthird"));
  conn.close();
  const stats = await stopping;
  assert.equal(
    h.out.text(),
    "[client 0] first\n[client 0] second\n[client 0 partial] third\n",
  );
  // Every other total is 0.
  assert.deepEqual(stats, {
    ...emptyStats(),
    clients: 1,
    lines: 3,
    bytes: 18,
    partial: 1,
    disconnects: { ...emptyStats().disconnects, eof: 1 },
  });
  assert.match(h.log.lines()[1] ?? "", /\(eof\): 3 lines, 18 bytes, D s$/);
});

Deno.test("shutdown cuts off a silent client at the drain timeout and delivers its partial line", async () => {
  await using h = startLineServer({ drainTimeout: 0.3 });
  using silent = await connectTo(h.port);
  await accepted(h, silent, 0);
  using prompt = await connectTo(h.port);
  await accepted(h, prompt, 1);
  await writeAll(silent, bytes("kept\nhalf"));
  await outputShows(h, "[client 0] kept\n");
  const stopping = h.stop();
  await writeAll(prompt, bytes("in time\n"));
  prompt.close();
  const stats = await stopping;
  assert.equal(stats.cutOff, 1);
  // What the cut-off client had sent, "kept\nhalf", all of it written above.
  assert.equal(stats.cutOffBytes, 9);
  assert.equal(stats.connected, 0);
  assert.equal(
    h.out.text(),
    "[client 0] kept\n[client 1] in time\n[client 0 partial] half\n",
  );
  assert.deepEqual(h.log.lines().slice(2), [
    `client 1 disconnected from 127.0.0.1:${prompt.localAddr.port} (eof): 1 line, 8 bytes, D s`,
    `client 0 disconnected from 127.0.0.1:${silent.localAddr.port} (drain-timeout): ` +
    "2 lines, 9 bytes, D s",
  ]);
  // The cut-off client is told why, and sees the server close the connection.
  assert.equal(
    new TextDecoder().decode(await withTimeout(readToEnd(silent), 5000, "the close")),
    "linehub-server: closing (drain-timeout): the server is shutting down " +
      "(--drain-timeout passed)\n",
  );
});

const noIPv6 = noIPv6Reason();

Deno.test({
  name: nameUnless(noIPv6, "server listens and serves on IPv6 loopback ::1"),
  ignore: noIPv6 !== null,
  async fn(): Promise<void> {
    await using h = startLineServer({ host: "::1" });
    using conn = await connectTo(h.port, "::1");
    assert.equal(h.server.addr.hostname, "::1");
    await accepted(h, conn, 0);
    assert.equal(h.log.lines()[0], `client 0 connected from [::1]:${conn.localAddr.port}`);
    await writeAll(conn, bytes("over v6\n"));
    conn.close();
    await h.stop();
    assert.equal(h.out.text(), "[client 0] over v6\n");
  },
});

Deno.test("server cuts off a client held up by a stalled output at the drain deadline", async () => {
  // An output that takes nothing until released, like a paused pager.
  const stalled = new HeldWriter();
  {
    await using h = startLineServer({ drainTimeout: 0.3 }, {
      writer: stalled,
      output: { chunkSize: 1024, highWaterMark: 4096 },
    });
    const { server, output, log } = h;
    using conn = await connectTo(h.port);
    // Disposed of before the server, so that its stop can finish.
    using release = new DisposableStack();
    release.defer(() => stalled.release());
    // Far more than the output may hold, so the server stops reading this client.
    await writeAll(conn, bytes(("x".repeat(99) + "\n").repeat(2000)));
    await waitFor("the output to be backlogged", () => output.backlogged);
    const stopping = h.stop();
    await waitFor(
      "the client to be cut off while the output is still stalled",
      () => server.stats.connected === 0,
      () => log.text(),
    );
    assert.equal(server.stats.cutOff, 1);
    assert.match(log.text(), /client 0 disconnected from .* \(drain-timeout\)/);
    stalled.release();
    const stats = await stopping;
    assert.equal(stats.cutOff, 1);
  }
  // What was received still comes out once the output moves, in whole lines.
  const lines = stalled.writtenText().split("\n");
  assert.equal(lines.pop(), "");
  assert.ok(lines.length > 40, `only ${lines.length} lines written`);
  for (const line of lines) assert.match(line, /^\[client 0( partial)?\] x+$/);
});

Deno.test("server tells a client whose line is unfinished past --line-timeout why it closes it", async () => {
  await using h = startLineServer({ lineTimeout: 0.3 });
  using conn = await connectTo(h.port);
  await accepted(h, conn, 0);
  await writeAll(conn, bytes("never ends"));
  assert.equal(
    new TextDecoder().decode(await withTimeout(readToEnd(conn), 5000, "the close")),
    "linehub-server: closing (line-timeout): line unfinished after 0.3 s (--line-timeout)\n",
  );
  await disconnected(h, 0);
  assert.equal(h.out.text(), "[client 0 partial] never ends\n");
});

Deno.test("server closes a client silent for --idle-timeout, each client judged on its own", async () => {
  await using h = startLineServer({ idleTimeout: 0.5 });
  using quiet = await connectTo(h.port);
  using busy = await connectTo(h.port);
  await accepted(h, quiet, 0);
  await accepted(h, busy, 1);
  await writeAll(quiet, bytes("said once\n"));
  // The busy client sends every 50 ms, well inside the timeout, until the
  // quiet one has been closed; it must stay connected throughout.
  let sent = 0;
  while (!h.log.text().includes("client 0 disconnected")) {
    assert.ok(sent < 200, "the quiet client was never closed");
    await writeAll(busy, bytes(`tick ${sent++}\n`));
    await sleep(50);
  }
  assert.match(h.log.text(), /client 0 disconnected from \S+ \(idle-timeout\): 1 line, 10 bytes/);
  assert.ok(!h.log.text().includes("client 1 disconnected"), h.log.text());
  assert.equal(h.server.stats.connected, 1);
  assert.ok(h.out.text().includes("[client 0] said once\n"));
  // The closed client is told why, then sees the end of the stream.
  assert.equal(
    new TextDecoder().decode(await withTimeout(readToEnd(quiet), 5000, "the close")),
    "linehub-server: closing (idle-timeout): nothing received for 0.5 s (--idle-timeout)\n",
  );
});

/** Reads acknowledgment lines from `conn` until one says `count`; returns
 * every count seen. Fails on anything but acknowledgments. */
async function readAcksUpTo(conn: Deno.Conn, count: number): Promise<number[]> {
  const parser = new AckParser();
  const seen: number[] = [];
  const buffer = new Uint8Array(256);
  while (parser.acknowledged < count) {
    const n = await withTimeout(conn.read(buffer), 10_000, `an acknowledgment of ${count}`);
    if (n === null) throw new Error(`EOF after acknowledgments ${seen.join(", ")}`);
    parser.push(buffer.subarray(0, n), (c) => seen.push(c), (data) => {
      throw new Error(`Unexpected data from the server: ${JSON.stringify(data)}`);
    });
  }
  return seen;
}

Deno.test("with ack, the server acknowledges a client's lines once its output has them", async () => {
  await using h = startLineServer({ ack: true });
  using conn = await connectTo(h.port);
  await writeAll(conn, bytes("one\ntwo\nthree\n"));
  const seen = await readAcksUpTo(conn, 3);
  assert.equal(seen.at(-1), 3);
  // Acknowledged means written: the output already holds all three.
  assert.equal(h.out.text(), "[client 0] one\n[client 0] two\n[client 0] three\n");
});

Deno.test("with ack, counts are per connection and include a final partial line", async () => {
  await using h = startLineServer({ ack: true });
  using first = await connectTo(h.port);
  using second = await connectTo(h.port);
  await writeAll(first, bytes("a\nb\n"));
  await writeAll(second, bytes("c\nno newline"));
  await second.closeWrite();
  // The second client's last acknowledgment covers its partial line, and
  // comes before the server closes the connection.
  const rest = await readToEnd(second);
  const acks: number[] = [];
  new AckParser().push(rest, (c) => acks.push(c), () => {});
  assert.equal(acks.at(-1), 2);
  assert.deepEqual(await readAcksUpTo(first, 2).then((s) => s.at(-1)), 2);
  assert.match(h.out.text(), /\[client 1 partial\] no newline\n/);
});

Deno.test("with ack, nothing is acknowledged before the output has written it", async () => {
  const held = new HeldWriter();
  await using h = startLineServer({ ack: true }, { writer: held });
  using conn = await connectTo(h.port);
  // Disposed of before the server, so that its stop can finish.
  using release = new DisposableStack();
  release.defer(() => held.release());
  await writeAll(conn, bytes("held\n"));
  const reading = conn.read(new Uint8Array(64));
  // Once the output has been handed the line, an acknowledgment sent too
  // early is already on its way: what is left is only the loopback.
  await waitFor("the output to be handed the line", () => held.givenText().includes("held"));
  const early = await Promise.race([
    reading.then(() => "acknowledged"),
    sleep(LOOPBACK_MS).then(() => "silent"),
  ]);
  assert.equal(early, "silent", "an acknowledgment came while the output held the line");
  held.release();
  // The read started above is still pending and receives the acknowledgment.
  await waitFor("the line to be written", () => held.writtenText().includes("held"));
});

const SESSION = "0123456789abcdef";

Deno.test("a linehub client's hello is no line: it names the client in the text label and numbers its JSON lines", async () => {
  for (const format of ["text", "json"] as const) {
    await using h = startLineServer({ format, run: "fedcba9876543210" });
    using conn = await connectTo(h.port);
    const hello = encodeHelloLine({ session: SESSION, seq: 41, name: "web1" });
    await writeAll(conn, concat([hello, bytes("hello\n\x07bell\n")]));
    conn.close();
    const stats = await h.stop();
    assert.equal(stats.lines, 2, format);
    if (format === "text") {
      assert.equal(h.out.text(), "[client 0 web1] hello\n[client 0 web1] \\x07bell\n");
      assert.match(h.log.lines()[1] ?? "", /^client 0 \(web1\) disconnected from .*: 2 lines, /);
      continue;
    }
    const records = jsonLines(h.out.text());
    assert.deepEqual(
      records.map((r) => [r.type, r.name, r.session, r.seq, r.text]),
      [
        ["connect", undefined, undefined, undefined, undefined],
        ["message", "web1", SESSION, 41, "hello"],
        ["message", "web1", SESSION, 42, "\x07bell"],
        ["disconnect", "web1", SESSION, undefined, undefined],
      ],
    );
    assert.equal(records.at(-1).lines, 2);
  }
});

Deno.test("a hello anywhere but first, cut or unfinished is data, shown escaped like any line", async () => {
  await using h = startLineServer({ maxLine: 60 });
  const hello = encodeHelloLine({ session: SESSION, seq: 1, name: "web1" });
  const sends = [
    concat([bytes("first\n"), hello]),
    concat([hello.subarray(0, -1)]),
    encodeHelloLine({ session: SESSION, seq: 1, name: "n".repeat(60) }),
  ];
  for (const [id, sent] of sends.entries()) {
    const conn = await connectTo(h.port);
    await writeAll(conn, sent);
    conn.close();
    await disconnected(h, id);
  }
  await h.stop();
  const shown = `\\x00linehub-hello session=${SESSION} seq=1`;
  assert.equal(
    h.out.text(),
    "[client 0] first\n" +
      `[client 0] ${shown} name=web1\n` +
      `[client 1 partial] ${shown} name=web1\n` +
      `[client 2 truncated] ${shown} name=nnnnnnnnn\n`,
  );
});

Deno.test("with ack, a hello is neither counted nor acknowledged", async () => {
  await using h = startLineServer({ ack: true });
  using conn = await connectTo(h.port);
  const hello = encodeHelloLine({ session: SESSION, seq: 7 });
  await writeAll(conn, concat([hello, bytes("one\ntwo\n")]));
  const seen = await readAcksUpTo(conn, 2);
  assert.equal(seen.at(-1), 2);
  await writeAll(conn, bytes("three\n"));
  assert.equal((await readAcksUpTo(conn, 1)).at(-1), 3);
  assert.equal(h.out.text(), "[client 0] one\n[client 0] two\n[client 0] three\n");
});

Deno.test("text --label both and --timestamp show the address and the time of each line", async () => {
  await using h = startLineServer({ label: "both", timestamp: true });
  using conn = await connectTo(h.port);
  const before = Date.now();
  await writeAll(conn, bytes("one\ntwo\n"));
  conn.close();
  await h.stop();
  const from = formatHostPort(conn.localAddr.hostname, conn.localAddr.port);
  const lines = h.out.text().trimEnd().split("\n");
  assert.equal(lines.length, 2);
  for (const [i, line] of lines.entries()) {
    const match = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (.*)$/.exec(line);
    assert.ok(match !== null, line);
    const time = Date.parse(match[1] as string);
    assert.ok(time >= before - 1000 && time <= Date.now(), line);
    assert.equal(match[2], `[client 0 ${from}] ${["one", "two"][i]}`);
  }
});

Deno.test("without ack, the server sends a client nothing", async () => {
  await using h = startLineServer();
  using conn = await connectTo(h.port);
  await writeAll(conn, bytes("one\ntwo\n"));
  await conn.closeWrite();
  assert.deepEqual(await readToEnd(conn), new Uint8Array(0));
  assert.equal(h.out.text(), "[client 0] one\n[client 0] two\n");
});

Deno.test("pauseAccepting refuses new clients while connected ones go on; resumeAccepting takes them on the same port", async () => {
  await using h = startLineServer();
  using early = await connectTo(h.port);
  await accepted(h, early, 0);
  h.server.pauseAccepting();
  assert.equal(h.server.paused, true);
  await assertNotServed(h.port, () => h.log.text());
  await writeAll(early, bytes("still heard\n"));
  await outputShows(h, "[client 0] still heard\n");
  h.server.resumeAccepting();
  assert.equal(h.server.paused, false);
  using late = await connectTo(h.port);
  await accepted(h, late, 1);
  await writeAll(late, bytes("back\n"));
  await outputShows(h, "[client 1] back\n");
  closeQuietly(late);
});

Deno.test("shutdown of a paused server ends serve()", async () => {
  await using h = startLineServer();
  h.server.pauseAccepting();
  const stats = await withTimeout(h.stop(), 5000, "shutdown of a paused server");
  assert.equal(stats.clients, 0);
});

/** Reads what a refused peer is told, up to the server's close. */
async function refusalMessage(port: number): Promise<string> {
  using conn = await connectTo(port);
  return new TextDecoder().decode(await withTimeout(readToEnd(conn), 5000, "the refusal"));
}

Deno.test("--max-clients: the client over the limit is told the server is full and closed; others go on", async () => {
  await using h = startLineServer({ maxClients: 2 });
  using first = await connectTo(h.port);
  using second = await connectTo(h.port);
  await accepted(h, first, 0);
  await accepted(h, second, 1);
  assert.equal(
    await refusalMessage(h.port),
    "linehub-server: refused (full): server full (2 clients); try again later\n",
  );
  assert.match(h.log.text(), /^refused 127\.0\.0\.1:\d+: server full \(2 clients\)$/m);
  await writeAll(first, bytes("unharmed\n"));
  await outputShows(h, "[client 0] unharmed\n");
  // A place frees up: the next connection becomes client 2.
  closeQuietly(second);
  await disconnected(h, 1);
  using third = await connectTo(h.port);
  await accepted(h, third, 2);
  closeQuietly(third);
  assert.equal(h.server.stats.refusedFull, 1);
});

Deno.test("--max-per-ip: a further connection from the same address is refused, naming it", async () => {
  await using h = startLineServer({ maxPerIp: 1 });
  using only = await connectTo(h.port);
  await accepted(h, only, 0);
  assert.equal(
    await refusalMessage(h.port),
    "linehub-server: refused (per-ip): too many connections from 127.0.0.1 (limit 1); try again later\n",
  );
  closeQuietly(only);
  await disconnected(h, 0);
  using again = await connectTo(h.port);
  await accepted(h, again, 1);
  closeQuietly(again);
  assert.equal(h.server.stats.refusedPerIp, 1);
});

Deno.test("a peer the access list refuses is told so in one line, closed at once, and logged with its address", async () => {
  const seen: string[] = [];
  await using h = startLineServer({
    accessList: {
      permits(address): boolean {
        seen.push(address);
        return false;
      },
    },
  });
  assert.equal(
    await refusalMessage(h.port),
    "linehub-server: refused (denied): denied by --allow/--deny\n",
  );
  assert.match(h.log.text(), /^refused 127\.0\.0\.1:\d+: denied by --allow\/--deny$/m);
  assert.deepEqual(seen, ["127.0.0.1"]);
  assert.equal(h.server.stats.refusedDenied, 1);
  assert.equal(h.server.stats.clients, 0);
});

Deno.test("a TLS client on a plain port is told so in plain text and closed, its handshake not recorded as lines", async () => {
  await using h = startLineServer();
  using conn = await connectTo(h.port);
  const hello = await clientHello();
  await writeAll(conn, hello);
  assert.equal(
    new TextDecoder().decode(await withTimeout(readToEnd(conn), 5000, "the refusal")),
    "linehub-server: refused (tls-on-plain-port): this port speaks plain TCP, not TLS\n",
  );
  await disconnected(h, 0);
  assert.match(
    h.log.text(),
    new RegExp(
      `^client 0 disconnected from \\S+ \\(tls-on-plain-port\\): 0 lines, ${hello.length} bytes`,
      "m",
    ),
  );
  assert.equal(h.out.text(), "");
});

Deno.test("refusals are JSON events in json format", async () => {
  await using h = startLineServer({ format: "json", maxClients: 1 });
  // The one client allowed, held open so that the next is refused.
  using _only = await connectTo(h.port);
  await waitFor("the connect event", () => h.out.text().includes(`"type":"connect"`));
  await refusalMessage(h.port);
  await waitFor("the refused event", () => h.out.text().includes(`"type":"refused"`));
  const refused = h.out.text().split("\n").filter((line) => line.includes(`"refused"`));
  const event = JSON.parse(refused[0] ?? "");
  assert.deepEqual(
    { ...event, time: "T", port: 0 },
    {
      time: "T",
      type: "refused",
      run: h.server.run,
      address: "127.0.0.1",
      port: 0,
      reason: "full",
      limit: 1,
    },
  );
  assert.match(h.server.run, /^[0-9a-f]{16}$/);
});

/** An observer that records what it is told and answers each line through
 * `reply` (nothing when it returns null). */
function recordingObserver(
  reply: (handle: ClientHandle, text: string) => string | null = () => null,
): ClientObserver & { events: string[]; handles: Map<number, ClientHandle> } {
  const events: string[] = [];
  const handles = new Map<number, ClientHandle>();
  return {
    events,
    handles,
    joined(handle): void {
      handles.set(handle.client.id, handle);
      events.push(`join ${handle.client.id}`);
    },
    line(handle, line, flags): void {
      const text = new TextDecoder().decode(line);
      const [truncated, partial] = [(flags & TRUNCATED) !== 0, (flags & PARTIAL) !== 0];
      events.push(`line ${handle.client.id} ${text}${truncated ? " T" : ""}${partial ? " P" : ""}`);
      const answer = reply(handle, text);
      if (answer !== null) handle.send(bytes(answer));
    },
    left(handle, reason): void {
      handles.delete(handle.client.id);
      events.push(
        `leave ${handle.client.id} ${reason} in=${handle.linesIn} out=${handle.linesOut}`,
      );
    },
  };
}

Deno.test("an observer is told of each join, line and leave, and its replies reach the client before the close", async () => {
  const observer = recordingObserver((_, text) => `you said ${text}\n`);
  await using h = startLineServer({ observer, maxLine: 8 });
  {
    using conn = await connectTo(h.port);
    await writeAll(conn, bytes("one\ntoo long a line\nlast"));
    await conn.closeWrite();
    const answer = new TextDecoder().decode(await readToEnd(conn));
    assert.equal(answer, "you said one\nyou said too long\nyou said last\n");
  }
  await disconnected(h, 0);
  assert.deepEqual(observer.events, [
    "join 0",
    "line 0 one",
    "line 0 too long T",
    "line 0 last P",
    "leave 0 eof in=3 out=3",
  ]);
});

Deno.test("in raw format, the output keeps a CRLF's CR and an observer is given the line without it", async () => {
  const observer = recordingObserver();
  await using h = startLineServer({ observer, format: "raw" });
  {
    using conn = await connectTo(h.port);
    await writeAll(conn, bytes("crlf\r\ntwo\r\r\nlast\r"));
    await conn.closeWrite();
    await readToEnd(conn);
  }
  await disconnected(h, 0);
  assert.equal(h.out.text(), "crlf\r\ntwo\r\r\nlast\r\n");
  assert.deepEqual(observer.events.slice(1, 4), [
    "line 0 crlf",
    "line 0 two\r",
    "line 0 last\r P",
  ]);
});

Deno.test("a client whose send queue passes its cap is disconnected, counted, and the others go on", async () => {
  const big = "x".repeat(1000) + "\n";
  // A line from client 1 makes the observer queue 64 KiB to client 0 at once.
  const observer = recordingObserver((handle, text) => {
    if (handle.client.id === 1 && text === "flood") {
      const target = observer.handles.get(0);
      for (let i = 0; i < 64 && target?.send(bytes(big)); i++) { /* until refused */ }
    }
    return null;
  });
  await using h = startLineServer({ observer, sendQueue: 16 * 1024 });
  using slow = await connectTo(h.port);
  await accepted(h, slow, 0);
  {
    using busy = await connectTo(h.port);
    await accepted(h, busy, 1);
    await writeAll(busy, bytes("flood\nstill here\n"));
    await disconnected(h, 0);
    await busy.closeWrite();
    await readToEnd(busy);
  }
  await disconnected(h, 1);
  assert.match(h.log.text(), /client 0 disconnected from .* \(send-queue-full\)/);
  assert.equal(h.out.text(), "[client 1] flood\n[client 1] still here\n");
  slow.close();
  const stats = await h.stop();
  assert.equal(stats.dropped, 1);
});

Deno.test("kick tells one client why and closes it, says so in its disconnect event, and counts it", async () => {
  const observer = recordingObserver();
  await using h = startLineServer({ observer });
  using conn = await connectTo(h.port);
  await accepted(h, conn, 0);
  await writeAll(conn, bytes("before the kick\n"));
  await outputShows(h, "before the kick");
  observer.handles.get(0)?.kick();
  assert.equal(
    new TextDecoder().decode(await withTimeout(readToEnd(conn), 5000, "the kick")),
    "linehub-server: closing (kicked): disconnected by the operator\n",
  );
  await disconnected(h, 0);
  assert.match(h.log.text(), /client 0 disconnected from .* \(kicked\): 1 line/);
  assert.equal(observer.events.at(-1), "leave 0 kicked in=1 out=0");
  conn.close();
  const stats = await h.stop();
  assert.equal(stats.kicked, 1);
});
