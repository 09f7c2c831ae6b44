/**
 * The ways the `--sink` tests take a broker away, written once for the
 * Redis and the NATS tests: `--ack` clients sending while the broker is
 * killed mid-stream and started again; clients sending flat out while it
 * is down, with the server's memory watched; and a broker down when the
 * server stops. Each test then reads its broker back its own way. Also:
 * the counts of the server's summary line for its sink.
 *
 * @module
 */

import assert from "node:assert/strict";
import { connectTo, writeAll } from "./net.ts";
import { assertNoCrash, type ServerProcess, spawnClient } from "./process.ts";
import { runProgram } from "./process.ts";
import { sleep } from "./wait.ts";

/** A broker a test can crash and start again (RedisPeer, NatsPeer). */
export interface KillableBroker {
  /** Kills it with SIGKILL and waits for it to end. */
  kill(): Promise<void>;
  /** Starts it again on the same port and folder. */
  restart(): Promise<void>;
}

/** What the server says when a sink cannot deliver and it holds records. */
const STALLED = /: [^\n]*; holding [\d,]+ bytes of records, not accepting clients/;

/** Rounds each `--ack` client sends, and lines per round. */
export const OUTAGE_ROUNDS = 60;
export const OUTAGE_LINES_PER_ROUND = 25;
/** Rounds after which the broker is killed, and started again. */
const KILL_AT = 20;
const RESTART_AT = 40;

/** The `i`-th line client `k` sends in {@linkcode ackClientsAcrossOutage}. */
export function outageLine(k: number, i: number): string {
  return `c${k} ${i}`;
}

/** Every line client `k` sends in {@linkcode ackClientsAcrossOutage}, in order. */
export function outageLines(k: number): string[] {
  return Array.from({ length: OUTAGE_ROUNDS * OUTAGE_LINES_PER_ROUND }, (_, i) => outageLine(k, i));
}

/**
 * Three `linehub-client --ack --retry forever --name cK` send
 * {@linkcode OUTAGE_ROUNDS} rounds of lines to `server` (started with `--ack
 * --sink`); the broker is killed after round 20, while they send, and
 * started again after round 40, once the server has said it holds records.
 * Asserts that every client ends with status 0 (every line acknowledged),
 * then stops the server and returns its stderr, whose summary it checks.
 */
