/**
 * `linehub-server --sink redis://...` against a real `redis-server`, each
 * test starting its own on a free loopback port in a temporary folder
 * (`tests/_helpers/redis.ts`): lines of several clients in the stream in
 * per-client order with the record's fields; the broker killed mid-stream
 * and started again while `--ack` clients send, with every line in the
 * stream afterwards and duplicates counted; the server's memory while the
 * broker is down and clients keep sending; and a broker down at shutdown,
 * what it did not get counted, exit 4 (the outages are
 * tests/_helpers/broker_outage.ts, shared with the NATS tests). Skipped,
 * with the reason, where redis-server is not installed.
 */

import assert from "node:assert/strict";
import {
  ackClientsAcrossOutage,
  assertNoCrash,
  connectTo,
  downAtShutdown,
  FLOOD_DRAIN,
  floodWhileBrokerDown,
  nameUnless,
  noRedisReason,
  outageLines,
  RedisPeer,
  SHORT_DRAIN,
  sinkSummaryIn,
  startServer,
  type StreamEntry,
  writeAll,
} from "../_helpers/mod.ts";

const skip = await noRedisReason();

/** The entries of each client, by the `name` the client gave or its number. */
function byClient(entries: StreamEntry[]): Map<string, StreamEntry[]> {
  return Map.groupBy(entries, (entry) => entry.fields.name ?? entry.fields.client ?? "?");
}

Deno.test({
  name: nameUnless(
    skip,
    "--sink redis: the lines of 3 clients are in the stream in per-client order, with their fields",
  ),
  ignore: skip !== null,
  async fn(): Promise<void> {
    await using redis = await RedisPeer.start();
    await using server = await startServer([
      ...["--sink", redis.url("lines"), "--max-line", "40", "--node", "web-3"],
    ]);
    const conns = await Promise.all([0, 1, 2].map(() => connectTo(server.port)));
    // Interleaved writes of whole and split lines, so the clients' lines
    // meet in the server's batches.
    for (let round = 0; round < 10; round++) {
      for (const [k, conn] of conns.entries()) {
        const lines = Array.from({ length: 30 }, (_, i) => `c${k} ${round * 30 + i}`).join("\n");
        await writeAll(conn, new TextEncoder().encode(lines + "\n"));
      }
    }
    const [first, second, third] = conns as [Deno.TcpConn, Deno.TcpConn, Deno.TcpConn];
    await writeAll(first, new TextEncoder().encode(`${"x".repeat(50)}\n`));
    await writeAll(second, new TextEncoder().encode("caf\u00e9 \u65e5\u672c\n"));
    await writeAll(third, new TextEncoder().encode("no newline"));
    for (const conn of conns) conn.close();
    await server.waitForStdout(/("type":"disconnect".*\n[^]*){3}/);
    const result = await server.stop();
    assertNoCrash(result.stderr);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /redis:\/\/127\.0\.0\.1:\d+\/lines: 903 messages delivered\n/);

    const groups = byClient(await redis.entries("lines"));
    assert.equal(groups.size, 3);
    for (const [client, entries] of groups) {
      const k = Number(client);
      const expected = Array.from({ length: 300 }, (_, i) => `c${k} ${i}`);
      assert.deepEqual(entries.slice(0, 300).map((entry) => entry.fields.text), expected);
      assert.deepEqual(
        entries.map((entry) => entry.fields.seq),
        Array.from({ length: 301 }, (_, i) => String(i + 1)),
        `client ${client} in order`,
      );
    }
    const [entry] = groups.get("0") ?? [];
    assert.deepEqual(Object.keys(entry?.fields ?? {}), [
      "time",
      "run",
      "node",
      "client",
      "address",
      "port",
      "seq",
      "text",
    ]);
    assert.equal(entry?.fields.address, "127.0.0.1");
    assert.match(entry?.fields.time ?? "", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.match(entry?.fields.run ?? "", /^[0-9a-f]{16}$/);
    assert.equal(entry?.fields.node, "web-3");
    // The stdout records and the stream agree on who and when.
    const start = JSON.parse(result.stdout.split("\n")[0] ?? "{}");
    assert.deepEqual([entry?.fields.run, entry?.fields.node], [start.run, start.node]);

    const last = (k: string): Readonly<Record<string, string>> | undefined =>
      groups.get(k)?.at(-1)?.fields;
    assert.deepEqual(
      [last("0")?.text, last("0")?.flags, last("0")?.length],
      ["x".repeat(40), "truncated", "50"],
    );
    assert.equal(last("1")?.text, "caf\u00e9 \u65e5\u672c");
    assert.equal(last("1")?.flags, undefined);
    assert.deepEqual([last("2")?.text, last("2")?.flags], ["no newline", "partial"]);
  },
});

