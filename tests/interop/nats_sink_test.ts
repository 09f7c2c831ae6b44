/**
 * `linehub-server --sink nats://...` against a real `nats-server -js`, each
 * test starting its own on a free loopback port with JetStream storing in a
 * temporary folder (`tests/_helpers/nats.ts`): lines of several clients in
 * the stream in per-client order, each the server's JSON record with its
 * `Nats-Msg-Id`; a subject no stream takes, said once and counted as lost
 * at shutdown; and the broker killed mid-stream and started again while
 * `--ack` clients send, with every line stored once. Skipped, with the
 * reason, where nats-server is not installed.
 */

import assert from "node:assert/strict";
import {
  assertNoCrash,
  connectTo,
  nameUnless,
  NatsPeer,
  noNatsReason,
  sleep,
  spawnClient,
  startServer,
  type StoredMessage,
  writeAll,
} from "../_helpers/mod.ts";

const skip = await noNatsReason();

/** The stored messages of each client, by its name or its number. */
function byClient(messages: StoredMessage[]): Map<string, StoredMessage[]> {
  const groups = new Map<string, StoredMessage[]>();
  for (const message of messages) {
    const key = String(message.record.name ?? message.record.client);
    groups.set(key, [...(groups.get(key) ?? []), message]);
  }
  return groups;
}

Deno.test({
  name: nameUnless(
    skip,
    "--sink nats: the lines of 3 clients are in the JetStream stream in per-client order, as JSON records with ids",
  ),
  ignore: skip !== null,
  async fn() {
    await using nats = await NatsPeer.start();
    await using server = await startServer(["--sink", nats.url("logs.lines", "LINES")]);
    const conns = await Promise.all([0, 1, 2].map(() => connectTo(server.port)));
    for (let round = 0; round < 10; round++) {
      for (const [k, conn] of conns.entries()) {
        const lines = Array.from({ length: 30 }, (_, i) => `c${k} ${round * 30 + i}`).join("\n");
        await writeAll(conn, new TextEncoder().encode(lines + "\n"));
      }
    }
    await writeAll(conns[1] as Deno.TcpConn, new TextEncoder().encode("caf\u00e9 \u65e5\u672c"));
    for (const conn of conns) conn.close();
    await server.waitForStdout(/("type":"disconnect".*\n[^]*){3}/);
    const result = await server.stop();
    assertNoCrash(result.stderr);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /\/logs\.lines\?create=LINES: 901 messages delivered\n/);

    const stored = await nats.stored("LINES");
    const groups = byClient(stored);
    assert.equal(groups.size, 3);
    for (const [client, messages] of groups) {
      const k = Number(client);
      assert.deepEqual(
        messages.slice(0, 300).map((message) => message.record.text),
        Array.from({ length: 300 }, (_, i) => `c${k} ${i}`),
        `client ${client} in order`,
      );
    }
    // The payload is the record the output has, and its id names it.
    const records = result.stdout.split("\n").filter((line) => line.includes('"message"'));
    assert.deepEqual(stored.map((message) => message.record), records.map((r) => JSON.parse(r)));
    const [first] = stored;
    assert.equal(first?.id, `${first?.record.run}/${first?.record.client}/${first?.record.seq}`);
    const last = groups.get("1")?.at(-1)?.record;
    assert.deepEqual([last?.text, last?.partial], ["caf\u00e9 \u65e5\u672c", true]);
  },
});

Deno.test({
  name: nameUnless(
    skip,
    "--sink nats to a subject no stream takes: said once, and counted as not delivered at shutdown, exit 4",
  ),
  ignore: skip !== null,
  async fn() {
    await using nats = await NatsPeer.start();
    await using server = await startServer([
      ...["--sink", nats.url("nowhere"), "--drain-timeout", "0.5"],
    ]);
    const conn = await connectTo(server.port);
    await writeAll(conn, new TextEncoder().encode("one\ntwo\nthree\n"));
    conn.close();
    await server.waitForStderr(
      /nowhere: JetStream refused a message: no stream takes subject "nowhere" \(no responders\); holding [\d,]+ bytes of records, not accepting clients/,
    );
    const result = await server.stop();
    assertNoCrash(result.stderr);
    assert.equal(result.code, 4, result.stderr);
    assert.match(
      result.stderr,
      /nowhere: .*no stream takes.*; 3 messages received were not delivered\n$/,
    );
    assert.equal(result.stderr.match(/holding/g)?.length, 1, "the stall is said once");
  },
});

Deno.test({
  name: nameUnless(
    skip,
    "--sink nats with --ack: the broker killed mid-stream and restarted loses no line of 3 --ack clients, and stores none twice",
  ),
  ignore: skip !== null,
  async fn() {
    await using nats = await NatsPeer.start();
    await using server = await startServer(["--ack", "--sink", nats.url("lines", "LINES")]);
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
        if (round === 20) await nats.kill();
        if (round === 40) {
          await server.waitForStderr(/lines\?create=LINES: .*; holding/);
          await nats.restart();
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
    assert.match(result.stderr, /LINES: delivering again\n/);

    const groups = byClient(await nats.stored("LINES"));
    for (let k = 0; k < 3; k++) {
      const texts = (groups.get(`c${k}`) ?? []).map((message) => message.record.text);
      // JetStream dropped what the server sent again: each line once.
      assert.deepEqual(
        texts,
        Array.from({ length: ROUNDS * PER_ROUND }, (_, i) => `c${k} ${i}`),
        `c${k}: every line, once, in order`,
      );
    }
  },
});
