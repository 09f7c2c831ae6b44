/**
 * The "nothing lost" test: many clients at once, each sending many distinct
 * lines in chunks cut anywhere (mid-line, between CR and LF), against the
 * real server process. Every line must come out exactly once, whole, in its
 * client's order, under one client number per connection, and nothing else
 * may come out. The chunking is seeded, so a failure can be replayed.
 */

import assert from "node:assert/strict";
import { workersUnavailableReason } from "../../lib/server/workers/pool.ts";
import {
  bytes,
  closeQuietly,
  connectTo,
  nameUnless,
  randomInt,
  seededRandom,
  startPool,
  startServer,
  waitFor,
  withTimeout,
  writeAll,
} from "../_helpers/mod.ts";

const CLIENTS = 100;
const LINES_PER_CLIENT = 1000;
const SEED = 0x11e4ab;
/** Everything (connecting, sending, the server seeing every client off)
 * must be done within this. */
const DEADLINE_MS = 60_000;
/** Time the server gets to shut down once all clients are gone. */
const SHUTDOWN_TIMEOUT_MS = 20_000;

const FILLER = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -_.:/";

/** What client `k` sends: its lines, and the bytes cut into chunks. */
interface ClientPlan {
  readonly lines: string[];
  readonly chunks: Uint8Array[];
  readonly byteCount: number;
}

function planClient(k: number, random: () => number): ClientPlan {
  const lines: string[] = [];
  let wire = "";
  for (let i = 0; i < LINES_PER_CLIENT; i++) {
    let filler = "";
    const length = randomInt(random, 0, 100);
    for (let j = 0; j < length; j++) filler += FILLER[randomInt(random, 0, FILLER.length - 1)];
    const line = `c${k}-l${i}-${filler}`;
    lines.push(line);
    wire += line + (random() < 0.3 ? "\r\n" : "\n");
  }
  const all = bytes(wire);
  const chunks: Uint8Array[] = [];
  for (let offset = 0; offset < all.length;) {
    // Mostly mid-sized chunks; many tiny ones, so cuts land between CR and
    // LF and inside labels; some large ones spanning many lines.
    const pick = random();
    const size = pick < 0.3
      ? randomInt(random, 1, 4)
      : pick < 0.85
      ? randomInt(random, 5, 600)
      : randomInt(random, 601, 8192);
    chunks.push(all.subarray(offset, offset + size));
    offset += size;
  }
  return { lines, chunks, byteCount: all.length };
}

/** How many chunk boundaries fall between a CR and its LF. */
function countCrlfCuts(plans: readonly ClientPlan[]): number {
  let cuts = 0;
  for (const { chunks } of plans) {
    for (let i = 1; i < chunks.length; i++) {
      const before = chunks[i - 1] as Uint8Array;
      if (before.at(-1) === 13 && chunks[i]?.[0] === 10) cuts++;
    }
  }
  return cuts;
}

/** Sends a plan over one connection to `port`; records the connection's
 * port. */
async function sendPlan(
  port: number,
  plan: ClientPlan,
  conns: Deno.TcpConn[],
): Promise<number> {
  const conn = await connectTo(port);
  conns.push(conn);
  conn.setNoDelay(true); // small chunks go out as small segments
  for (const chunk of plan.chunks) await writeAll(conn, chunk);
  const localPort = conn.localAddr.port;
  conn.close();
  return localPort;
}

/** Fails with the first difference, not a diff of a thousand lines. */
function assertSameLines(actual: string[], expected: string[], what: string): void {
  const n = Math.max(actual.length, expected.length);
  for (let i = 0; i < n; i++) {
    if (actual[i] !== expected[i]) {
      assert.fail(
        `${what}: line ${i} is ${JSON.stringify(actual[i])}, expected ` +
          `${JSON.stringify(expected[i])} (${actual.length} lines, expected ${expected.length})`,
      );
    }
  }
}

