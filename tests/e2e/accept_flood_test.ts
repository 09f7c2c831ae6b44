/**
 * A peer that connects and resets before the server accepts makes `accept()`
 * fail for that connection alone. The accept loop must go on at once: a
 * pause there would let anyone who can connect hold every other client off
 * (before the fix, 300 such resets held a normal client's line for 30 s).
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  assertNoCrash,
  connectAndReset,
  sendAndClose,
  startServer,
  waitFor,
} from "../_helpers/mod.ts";

const RESETS = 300;
/** How soon a normal client's line must be written after the flood: far
 * more than accepting and writing one line takes, far less than the 100 ms
 * per reset a backing-off accept loop would cost. */
const SERVED_WITHIN_MS = 1000;

Deno.test("server accepts a normal client at once after a flood of connections reset before accept", async () => {
  const dir = await Deno.makeTempDir();
  const out = `${dir}/out.log`;
  const server = await startServer(["--output", out]);
  try {
    await connectAndReset(server.port, RESETS);
    const sent = Date.now();
    await sendAndClose(server.port, "hello after the flood\n");
    await waitFor(
      `the line to be written within ${SERVED_WITHIN_MS} ms`,
      async () => (await Deno.readTextFile(out)).includes("hello after the flood"),
      () => server.stderrSoFar(),
      SERVED_WITHIN_MS,
    );
    assert.ok(Date.now() - sent <= SERVED_WITHIN_MS);
    const result = await server.stop("SIGTERM");
    assert.equal(result.code, 0);
    assertNoCrash(result.stderr);
    // A connection gone before accept is no failure of the server's.
    assert.doesNotMatch(result.stderr, /accept failed/);
    assert.match(await Deno.readTextFile(out), /^\[client \d+\] hello after the flood$/m);
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
