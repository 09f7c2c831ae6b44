/**
 * `linehub-server --http` as a process: /metrics counts what clients sent
 * (and promtool reads it), /healthz takes the node out while it drains, the
 * page's state lists a pool's clients, and a bad or busy --http address is
 * refused in one line.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  bytes,
  connectTo,
  DENO,
  freePort,
  nameUnless,
  runProgram,
  sendAndClose,
  serverScriptArgs,
  startHttpServer,
  waitFor,
  writeAll,
} from "../_helpers/mod.ts";
import { workersUnavailableReason } from "../../lib/server/workers/pool.ts";
import { SseReader } from "../http/_sse.ts";

async function text(url: string): Promise<{ status: number; body: string }> {
  const response = await fetch(url);
  return { status: response.status, body: await response.text() };
}

/** The value of an unlabelled sample in metrics text. */
function sample(metrics: string, name: string): number {
  const match = new RegExp(`^${name} (\\S+)$`, "m").exec(metrics);
  return match === null ? NaN : Number(match[1]);
}

Deno.test("server --http counts clients' lines in /metrics, which promtool accepts", async () => {
  const { server, url } = await startHttpServer();
  await using _ = server;
  await sendAndClose(server.port, "one\ntwo\nthree");
  let metrics = "";
  await waitFor("the lines in /metrics", async () => {
    metrics = (await text(`${url}/metrics`)).body;
    return sample(metrics, "linehub_lines_total") === 3;
  }, () => metrics);
  assert.equal(sample(metrics, "linehub_partial_lines_total"), 1);
  assert.equal(sample(metrics, "linehub_received_bytes_total"), 13);
  assert.match(metrics, /^linehub_disconnects_total\{reason="eof"\} 1$/m);
  assert.ok(sample(metrics, "linehub_output_write_seconds_count") >= 1);
  let promtool = true;
  try {
    const checked = await runProgram("promtool", ["check", "metrics"], metrics);
    assert.equal(checked.code, 0, checked.stdout + checked.stderr);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    promtool = false;
  }
  assert.ok(promtool || Deno.env.get("CI") === undefined, "CI installs promtool");
});

Deno.test("server --http /healthz is 200 while accepting and 503 while draining", async () => {
  const { server, url } = await startHttpServer(["--drain-timeout", "30s"]);
  await using _ = server;
  assert.deepEqual(await text(`${url}/healthz`), { status: 200, body: "ok\n" });
  // A client still connected keeps the server draining after the signal.
  using client = await connectTo(server.port);
  await writeAll(client, bytes("hello\n"));
  await server.waitForStdout("[client 0] hello");
  server.kill("SIGTERM");
  await server.waitForStderr("SIGTERM: no longer accepting");
  assert.deepEqual(await text(`${url}/healthz`), {
    status: 503,
    body: "unavailable: draining\n",
  });
  assert.equal(sample((await text(`${url}/metrics`)).body, "linehub_draining"), 1);
  client.close();
  const result = await server.finished();
  assert.equal(result.code, 0, result.stderr);
});

Deno.test("server --http /healthz is 503 and /metrics says the sink is down while --sink cannot reach its broker", async () => {
  // Nothing listens there: the first batch cannot be delivered.
  const broker = `redis://127.0.0.1:${freePort()}/lines`;
  const { server, url } = await startHttpServer(["--sink", broker, "--drain-timeout", "1s"]);
  await using _ = server;
  assert.deepEqual(await text(`${url}/healthz`), { status: 200, body: "ok\n" });
  await sendAndClose(server.port, "held\n");
  await server.waitForStderr("not accepting clients, retrying with backoff");
  assert.deepEqual(await text(`${url}/healthz`), {
    status: 503,
    body: "unavailable: not-accepting\n",
  });
  const metrics = (await text(`${url}/metrics`)).body;
  assert.match(metrics, /^linehub_sink_up\{[^}]*\} 0$/m);
  server.kill("SIGTERM");
  const result = await server.finished();
  // The line it could not deliver is counted, as for a full disk.
  assert.equal(result.code, 4, result.stderr);
  assert.match(result.stderr, /; 1 message received was not delivered\n$/);
});

Deno.test("server --http-token asks /metrics for the token, and /healthz never", async () => {
  const { server, url } = await startHttpServer(["--http-token", "t0ken"]);
  await using _ = server;
  assert.match(server.stderrSoFar(), /\(token required but on \/healthz\)/);
  assert.equal((await text(`${url}/healthz`)).status, 200);
  assert.equal((await text(`${url}/metrics`)).status, 401);
  const response = await fetch(`${url}/metrics`, { headers: { authorization: "Bearer t0ken" } });
  assert.equal(response.status, 200);
  await response.body?.cancel();
});

Deno.test("server refuses a bad --http in one line and exits 2, and an --http port in use in one line and exits 1", async () => {
  const bad = await runProgram(DENO, serverScriptArgs(["--port", "0", "--http", "8o8o"]));
  assert.equal(bad.code, 2);
  assert.equal(
    bad.stderr.split("\n")[0],
    'linehub-server: Invalid --http "8o8o": must be PORT (0 to 65535, on 127.0.0.1) or ' +
      "HOST:PORT ([IPV6]:PORT), such as 8080 or 0.0.0.0:8080",
  );
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const busy = await runProgram(
    DENO,
    serverScriptArgs(["--host", "127.0.0.1", "--port", "0", "--http", String(taken.addr.port)]),
  );
  assert.equal(busy.code, 1);
  assert.match(
    busy.stderr,
    new RegExp(
      `^linehub-server: Cannot listen on 127\\.0\\.0\\.1:${taken.addr.port} for --http: `,
      "m",
    ),
  );
  assert.doesNotMatch(busy.stderr, /^\s+at /m);
});

const SKIP = workersUnavailableReason();

Deno.test({
  name: nameUnless(
    SKIP,
    "server --http --workers 2 lists every Worker's clients on the page and says the tail is not followed",
  ),
  ignore: SKIP !== null,
  async fn(): Promise<void> {
    const { server, url } = await startHttpServer(["--workers", "2"]);
    await using _ = server;
    const conns = await Promise.all([0, 1, 2, 3].map(() => connectTo(server.port)));
    try {
      for (const conn of conns) await writeAll(conn, bytes("hi\n"));
      await server.waitForStdout(/(\[client \d\] hi\n[^]*){4}/);
      const response = await fetch(`${url}/events`);
      assert.ok(response.body !== null);
      const sse = new SseReader(response.body);
      let state = { tail: true, clients: [] as Array<{ id: number }> };
      await waitFor("the four clients on the page", async () => {
        state = JSON.parse((await sse.nextOf("state")).data);
        return state.clients.length === 4;
      });
      assert.deepEqual(state.clients.map((client) => client.id), [0, 1, 2, 3]);
      assert.equal(state.tail, false);
      await sse.cancel();
      const metrics = (await text(`${url}/metrics`)).body;
      assert.equal(sample(metrics, "linehub_workers"), 2);
    } finally {
      for (const conn of conns) conn.close();
    }
  },
});
