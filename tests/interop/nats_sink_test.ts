/**
 * `linehub-server --sink nats://...` against a real `nats-server -js`, each
 * test starting its own on a free loopback port with JetStream storing in a
 * temporary folder (`tests/_helpers/nats.ts`): lines of several clients in
 * the stream in per-client order, each the server's JSON record with its
 * `Nats-Msg-Id`; a subject no stream takes, said once and counted as lost
 * at shutdown; and the broker killed mid-stream and started again while
 * `--ack` clients send, with every line stored once and the duplicates
 * JetStream dropped counted; the server's memory while the broker is down
 * and clients keep sending; and a broker down at shutdown, what it did not
 * get counted, exit 4 (the outages are
 * tests/_helpers/broker_outage.ts, shared with the Redis tests). Skipped,
 * with the reason, where nats-server is not installed.
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
  NatsPeer,
  noNatsReason,
  outageLines,
  SHORT_DRAIN,
  sinkSummaryIn,
  startServer,
  type StoredMessage,
  writeAll,
} from "../_helpers/mod.ts";

const skip = await noNatsReason();

/** The stored messages of each client, by its name or its number. */
function byClient(messages: StoredMessage[]): Map<string, StoredMessage[]> {
  return Map.groupBy(messages, (message) => String(message.record.name ?? message.record.client));
}

Deno.test({
  name: nameUnless(
    skip,
    "--sink nats: the lines of 3 clients are in the JetStream stream in per-client order, as JSON records with ids",
  ),
  ignore: skip !== null,
  async fn(): Promise<void> {
    await using nats = await NatsPeer.start();
    await using server = await startServer([
      ...["--sink", nats.url("logs.lines", "LINES"), "--node", "web-3"],
    ]);
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
    assert.equal(first?.record.node, "web-3");
    assert.equal(
      first?.id,
      `web-3/${first?.record.run}/${first?.record.client}/${first?.record.seq}`,
    );
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
  async fn(): Promise<void> {
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
  async fn(): Promise<void> {
    await using nats = await NatsPeer.start();
    await using server = await startServer(["--ack", "--sink", nats.url("lines", "LINES")]);
    const stderr = await ackClientsAcrossOutage(server, nats);

    const stored = await nats.stored("LINES");
    const groups = byClient(stored);
    for (let k = 0; k < 3; k++) {
      const texts = (groups.get(`c${k}`) ?? []).map((message) => message.record.text);
      // JetStream dropped what the server sent again: each line once.
      assert.deepEqual(texts, outageLines(k), `c${k}: every line, once, in order`);
    }
    // Each PubAck is a message stored or a duplicate dropped, and the
    // server counted both: what it sent again covers what was dropped.
    const { delivered, resent, dropped } = sinkSummaryIn(stderr);
    assert.equal(delivered, stored.length + dropped, stderr);
    assert.ok(dropped <= resent, stderr);
    console.log(`  (JetStream dropped ${dropped} duplicates; resent: ${resent})`);
  },
});

Deno.test({
  name: nameUnless(
    skip,
    "--sink nats: while the broker is down, clients sending flat out are held back and the server's memory stays bounded",
  ),
  ignore: skip !== null,
  async fn(): Promise<void> {
    await using nats = await NatsPeer.start();
    await using server = await startServer([
      ...["--sink", nats.url("lines", "LINES"), "--drain-timeout", FLOOD_DRAIN],
    ]);
    const flood = await floodWhileBrokerDown(server, nats);
    // Back up, the stream has every line that was sent (created by the
    // server's first connect, which is after the restart): a write cut
    // short by the close can leave one line unfinished, which arrives
    // partial.
    const stored = await nats.lastSeq("LINES");
    const { delivered, dropped } = sinkSummaryIn(flood.stderr);
    assert.equal(stored, delivered - dropped);
    assert.ok(stored >= flood.lines, `${stored} stored, ${flood.lines} lines sent`);
  },
});

Deno.test({
  name: nameUnless(
    skip,
    "--sink nats: a broker down when the server stops: the messages it holds are counted as not delivered, exit 4",
  ),
  ignore: skip !== null,
  async fn(): Promise<void> {
    await using nats = await NatsPeer.start();
    await using server = await startServer([
      ...["--sink", nats.url("lines", "LINES"), "--drain-timeout", SHORT_DRAIN],
    ]);
    await downAtShutdown(server, nats);
  },
});
