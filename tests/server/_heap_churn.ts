/**
 * Run by tests/server/connection_memory_test.ts in its own process, with
 * `--v8-flags=--expose-gc`: a LineServer in this process serves N short
 * connections (connect, send a line, close), and this prints the V8 heap in
 * use after a forced collection, before and after them, as one JSON line.
 *
 * Usage: deno run --v8-flags=--expose-gc -A tests/server/_heap_churn.ts CONNECTIONS [--ack] [--proxy]
 *
 * With `--proxy`, the server reads a PROXY header first and each connection
 * sends one, from an address of its own, in the same write as its line.
 *
 * @module
 */

import { BatchWriter } from "../../lib/io/batch_writer.ts";
import { LineServer } from "../../lib/server/line_server.ts";

const WARM_UP = 2000;
/** Connections open at once while churning. */
const CONCURRENCY = 200;
const LINE = new TextEncoder().encode("a short line from a short connection\n");
/** Longest wait for the server to catch up with the connections made. */
const SETTLE_MS = 30_000;
/** Seconds each connection has for its PROXY header, with --proxy. */
const HEADER_TIMEOUT = SETTLE_MS / 1000;

const count = Number(Deno.args[0]);
const ack = Deno.args.includes("--ack");
const proxy = Deno.args.includes("--proxy");
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("run with --v8-flags=--expose-gc");

/** Output and log that take everything and keep nothing. */
const nowhere = { write: (bytes: Uint8Array) => Promise.resolve(bytes.length) };
const output = new BatchWriter(nowhere);
const server = new LineServer(output, { write: () => {} }, {
  host: "127.0.0.1",
  port: 0,
  format: "json",
  ack,
  // Each connection still gets its header timer, set and cleared; the
  // timeout is long so that a machine too busy to read a header in the
  // default 3 s cannot refuse a client here: this is about memory.
  ...(proxy ? { proxy: { headerTimeout: HEADER_TIMEOUT } } : {}),
});
const { port } = server.listen();
const serving = server.serve();

let sent = 0;

/** What a connection sends: its line, after a PROXY header with --proxy. */
function greeting(): Uint8Array {
  if (!proxy) return LINE;
  const n = sent++;
  const header = `PROXY TCP4 10.${n >> 16 & 255}.${n >> 8 & 255}.${n & 255} 127.0.0.1 ${
    1024 + n % 60000
  } ${port}\r\n`;
  const bytes = new TextEncoder().encode(header);
  const all = new Uint8Array(bytes.length + LINE.length);
  all.set(bytes);
  all.set(LINE, bytes.length);
  return all;
}

async function oneConnection(): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(greeting());
    if (ack) {
      // Half-close and read the acknowledgment, as linehub-client --ack does.
      await conn.closeWrite();
      const buffer = new Uint8Array(64);
      while (await conn.read(buffer) !== null) { /* the acknowledgment */ }
    }
  } finally {
    conn.close();
  }
}

/** Connections made so far, each of which becomes a client. */
let made = 0;

async function churn(total: number): Promise<void> {
  let started = 0;
  const worker = async (): Promise<void> => {
    while (started < total) {
      started++;
      await oneConnection();
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  made += total;
  // Every connection has been accepted and become a client (a connection
  // still reading its PROXY header is not counted as connected yet), and
  // every client's task has ended on the server's side too.
  const deadline = Date.now() + SETTLE_MS;
  while (server.stats.clients < made || server.stats.connected > 0) {
    if (Date.now() > deadline) throw new Error(`Not settled: ${JSON.stringify(server.stats)}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function heapAfterGc(): Promise<number> {
  await output.flush();
  for (let i = 0; i < 3; i++) {
    gc?.();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return Deno.memoryUsage().heapUsed;
}

await churn(WARM_UP);
const before = await heapAfterGc();
await churn(count);
const after = await heapAfterGc();
const stats = await server.shutdown();
await serving;
console.log(JSON.stringify({ before, after, clients: stats.clients, lines: stats.lines }));
