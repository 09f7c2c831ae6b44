/**
 * A `LineServer` (and a pool of Workers) with `--proxy-protocol`,
 * in this process, fed hand-written PROXY v1 and v2 headers over loopback:
 * the client a header names replaces the balancer in events, records,
 * `--allow` and `--max-per-ip`; a health check's LOCAL header makes no
 * client; a connection without a valid header, or from a peer not in
 * `--proxy-from`, is refused with reason `proxy` and nothing it sent is
 * written; TLS runs after the header; and random headers, whole, cut short
 * or corrupted, each get what the parser says of them.
 */

import assert from "node:assert/strict";
import net from "node:net";
import { connect as tlsConnect } from "node:tls";
import { AccessList, parseCidr } from "../../lib/net/access_list.ts";
import { readKeyPair } from "../../lib/net/tls_files.ts";
import { TlsAcceptor } from "../../lib/server/tls_acceptor.ts";
import { workersUnavailableReason } from "../../lib/server/workers/pool.ts";
import { parseProxyHeader } from "../../lib/wire/proxy_header.ts";
import {
  bytes,
  certificatesForTests,
  concat,
  connectTo,
  jsonLines,
  nameUnless,
  PROXY_V2_LOCAL,
  proxyV1,
  proxyV2,
  randomInt,
  readToEnd,
  seededRandom,
  sleep,
  startLineServer,
  startPool,
  waitFor,
  withTimeout,
  writeAll,
} from "../_helpers/mod.ts";

/** Header timeout for these tests: short, so a slow header is refused soon. */
const HEADER_TIMEOUT = 0.3;
const PROXY = { headerTimeout: HEADER_TIMEOUT };
const decoder = new TextDecoder();

/** Connects, sends `data` in one write, half-closes, and returns all the
 * server sent back before it closed. */
async function exchange(port: number, data: Uint8Array): Promise<string> {
  using conn = await connectTo(port);
  await writeAll(conn, data);
  await conn.closeWrite();
  return decoder.decode(await withTimeout(readToEnd(conn), 10_000, "the server's close"));
}

/** Waits until the log holds `text`. */
function logShows(h: { log: { text(): string } }, text: string): Promise<void> {
  return waitFor(
    `log ${JSON.stringify(text)}`,
    () => h.log.text().includes(text),
    () => h.log.text(),
  );
}

Deno.test("a v1 header's client replaces the balancer in events and labels; its bytes after the header are its lines", async () => {
  await using h = startLineServer({ proxy: PROXY, label: "both" });
  // Header and lines in one write: the bytes after the header, read with
  // it, must not be lost.
  const said = await exchange(h.port, concat([proxyV1("192.0.2.7", 51000), bytes("hello\nbye\n")]));
  assert.equal(said, "");
  await logShows(h, "disconnected");
  await h.stop();
  assert.equal(h.out.text(), "[client 0 192.0.2.7:51000] hello\n[client 0 192.0.2.7:51000] bye\n");
  assert.deepEqual(h.log.lines(), [
    "client 0 connected from 192.0.2.7:51000",
    "client 0 disconnected from 192.0.2.7:51000 (eof): 2 lines, 10 bytes, D s",
  ]);
});

Deno.test("JSON records give a v2 header's client address and port: IPv6 as Deno shows it, IPv4-mapped as IPv4", async () => {
  await using h = startLineServer({ proxy: PROXY, format: "json", run: "0123456789abcdef" });
  await exchange(h.port, concat([proxyV2("2001:db8:0:0::1", 40000), bytes("six\n")]));
  await exchange(h.port, concat([proxyV2("::ffff:198.51.100.4", 40001), bytes("mapped\n")]));
  await waitFor("two disconnects", () => h.out.text().split('"disconnect"').length === 3);
  await h.stop();
  const records = jsonLines(h.out.text());
  const seen = records.map(({ type, client, address, port, text }) => ({
    type,
    client,
    address,
    port,
    ...(text === undefined ? {} : { text }),
  }));
  assert.deepEqual(seen, [
    { type: "connect", client: 0, address: "2001:db8::1", port: 40000 },
    { type: "message", client: 0, address: "2001:db8::1", port: 40000, text: "six" },
    { type: "disconnect", client: 0, address: "2001:db8::1", port: 40000 },
    { type: "connect", client: 1, address: "198.51.100.4", port: 40001 },
    { type: "message", client: 1, address: "198.51.100.4", port: 40001, text: "mapped" },
    { type: "disconnect", client: 1, address: "198.51.100.4", port: 40001 },
  ]);
});