Deno.test("server loses, splits, mixes or duplicates no line of 100 concurrent clients sending in random chunks", async () => {
  const random = seededRandom(SEED);
  const plans = Array.from({ length: CLIENTS }, (_, k) => planClient(k, random));
  assert.ok(countCrlfCuts(plans) > 0, "some chunk boundaries fall between CR and LF");
  const server = await startServer();
  const conns: Deno.TcpConn[] = [];
  try {
    const work = (async () => {
      const ports = await Promise.all(plans.map((plan) => sendPlan(server.port, plan, conns)));
      await waitFor(
        `the server to report ${CLIENTS} disconnects`,
        () => server.stderrSoFar().split(" disconnected from ").length - 1 >= CLIENTS,
        () => server.stderrSoFar().slice(-2000),
        DEADLINE_MS,
      );
      return ports;
    })();
    const ports = await withTimeout(
      work,
      DEADLINE_MS,
      `${CLIENTS} clients sending ${LINES_PER_CLIENT} lines each (seed ${SEED})`,
    );
    const result = await withTimeout(server.stop(), SHUTDOWN_TIMEOUT_MS, "the server to stop");
    assert.equal(result.code, 0, result.stderr.slice(-2000));

    // stdout: only whole, labelled lines from the clients.
    assert.ok(result.stdout.endsWith("\n"), "stdout ends with a newline");
    const outLines = result.stdout.slice(0, -1).split("\n");
    assert.equal(outLines.length, CLIENTS * LINES_PER_CLIENT, "number of lines on stdout");
    const byClient = new Map<number, string[]>();
    for (const line of outLines) {
      const match = /^\[client (\d+)\] (c\d+-l\d+-.*)$/.exec(line);
      if (match === null) assert.fail(`not a whole labelled line: ${JSON.stringify(line)}`);
      const id = Number(match[1]);
      const texts = byClient.get(id) ?? [];
      texts.push(match[2] as string);
      byClient.set(id, texts);
    }
    assert.deepEqual([...byClient.keys()].sort((a, b) => a - b), plans.map((_, i) => i));

    // Each client number is one connection: named by its first line, with
    // every line of that connection in order, and nothing of another.
    const connectionOf = new Map<number, number>();
    for (const [id, texts] of byClient) {
      const k = Number(/^c(\d+)-/.exec(texts[0] ?? "")?.[1]);
      const plan = plans[k];
      if (plan === undefined) assert.fail(`client ${id} starts with ${texts[0]}`);
      assert.ok(!connectionOf.has(k), `connection ${k} appears as two client numbers`);
      connectionOf.set(id, k);
      assertSameLines(texts, plan.lines, `client ${id} (connection ${k})`);
    }

    // stderr: the events agree (port and counts per client number), and the
    // summary counts every line and byte.
    const totalBytes = plans.reduce((sum, plan) => sum + plan.byteCount, 0);
    const errLines = result.stderr.slice(0, -1).split("\n");
    const events = errLines.filter((line) => line.startsWith("client "));
    assert.equal(events.length, 2 * CLIENTS);
    for (const [id, k] of connectionOf) {
      const from = `127.0.0.1:${ports[k]}`;
      const plan = plans[k] as ClientPlan;
      assert.ok(events.includes(`client ${id} connected from ${from}`), `connect of client ${id}`);
      const disconnect = new RegExp(
        `^client ${id} disconnected from ${from.replaceAll(".", "\\.")} \\(eof\\): ` +
          `${LINES_PER_CLIENT} lines, ${plan.byteCount} bytes, \\d+\\.\\d s$`,
      );
      assert.ok(events.some((line) => disconnect.test(line)), `disconnect of client ${id}`);
    }
    assert.deepEqual(errLines.filter((line) => !line.startsWith("client ")), [
      `linehub-server: listening on 127.0.0.1:${server.port} (text to stdout)`,
      "linehub-server: SIGTERM: no longer accepting; waiting up to 5 s for 0 connected clients",
      `linehub-server: shut down: ${CLIENTS} clients served, ${
        CLIENTS * LINES_PER_CLIENT
      } lines, ` +
      `${totalBytes} bytes, 0 truncated`,
    ]);
  } finally {
    conns.forEach(closeQuietly);
    await server.stop("SIGKILL");
  }
});

const NO_WORKERS = workersUnavailableReason();

