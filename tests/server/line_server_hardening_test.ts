/**
 * {@linkcode LineServer} against peers that try to wear it down: slowloris
 * lines, connection churn behind a stalled output, refusal floods, options a
 * library caller gets wrong, and an internal error in the middle of a
 * connection. Each test runs the server in this process on loopback port 0.
 */

import assert from "node:assert/strict";
import { BatchWriter } from "../../lib/io/batch_writer.ts";
import type { ClientObserver } from "../../lib/server/client_handle.ts";
import { LineServer } from "../../lib/server/line_server.ts";
import type { LineServerOptions } from "../../lib/server/server_options.ts";
import {
  bytes,
  closeQuietly,
  connectTo,
  HeldWriter,
  LogSink,
  MemoryWriter,
  readToEnd,
  sleep,
  startLineServer,
  waitFor,
  withTimeout,
  writeAll,
} from "../_helpers/mod.ts";

Deno.test("--line-timeout closes 2,000 slowloris connections that never finish a line, and serves a normal client meanwhile", async () => {
  const SLOW = 2000;
  await using running = startLineServer({ lineTimeout: 1, drainTimeout: 1 });
  using opened = new DisposableStack();
  const conns: Deno.TcpConn[] = [];
  for (let i = 0; i < SLOW; i++) conns.push(opened.use(await connectTo(running.port)));
  // Each sends a byte now and then, so it is never idle, and never a newline.
  const dripping = (async () => {
    for (let round = 0; round < 6; round++) {
      await Promise.all(conns.map((conn) => conn.write(bytes("x")).catch(() => 0)));
      await sleep(400);
    }
  })();
  const normal = await connectTo(running.port);
  await writeAll(normal, bytes("a normal line\n"));
  normal.close();
  await waitFor(
    "every slowloris connection to be closed for its unfinished line",
    () => (running.log.text().match(/\(line-timeout\)/g) ?? []).length === SLOW,
    () => running.log.text().slice(-500),
    20_000,
  );
  await dripping;
  // The server closed them: each is told why and sees the end of its connection.
  for (const conn of conns.slice(0, 20)) {
    assert.equal(
      new TextDecoder().decode(await withTimeout(readToEnd(conn), 5000, "a closed connection")),
      "linehub-server: closing (line-timeout): line unfinished after 1 s (--line-timeout)\n",
    );
  }
  await running.stop();
  // The normal client's line was written; what each slow client sent of its
  // line was written too, flagged partial.
  const text = running.out.text();
  assert.match(text, /^\[client \d+\] a normal line$/m);
  assert.equal((text.match(/^\[client \d+ partial\] x+$/gm) ?? []).length, SLOW);
  assert.equal(running.server.stats.connected, 0);
});

Deno.test("--line-timeout leaves alone a client that keeps finishing lines, however slowly", async () => {
  await using running = startLineServer({ lineTimeout: 0.3 });
  {
    using conn = await connectTo(running.port);
    // Five lines, each begun and finished well within the limit, with pauses
    // between lines longer than the limit: only an unfinished line counts.
    for (let i = 0; i < 5; i++) {
      await writeAll(conn, bytes(`line ${i}`));
      await sleep(50);
      await writeAll(conn, bytes(`\n`));
      await sleep(450);
    }
    await writeAll(conn, bytes("last\n"));
  }
  const stats = await running.stop();
  assert.equal(stats.lines, 6);
  assert.doesNotMatch(running.log.text(), /line-timeout/);
  assert.match(running.log.text(), /disconnected from .* \(eof\): 6 lines/);
});

Deno.test("connection churn behind a stalled output does not grow what is pending without bound", async () => {
  const HIGH_WATER_MARK = 16384;
  const CHURN = 1000;
  const out = new HeldWriter();
  await using running = startLineServer({ format: "json", drainTimeout: 1 }, {
    writer: out,
    output: { highWaterMark: HIGH_WATER_MARK, chunkSize: 4096 },
  });
  // Each connection costs a connect and a disconnect record (about 300
  // bytes in all): 1,000 of them would be 300 KB if nothing held them back.
  const churn = (async () => {
    for (let i = 0; i < CHURN; i++) {
      const conn = await connectTo(running.port);
      conn.close();
    }
  })();
  await waitFor("the output to be backlogged", () => running.output.backlogged);
  await withTimeout(churn, 20_000, "the connects (they wait in the listen queue)");
  // Time for a server that ignored the backlog to take the queued connects:
  // no condition says "the accept loop is holding back", so this can show
  // such a bug, not prove its absence.
  await sleep(200);
  // At most one record past the mark per connection accepted before the
  // accept loop saw the backlog, and the disconnects of those connected.
  assert.ok(
    running.output.pendingBytes < HIGH_WATER_MARK + 16384,
    `pending ${running.output.pendingBytes} bytes`,
  );
  assert.ok(running.server.stats.clients < CHURN, `${running.server.stats.clients} accepted`);
  // Once the output moves again, every waiting connection is served.
  out.release();
  await waitFor(`all ${CHURN} connections to be served`, () => {
    const { clients, connected } = running.server.stats;
    return clients === CHURN && connected === 0;
  });
});