Deno.test("a header sent a byte at a time, its lines in later writes, is read whole", async () => {
  await using h = startLineServer({ proxy: { headerTimeout: 10 } });
  using conn = await connectTo(h.port);
  conn.setNoDelay(true);
  for (const byte of proxyV2("203.0.113.9", 1234)) {
    await writeAll(conn, Uint8Array.of(byte));
    await sleep(1); // separate reads, most of the time
  }
  await writeAll(conn, bytes("after\n"));
  await logShows(h, "client 0 connected from 203.0.113.9:1234\n");
  conn.close();
  await logShows(h, "disconnected");
  await h.stop();
  assert.equal(h.out.text(), "[client 0] after\n");
});

Deno.test("--allow and --deny judge the address the header gives, not the balancer's", async () => {
  await using h = startLineServer({
    proxy: PROXY,
    accessList: new AccessList([parseCidr("192.0.2.0/24", "allow")], []),
  });
  // The balancer, 127.0.0.1, is not in --allow; the clients it relays are,
  // or are not.
  assert.equal(await exchange(h.port, concat([proxyV1("192.0.2.8", 5000), bytes("in\n")])), "");
  const refusal = await exchange(
    h.port,
    concat([proxyV1("198.51.100.1", 5001), bytes("out\n")]),
  );
  assert.equal(refusal, "linehub-server: refused (denied): denied by --allow/--deny\n");
  await logShows(h, "refused 198.51.100.1:5001: denied by --allow/--deny\n");
  await logShows(h, "disconnected");
  const stats = await h.stop();
  assert.equal(h.out.text(), "[client 0] in\n");
  assert.equal(stats.refusedDenied, 1);
  assert.equal(stats.clients, 1);
});

Deno.test("--max-per-ip counts the clients of each address the headers give", async () => {
  await using h = startLineServer({ proxy: PROXY, maxPerIp: 1 });
  using opened = new DisposableStack();
  // Three connections from the one balancer: two clients, one address each.
  for (const [address, port] of [["192.0.2.1", 1001], ["192.0.2.2", 1002]] as const) {
    const conn = opened.use(await connectTo(h.port));
    await writeAll(conn, proxyV1(address, port));
    await logShows(h, `connected from ${address}:${port}\n`);
  }
  const refusal = await exchange(h.port, concat([proxyV1("192.0.2.1", 1003), bytes("no\n")]));
  assert.equal(
    refusal,
    "linehub-server: refused (per-ip): too many connections from 192.0.2.1 (limit 1); " +
      "try again later\n",
  );
  await logShows(h, "refused 192.0.2.1:1003: too many connections from 192.0.2.1 (limit 1)\n");
  opened.dispose();
  // Once the first client of 192.0.2.1 has gone, its address has room again.
  await waitFor("both clients to leave", () => h.log.text().split(" disconnected ").length === 3);
  assert.equal(await exchange(h.port, concat([proxyV1("192.0.2.1", 1004), bytes("yes\n")])), "");
  await logShows(h, "client 2 disconnected from 192.0.2.1:1004");
  const stats = await h.stop();
  assert.equal(h.out.text(), "[client 2] yes\n");
  assert.equal(stats.refusedPerIp, 1);
});

Deno.test("a v2 LOCAL header (a health check) makes no client: no number, no event, nothing written", async () => {
  await using h = startLineServer({ proxy: PROXY });
  // A health check that says more than its header: not read, not written.
  assert.equal(await exchange(h.port, concat([PROXY_V2_LOCAL, bytes("not a line\n")])), "");
  assert.equal(await exchange(h.port, PROXY_V2_LOCAL), "");
  await exchange(h.port, concat([proxyV1("192.0.2.3", 3000), bytes("real\n")]));
  await logShows(h, "disconnected");
  const stats = await h.stop();
  assert.equal(h.out.text(), "[client 0] real\n");
  assert.deepEqual(h.log.lines(), [
    "client 0 connected from 192.0.2.3:3000",
    "client 0 disconnected from 192.0.2.3:3000 (eof): 1 line, 5 bytes, D s",
  ]);
  assert.equal(stats.clients, 1);
  assert.equal(stats.refusedProxy, 0);
});

Deno.test("v1 UNKNOWN makes a client at the balancer's own address, as the spec says", async () => {
  await using h = startLineServer({ proxy: PROXY });
  using conn = await connectTo(h.port);
  await writeAll(conn, bytes("PROXY UNKNOWN\r\nunknown\n"));
  const { port } = conn.localAddr;
  await logShows(h, `client 0 connected from 127.0.0.1:${port}\n`);
  conn.close();
  await logShows(h, "disconnected");
  await h.stop();
  assert.equal(h.out.text(), "[client 0] unknown\n");
});

