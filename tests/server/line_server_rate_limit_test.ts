/**
 * `--rate-limit` in a server in this process (one {@linkcode LineServer},
 * and a {@linkcode WorkerPool}): a client past its rate is held back by not
 * being read, the others are read in full, no line is dropped, and nothing
 * a throttled client holds outlasts it or the drain deadline.
 *
 * No assertion is on a time. How far a throttled client got is bounded by
 * its burst plus its rate times the time the test itself measured around
 * the run, which only grows when the machine is slow: a loaded machine makes
 * the bound looser, never false. Without the limit the fast client's lines
 * would all be written within moments, far past that bound.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { LineServerOptions, RateLimit } from "../../lib/server/server_options.ts";
import type { ServerStats } from "../../lib/server/stats.ts";
import type { ClientHandle, ClientObserver } from "../../lib/server/client_handle.ts";
import { LineServer } from "../../lib/server/line_server.ts";
import { workersUnavailableReason } from "../../lib/server/workers/pool.ts";
import { BatchWriter } from "../../lib/io/batch_writer.ts";
import {
  bytes,
  connectTo,
  LogSink,
  MemoryWriter,
  nameUnless,
  readToEnd,
  type ServerHarness,
  sleep,
  startLineServer,
  startPool,
  waitFor,
  writeAll,
} from "../_helpers/mod.ts";

/** Lines the fast client sends, all at once: far more than 10 times what
 * the limit lets through while the normal client sends its lines. */
const FAST_LINES = 5000;
/** Lines the normal client sends, at half the limit's rate. */
const NORMAL_LINES = 300;
const LIMIT: Required<RateLimit> = { lines: 1000, burst: 1000 };
/** What a throttled client may get beyond its burst and rate: the lines of
 * one read past its tokens (a read is sized to the tokens, from the length
 * of its lines, and is at least 64 bytes: 6 of these). */
const ONE_READ_SLACK = 64;
/** Long enough for every fast line at the limit's rate, under load. */
const RUN_TIMEOUT_MS = 60_000;

const SKIP_POOL = workersUnavailableReason();

/** `count` lines `<name> <n>`, numbered from 0, padded to one length. */
function numberedLines(name: string, from: number, count: number): string {
  let text = "";
  for (let i = from; i < from + count; i++) text += `${name} ${String(i).padStart(5, "0")}\n`;
  return text;
}

/** How many lines of `name` the output holds. */
function linesOf(out: MemoryWriter, name: string): number {
  return out.text().split(`] ${name} `).length - 1;
}

/** What the server sent until it closed the connection. It may close with
 * some of what the client sent unread (a client cut off or kicked while
 * held back), which makes the close a reset after what was sent. */
async function readUntilClosed(conn: Deno.TcpConn): Promise<string> {
  const decoder = new TextDecoder();
  const buffer = new Uint8Array(4096);
  let text = "";
  try {
    for (let n; (n = await conn.read(buffer)) !== null;) {
      text += decoder.decode(buffer.subarray(0, n), { stream: true });
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.ConnectionReset)) throw error;
  }
  return text;
}

/**
 * Runs one fast client (all its lines at once) and one normal client (at
 * half the limit's rate) against `h`; returns how many fast lines were
 * written when the last normal line was, and the bound for it from the time
 * measured around the run.
 */
async function fastAndNormal(
  h: ServerHarness<unknown>,
): Promise<{ fastWhenNormalDone: number; bound: number; stats: ServerStats }> {
  const started = performance.now();
  using fast = await connectTo(h.port);
  using normal = await connectTo(h.port);
  // Taken by the kernel at once (55 KB); the server reads it at its pace.
  const fastSent = writeAll(fast, bytes(numberedLines("fast", 0, FAST_LINES)));
  const batch = 10;
  for (let sent = 0; sent < NORMAL_LINES; sent += batch) {
    await writeAll(normal, bytes(numberedLines("norm", sent, batch)));
    // 10 lines every 20 ms: 500 lines a second, half the limit.
    await sleep((batch / (LIMIT.lines / 2)) * 1000);
  }
  await waitFor(
    "every line of the normal client",
    () => linesOf(h.out, "norm") === NORMAL_LINES,
    () => `${linesOf(h.out, "norm")} normal lines, ${linesOf(h.out, "fast")} fast ones`,
    RUN_TIMEOUT_MS,
  );
  const fastWhenNormalDone = linesOf(h.out, "fast");
  const elapsed = (performance.now() - started) / 1000;
  const bound = LIMIT.burst + LIMIT.lines * elapsed + ONE_READ_SLACK;
  await fastSent;
  await fast.closeWrite();
  await normal.closeWrite();
  // The server closes each once all it sent is read: nothing was dropped.
  await readToEnd(fast);
  await readToEnd(normal);
  const stats = await h.stop();
  return { fastWhenNormalDone, bound, stats };
}

function assertFastHeldNormalServed(
  h: ServerHarness<unknown>,
  run: { fastWhenNormalDone: number; bound: number; stats: ServerStats },
): void {
  const { fastWhenNormalDone, bound, stats } = run;
  // Could the run tell? Only a machine a dozen times slower than usual
  // would make the bound reach every fast line.
  assert.ok(bound < FAST_LINES, `the run was too slow to tell: bound ${bound}`);
  assert.ok(
    fastWhenNormalDone <= bound,
    `${fastWhenNormalDone} fast lines were written while the normal client sent its ` +
      `${NORMAL_LINES}; the limit allows ${Math.floor(bound)} in that time`,
  );
  assert.equal(linesOf(h.out, "fast"), FAST_LINES);
  assert.equal(linesOf(h.out, "norm"), NORMAL_LINES);
  assert.equal(stats.lines, FAST_LINES + NORMAL_LINES);
  // Each client's lines in the order sent.
  const fastLines = h.out.text().split("\n").filter((line) => line.includes("] fast "));
  assert.deepEqual(
    fastLines.map((line) => line.slice(line.indexOf("] ") + 2)),
    numberedLines("fast", 0, FAST_LINES).split("\n").slice(0, -1),
  );
  assert.ok(stats.throttled >= 1, "the fast client was held back");
  assert.ok(stats.throttledMs > 0);
}