Deno.test("connection churn behind a stalled stderr (text events) does not grow the log without bound", async () => {
  const HIGH_WATER_MARK = 16384;
  const CHURN = 1000;
  const held = new HeldWriter();
  const log = new BatchWriter(held, { highWaterMark: HIGH_WATER_MARK, chunkSize: 4096 });
  const server = new LineServer(new BatchWriter(new MemoryWriter()), log, {
    host: "127.0.0.1",
    port: 0,
    drainTimeout: 1,
  });
  const { port } = server.listen();
  const serving = server.serve();
  try {
    // Text events (about 130 bytes a connection) go to the log, not the output.
    const churn = (async () => {
      for (let i = 0; i < CHURN; i++) (await connectTo(port)).close();
    })();
    await waitFor("the log to be backlogged", () => log.backlogged);
    await withTimeout(churn, 20_000, "the connects (they wait in the listen queue)");
    // As above: time for a server that ignored the backlog to show it.
    await sleep(200);
    assert.ok(log.pendingBytes < HIGH_WATER_MARK + 16384, `pending ${log.pendingBytes} bytes`);
    assert.ok(server.stats.clients < CHURN, `${server.stats.clients} accepted`);
    held.release();
    await waitFor(`all ${CHURN} connections to be served`, () => {
      const { clients, connected } = server.stats;
      return clients === CHURN && connected === 0;
    });
  } finally {
    held.release();
    await server.shutdown();
    await serving;
  }
});

Deno.test("past the lingering cap, a refused plain TCP client still gets the line saying why", async () => {
  await using running = startLineServer({ maxClients: 1 });
  // Holds the one place, so that every other client is refused.
  using _holder = await connectTo(running.port);
  const REFUSED = 200;
  await waitFor("the first client", () => running.server.stats.clients === 1);
  // All at once, so that far more than the 64 lingering refusals overlap.
  const conns = await Promise.all(
    Array.from({ length: REFUSED }, () => connectTo(running.port)),
  );
  const said = await Promise.all(
    conns.map((conn) =>
      withTimeout(readToEnd(conn), 5000, "the refusal").catch(() => new Uint8Array())
        .finally(() => closeQuietly(conn))
    ),
  );
  const told = said.filter((b) => new TextDecoder().decode(b).includes("server full")).length;
  assert.equal(told, REFUSED);
});

Deno.test("LineServer refuses options out of range before opening any socket, naming the option", () => {
  const output = new BatchWriter(new MemoryWriter());
  const log = new LogSink();
  const cases: Array<[LineServerOptions, RegExp]> = [
    [{ maxLine: -1 }, /^Invalid maxLine "-1": must be an integer >= 1$/],
    [{ maxLine: 1.5 }, /^Invalid maxLine "1.5"/],
    [{ port: 70000 }, /^Invalid port "70000": must be an integer from 0 to 65535$/],
    [{ drainTimeout: -1 }, /^Invalid drainTimeout "-1"/],
    [{ idleTimeout: Number.NaN }, /^Invalid idleTimeout "NaN"/],
    [{ lineTimeout: -2 }, /^Invalid lineTimeout "-2"/],
    [{ backlog: 0 }, /^Invalid backlog "0"/],
    [{ maxClients: -3 }, /^Invalid maxClients "-3"/],
    [{ maxPerIp: 0.5 }, /^Invalid maxPerIp "0.5"/],
    [{ sendQueue: 0 }, /^Invalid sendQueue "0"/],
    [{ format: "xml" as "text" }, /^Invalid format "xml": must be one of text, json, raw$/],
  ];
  for (const [options, message] of cases) {
    assert.throws(() => new LineServer(output, log, options), { name: "RangeError", message });
  }
});

Deno.test("an internal error while a client starts still closes it, reports its end and frees its place", async () => {
  let joined = 0;
  let left = 0;
  const observer: ClientObserver = {
    joined(): void {
      if (++joined === 1) throw new Error("observer broke");
    },
    line(): void {},
    left(): void {
      left++;
    },
  };
  await using running = startLineServer({ observer, maxClients: 1 });
  {
    using first = await connectTo(running.port);
    // The server closes it rather than leaving it open and counted.
    assert.equal((await withTimeout(readToEnd(first), 5000, "the close")).length, 0);
  }
  await waitFor("the disconnect", () => running.log.text().includes("disconnected"));
  assert.match(running.log.text(), /client 0: internal error: observer broke/);
  assert.match(running.log.text(), /client 0 disconnected from .* \(error: internal error: /);
  assert.equal(running.server.stats.connected, 0);
  assert.equal(left, 1);
  // Its place under --max-clients 1 is free again.
  const second = await connectTo(running.port);
  await writeAll(second, bytes("served\n"));
  second.close();
  await running.stop();
  assert.match(running.out.text(), /^\[client 1\] served$/m);
});