Deno.test("a connection without a valid header is refused (proxy), told why, and none of it is written", async () => {
  await using h = startLineServer({ proxy: PROXY, format: "json", run: "0123456789abcdef" });
  const missing = await exchange(h.port, bytes("hello\nworld\n"));
  assert.equal(
    missing,
    'linehub-server: refused (proxy): not a PROXY protocol header: the connection starts "hello\\nworld\\n"\n',
  );
  const malformed = await exchange(h.port, bytes("PROXY TCP4 192.0.2.01 10.0.0.1 1 2\r\nline\n"));
  assert.match(
    malformed,
    /^linehub-server: refused \(proxy\): invalid PROXY v1 header: source address "192\.0\.2\.01" is not an IPv4 address/,
  );
  await waitFor("two refusals", () => h.out.text().split('"refused"').length === 3);
  const stats = await h.stop();
  const records = jsonLines(h.out.text());
  assert.deepEqual(records.map(({ type, reason }) => `${type} ${reason}`), [
    "refused proxy",
    "refused proxy",
  ]);
  assert.equal(
    records[0].detail,
    'not a PROXY protocol header: the connection starts "hello\\nworld\\n"',
  );
  assert.equal(records[0].address, "127.0.0.1");
  assert.equal(stats.refusedProxy, 2);
  assert.equal(stats.clients, 0);
  assert.equal(stats.lines, 0);
});

Deno.test("a header over its cap is refused (proxy) as soon as the cap is passed, not at the timeout", async () => {
  // Long enough that only the caps can refuse these in the test's time.
  await using h = startLineServer({
    proxy: { headerTimeout: 60 },
    format: "json",
    run: "0123456789abcdef",
  });
  // v1: no CRLF within 107 bytes; the connection stays open, sending nothing more.
  using v1 = await connectTo(h.port);
  await writeAll(v1, bytes(`PROXY UNKNOWN ${"x".repeat(200)}`));
  // v2: a length field saying 5,000 bytes, over the 4,096 taken; nothing follows.
  using v2 = await connectTo(h.port);
  const fixed = proxyV2("192.0.2.9", 9000).slice(0, 16);
  new DataView(fixed.buffer).setUint16(14, 5000);
  await writeAll(v2, fixed);
  const told = await Promise.all(
    [v1, v2].map((conn) => withTimeout(readToEnd(conn), 10_000, "the refusal")),
  );
  assert.deepEqual(told.map((said) => decoder.decode(said)), [
    "linehub-server: refused (proxy): invalid PROXY v1 header: no CRLF within its first 107 bytes\n",
    "linehub-server: refused (proxy): invalid PROXY v2 header: 5016 bytes long, over the limit " +
    "of 4096\n",
  ]);
  const stats = await h.stop();
  const refused = jsonLines(h.out.text());
  assert.deepEqual(refused.map(({ type, reason }) => `${type} ${reason}`), [
    "refused proxy",
    "refused proxy",
  ]);
  assert.equal(stats.refusedProxy, 2);
});

Deno.test("a header not complete in time is refused, while other clients are served meanwhile", async () => {
  await using h = startLineServer({ proxy: PROXY });
  using silent = await connectTo(h.port);
  using slow = await connectTo(h.port);
  await writeAll(slow, bytes("PROXY TCP4 "));
  // Served while the two wait: their headers are read in tasks of their own.
  assert.equal(await exchange(h.port, concat([proxyV1("192.0.2.4", 4000), bytes("quick\n")])), "");
  const told = await Promise.all([silent, slow].map((conn) => readToEnd(conn)));
  assert.deepEqual(told.map((said) => decoder.decode(said)), [
    `linehub-server: refused (proxy): no PROXY header within ${HEADER_TIMEOUT} s\n`,
    `linehub-server: refused (proxy): PROXY header incomplete after ${HEADER_TIMEOUT} s (11 bytes)\n`,
  ]);
  await logShows(h, "disconnected");
  const stats = await h.stop();
  assert.equal(h.out.text(), "[client 0] quick\n");
  assert.equal(stats.refusedProxy, 2);
  assert.match(h.log.text(), /^refused 127\.0\.0\.1:\d+: no PROXY header within 0\.3 s$/m);
});

