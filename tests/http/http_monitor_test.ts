/**
 * Tests of `--http` over real HTTP on 127.0.0.1, port 0: `/healthz` as a
 * load balancer reads it, the token on everything else, the metrics'
 * content type, and a page that stops reading its events being dropped
 * while others keep theirs.
 *
 * @module
 */

import assert from "node:assert/strict";
import { HttpMonitor, type MonitorSource } from "../../lib/http/http_monitor.ts";
import type { HealthInputs } from "../../lib/http/health_check.ts";
import { LiveFeed } from "../../lib/http/live_feed.ts";
import { ListenError } from "../../lib/server/server.ts";
import { emptyStats } from "../../lib/server/stats.ts";
import { bytes, closeQuietly, waitFor, writeAll } from "../_helpers/mod.ts";
import { SseReader } from "./_sse.ts";

/** A server as the monitor reads it, its health set by the test. */
function fakeSource(): MonitorSource & { inputs: HealthInputs } {
  const source = {
    node: "web-3",
    version: "0.1.0",
    inputs: {
      draining: false,
      paused: false,
      outputStalled: false,
      outputBacklogged: false,
      outputWritten: 0,
    },
    health: () => source.inputs,
    stats: () => ({ ...emptyStats(), connected: 1, clients: 1, lines: 2 }),
    clients: () => [{
      id: 0,
      address: "127.0.0.1",
      port: 5000,
      identity: "al\x1bice",
      connectedAt: 0,
      lines: 2,
      bytes: 10,
    }],
    metrics: () => ({
      version: "0.1.0",
      node: "web-3",
      run: "r",
      startedAt: 0,
      workers: 1,
      stats: emptyStats(),
      accepting: true,
      draining: false,
      outputPendingBytes: 0,
      outputStalled: false,
      writeSeconds: { bounds: [1], cumulative: [0], count: 0, sum: 0 },
      residentBytes: 1,
      cpuSeconds: 0,
      tailSubscribers: 0,
      tailDropped: 0,
    }),
  };
  return source;
}

/** A monitor on a free loopback port, closed at the end of the scope. */
function startMonitor(
  source: MonitorSource,
  options: { token?: string; feed?: LiveFeed } = {},
): HttpMonitor & AsyncDisposable & { url: string } {
  const monitor = new HttpMonitor(source, { hostname: "127.0.0.1", port: 0, ...options });
  const { port } = monitor.listen();
  return Object.assign(monitor, {
    url: `http://127.0.0.1:${port}`,
    [Symbol.asyncDispose]: () => monitor.close(),
  });
}

/** Status and body of a GET of `path`. */
async function get(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string; headers: Headers }> {
  const response = await fetch(url, { headers, redirect: "manual" });
  return { status: response.status, body: await response.text(), headers: response.headers };
}

Deno.test("/healthz is 200 while accepting, 503 while draining or while the output stops the server accepting", async () => {
  const source = fakeSource();
  await using monitor = startMonitor(source);
  assert.deepEqual(await get(`${monitor.url}/healthz`).then((r) => [r.status, r.body]), [
    200,
    "ok\n",
  ]);
  source.inputs = { ...source.inputs, paused: true, outputStalled: true };
  assert.deepEqual(await get(`${monitor.url}/healthz`).then((r) => [r.status, r.body]), [
    503,
    "unavailable: not-accepting\n",
  ]);
  source.inputs = { ...source.inputs, paused: false, outputStalled: false, draining: true };
  const draining = await get(`${monitor.url}/healthz`);
  assert.deepEqual([draining.status, draining.body], [503, "unavailable: draining\n"]);
  assert.equal(draining.headers.get("retry-after"), "5");
});

