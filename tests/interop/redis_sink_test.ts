/**
 * `linehub-server --sink redis://...` against a real `redis-server`, each
 * test starting its own on a free loopback port in a temporary folder
 * (`tests/_helpers/redis.ts`): lines of several clients in the stream in
 * per-client order with the record's fields; the broker killed mid-stream
 * and started again while `--ack` clients send, with every line in the
 * stream afterwards and duplicates counted; and the server's memory while
 * the broker is down and clients keep sending. Skipped, with the reason,
 * where redis-server is not installed.
 */

import assert from "node:assert/strict";
import {
  assertNoCrash,
  connectTo,
  nameUnless,
  noRedisReason,
  RedisPeer,
  runProgram,
  sleep,
  spawnClient,
  startServer,
  type StreamEntry,
  writeAll,
} from "../_helpers/mod.ts";

const skip = await noRedisReason();

/** The entries of each client, by the `name` the client gave or its number. */
function byClient(entries: StreamEntry[]): Map<string, StreamEntry[]> {
  const groups = new Map<string, StreamEntry[]>();
  for (const entry of entries) {
    const key = entry.fields.name ?? entry.fields.client ?? "?";
    groups.set(key, [...(groups.get(key) ?? []), entry]);
  }
  return groups;
}

/** The server's resident memory in KiB, from ps (Deno reads /proc only with
 * --allow-all, which the tests do not have). */
async function rssKib(pid: number): Promise<number> {
  const { stdout } = await runProgram("ps", ["-o", "rss=", "-p", String(pid)]);
  return Number(stdout.trim());
}

/** The count in the server's summary line `N messages sent again`, or 0. */
function resentIn(stderr: string): number {
  return Number(/([\d,]+) messages? sent again/.exec(stderr)?.[1]?.replaceAll(",", "") ?? 0);
}

Deno.test({
  name: nameUnless(
    skip,
    "--sink redis: the lines of 3 clients are in the stream in per-client order, with their fields",
  ),
  ignore: skip !== null,
  async fn() {
    await using redis = await RedisPeer.start();
    await using server = await startServer(["--sink", redis.url("lines"), "--max-line", "40"]);
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
      "client",
      "address",
      "port",
      "seq",
      "text",
    ]);
    assert.equal(entry?.fields.address, "127.0.0.1");
    assert.match(entry?.fields.time ?? "", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.match(entry?.fields.run ?? "", /^[0-9a-f]{16}$/);
    // The stdout records and the stream agree on who and when.
    const start = JSON.parse(result.stdout.split("\n")[0] ?? "{}");
    assert.equal(entry?.fields.run, start.run);

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
  async fn() {
    await using redis = await RedisPeer.start();
    await using server = await startServer(["--ack", "--sink", redis.url("lines")]);
    const clients = [0, 1, 2].map((k) =>
      spawnClient([
        ...["--ack", "--retry", "forever", "--name", `c${k}`],
        ...["127.0.0.1", String(server.port)],
      ], { timeoutMs: 60_000 })
    );
    const ROUNDS = 60;
    const PER_ROUND = 25;
    try {
      for (let round = 0; round < ROUNDS; round++) {
        if (round === 20) await redis.kill();
        if (round === 40) {
          // Down for long enough that the server must have noticed.
          await server.waitForStderr(/lines: .*connect.*; holding/);
          await redis.restart();
        }
        await Promise.all(clients.map((client, k) => {
          const lines = Array.from(
            { length: PER_ROUND },
            (_, i) => `c${k} ${round * PER_ROUND + i}\n`,
          );
          return client.write(lines.join(""));
        }));
        await sleep(20);
      }
      await Promise.all(clients.map((client) => client.closeStdin()));
      const results = await Promise.all(clients.map((client) => client.finished()));
      for (const result of results) {
        assertNoCrash(result.stderr);
        assert.equal(result.code, 0, `every line acknowledged:\n${result.stderr}`);
      }
    } finally {
      await Promise.all(clients.map((client) => client.stop()));
    }
    const result = await server.stop();
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /lines: delivering again\n/);

    const groups = byClient(await redis.entries("lines"));
    let duplicates = 0;
    for (let k = 0; k < 3; k++) {
      const entries = groups.get(`c${k}`) ?? [];
      const texts = new Set(entries.map((entry) => entry.fields.text));
      const missing = Array.from({ length: ROUNDS * PER_ROUND }, (_, i) => `c${k} ${i}`)
        .filter((text) => !texts.has(text));
      assert.deepEqual(missing.slice(0, 10), [], `c${k}: ${missing.length} lines missing`);
      // A line is the same line when its session and seq are.
      const keys = new Set(entries.map((entry) => `${entry.fields.session}/${entry.fields.seq}`));
      duplicates += entries.length - keys.size;
    }
    // Every duplicate in the stream is one the server counted as possibly
    // sent twice (a client's own resends would also count, but the server
    // stayed up, so there are none).
    assert.ok(
      duplicates <= resentIn(result.stderr),
      `${duplicates} duplicates in the stream, server said:\n${result.stderr}`,
    );
    console.log(`  (duplicates in the stream: ${duplicates}; resent: ${resentIn(result.stderr)})`);
  },
});