Deno.test("--proxy-from refuses a peer outside it before reading a byte, and serves one inside", async () => {
  {
    await using h = startLineServer({
      proxy: { ...PROXY, from: [parseCidr("10.0.0.0/8", "proxy-from")] },
    });
    // A valid header and a line: from this peer, neither counts.
    const said = await exchange(h.port, concat([proxyV1("192.0.2.5", 5000), bytes("forged\n")]));
    assert.equal(said, "linehub-server: refused (proxy): 127.0.0.1 is not in --proxy-from\n");
    await logShows(h, "refused");
    const stats = await h.stop();
    assert.equal(h.out.text(), "");
    assert.equal(stats.refusedProxy, 1);
    assert.match(h.log.text(), /^refused 127\.0\.0\.1:\d+: 127\.0\.0\.1 is not in --proxy-from$/m);
  }
  {
    await using h = startLineServer({
      proxy: { ...PROXY, from: [parseCidr("127.0.0.0/8", "proxy-from")] },
    });
    await exchange(h.port, concat([proxyV1("192.0.2.5", 5000), bytes("relayed\n")]));
    await logShows(h, "client 0 disconnected from 192.0.2.5:5000");
    await h.stop();
    assert.equal(h.out.text(), "[client 0] relayed\n");
  }
});

Deno.test("a connection still without its header at the drain deadline is closed and refused", async () => {
  await using h = startLineServer({ proxy: { headerTimeout: 30 }, drainTimeout: 0.2 });
  using silent = await connectTo(h.port);
  // Accepted after the silent one, which the server has then accepted too.
  await exchange(h.port, concat([proxyV1("192.0.2.6", 6000), bytes("probe\n")]));
  await logShows(h, "disconnected from 192.0.2.6:6000");
  const stats = await h.stop();
  assert.equal(stats.refusedProxy, 1);
  assert.match(
    h.log.text(),
    /^refused 127\.0\.0\.1:\d+: the server shut down before the PROXY header$/m,
  );
  assert.equal(await withTimeout(silent.read(new Uint8Array(64)), 5000, "the close"), null);
});

const { files, skip: noCertificates } = await certificatesForTests();

Deno.test({
  name: nameUnless(
    noCertificates,
    "TLS runs after a v2 header, as HAProxy's send-proxy-v2 sends it in TCP mode",
  ),
  ignore: noCertificates !== null,
  async fn(): Promise<void> {
    const { server, ca } = files();
    const tls = new TlsAcceptor({ keyPair: await readKeyPair(server.cert, server.key) });
    await using h = startLineServer({ proxy: PROXY, tls });
    const received = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(h.port, "127.0.0.1", () => {
        // The header in plain TCP; the ClientHello right behind it.
        socket.write(proxyV2("198.51.100.20", 44000));
        const secure = tlsConnect({
          socket,
          servername: "localhost",
          ca: Deno.readTextFileSync(ca.cert),
        });
        let text = "";
        secure.on("secureConnect", () => secure.end("over TLS\n"));
        secure.on("data", (chunk: Uint8Array) => text += decoder.decode(chunk));
        secure.on("error", reject);
        secure.on("close", () => resolve(text));
      });
      socket.on("error", reject);
    });
    assert.equal(received, "");
    await logShows(h, "disconnected");
    await h.stop();
    assert.equal(h.out.text(), "[client 0] over TLS\n");
    assert.match(h.log.text(), /^client 0 connected from 198\.51\.100\.20:44000$/m);
  },
});

Deno.test({
  name: nameUnless(
    noCertificates,
    "on a TLS port a connection without a header is refused without a word, before any TLS",
  ),
  ignore: noCertificates !== null,
  async fn(): Promise<void> {
    const { server } = files();
    const tls = new TlsAcceptor({ keyPair: await readKeyPair(server.cert, server.key) });
    await using h = startLineServer({ proxy: PROXY, tls });
    assert.equal(await exchange(h.port, bytes("\x16\x03\x01 a ClientHello, no header")), "");
    await logShows(h, "refused");
    const stats = await h.stop();
    assert.equal(stats.refusedProxy, 1);
    assert.equal(stats.refusedTls, 0);
  },
});

const noWorkers = workersUnavailableReason();

