/**
 * Tests of the counts a pool's Workers share for `--max-clients` and
 * `--max-per-ip` (lib/server/workers/_shared_limits.ts), without Workers:
 * several views of one buffer stand for them. A seeded run of admits and
 * releases is checked against the counts of one server on its own
 * (`LocalLimits`), which must give the same answers.
 *
 * @module
 */

import assert from "node:assert/strict";
import { LocalLimits } from "../../lib/server/client_limits.ts";
import {
  DEFAULT_MAX_ADDRESSES,
  MAX_TABLE_BYTES,
  SharedLimits,
} from "../../lib/server/workers/_shared_limits.ts";
import { seededRandom } from "../_helpers/mod.ts";

/** Views of one fresh buffer, one per Worker. */
function shared(maxClients: number, maxPerIp: number, workers: number): SharedLimits[] {
  const buffer = SharedLimits.create({ maxClients, maxPerIp, workers });
  return Array.from({ length: workers }, (_, worker) => new SharedLimits(buffer, worker));
}

Deno.test("SharedLimits holds --max-clients for all Workers together, and frees a place on release", () => {
  const [first, second] = shared(3, 0, 2) as [SharedLimits, SharedLimits];
  assert.equal(first.admit("192.0.2.1"), null);
  assert.equal(second.admit("192.0.2.2"), null);
  assert.equal(second.admit("192.0.2.3"), null);
  assert.deepEqual(first.admit("192.0.2.4"), { reason: "full", limit: 3 });
  assert.deepEqual(second.admit("192.0.2.4"), { reason: "full", limit: 3 });
  second.release("192.0.2.2");
  assert.equal(first.admit("192.0.2.4"), null);
});

Deno.test("SharedLimits holds --max-per-ip across Workers, address by address", () => {
  const [first, second] = shared(0, 2, 2) as [SharedLimits, SharedLimits];
  assert.equal(first.admit("2001:db8::1"), null);
  assert.equal(second.admit("2001:db8::1"), null);
  assert.deepEqual(first.admit("2001:db8::1"), { reason: "per-ip", limit: 2 });
  assert.equal(first.admit("2001:db8::2"), null, "another address has its own count");
  first.release("2001:db8::1");
  assert.equal(second.admit("2001:db8::1"), null);
  assert.deepEqual(second.admit("2001:db8::1"), { reason: "per-ip", limit: 2 });
});

Deno.test("SharedLimits gives the answers one server's own counts give, over a seeded run of 20,000 changes", () => {
  // A small table (--max-clients 48: 128 slots) and many addresses, so
  // that probes collide and removals shift entries back.
  for (const [maxClients, maxPerIp] of [[48, 3], [48, 0], [0, 2]] as const) {
    const random = seededRandom(maxClients * 31 + maxPerIp);
    const views = shared(maxClients, maxPerIp, 3);
    const model = new LocalLimits(maxClients, maxPerIp);
    const open: Array<{ address: string; view: SharedLimits }> = [];
    for (let step = 0; step < 20_000; step++) {
      if (open.length > 0 && random() < 0.45) {
        const [closed] = open.splice(Math.floor(random() * open.length), 1);
        if (closed === undefined) continue;
        closed.view.release(closed.address);
        model.release(closed.address);
        continue;
      }
      const address = `198.51.100.${Math.floor(random() * 200)}`;
      const view = views[Math.floor(random() * views.length)] as SharedLimits;
      const answer = view.admit(address);
      assert.deepEqual(answer, model.admit(address), `step ${step}, ${address}`);
      if (answer === null) open.push({ address, view });
    }
    // Every place comes back once all are closed.
    for (const { address, view } of open.splice(0)) view.release(address);
    const view = views[0] as SharedLimits;
    for (let i = 0; i < (maxClients || 10); i++) {
      assert.equal(view.admit(`203.0.113.${i % 200}:${i}`), null);
    }
  }
});

Deno.test("SharedLimits tells apart addresses with a long common start", () => {
  const [view] = shared(0, 1, 1) as [SharedLimits];
  const long = "2001:db8:1111:2222:3333:4444:5555:"; // 34 of the 40 characters kept
  assert.equal(view.admit(`${long}6666`), null);
  assert.equal(view.admit(`${long}6667`), null);
  assert.deepEqual(view.admit(`${long}6666`), { reason: "per-ip", limit: 1 });
});