Deno.test("--http-token guards everything but /healthz: a bearer token, or the cookie /?token=TOKEN sets", async () => {
  const token = "s3cret-Token_1";
  await using monitor = startMonitor(fakeSource(), { token });
  assert.equal((await get(`${monitor.url}/healthz`)).status, 200);
  for (const path of ["/", "/metrics", "/events", "/live.js"]) {
    const refused = await get(`${monitor.url}${path}`);
    assert.equal(refused.status, 401, path);
    assert.equal(refused.headers.get("www-authenticate"), 'Bearer realm="linehub"');
    assert.equal(
      (await get(`${monitor.url}${path}`, { authorization: "Bearer nope" })).status,
      401,
    );
  }
  const metrics = await get(`${monitor.url}/metrics`, { authorization: `Bearer ${token}` });
  assert.equal(metrics.status, 200);
  assert.match(metrics.body, /^linehub_lines_total 0$/m);
  assert.equal((await get(`${monitor.url}/?token=wrong`)).status, 401);
  const login = await get(`${monitor.url}/?token=${token}`);
  assert.equal(login.status, 303);
  assert.equal(login.headers.get("location"), "/");
  const cookie = (login.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
  assert.match(login.headers.get("set-cookie") ?? "", /HttpOnly; SameSite=Strict/);
  const page = await get(`${monitor.url}/`, { cookie });
  assert.equal(page.status, 200);
  assert.match(page.headers.get("content-security-policy") ?? "", /script-src 'self'/);
  assert.equal((await get(`${monitor.url}/`, { cookie: "linehub_token=wrong" })).status, 401);
});

Deno.test("/metrics answers in Prometheus's text format; other methods and paths are refused", async () => {
  await using monitor = startMonitor(fakeSource());
  const metrics = await get(`${monitor.url}/metrics`);
  assert.equal(metrics.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  assert.equal((await get(`${monitor.url}/nothing`)).status, 404);
  const post = await fetch(`${monitor.url}/metrics`, { method: "POST" });
  await post.body?.cancel();
  assert.deepEqual([post.status, post.headers.get("allow")], [405, "GET, HEAD"]);
  assert.equal((await get(`${monitor.url}/events?client=x`)).status, 400);
});

Deno.test("the page's state names the clients with what their peers sent escaped", async () => {
  const feed = new LiveFeed();
  await using monitor = startMonitor(fakeSource(), { feed });
  const response = await fetch(`${monitor.url}/events`);
  assert.equal(response.headers.get("content-type"), "text/event-stream; charset=utf-8");
  assert.ok(response.body !== null);
  const sse = new SseReader(response.body);
  const state = JSON.parse((await sse.nextOf("state")).data);
  assert.deepEqual(state.clients, [{
    id: 0,
    address: "127.0.0.1:5000",
    identity: "al\\x1bice",
    connectedAt: 0,
    lines: 2,
    bytes: 10,
  }]);
  assert.deepEqual([state.tail, state.health, state.more], [true, "ok", 0]);
  await sse.cancel();
  await waitFor("the page to be let go", () => feed.subscribers === 0);
});

Deno.test("a HEAD of /events, and a page that leaves, leave no subscriber behind", async () => {
  const feed = new LiveFeed();
  await using monitor = startMonitor(fakeSource(), { feed });
  const head = await fetch(`${monitor.url}/events`, { method: "HEAD" });
  assert.equal(head.status, 200);
  assert.equal(feed.subscribers, 0);
  const response = await fetch(`${monitor.url}/events`);
  await waitFor("the page to follow", () => feed.subscribers === 1);
  await response.body?.cancel();
  await waitFor("the page to be let go", () => feed.subscribers === 0);
});

Deno.test("a page that stops reading its events is dropped at its cap while another page keeps its own", async () => {
  const feed = new LiveFeed({
    tickMs: 5,
    maxQueuedBytes: 65536,
    burst: 2000,
    linesPerSecond: 1_000_000,
  });
  await using monitor = startMonitor(fakeSource(), { feed });
  // A browser that asks and then never reads: its socket fills, then its
  // queue in the feed.
  const stalled = await Deno.connect({ hostname: "127.0.0.1", port: monitor.addr.port });
  try {
    await writeAll(stalled, bytes("GET /events HTTP/1.1\r\nHost: x\r\n\r\n"));
    const reading = await fetch(`${monitor.url}/events?client=1`);
    assert.ok(reading.body !== null);
    const sse = new SseReader(reading.body);
    await waitFor("both pages to follow", () => feed.subscribers === 2);
    const line = bytes("y".repeat(1000));
    let offered = 0;
    await waitFor(
      "the stalled page to be dropped",
      () => {
        // Bounded: past 100,000 lines the cap has failed.
        for (let i = 0; i < 2000 && feed.wants(0) && offered < 100_000; i++, offered++) {
          feed.line({ id: 0, address: "127.0.0.1", port: 1 }, line, 0);
        }
        return feed.dropped === 1;
      },
      () => `${offered} lines offered`,
      30_000,
    );
    assert.equal(feed.subscribers, 1);
    feed.line({ id: 1, address: "127.0.0.1", port: 2 }, bytes("still here"), 0);
    const lines = JSON.parse((await sse.nextOf("lines")).data);
    assert.equal(lines[0].text, "still here");
    await sse.cancel();
  } finally {
    closeQuietly(stalled);
  }
});

Deno.test("HttpMonitor.listen names the address it cannot bind", async () => {
  await using first = startMonitor(fakeSource());
  const second = new HttpMonitor(fakeSource(), { hostname: "127.0.0.1", port: first.addr.port });
  assert.throws(
    () => second.listen(),
    (error: unknown) =>
      error instanceof ListenError &&
      error.message.startsWith(`Cannot listen on 127.0.0.1:${first.addr.port} for --http: `),
  );
});
