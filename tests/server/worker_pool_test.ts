/**
 * Tests of {@linkcode WorkerPool} in this process: real Workers sharing a
 * loopback port (port 0) with `SO_REUSEPORT`, real TCP clients, and the
 * output and log collected in memory on the main thread.
 *
 * The pool needs Linux and `--unstable-net` (`deno test --unstable-net`, or
 * `"unstable": ["net"]` in deno.json); without them these tests report
 * themselves skipped and say why, except the one that checks that the pool
 * then refuses cleanly, which runs a separate process without the flag.
 *
 * @module
 */

import { parseCidr } from "../../lib/net/access_list.ts";
import { LocalLimits } from "../../lib/server/client_limits.ts";
import assert from "node:assert/strict";
import { encodeAck } from "../../lib/wire/ack_protocol.ts";
import { BatchWriter } from "../../lib/io/batch_writer.ts";
import { ListenError } from "../../lib/server/server.ts";
import { emptyStats, type ServerStats } from "../../lib/server/stats.ts";
import { MainThreadOutput } from "../../lib/server/workers/_worker.ts";
import type { FromWorker } from "../../lib/server/workers/_messages.ts";
import { WorkerPool, workersUnavailableReason } from "../../lib/server/workers/pool.ts";
import {
  assertNotServed,
  bytes,
  concat,
  connectTo,
  DENO,
  HeldWriter,
  jsonLines,
  listenerCount,
  LogSink,
  LOOPBACK_MS,
  MemoryWriter,
  nameUnless,
  randomInt,
  readToEnd,
  ROOT,
  runProgram,
  seededRandom,
  sleep,
  startPool,
  WAIT_TIMEOUT_MS,
  waitFor,
  withTimeout,
  writeAll,
} from "../_helpers/mod.ts";

const SKIP = workersUnavailableReason();
/** Time for a whole scenario, so a hang fails the test instead of the suite. */
const LIMIT_MS = 60_000;

/** Checks the totals named in `expected`; every other one must be 0, and
 * every client must have left with `eof`. */
function assertStats(actual: ServerStats, expected: Partial<ServerStats>): void {
  const zero = emptyStats();
  const disconnects = { ...zero.disconnects, eof: expected.clients ?? 0 };
  assert.deepEqual(actual, { ...zero, disconnects, ...expected });
}

/** Splits `data` into chunks of random sizes, cut anywhere. */
function randomChunks(data: Uint8Array, random: () => number): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let offset = 0; offset < data.length;) {
    const pick = random();
    const size = pick < 0.3
      ? randomInt(random, 1, 8)
      : pick < 0.9
      ? randomInt(random, 9, 2000)
      : randomInt(random, 2001, 70000);
    chunks.push(data.subarray(offset, offset + size));
    offset += size;
  }
  return chunks;
}

/** Groups labelled text output lines by client number; fails on any other line. */
function linesByClient(text: string): Map<number, string[]> {
  assert.ok(text === "" || text.endsWith("\n"), "the output ends with a newline");
  const byClient = new Map<number, string[]>();
  for (const line of text.split("\n").slice(0, -1)) {
    const match = /^\[client (\d+)\] (c\d+-l\d+-[a-z]*)$/.exec(line);
    if (match === null) {
      assert.fail(`not a whole labelled line: ${JSON.stringify(line.slice(0, 200))}`);
    }
    const id = Number(match[1]);
    byClient.set(id, [...(byClient.get(id) ?? []), match[2] as string]);
  }
  return byClient;
}