Deno.test({
  name: nameUnless(
    NO_WORKERS,
    "a WorkerPool of 2 workers loses, splits, mixes or duplicates no line of 100 concurrent clients",
  ),
  ignore: NO_WORKERS !== null,
  async fn(): Promise<void> {
    const random = seededRandom(SEED);
    const plans = Array.from({ length: CLIENTS }, (_, k) => planClient(k, random));
    await using pool = await startPool({ workers: 2 });
    const { port, log, out } = pool;
    const conns: Deno.TcpConn[] = [];
    try {
      const work = (async () => {
        const ports = await Promise.all(plans.map((plan) => sendPlan(port, plan, conns)));
        await waitFor(
          `the pool to report ${CLIENTS} disconnects`,
          () => log.text().split(" disconnected from ").length - 1 >= CLIENTS,
          () => log.text().slice(-2000),
          DEADLINE_MS,
        );
        return ports;
      })();
      const ports = await withTimeout(
        work,
        DEADLINE_MS,
        `${CLIENTS} clients sending ${LINES_PER_CLIENT} lines each (seed ${SEED})`,
      );
      const stats = await withTimeout(pool.stop(), SHUTDOWN_TIMEOUT_MS, "the pool to stop");

      // The output: only whole, labelled lines from the clients.
      const text = out.text();
      assert.ok(text.endsWith("\n"), "the output ends with a newline");
      const outLines = text.slice(0, -1).split("\n");
      assert.equal(outLines.length, CLIENTS * LINES_PER_CLIENT, "number of lines in the output");
      const byClient = new Map<number, string[]>();
      for (const line of outLines) {
        const match = /^\[client (\d+)\] (c\d+-l\d+-.*)$/.exec(line);
        if (match === null) assert.fail(`not a whole labelled line: ${JSON.stringify(line)}`);
        const id = Number(match[1]);
        const texts = byClient.get(id) ?? [];
        texts.push(match[2] as string);
        byClient.set(id, texts);
      }
      // One counter for all workers: the numbers are 0 to 99, each once.
      assert.deepEqual([...byClient.keys()].sort((a, b) => a - b), plans.map((_, i) => i));
      // Each client number is one connection (named by its first line).
      const connectionOf = new Map<number, number>();
      const connectionsSeen = new Set<number>();
      for (const [id, texts] of byClient) {
        const k = Number(/^c(\d+)-/.exec(texts[0] ?? "")?.[1]);
        const plan = plans[k];
        if (plan === undefined) assert.fail(`client ${id} starts with ${texts[0]}`);
        assert.ok(!connectionsSeen.has(k), `connection ${k} appears as two client numbers`);
        connectionsSeen.add(k);
        connectionOf.set(id, k);
        assertSameLines(texts, plan.lines, `client ${id} (connection ${k})`);
      }

      // The log: the workers' events, whole and agreeing with the output.
      const events = log.text().slice(0, -1).split("\n");
      assert.equal(events.length, 2 * CLIENTS, log.text().slice(-2000));
      for (const [id, k] of connectionOf) {
        const from = `127.0.0.1:${ports[k]}`;
        const plan = plans[k] as ClientPlan;
        assert.ok(
          events.includes(`client ${id} connected from ${from}`),
          `connect of client ${id}`,
        );
        const disconnect = new RegExp(
          `^client ${id} disconnected from ${from.replaceAll(".", "\\.")} \\(eof\\): ` +
            `${LINES_PER_CLIENT} lines, ${plan.byteCount} bytes, \\d+\\.\\d s$`,
        );
        assert.ok(events.some((line) => disconnect.test(line)), `disconnect of client ${id}`);
      }
      const totalBytes = plans.reduce((sum, plan) => sum + plan.byteCount, 0);
      assert.equal(stats.clients, CLIENTS);
      assert.equal(stats.lines, CLIENTS * LINES_PER_CLIENT);
      assert.equal(stats.bytes, totalBytes);
      assert.equal(stats.truncated, 0);
      assert.equal(stats.connected, 0);
    } finally {
      conns.forEach(closeQuietly);
      await pool.stop();
    }
  },
});