Deno.test("SharedLimits without --max-clients refuses a new address as full once the table holds its most", () => {
  const [view] = shared(0, 1, 1) as [SharedLimits];
  for (let i = 0; i < DEFAULT_MAX_ADDRESSES; i++) {
    const address = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    if (view.admit(address) !== null) assert.fail(`${address} refused`);
  }
  assert.deepEqual(view.admit("192.0.2.1"), { reason: "full", limit: DEFAULT_MAX_ADDRESSES });
  view.release("10.0.0.7");
  assert.equal(view.admit("192.0.2.1"), null);
});

Deno.test("SharedLimits with many Workers keeps its table under its size in bytes, holding fewer addresses", () => {
  const buffer = SharedLimits.create({ maxClients: 0, maxPerIp: 1, workers: 256 });
  assert.ok(buffer.byteLength <= MAX_TABLE_BYTES + 4096, `${buffer.byteLength} bytes`);
  const view = new SharedLimits(buffer, 255);
  let admitted = 0;
  while (
    view.admit(`10.${(admitted >> 16) & 255}.${(admitted >> 8) & 255}.${admitted & 255}`) === null
  ) {
    admitted++;
  }
  assert.ok(admitted < DEFAULT_MAX_ADDRESSES, `${admitted} addresses`);
  assert.deepEqual(view.admit("192.0.2.1"), { reason: "full", limit: admitted });
});

Deno.test("SharedLimits.forget takes back a failed Worker's clients, keeps the others', and counts nothing more for it", () => {
  const buffer = SharedLimits.create({ maxClients: 3, maxPerIp: 1, workers: 2 });
  const kept = new SharedLimits(buffer, 0);
  const failed = new SharedLimits(buffer, 1);
  assert.equal(kept.admit("192.0.2.5"), null);
  assert.equal(failed.admit("192.0.2.1"), null);
  assert.equal(failed.admit("192.0.2.2"), null);
  assert.deepEqual(kept.admit("192.0.2.3"), { reason: "full", limit: 3 });
  SharedLimits.forget(buffer, 1);
  assert.equal(kept.admit("192.0.2.1"), null, "its address is free again");
  assert.deepEqual(kept.admit("192.0.2.5"), { reason: "per-ip", limit: 1 }, "the other's stays");
  assert.deepEqual(failed.admit("192.0.2.9"), { reason: "full", limit: 3 });
  // A late release from the Worker being ended takes nothing out twice.
  failed.release("192.0.2.1");
  assert.deepEqual(kept.admit("192.0.2.1"), { reason: "per-ip", limit: 1 });
  assert.equal(kept.admit("192.0.2.3"), null);
  assert.deepEqual(kept.admit("192.0.2.4"), { reason: "full", limit: 3 });
  kept.release("192.0.2.5");
  assert.equal(kept.admit("192.0.2.5"), null, "the kept entry is found and removed again");
});

Deno.test("SharedLimits.forget takes the lock from a Worker that was ended holding it", () => {
  const buffer = SharedLimits.create({ maxClients: 1, maxPerIp: 0, workers: 2 });
  const words = new Int32Array(buffer);
  words[0] = 2; // held by Worker 1 (owner number 2), which will never let go
  SharedLimits.forget(buffer, 1);
  assert.equal(new SharedLimits(buffer, 0).admit("192.0.2.1"), null);
});

Deno.test("SharedLimits refuses counts it cannot be made for, naming the value", () => {
  assert.throws(
    () => SharedLimits.create({ maxClients: -1, maxPerIp: 0, workers: 2 }),
    new RangeError(`Invalid maxClients "-1": must be an integer from 0`),
  );
  assert.throws(
    () => SharedLimits.create({ maxClients: 0, maxPerIp: 0, workers: 0 }),
    new RangeError(`Invalid workers "0": must be an integer from 1`),
  );
  const buffer = SharedLimits.create({ maxClients: 1, maxPerIp: 0, workers: 2 });
  assert.throws(
    () => new SharedLimits(buffer, 2),
    new RangeError(`Invalid worker "2": must be an integer from 0 to 1`),
  );
});