Deno.test({
  name: nameUnless(
    SKIP,
    "WorkerPool with 2 workers delivers 20 clients' lines whole, labelled, in order, numbered 0 to 19",
  ),
  ignore: SKIP !== null,
  async fn(): Promise<void> {
    const CLIENTS = 20;
    const LINES = 500;
    const random = seededRandom(0x5eed);
    // Some lines are longer than a worker's 1 MiB chunk, and long lines
    // often straddle two chunks: chunks end inside lines, and only whole
    // lines may cross to the main thread.
    const plans = Array.from({ length: CLIENTS }, (_, k) => {
      const lines = Array.from({ length: LINES }, (_, i) => {
        const long = random() < 0.005;
        const length = long ? randomInt(random, 20_000, 1_500_000) : randomInt(random, 0, 120);
        return `c${k}-l${i}-${"abcdefghij".repeat(Math.ceil(length / 10)).slice(0, length)}`;
      });
      return { lines, wire: bytes(lines.map((line) => line + "\n").join("")) };
    });
    await using h = await startPool({ maxLine: 1 << 21 });
    await withTimeout(
      Promise.all(plans.map(async ({ wire }) => {
        using conn = await connectTo(h.port);
        for (const chunk of randomChunks(wire, random)) await writeAll(conn, chunk);
      })),
      LIMIT_MS,
      `${CLIENTS} clients sending`,
    );
    await waitFor(
      `${CLIENTS} disconnects`,
      () => h.log.text().split(" disconnected from ").length - 1 === CLIENTS,
      () => h.log.text().slice(-2000),
      LIMIT_MS,
    );
    const stats = await h.stop();

    const byClient = linesByClient(h.out.text());
    assert.deepEqual(
      [...byClient.keys()].sort((a, b) => a - b),
      Array.from({ length: CLIENTS }, (_, i) => i),
      "client numbers are 0 to 19, each once",
    );
    const seen = new Set<number>();
    for (const [id, texts] of byClient) {
      const k = Number(/^c(\d+)-/.exec(texts[0] ?? "")?.[1]);
      assert.ok(!seen.has(k), `connection ${k} appears under two numbers`);
      seen.add(k);
      const expected = plans[k]?.lines ?? [];
      assert.equal(texts.length, expected.length, `line count of client ${id}`);
      texts.forEach((text, i) => {
        if (text !== expected[i]) {
          assert.fail(`client ${id} line ${i} differs from what c${k} sent`);
        }
      });
    }
    assertStats(stats, {
      clients: CLIENTS,
      lines: CLIENTS * LINES,
      bytes: plans.reduce((sum, plan) => sum + plan.wire.length, 0),
    });
    assert.deepEqual(h.server.stats, stats);
  },
});

Deno.test({
  name: nameUnless(
    SKIP,
    "WorkerPool shutdown lets connected clients finish and writes all they sent",
  ),
  ignore: SKIP !== null,
  async fn(): Promise<void> {
    const CLIENTS = 8;
    await using h = await startPool({ drainTimeout: 20 });
    using opened = new DisposableStack();
    const conns: Deno.TcpConn[] = [];
    for (let k = 0; k < CLIENTS; k++) {
      conns.push(opened.use(await connectTo(h.port)));
      await writeAll(conns[k] as Deno.TcpConn, bytes(`c${k}-l0-before\n`));
    }
    await waitFor("every client's first line", () => h.out.text().split("\n").length > CLIENTS);
    await waitFor("the pool to count the clients", () => h.server.stats.connected === CLIENTS);
    const stopping = h.stop();
    // The clients do not know of the shutdown: they go on, then leave.
    await withTimeout(h.stoppedAccepting, WAIT_TIMEOUT_MS, "every Worker to stop accepting");
    await assertNotServed(h.port, () => h.log.text());
    for (const [k, conn] of conns.entries()) {
      const more = Array.from({ length: 100 }, (_, i) => `c${k}-l${i + 1}-after\n`).join("");
      await writeAll(conn, bytes(more));
      conn.close();
    }
    const stats = await stopping;
    const byClient = linesByClient(h.out.text());
    assert.equal(byClient.size, CLIENTS);
    for (const texts of byClient.values()) {
      const k = /^c(\d+)-/.exec(texts[0] ?? "")?.[1];
      assert.deepEqual(texts, [
        `c${k}-l0-before`,
        ...Array.from({ length: 100 }, (_, i) => `c${k}-l${i + 1}-after`),
      ]);
    }
    assert.equal(stats.clients, CLIENTS);
    assert.equal(stats.lines, CLIENTS * 101);
    assert.equal(stats.cutOff, 0);
    assert.equal(stats.connected, 0);
  },
});

