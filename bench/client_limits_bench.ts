/**
 * Micro-benchmarks of counting a client in and out against `--max-clients`
 * and `--max-per-ip`: `deno bench bench/client_limits_bench.ts`. One
 * server's own counts (`LocalLimits`, a Map) are the baseline; the counts a
 * pool's Workers share (`SharedLimits`, a lock and a hash table in a
 * SharedArrayBuffer) are what `--workers` pays per connection. Each round
 * admits and releases one connection from one of 1,000 addresses, with
 * 1,000 other connections held, so the table is not empty.
 *
 * @module
 */

import { LocalLimits } from "../lib/server/client_limits.ts";
import { SharedLimits } from "../lib/server/workers/_shared_limits.ts";

const ADDRESSES = Array.from({ length: 1000 }, (_, i) => `198.51.100.${i % 250}:${i}`);
const HELD = 1000;

const local = new LocalLimits(100_000, 10);
const shared = new SharedLimits(
  SharedLimits.create({ maxClients: 100_000, maxPerIp: 10, workers: 2 }),
  0,
);
for (let i = 0; i < HELD; i++) {
  local.admit(`203.0.113.${i % 250}/${i}`);
  shared.admit(`203.0.113.${i % 250}/${i}`);
}

let round = 0;

Deno.bench({
  group: "admit and release one connection",
  name: "LocalLimits (one server)",
  baseline: true,
  fn(): void {
    const address = ADDRESSES[round++ % ADDRESSES.length] as string;
    if (local.admit(address) === null) local.release(address);
  },
});

Deno.bench({
  group: "admit and release one connection",
  name: "SharedLimits (a pool's Workers)",
  fn(): void {
    const address = ADDRESSES[round++ % ADDRESSES.length] as string;
    if (shared.admit(address) === null) shared.release(address);
  },
});