Deno.test({
  name: nameUnless(noWorkers, "with 2 Workers each client's address comes from its header"),
  ignore: noWorkers !== null,
  async fn(): Promise<void> {
    const CLIENTS = 8;
    await using h = await startPool({ proxy: PROXY, label: "address" });
    for (let k = 0; k < CLIENTS; k++) {
      await exchange(
        h.port,
        concat([proxyV2(`192.0.2.${10 + k}`, 7000 + k), bytes(`line ${k}\n`)]),
      );
    }
    await waitFor(
      `${CLIENTS} disconnects`,
      () => h.log.text().split(" disconnected ").length === CLIENTS + 1,
      () => h.log.text(),
    );
    const refusal = await exchange(h.port, bytes("no header\n"));
    assert.match(refusal, /^linehub-server: refused \(proxy\): not a PROXY protocol header/);
    await logShows(h, "refused");
    const stats = await h.stop();
    const lines = h.out.text().trim().split("\n").sort();
    assert.deepEqual(
      lines,
      Array.from({ length: CLIENTS }, (_, k) => `[192.0.2.${10 + k}:${7000 + k}] line ${k}`).sort(),
    );
    assert.equal(stats.clients, CLIENTS);
    assert.equal(stats.refusedProxy, 1);
  },
});

/** A header as a balancer might send it, or spoil it: whole, cut short, or
 * with one byte changed. */
function randomHeader(random: () => number, k: number): Uint8Array {
  const ipv6 = random() < 0.4;
  const source = ipv6 ? `2001:db8::${(k + 1).toString(16)}` : `192.0.2.${k % 250 + 1}`;
  const port = randomInt(random, 0, 65535);
  const whole = random() < 0.5 ? proxyV1(source, port) : proxyV2(source, port);
  const pick = random();
  if (pick < 0.5) return whole;
  if (pick < 0.75) return whole.slice(0, randomInt(random, 0, whole.length - 1));
  const spoiled = whole.slice();
  spoiled[randomInt(random, 0, spoiled.length - 1)] = randomInt(random, 0, 255);
  return spoiled;
}

Deno.test("random headers, whole, cut short or corrupted, each get what the parser says of them", async () => {
  const CONNECTIONS = 150;
  const random = seededRandom(20261214);
  await using h = startLineServer({ proxy: PROXY, format: "json", run: "0123456789abcdef" });
  /** What each connection the parser takes for a client must show. */
  const expected: Array<{ address: string; port: number; bytes: number; last: string }> = [];
  for (let k = 0; k < CONNECTIONS; k++) {
    const sent = concat([randomHeader(random, k), bytes(`line ${k}\n`)]);
    using conn = await connectTo(h.port);
    // The oracle: the parser over all that is sent (its answer never
    // changes as bytes come, so reads cut anyhow get the same one).
    const parse = parseProxyHeader(sent);
    if (parse.status === "done" && parse.header.command === "proxy") {
      const { header } = parse;
      const ip = header.family === "tcp4" || header.family === "tcp6";
      expected.push({
        // Not an IP address: the connection's own.
        address: ip ? header.source.address.replace(/^::ffff:(?=\d+\.)/, "") : "127.0.0.1",
        port: ip ? header.source.port ?? 0 : conn.localAddr.port,
        bytes: sent.length - parse.length,
        // A header made longer by a changed length field takes in some of
        // the line, or all of it but its newline.
        last: decoder.decode(sent.subarray(parse.length, -1)).split("\n").pop() ?? "",
      });
    }
    // Cut at random, so the header and the line cross reads anyhow.
    for (let at = 0; at < sent.length;) {
      const size = randomInt(random, 1, sent.length - at);
      await writeAll(conn, sent.subarray(at, at + size));
      at += size;
    }
    await conn.closeWrite();
    await withTimeout(readToEnd(conn), 10_000, `connection ${k} to be closed`);
  }
  await waitFor(
    "every client's end",
    () => h.out.text().split('"disconnect"').length === expected.length + 1,
    () => h.out.text().slice(-2000),
  );
  const stats = await h.stop();
  const records = jsonLines(h.out.text());
  // Clients are numbered in the order they connected, one at a time.
  const seen = records.filter((record) => record.type === "disconnect").map((end) => ({
    address: end.address,
    port: end.port,
    // Every byte after the header reached the client's pipeline.
    bytes: end.bytes,
    last: records.findLast((record) => record.type === "message" && record.client === end.client)
      ?.text,
  }));
  assert.deepEqual(seen, expected);
  assert.equal(stats.clients, expected.length);
  // The rest were refused as PROXY refusals, or were health checks (a
  // changed command byte can make a LOCAL header).
  const refused = records.filter((record) => record.type === "refused");
  assert.ok(refused.every((record) => record.reason === "proxy"));
  assert.equal(stats.refusedProxy, refused.length);
  assert.ok(expected.length > 40 && refused.length > 40, `${expected.length} clients`);
});