Deno.test({
  name: nameUnless(
    SKIP,
    "WorkerPool cuts clients off at the drain timeout and sums them over workers",
  ),
  ignore: SKIP !== null,
  async fn(): Promise<void> {
    const CLIENTS = 6;
    await using h = await startPool({ drainTimeout: 0.3 });
    using opened = new DisposableStack();
    const conns: Deno.TcpConn[] = [];
    for (let k = 0; k < CLIENTS; k++) {
      conns.push(opened.use(await connectTo(h.port)));
      await writeAll(conns[k] as Deno.TcpConn, bytes(`c${k}-l0-whole\nc${k}-l1-unfinished`));
    }
    // Bytes are counted when a connection ends; the whole lines show that
    // each client has been read from.
    await waitFor(
      "every client's whole line, and the pool to count the clients",
      () =>
        h.out.text().split("-whole\n").length - 1 === CLIENTS &&
        h.server.stats.connected === CLIENTS,
    );
    const stats = await h.stop();
    assert.equal(stats.cutOff, CLIENTS);
    assert.equal(stats.cutOffBytes, stats.bytes);
    assert.equal(stats.lines, 2 * CLIENTS);
    const text = h.out.text();
    for (let k = 0; k < CLIENTS; k++) {
      assert.match(text, new RegExp(`^\\[client \\d+\\] c${k}-l0-whole$`, "m"));
      assert.match(text, new RegExp(`^\\[client \\d+ partial\\] c${k}-l1-unfinished$`, "m"));
    }
    assert.equal(h.log.text().split("(drain-timeout)").length - 1, CLIENTS);
  },
});

Deno.test({
  name: nameUnless(
    SKIP,
    "WorkerPool in json keeps each client's connect, lines and disconnect in order, in one run",
  ),
  ignore: SKIP !== null,
  async fn(): Promise<void> {
    const CLIENTS = 10;
    const run = "0123456789abcdef";
    await using h = await startPool({ format: "json", run });
    await Promise.all(Array.from({ length: CLIENTS }, async (_, k) => {
      const conn = await connectTo(h.port);
      await writeAll(conn, bytes(Array.from({ length: 50 }, (_, i) => `c${k} ${i}\n`).join("")));
      conn.close();
    }));
    await waitFor(
      "every disconnect event",
      () => h.out.text().split(`"type":"disconnect"`).length - 1 === CLIENTS,
    );
    await h.stop();
    const records = jsonLines(h.out.text());
    const byClient = new Map<number, string[]>();
    for (const record of records) {
      const seen = byClient.get(record.client) ?? [];
      seen.push(record.type === "message" ? `${record.seq}: ${record.text}` : record.type);
      byClient.set(record.client, seen);
      // Every Worker's records name the pool's one run.
      assert.equal(record.run, run);
    }
    assert.deepEqual([...byClient.keys()].sort((a, b) => a - b), [...Array(CLIENTS).keys()]);
    for (const seen of byClient.values()) {
      const k = /^1: c(\d+) /.exec(seen[1] ?? "")?.[1];
      assert.deepEqual(seen, [
        "connect",
        ...Array.from({ length: 50 }, (_, i) => `${i + 1}: c${k} ${i}`),
        "disconnect",
      ]);
    }
    assert.equal(h.log.text(), "", "json events go to the output, not the log");
  },
});

Deno.test({
  name: nameUnless(
    SKIP,
    "WorkerPool with ack acknowledges a line only once the main output wrote it",
  ),
  ignore: SKIP !== null,
  async fn(): Promise<void> {
    // The main thread's output holds everything until released.
    const held = new HeldWriter();
    await using h = await startPool({ ack: true }, { writer: held });
    using conn = await connectTo(h.port);
    // Disposed of before the pool, so that its stop can finish.
    using release = new DisposableStack();
    release.defer(() => held.release());
    await writeAll(conn, bytes("held 1\nheld 2\n"));
    const buffer = new Uint8Array(64);
    const reading = conn.read(buffer);
    // Once the main output has been handed a line, a Worker's acknowledgment
    // sent too early is already on its way: what is left is only the loopback.
    await waitFor(
      "the main output to be handed the first line",
      () => held.givenText().includes("held 1"),
    );
    const early = await Promise.race([
      reading.then(() => "acknowledged"),
      sleep(LOOPBACK_MS).then(() => "silent"),
    ]);
    assert.equal(early, "silent", "an acknowledgment came while the main output held the lines");
    held.release();
    const n = await withTimeout(reading, 10_000, "the acknowledgment");
    assert.ok(n !== null);
    // Acknowledged means written by the main thread's output.
    const written = held.writtenText();
    assert.equal(written, "[client 0] held 1\n[client 0] held 2\n");
    const acks = buffer.subarray(0, n);
    assert.ok(
      [concat([encodeAck(1), encodeAck(2)]), encodeAck(2)].some((a) =>
        a.length === acks.length && a.every((b, i) => b === acks[i])
      ),
      `acknowledgments: ${JSON.stringify(new TextDecoder().decode(acks))}`,
    );
  },
});