Deno.test({
  name: nameUnless(
    skip,
    "--sink redis with --ack: the broker killed mid-stream and restarted loses no line of 3 --ack clients",
  ),
  ignore: skip !== null,
  async fn(): Promise<void> {
    await using redis = await RedisPeer.start();
    await using server = await startServer(["--ack", "--sink", redis.url("lines")]);
    const stderr = await ackClientsAcrossOutage(server, redis);

    const entries = await redis.entries("lines");
    const groups = byClient(entries);
    let duplicates = 0;
    for (let k = 0; k < 3; k++) {
      const sent = groups.get(`c${k}`) ?? [];
      const texts = new Set(sent.map((entry) => entry.fields.text));
      const missing = outageLines(k).filter((text) => !texts.has(text));
      assert.deepEqual(missing.slice(0, 10), [], `c${k}: ${missing.length} lines missing`);
      // A line is the same line when its session and seq are.
      const keys = new Set(sent.map((entry) => `${entry.fields.session}/${entry.fields.seq}`));
      duplicates += sent.length - keys.size;
    }
    // Every entry is one the server had confirmed, or one it sent and then
    // counted as sent again; so every duplicate is counted (a client's own
    // resends would also count, but the server stayed up, so there are none).
    const { delivered, resent } = sinkSummaryIn(stderr);
    assert.ok(entries.length >= delivered, `${entries.length} entries, ${delivered} confirmed`);
    assert.ok(
      entries.length - delivered <= resent && duplicates <= resent,
      `${entries.length} entries with ${duplicates} duplicates, server said:\n${stderr}`,
    );
    console.log(`  (duplicates in the stream: ${duplicates}; resent: ${resent})`);
  },
});

Deno.test({
  name: nameUnless(
    skip,
    "--sink redis: while the broker is down, clients sending flat out are held back and the server's memory stays bounded",
  ),
  ignore: skip !== null,
  async fn(): Promise<void> {
    await using redis = await RedisPeer.start();
    await using server = await startServer([
      ...["--sink", redis.url("lines"), "--drain-timeout", FLOOD_DRAIN],
    ]);
    const flood = await floodWhileBrokerDown(server, redis);
    // Back up, the broker has every line that was sent: a write cut short
    // by the close can leave one line unfinished, which arrives partial.
    const entries = await redis.entries("lines");
    assert.equal(entries.length, sinkSummaryIn(flood.stderr).delivered);
    assert.ok(
      entries.length >= flood.lines,
      `${entries.length} entries, ${flood.lines} lines sent`,
    );
  },
});

Deno.test({
  name: nameUnless(
    skip,
    "--sink redis: a broker down when the server stops: the messages it holds are counted as not delivered, exit 4",
  ),
  ignore: skip !== null,
  async fn(): Promise<void> {
    await using redis = await RedisPeer.start();
    await using server = await startServer([
      ...["--sink", redis.url("lines"), "--drain-timeout", SHORT_DRAIN],
    ]);
    await downAtShutdown(server, redis);
  },
});