Deno.test("--rate-limit holds a client sending 10 times its rate to about its rate while another is read in full, and drops no line", async () => {
  await using h = startLineServer({ rateLimit: LIMIT });
  const run = await fastAndNormal(h);
  assertFastHeldNormalServed(h, run);
  assert.match(h.log.text(), /\(eof\): 5000 lines, /);
});

Deno.test({
  name: nameUnless(SKIP_POOL, "--rate-limit holds each client to its rate with --workers too"),
  ignore: SKIP_POOL !== null,
  async fn(): Promise<void> {
    await using h = await startPool({ workers: 2, rateLimit: LIMIT });
    const run = await fastAndNormal(h);
    assertFastHeldNormalServed(h, run);
  },
});

Deno.test("throttled clients are cut off at the drain deadline, with what was read written, and nothing of them left running", async () => {
  await using h = startLineServer({ rateLimit: { lines: 1, burst: 1 }, drainTimeout: 0.3 });
  using first = await connectTo(h.port);
  using second = await connectTo(h.port);
  // Empty lines: the first read (128 bytes) frames 128 of them, which puts
  // each client two minutes in debt, longer than the harness lets a
  // shutdown take. The drain gives them 0.3 s.
  for (const conn of [first, second]) await writeAll(conn, bytes("\n".repeat(1000)));
  await waitFor(
    "lines of both",
    () => h.out.text().includes("[client 0]") && h.out.text().includes("[client 1]"),
    () => h.out.text(),
  );
  // Both are held back now (the wait starts as their lines are written).
  const stats = await h.stop();
  assert.equal(stats.cutOff, 2);
  assert.equal(stats.throttled, 2);
  // Each waited from before the shutdown to its deadline: their waits add up.
  assert.ok(stats.throttledMs >= 2 * 250, `${stats.throttledMs} ms`);
  assert.equal(h.out.text().split("\n").length - 1, stats.lines);
  assert.match(h.log.text(), /client 0 disconnected from [^ ]+ \(drain-timeout\)/);
  assert.match(h.log.text(), /client 1 disconnected from [^ ]+ \(drain-timeout\)/);
  assert.match(await readUntilClosed(first), /closing \(drain-timeout\)/);
  // Deno's sanitizers fail the test if a pause's timer were left behind.
});

Deno.test("a throttled client counts as neither idle nor slow to end its line while it is not read", async () => {
  // Held back for over a second, far past both timeouts, by the server's
  // doing: it must not be closed for it.
  await using h = startLineServer({
    rateLimit: { lines: 2, burst: 2 },
    idleTimeout: 0.25,
    lineTimeout: 0.25,
  });
  using conn = await connectTo(h.port);
  await writeAll(conn, bytes("a\nb\nc\nd\npart"));
  await waitFor("the first four lines", () => h.out.text().includes("] d\n"), () => h.out.text());
  await writeAll(conn, bytes("ial\n"));
  await waitFor(
    "the line finished",
    () => h.out.text().includes("] partial\n"),
    () => h.log.text(),
  );
  await conn.closeWrite();
  await readToEnd(conn);
  const stats = await h.stop();
  assert.equal(stats.lines, 5);
  assert.equal(stats.throttled, 1);
  assert.match(h.log.text(), /client 0 disconnected from [^ ]+ \(eof\): 5 lines/);
});

Deno.test("a throttled client kicked by the operator is closed at once, told why, not when its pause ends", async () => {
  const handles: ClientHandle[] = [];
  const observer: ClientObserver = {
    joined: (handle) => void handles.push(handle),
    line: () => {},
    left: () => {},
  };
  await using h = startLineServer({ rateLimit: { lines: 1, burst: 1 }, observer });
  using conn = await connectTo(h.port);
  // 100 lines in one read: some 99 s before it would be read again.
  await writeAll(conn, bytes(numberedLines("kick", 0, 100)));
  await waitFor("its lines", () => linesOf(h.out, "kick") > 0, () => h.out.text());
  handles[0]?.kick();
  assert.match(await readUntilClosed(conn), /closing \(kicked\)/);
  await waitFor("its disconnect", () => h.log.text().includes("(kicked)"), () => h.log.text());
  const stats = await h.stop();
  assert.equal(stats.kicked, 1);
  assert.equal(stats.cutOff, 0);
});

Deno.test("LineServer refuses a rate limit that is not a whole number from 1, naming it", () => {
  const make = (rateLimit: RateLimit): LineServer =>
    new LineServer(
      new BatchWriter(new MemoryWriter()),
      new LogSink(),
      {
        rateLimit,
      } satisfies LineServerOptions,
    );
  assert.throws(() => make({ lines: 0 }), {
    name: "RangeError",
    message: `Invalid rateLimit.lines "0": must be an integer >= 1`,
  });
  assert.throws(() => make({ lines: 10, burst: 2.5 }), {
    name: "RangeError",
    message: `Invalid rateLimit.burst "2.5": must be an integer >= 1`,
  });
});