Deno.test({
  name: nameUnless(SKIP, "WorkerPool pauses and resumes accepting in every worker"),
  ignore: SKIP !== null,
  async fn(): Promise<void> {
    await using h = await startPool();
    h.server.pauseAccepting();
    assert.equal(h.server.paused, true);
    await waitFor("every listener to close", async () => {
      try {
        (await connectTo(h.port)).close();
        return false;
      } catch (error) {
        if (error instanceof Deno.errors.ConnectionRefused) return true;
        // A connect racing a listener's close may be reset: look again.
        if (error instanceof Deno.errors.ConnectionReset) return false;
        throw error;
      }
    });
    h.server.resumeAccepting();
    assert.equal(h.server.paused, false);
    await waitFor("a listener to take clients again", async () => {
      try {
        const conn = await connectTo(h.port);
        await writeAll(conn, bytes("c0-l0-back\n"));
        conn.close();
        return true;
      } catch {
        return false;
      }
    });
    await waitFor("the line", () => h.out.text().includes("] c0-l0-back\n"));
    // A Worker that failed to bind again would be missing from the kernel's
    // listeners, and report itself paused.
    let listening = await listenerCount(h.port, "127.0.0.1");
    if (listening === null) {
      // Nothing here shows the listeners (no `ss`, no --allow-all): time
      // for a Worker that failed to bind again to say so.
      await sleep(200);
    } else {
      await waitFor(
        "every Worker to listen again",
        async () => (listening = await listenerCount(h.port, "127.0.0.1")) === h.server.workers,
        () => `${listening} listening; the log:\n${h.log.text()}`,
      );
    }
    assert.equal(h.server.paused, false, h.log.text());
  },
});

Deno.test({
  name: nameUnless(SKIP, "WorkerPool.listen rejects with ListenError when the port is taken"),
  ignore: SKIP !== null,
  async fn(): Promise<void> {
    // A listener without SO_REUSEPORT: nobody else can join it.
    using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const pool = new WorkerPool(new BatchWriter(new MemoryWriter()), new LogSink(), {
      host: "127.0.0.1",
      port: taken.addr.port,
      workers: 2,
    });
    await assert.rejects(pool.listen(), (error: unknown) => {
      assert.ok(error instanceof ListenError);
      assert.equal(
        error.message,
        `Cannot listen on 127.0.0.1:${taken.addr.port}: address already in use`,
      );
      return true;
    });
    // The Workers are gone: shutting down has nobody to wait for.
    assertStats(await withTimeout(pool.shutdown(), 5000, "shutdown"), {});
  },
});

Deno.test({
  name: nameUnless(
    SKIP,
    "WorkerPool.listen refuses a port another pool holds, instead of taking a share of its clients",
  ),
  ignore: SKIP !== null,
  async fn(): Promise<void> {
    // The first pool's sockets all set SO_REUSEPORT, as the second's would:
    // the system alone would let them share the port.
    await using first = await startPool();
    const second = new WorkerPool(new BatchWriter(new MemoryWriter()), new LogSink(), {
      host: "127.0.0.1",
      port: first.port,
      workers: 2,
    });
    await assert.rejects(second.listen(), (error: unknown) => {
      assert.ok(error instanceof ListenError);
      assert.equal(
        error.message,
        `Cannot listen on 127.0.0.1:${first.port}: address already in use`,
      );
      return true;
    });
    assertStats(await withTimeout(second.shutdown(), 5000, "shutdown"), {});
  },
});

