/**
 * The accept loop must survive running out of file descriptors (EMFILE):
 * `for await` over a Deno listener ends for good there, and a server that
 * stops accepting while it still runs loses every later client.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  assertNoCrash,
  closeQuietly,
  connectTo,
  hasCommand,
  nameUnless,
  startServer,
  waitFor,
  writeAll,
} from "../_helpers/mod.ts";

const noPrlimit = await hasCommand("prlimit") ? null : "prlimit (util-linux) is not installed";
const CLIENTS = 60;

Deno.test({
  name: nameUnless(noPrlimit, "server keeps accepting once file descriptors free up again"),
  ignore: noPrlimit !== null,
  async fn(): Promise<void> {
    // Deno itself needs a few dozen descriptors; 64 leaves room for some
    // clients but not for all of them.
    const server = await startServer([], { wrapper: ["prlimit", "--nofile=64"] });
    const conns: Deno.TcpConn[] = [];
    try {
      for (let i = 0; i < CLIENTS; i++) {
        const conn = await connectTo(server.port);
        conns.push(conn);
        await writeAll(conn, new TextEncoder().encode(`hello ${i}\n`));
      }
      await waitFor(
        "the server to run out of descriptors",
        () => server.stderrSoFar().includes("accept failed: "),
        () => server.stderrSoFar(),
      );
      // Free descriptors: the first half of the clients go away.
      for (const conn of conns.splice(0, CLIENTS / 2)) closeQuietly(conn);
      // Every client, including those that waited in the queue, gets served.
      await waitFor(
        `all ${CLIENTS} clients to be served`,
        () => (server.stderrSoFar().match(/ connected from /g) ?? []).length >= CLIENTS,
        () => server.stderrSoFar(),
      );
      conns.forEach(closeQuietly);
      conns.length = 0;
      const result = await server.stop("SIGTERM");
      assert.equal(result.code, 0);
      assertNoCrash(result.stderr);
      const lines = result.stdout.trimEnd().split("\n");
      assert.equal(lines.length, CLIENTS);
      const said = lines.map((line) => /^\[client \d+\] hello (\d+)$/.exec(line)?.[1]);
      assert.deepEqual(
        said.map(Number).sort((a, b) => a - b),
        Array.from({ length: CLIENTS }, (_, i) => i),
      );
      assert.match(result.stderr, /accept failed: too many open files/);
      // Said once per episode of exhaustion, not once per retry: each
      // "accept failed" is followed by one "accepting again" that counts
      // the retries in between.
      const failed = result.stderr.match(/accept failed: /g) ?? [];
      const again = [...result.stderr.matchAll(/accepting again after (\d+) failed accepts?/g)];
      assert.ok(again.length >= 1, result.stderr);
      assert.equal(failed.length, again.length, result.stderr);
    } finally {
      conns.forEach(closeQuietly);
      await server.stop();
    }
  },
});
