/**
 * Tests of the live page's feed: it wants lines only while a page has room
 * for them, sends each page at most its share, escapes what peers sent,
 * drops a page that stops reading, and leaves nothing behind a page (Deno's
 * test sanitizers fail a test that leaves a timer running).
 *
 * @module
 */

import assert from "node:assert/strict";
import { LiveFeed } from "../../lib/http/live_feed.ts";
import { PARTIAL, TRUNCATED } from "../../lib/wire/line_flags.ts";
import { bytes, waitFor } from "../_helpers/mod.ts";
import { SseReader } from "./_sse.ts";

const client = (id: number, name?: string) => ({
  id,
  address: "127.0.0.1",
  port: 40000 + id,
  ...(name === undefined ? {} : { name }),
});

interface ShownLine {
  client: number;
  name?: string;
  text: string;
  truncated?: boolean;
  partial?: boolean;
  cut?: number;
}

Deno.test("LiveFeed wants no lines while no page follows, so every read keeps the fast path", async () => {
  const feed = new LiveFeed();
  assert.equal(feed.wants(0), false);
  const all = feed.subscribe(null);
  assert.ok(all !== null);
  assert.equal(feed.wants(0), true);
  await all.cancel();
  assert.equal(feed.wants(0), false);
  assert.equal(feed.subscribers, 0);
});

Deno.test("LiveFeed wants the lines of the client a page follows, and no other's", async () => {
  const feed = new LiveFeed({ tickMs: 10 });
  const stream = feed.subscribe(3);
  assert.ok(stream !== null);
  assert.equal(feed.wants(3), true);
  assert.equal(feed.wants(4), false);
  feed.line(client(4), bytes("not followed"), 0);
  feed.line(client(3), bytes("followed"), 0);
  const sse = new SseReader(stream);
  const lines: ShownLine[] = JSON.parse((await sse.nextOf("lines")).data);
  assert.deepEqual(lines.map((line) => [line.client, line.text]), [[3, "followed"]]);
  await sse.cancel();
});

Deno.test("LiveFeed shows a page at most its burst of lines at once, then stops wanting them until it refills", async () => {
  const feed = new LiveFeed({ burst: 5, linesPerSecond: 1, tickMs: 10 });
  const stream = feed.subscribe(null);
  assert.ok(stream !== null);
  let offered = 0;
  // Bounded: the feed must stop wanting lines after its burst.
  while (feed.wants(0) && offered < 1000) feed.line(client(0), bytes(`line ${offered++}`), 0);
  assert.equal(offered, 5);
  const sse = new SseReader(stream);
  const lines: ShownLine[] = JSON.parse((await sse.nextOf("lines")).data);
  assert.deepEqual(lines.map((line) => line.text), [
    "line 0",
    "line 1",
    "line 2",
    "line 3",
    "line 4",
  ]);
  await sse.cancel();
});

Deno.test("LiveFeed escapes what a peer sent and names its flags", async () => {
  const feed = new LiveFeed({ tickMs: 10 });
  const stream = feed.subscribe(null);
  assert.ok(stream !== null);
  feed.line(client(1, "web1"), bytes("\x1b[2J<script>x</script>\u202e\u200b"), 0);
  feed.line(client(1, "web1"), bytes("cut"), TRUNCATED | PARTIAL);
  const sse = new SseReader(stream);
  const lines: ShownLine[] = JSON.parse((await sse.nextOf("lines")).data);
  // Control and invisible characters as the text output shows them; markup
  // stays text, which the page sets as textContent.
  assert.equal(lines[0]?.text, "\\x1b[2J<script>x</script>\\u{202e}\\u{200b}");
  assert.equal(lines[0]?.name, "web1");
  assert.deepEqual([lines[1]?.truncated, lines[1]?.partial], [true, true]);
  await sse.cancel();
});

Deno.test("LiveFeed cuts a line longer than the page shows, and says how long it was", async () => {
  const feed = new LiveFeed({ tickMs: 10, maxLineBytes: 8 });
  const stream = feed.subscribe(null);
  assert.ok(stream !== null);
  feed.line(client(2), bytes("0123456789"), 0);
  const sse = new SseReader(stream);
  const lines: ShownLine[] = JSON.parse((await sse.nextOf("lines")).data);
  assert.deepEqual([lines[0]?.text, lines[0]?.cut], ["01234567", 10]);
  await sse.cancel();
});

Deno.test("LiveFeed drops a page that stops reading at its queue's cap, and keeps nothing of it", async () => {
  const feed = new LiveFeed({ tickMs: 5, maxQueuedBytes: 4096, burst: 50, linesPerSecond: 10000 });
  const stalled = feed.subscribe(null);
  assert.ok(stalled !== null);
  const line = bytes("x".repeat(200));
  // Never read: each tick queues a batch until the cap is passed.
  await waitFor("the stalled page to be dropped", () => {
    for (let i = 0; i < 50 && feed.wants(0); i++) feed.line(client(0), line, 0);
    return feed.dropped === 1;
  });
  assert.equal(feed.subscribers, 0);
  assert.equal(feed.wants(0), false);
  await assert.rejects(stalled.getReader().read(), /too slow/);
});

Deno.test("LiveFeed sends a new page the state at once, refuses pages past its limit, and ends every page at close", async () => {
  const feed = new LiveFeed({ maxSubscribers: 2 });
  let made = 0;
  feed.setState(() => JSON.stringify({ made: ++made }));
  const first = feed.subscribe(null);
  const second = feed.subscribe(7);
  assert.ok(first !== null && second !== null);
  assert.equal(feed.subscribe(null), null);
  const sse = new SseReader(first);
  assert.ok(JSON.parse((await sse.nextOf("state")).data).made >= 1);
  feed.close();
  assert.equal(await sse.next(), null);
  assert.equal(feed.subscribers, 0);
  assert.equal(feed.subscribe(null), null);
});