Deno.test({
  name: nameUnless(
    Deno.build.os === "linux" ? null : "only Linux has a reason to expect --unstable-net",
    "WorkerPool.listen without --unstable-net refuses with a reason and does not end the process",
  ),
  ignore: Deno.build.os !== "linux",
  async fn(): Promise<void> {
    const script = `
      import { BatchWriter } from ${
      JSON.stringify(new URL("lib/io/batch_writer.ts", `file://${ROOT}`).href)
    };
      import { WorkerPool } from ${
      JSON.stringify(new URL("lib/server/workers/pool.ts", `file://${ROOT}`).href)
    };
      const pool = new WorkerPool(new BatchWriter(Deno.stdout), { write() {} }, {
        host: "127.0.0.1", port: 0, workers: 2,
      });
      try {
        await pool.listen();
        console.log("listening");
      } catch (error) {
        console.log(error.name + ": " + error.message);
      }
    `;
    const file = await Deno.makeTempFile({ suffix: ".ts" });
    try {
      await Deno.writeTextFile(file, script);
      const { code, stdout: text, stderr } = await runProgram(DENO, [
        "run",
        "--no-config",
        "--allow-read",
        "--allow-net",
        file,
      ]);
      assert.equal(code, 0, stderr);
      assert.equal(
        text,
        "WorkersUnavailableError: Cannot use --workers: sharing a port between Workers " +
          `(SO_REUSEPORT) needs Deno's --unstable-net flag (or "unstable": ["net"] in deno.json)\n`,
      );
    } finally {
      await Deno.remove(file);
    }
  },
});

Deno.test("WorkerPool refuses a worker count outside 1 to 256", () => {
  const output = new BatchWriter(new MemoryWriter());
  for (const workers of [0, -1, 1.5, 257, Number.NaN]) {
    assert.throws(
      () => new WorkerPool(output, new LogSink(), { workers }),
      new RangeError(`Invalid workers "${workers}": must be an integer from 1 to 256`),
    );
  }
});

Deno.test("WorkerPool refuses options of one server that cannot reach a Worker", () => {
  const output = new BatchWriter(new MemoryWriter());
  assert.throws(
    // @ts-expect-error: not a WorkerPoolOption; refused for untyped callers too
    () => new WorkerPool(output, new LogSink(), { workers: 2, limits: new LocalLimits(1, 1) }),
    new TypeError("Cannot combine workers with limits: give maxClients and maxPerIp"),
  );
  assert.throws(
    () => new WorkerPool(output, new LogSink(), { workers: 2, maxClients: -1 }),
    new RangeError(`Invalid maxClients "-1": must be an integer from 0`),
  );
  assert.throws(
    () =>
      // @ts-expect-error: not a WorkerPoolOption; refused for untyped callers too
      new WorkerPool(output, new LogSink(), { workers: 2, accessList: { permits: () => true } }),
    new TypeError(
      "Cannot combine workers with accessList: it cannot be sent to a Worker; give allow and deny",
    ),
  );
});

Deno.test("WorkerPool refuses a node name that is not one, in the caller's thread", () => {
  const output = new BatchWriter(new MemoryWriter());
  assert.throws(
    () => new WorkerPool(output, new LogSink(), { workers: 2, node: "web 3" }),
    new RangeError(`Invalid node "web 3": must be 1 to 64 ASCII letters, digits or . _ -`),
  );
});

Deno.test({
  name: nameUnless(
    SKIP,
    "WorkerPool gives every Worker's records the one node and run, and its text labels the node",
  ),
  ignore: SKIP !== null,
  async fn(): Promise<void> {
    const CLIENTS = 8;
    const send = async (port: number): Promise<void> => {
      await Promise.all(Array.from({ length: CLIENTS }, async (_, i) => {
        using conn = await connectTo(port);
        await writeAll(conn, bytes(`first ${i}\nsecond ${i}\n`));
      }));
    };
    const disconnects = (text: string): number => text.split("disconnect").length - 1;
    {
      const run = "0123456789abcdef";
      await using h = await startPool({ format: "json", run, node: "web-3" });
      await send(h.port);
      await waitFor(
        "every disconnect",
        () => disconnects(h.out.text()) === CLIENTS,
        () => h.out.text(),
      );
      await h.stop();
      const records = jsonLines(h.out.text());
      assert.equal(records.length, CLIENTS * 4);
      assert.ok(records.every((record) => record.node === "web-3" && record.run === run));
    }
    {
      await using h = await startPool({ node: "web-3", labelNode: true });
      await send(h.port);
      await waitFor(
        "every disconnect",
        () => disconnects(h.log.text()) === CLIENTS,
        () => h.log.text(),
      );
      await h.stop();
      const lines = h.out.text().trimEnd().split("\n");
      assert.equal(lines.length, CLIENTS * 2);
      assert.ok(lines.every((line) => /^\[web-3\/client \d\] (first|second) \d$/.test(line)));
      const events = h.log.text().trimEnd().split("\n");
      assert.ok(events.every((line) => /^web-3\/client \d (connected|disconnected) /.test(line)));
    }
  },
});

