/**
 * The server's heap behind a slow output: 50 clients send 100-byte lines
 * flat out to a LineServer in this process whose output takes 20 MB/s, so
 * their reads keep waiting for it to drain. Prints the V8 heap after a
 * forced collection at 3 s and at 13 s, and the growth per second between:
 * a wait that left something on a long-lived promise each time grew it by
 * about 70 KB/s here.
 *
 * Usage: deno run --allow-net --v8-flags=--expose-gc bench/slow_output_heap.ts
 *
 * @module
 */

import { BatchWriter } from "../lib/io/batch_writer.ts";
import { LineServer } from "../lib/server/line_server.ts";

const CLIENTS = 50;
const BYTES_PER_MS = 20_000;
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("run with --v8-flags=--expose-gc");

/** An output that takes as long to write as 20 MB/s allows. */
const slow = {
  write: (bytes: Uint8Array): Promise<number> =>
    new Promise((resolve) => setTimeout(() => resolve(bytes.length), bytes.length / BYTES_PER_MS)),
};
const server = new LineServer(new BatchWriter(slow), { write: () => {} }, {
  host: "127.0.0.1",
  port: 0,
});
const { port } = server.listen();
const serving = server.serve();
const chunk = new TextEncoder().encode(("x".repeat(99) + "\n").repeat(100));
let sending = true;
const clients = Array.from({ length: CLIENTS }, async () => {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  while (sending) await conn.write(chunk);
  conn.close();
});

function heapAfterGc(): number {
  gc?.();
  gc?.();
  return Deno.memoryUsage().heapUsed;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
await sleep(3000);
const first = heapAfterGc();
await sleep(10_000);
const second = heapAfterGc();
const mb = (bytes: number): string => (bytes / 1e6).toFixed(2);
console.log(
  `heap after 3 s ${mb(first)} MB, after 13 s ${mb(second)} MB: ` +
    `${((second - first) / 10 / 1e3).toFixed(1)} KB/s`,
);
sending = false;
await Promise.allSettled(clients);
await server.shutdown();
await serving;
