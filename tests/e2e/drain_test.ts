/**
 * Shutdown under load: SIGTERM while 50 clients are mid-stream. Clients go on
 * sending for a while, as real ones would not know of the signal, then close;
 * every line a client finished sending must be in the output, once, in order.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  closeQuietly,
  connectTo,
  sleep,
  startServer,
  waitFor,
  withTimeout,
  writeAll,
} from "../_helpers/mod.ts";

const CLIENTS = 50;
const LIMIT_MS = 60_000;

Deno.test("SIGTERM with 50 clients mid-stream loses none of the lines they finished sending", async () => {
  const server = await startServer(["--drain-timeout", "20"]);
  const conns: Deno.TcpConn[] = [];
  try {
    for (let k = 0; k < CLIENTS; k++) conns.push(await connectTo(server.port));
    let stop = false;
    const sent = new Array<number>(CLIENTS).fill(0);
    const failures: string[] = [];
    const senders = conns.map(async (conn, k) => {
      // Batches of 10 lines; a batch counts as sent once its write returned.
      try {
        while (!stop) {
          const first = sent[k] as number;
          const batch = Array.from({ length: 10 }, (_, i) => `c${k} l${first + i}\n`).join("");
          await writeAll(conn, new TextEncoder().encode(batch));
          sent[k] = first + 10;
          await sleep(5);
        }
      } catch (error) {
        failures.push(`c${k}: ${error}`);
      } finally {
        closeQuietly(conn);
      }
    });
    await waitFor("every client to be mid-stream", () => sent.every((n) => n >= 50));
    server.process.kill("SIGTERM");
    await waitFor(
      "the server to start draining",
      () => server.stderrSoFar().includes("SIGTERM: no longer accepting"),
      () => server.stderrSoFar(),
    );
    // The clients do not know; they keep sending, then leave.
    await sleep(300);
    stop = true;
    await withTimeout(Promise.all(senders), LIMIT_MS, "the clients to finish");
    assert.deepEqual(failures, [], "a client lost its connection during the drain");
    const result = await withTimeout(server.finished(), LIMIT_MS, "the server to exit");
    assert.equal(result.code, 0, result.stderr);
    // Group the output by client label, then check each client's lines.
    const byLabel = new Map<string, string[]>();
    for (const line of result.stdout.trimEnd().split("\n")) {
      const match = /^(\[client \d+\]) (.*)$/.exec(line);
      assert.ok(match !== null, `not a labelled line: ${JSON.stringify(line)}`);
      const [, label, text] = match as unknown as [string, string, string];
      byLabel.set(label, [...(byLabel.get(label) ?? []), text]);
    }
    assert.equal(byLabel.size, CLIENTS);
    for (const texts of byLabel.values()) {
      const k = Number(/^c(\d+) /.exec(texts[0] ?? "")?.[1]);
      const expected = Array.from({ length: sent[k] as number }, (_, i) => `c${k} l${i}`);
      assert.deepEqual(texts, expected, `client c${k}`);
    }
    assert.match(result.stderr, new RegExp(`shut down: ${CLIENTS} clients served`));
  } finally {
    conns.forEach(closeQuietly);
    await server.stop();
  }
});