Deno.test({
  name: nameUnless(
    skip,
    "--sink redis: while the broker is down, clients sending flat out are held back and the server's memory stays bounded",
  ),
  ignore: skip !== null,
  async fn() {
    await using redis = await RedisPeer.start();
    await using server = await startServer(["--sink", redis.url("lines")]);
    await redis.kill();
    const before = await rssKib(server.process.pid);
    const line = new TextEncoder().encode(`${"m".repeat(99)}\n`);
    const block = new Uint8Array(line.length * 600);
    for (let i = 0; i < 600; i++) block.set(line, i * line.length);
    const conns = await Promise.all([0, 1, 2].map(() => connectTo(server.port)));
    let sent = 0;
    let peak = before;
    const stopAt = Date.now() + 3000;
    // Each client writes as fast as the server lets it for 3 s; a write
    // held by backpressure is left unfinished, not awaited past the end.
    const senders = conns.map(async (conn) => {
      try {
        while (Date.now() < stopAt) sent += await conn.write(block);
      } catch {
        // Closed below.
      }
    });
    while (Date.now() < stopAt) {
      peak = Math.max(peak, await rssKib(server.process.pid));
      await sleep(100);
    }
    const growthMib = (peak - before) / 1024;
    const sentMib = sent / 1024 / 1024;
    await server.waitForStderr(/lines: .*; holding [\d,]+ bytes of records, not accepting clients/);
    // Flat out, a client on loopback sends hundreds of MiB a second: held
    // back, the three got a few socket buffers' worth out in 3 s.
    assert.ok(sentMib < 64, `clients sent ${sentMib.toFixed(1)} MiB while the broker was down`);
    assert.ok(growthMib < 48, `server RSS grew ${growthMib.toFixed(1)} MiB (${before} KiB before)`);
    console.log(
      `  (sent ${sentMib.toFixed(1)} MiB in 3 s; server RSS ${(before / 1024).toFixed(0)} MiB, ` +
        `+${growthMib.toFixed(1)} MiB at most)`,
    );

    // Back up, the broker gets every line that was sent.
    await redis.restart();
    for (const conn of conns) conn.close();
    await Promise.allSettled(senders);
    await server.waitForStderr(/lines: delivering again\n/);
    const result = await server.stop();
    assert.equal(result.code, 0, result.stderr);
    const delivered = Number(
      /lines: ([\d,]+) messages delivered/.exec(result.stderr)?.[1]
        ?.replaceAll(",", ""),
    );
    const entries = await redis.entries("lines");
    assert.equal(entries.length, delivered);
    // Whole lines were sent in whole blocks; a write cut short by the close
    // can leave one line unfinished, which arrives flagged partial.
    const whole = Math.floor(sent / line.length);
    assert.ok(entries.length >= whole, `${entries.length} entries, ${whole} lines sent`);
  },
});
