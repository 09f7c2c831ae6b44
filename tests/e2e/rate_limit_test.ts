/**
 * `linehub-server --rate-limit` as a program: bad values refused in one
 * line with exit 2, and `linehub-client --ack` pushing lines faster than the
 * limit, alone and through `--workers`: the client is held back, finishes
 * with everything acknowledged, and the summary says how long it was held.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  assertNoCrash,
  nameUnless,
  runClientProcess,
  runServerProcess,
  startServer,
  waitForDisconnects,
} from "../_helpers/mod.ts";
import { workersUnavailableReason } from "../../lib/server/workers/pool.ts";

const POINTER = "Try 'linehub-server --help' for more information.\n";

Deno.test("server refuses a bad --rate-limit in one line quoting it, exit 2, before listening", async () => {
  const cases: Array<[string, string]> = [
    ["fast", "must be LINES/s or LINES/s:BURST, such as 200/s or 200/s:1000"],
    ["0/s", "LINES must be an integer from 1 to 10000000"],
    ["100/s:0", "BURST must be an integer from 1 to 10000000"],
  ];
  const results = await Promise.all(
    cases.map(([value]) => runServerProcess(["--port", "0", "--rate-limit", value])),
  );
  results.forEach((result, i) => {
    const [value, why] = cases[i] as [string, string];
    assertNoCrash(result.stderr);
    assert.equal(result.code, 2);
    assert.equal(result.stdout, "");
    assert.equal(
      result.stderr,
      `linehub-server: Invalid --rate-limit "${value}": ${why}\n${POINTER}`,
    );
  });
});

const LINES = 600;
const input = Array.from({ length: LINES }, (_, i) => `line ${i}\n`).join("");

for (const workers of ["1", "2"]) {
  const skip = workers === "1" ? null : workersUnavailableReason();
  Deno.test({
    name: nameUnless(
      skip,
      `linehub-client --ack through --rate-limit 300/s:100${
        workers === "1" ? "" : " --workers 2"
      }: held back, every line written and acknowledged`,
    ),
    ignore: skip !== null,
    async fn(): Promise<void> {
      const server = await startServer([
        "--ack",
        "--rate-limit",
        "300/s:100",
        "--workers",
        workers,
      ]);
      try {
        const client = await runClientProcess(
          ["--ack", "--quiet", "127.0.0.1", String(server.port)],
          input,
          { timeoutMs: 60_000 },
        );
        assert.equal(client.killed, false);
        assert.equal(client.code, 0, client.stderr);
        await waitForDisconnects(server, 1);
        const result = await server.stop("SIGTERM");
        assertNoCrash(result.stderr);
        assert.equal(result.code, 0, result.stderr);
        assert.equal(
          result.stdout,
          input.split("\n").slice(0, -1).map((line) => `[client 0] ${line}\n`).join(""),
        );
        assert.match(
          result.stderr,
          /shut down: 1 client served, 600 lines, \d+ bytes, 0 truncated; 1 client held back by --rate-limit, \d+\.\d s in all\n$/,
        );
      } finally {
        await server.stop();
      }
    },
  });
}