/** A MainThreadOutput whose messages are kept instead of posted. */
function capturedOutput(): { output: MainThreadOutput; sent: Uint8Array[] } {
  const sent: Uint8Array[] = [];
  const output = new MainThreadOutput((message: FromWorker) => {
    if (message.type !== "output") assert.fail(`unexpected message ${message.type}`);
    sent.push(message.chunk);
  });
  return { output, sent };
}

Deno.test("MainThreadOutput sends only whole lines, wherever the writer's chunks end", async () => {
  const random = seededRandom(7);
  const lines = Array.from(
    { length: 400 },
    (_, i) => `line ${i} ${"x".repeat(randomInt(random, 0, 3000))}\n`,
  );
  const data = bytes(lines.join(""));
  const { output, sent } = capturedOutput();
  for (let offset = 0; offset < data.length;) {
    const size = randomInt(random, 1, 5000);
    const chunk = data.subarray(offset, offset + size);
    const writing = output.write(chunk);
    // Confirm whatever was sent, as the main thread does once it is written.
    output.confirm();
    assert.equal(await writing, chunk.length, "a write takes all it is given");
    offset += size;
  }
  await output.finish();
  assert.ok(sent.length > 10);
  for (const chunk of sent) assert.equal(chunk.at(-1), 10, "a sent chunk ends with a newline");
  assert.deepEqual(concat(sent), data);
});

Deno.test("MainThreadOutput reports a write done only once the main thread confirms it", async () => {
  const { output, sent } = capturedOutput();
  let done = false;
  const writing = output.write(bytes("one\ntw")).then((n) => {
    done = true;
    return n;
  });
  // Time for a write that does not wait for the main thread to resolve: no
  // event marks that it never will.
  await sleep(20);
  assert.equal(done, false, "done before the main thread said so");
  assert.deepEqual(sent, [bytes("one\n")]);
  output.confirm();
  assert.equal(await writing, 6);
  // A write with no line end sends nothing and has nothing to wait for.
  assert.equal(await output.write(bytes("o")), 1);
  const failing = output.write(bytes("\n"));
  assert.deepEqual(sent.at(-1), bytes("two\n"));
  output.fail("broken pipe");
  await assert.rejects(failing, new Error("broken pipe"));
});

Deno.test({
  name: nameUnless(SKIP, "WorkerPool applies --allow/--deny rules in every worker"),
  ignore: SKIP !== null,
  async fn(): Promise<void> {
    await using h = await startPool({
      allow: [parseCidr("127.0.0.0/8", "allow")],
      deny: [parseCidr("127.0.0.1", "deny")],
    });
    // Several connects, so that more than one Worker is likely to see one.
    for (let i = 0; i < 6; i++) {
      using conn = await connectTo(h.port);
      const said = await withTimeout(
        readToEnd(conn).catch(() => new Uint8Array(0)),
        5000,
        "the denied connection to close",
      );
      assert.equal(
        new TextDecoder().decode(said),
        "linehub-server: refused (denied): denied by --allow/--deny\n",
      );
      conn.close();
    }
    await waitFor("six refusals", () => h.log.text().split("denied by").length - 1 === 6);
    assert.doesNotMatch(h.log.text(), /connected from/);
    const stats = await h.stop();
    assert.equal(stats.refusedDenied, 6);
    assert.equal(stats.clients, 0);
  },
});
