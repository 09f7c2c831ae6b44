/**
 * Tests of what views of a running server read (the `--http` page and
 * `/metrics`): the totals by reason, partial lines, the list of connected
 * clients from one server and from a pool's Workers, and a line sampler
 * that is shown only the reads it asks for.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { LineSampler } from "../../lib/format/connection_pipeline.ts";
import type { ClientInfo } from "../../lib/format/message_formatter.ts";
import { workersUnavailableReason } from "../../lib/server/workers/pool.ts";
import { PARTIAL } from "../../lib/wire/line_flags.ts";
import {
  bytes,
  connectTo,
  nameUnless,
  sendAndClose,
  startLineServer,
  startPool,
  waitFor,
  writeAll,
} from "../_helpers/mod.ts";

Deno.test("server totals count partial lines and each disconnect by its reason", async () => {
  await using h = startLineServer({ idleTimeout: 0.2 });
  await sendAndClose(h.port, "whole\nunfinished");
  using silent = await connectTo(h.port);
  await waitFor("two disconnects", () => {
    const { disconnects } = h.server.stats;
    return disconnects.eof === 1 && disconnects["idle-timeout"] === 1;
  }, () => h.log.text());
  const stats = h.server.stats;
  assert.deepEqual([stats.lines, stats.partial], [2, 1]);
  assert.equal(
    Object.values(stats.disconnects).reduce((sum, count) => sum + count, 0),
    2,
  );
  silent.close();
});

Deno.test("server lists its connected clients with their lines and bytes, and forgets those that left", async () => {
  await using h = startLineServer();
  using first = await connectTo(h.port);
  using second = await connectTo(h.port);
  await writeAll(first, bytes("one\ntwo\n"));
  await writeAll(second, bytes("three\n"));
  await waitFor("three lines", () => h.server.stats.lines === 3);
  const clients = h.server.clients();
  assert.deepEqual(
    clients.map(({ id, address, lines, bytes }) => ({ id, address, lines, bytes })),
    [
      { id: 0, address: "127.0.0.1", lines: 2, bytes: 8 },
      { id: 1, address: "127.0.0.1", lines: 1, bytes: 6 },
    ],
  );
  assert.equal(clients[0]?.port, first.localAddr.port);
  first.close();
  await waitFor("client 0 to leave", () => h.server.clients().length === 1);
  assert.equal(h.server.clients()[0]?.id, 1);
});

/** A sampler that wants the reads of one client, and keeps what it is shown. */
class KeepingSampler implements LineSampler {
  readonly shown: Array<[number, string, number]> = [];
  asked = 0;
  constructor(readonly wanted: number) {}
  wants(id: number): boolean {
    this.asked++;
    return id === this.wanted;
  }
  line(client: ClientInfo, line: Uint8Array, flags: number): void {
    this.shown.push([client.id, new TextDecoder().decode(line), flags]);
  }
}

Deno.test("a line sampler is shown every line of the reads it wants, CR removed, and none of the others", async () => {
  const sampler = new KeepingSampler(1);
  await using h = startLineServer({ sampler });
  using zero = await connectTo(h.port);
  using one = await connectTo(h.port);
  await writeAll(zero, bytes("not wanted\n"));
  await waitFor("client 0's line", () => h.server.stats.lines === 1);
  await writeAll(one, bytes("wanted\r\nalso\nlast"));
  one.close();
  await waitFor("client 1's lines", () => h.server.stats.lines === 4);
  assert.deepEqual(sampler.shown, [[1, "wanted", 0], [1, "also", 0], [1, "last", PARTIAL]]);
  assert.ok(sampler.asked >= 3);
  // Every line is written, sampled or not.
  assert.match(h.out.text(), /^\[client 0\] not wanted$/m);
  assert.match(h.out.text(), /^\[client 1\] wanted$/m);
});

const SKIP = workersUnavailableReason();

Deno.test({
  name: nameUnless(SKIP, "WorkerPool lists the clients of every Worker, in order of number"),
  ignore: SKIP !== null,
  async fn(): Promise<void> {
    await using h = await startPool({ workers: 2 });
    const conns = await Promise.all(Array.from({ length: 6 }, () => connectTo(h.port)));
    try {
      for (const conn of conns) await writeAll(conn, bytes("hi\n"));
      await waitFor("six lines", () => h.server.stats.lines === 6);
      const clients = await h.server.clients();
      assert.deepEqual(clients.map((client) => client.id), [0, 1, 2, 3, 4, 5]);
      assert.ok(clients.every((client) => client.lines === 1 && client.bytes === 3));
    } finally {
      for (const conn of conns) conn.close();
    }
  },
});