export async function ackClientsAcrossOutage(
  server: ServerProcess,
  broker: KillableBroker,
): Promise<string> {
  const clients = [0, 1, 2].map((k) =>
    spawnClient([
      ...["--ack", "--retry", "forever", "--name", `c${k}`],
      ...["127.0.0.1", String(server.port)],
    ], { timeoutMs: 60_000 })
  );
  try {
    for (let round = 0; round < OUTAGE_ROUNDS; round++) {
      if (round === KILL_AT) await broker.kill();
      if (round === RESTART_AT) {
        // Down for long enough that the server must have noticed.
        await server.waitForStderr(STALLED);
        await broker.restart();
      }
      await Promise.all(clients.map((client, k) => {
        const lines = Array.from(
          { length: OUTAGE_LINES_PER_ROUND },
          (_, i) => `${outageLine(k, round * OUTAGE_LINES_PER_ROUND + i)}\n`,
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
  assertNoCrash(result.stderr);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stderr, /: delivering again\n/);
  return result.stderr;
}

/** What {@linkcode floodWhileBrokerDown} saw. */
export interface Flood {
  /** Whole lines the clients got past their sockets. */
  readonly lines: number;
  /** The server's stderr, after it stopped (status 0). */
  readonly stderr: string;
}

/** A 100-byte line, as the flood sends it. */
const FLOOD_LINE = new TextEncoder().encode(`${"m".repeat(99)}\n`);
/** How long the clients send while the broker is down. */
const FLOOD_MS = 3000;

/** The `--drain-timeout` a server of {@linkcode floodWhileBrokerDown} needs:
 * at its stop, the clients' sockets still hold a few MiB, which it reads and
 * delivers before it exits (Redis fsyncs each batch: seconds, on a loaded
 * machine); a shorter drain would give up on them (exit 4). */
export const FLOOD_DRAIN = "60s";

/**
 * Kills the broker of `server` (started with `--sink` and `--drain-timeout
 * FLOOD_DRAIN`, no `--ack`), and has
 * three clients write as fast as the server lets them for 3 s. Asserts that
 * the server held them back (a few MiB got past their sockets, where
 * loopback takes hundreds a second) and that its resident memory grew by
 * less than 48 MiB; then starts the broker again, closes the clients, waits
 * until the server delivers again, and stops it.
 */
export async function floodWhileBrokerDown(
  server: ServerProcess,
  broker: KillableBroker,
): Promise<Flood> {
  await broker.kill();
  const before = await rssKib(server.process.pid);
  const block = new Uint8Array(FLOOD_LINE.length * 600);
  for (let i = 0; i < 600; i++) block.set(FLOOD_LINE, i * FLOOD_LINE.length);
  const conns = await Promise.all([0, 1, 2].map(() => connectTo(server.port)));
  let sent = 0;
  let peak = before;
  const stopAt = Date.now() + FLOOD_MS;
  // A write held by backpressure is left unfinished, not awaited past the
  // end; closing the connection ends it.
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
  await server.waitForStderr(STALLED);
  assert.ok(sentMib < 64, `clients sent ${sentMib.toFixed(1)} MiB while the broker was down`);
  assert.ok(growthMib < 48, `server RSS grew ${growthMib.toFixed(1)} MiB (${before} KiB before)`);
  console.log(
    `  (sent ${sentMib.toFixed(1)} MiB in ${FLOOD_MS / 1000} s; server RSS ` +
      `${(before / 1024).toFixed(0)} MiB, +${growthMib.toFixed(1)} MiB at most)`,
  );

  await broker.restart();
  for (const conn of conns) conn.close();
  await Promise.allSettled(senders);
  await server.waitForStderr(/: delivering again\n/);
  const result = await server.stop();
  assertNoCrash(result.stderr);
  assert.equal(result.code, 0, result.stderr);
  return { lines: Math.floor(sent / FLOOD_LINE.length), stderr: result.stderr };
}

/** The `--drain-timeout` a server of {@linkcode downAtShutdown} gets: short,
 * since what it waits for is a broker that is not there. */
export const SHORT_DRAIN = "0.5";

/**
 * Kills the broker of `server` (started with `--sink` and `--drain-timeout
 * SHORT_DRAIN`), sends it 3 lines and a client's close, and stops it once it
 * says it holds them: asserts that it exits 4 and counts the 3 messages as
 * not delivered, saying why, in its last line.
 */
export async function downAtShutdown(server: ServerProcess, broker: KillableBroker): Promise<void> {
  await broker.kill();
  const conn = await connectTo(server.port);
  await writeAll(conn, new TextEncoder().encode("one\ntwo\nthree\n"));
  conn.close();
  await server.waitForStderr(STALLED);
  const result = await server.stop();
  assertNoCrash(result.stderr);
  assert.equal(result.code, 4, result.stderr);
  assert.match(
    result.stderr,
    /: Cannot connect: connection refused; 3 messages received were not delivered\n$/,
  );
}

/** The counts of the server's summary line for its sink. */
export interface SinkSummary {
  /** Messages the broker confirmed. */
  readonly delivered: number;
  /** Messages sent again after a failure. */
  readonly resent: number;
  /** Duplicates the broker said it dropped (JetStream), or 0. */
  readonly dropped: number;
}

/** Reads `N messages delivered[, N messages sent again after a failure
 * (...N duplicates)]` from the server's stderr; fails without that line. */
export function sinkSummaryIn(stderr: string): SinkSummary {
  const line = /: ([\d,]+) messages? delivered[^\n]*\n/.exec(stderr);
  assert.ok(line !== null, `a summary line for the sink in:\n${stderr}`);
  const count = (pattern: RegExp): number =>
    Number(pattern.exec(line[0])?.[1]?.replaceAll(",", "") ?? 0);
  return {
    delivered: count(/([\d,]+) messages? delivered/),
    resent: count(/([\d,]+) messages? sent again/),
    dropped: count(/dropped ([\d,]+) duplicates?/),
  };
}

/** A process's resident memory in KiB, from ps (Deno reads /proc only with
 * --allow-all, which the tests do not have). */
async function rssKib(pid: number): Promise<number> {
  const { stdout } = await runProgram("ps", ["-o", "rss=", "-p", String(pid)]);
  return Number(stdout.trim());
}
