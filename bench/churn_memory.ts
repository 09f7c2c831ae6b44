/**
 * Memory under connection churn and accept latency under reset floods, for
 * the README's Reliability figures. Starts `server.ts` (text to a pipe this
 * process drains), then:
 *
 * 1. churn: R rounds of N short connections (connect, send a line, close;
 *    one in ten resets instead of closing), C at a time; the server's RSS
 *    (from /proc) after each round, then after it has been idle for a while;
 * 2. reset flood: F connections reset (SO_LINGER 0) one after another, then
 *    a normal client's line, timed from its connect until the server wrote it.
 *
 * Usage: deno run --allow-all bench/churn_memory.ts [--connections N]
 * [--rounds R] [--concurrency C] [--idle SECS] [--resets F] [-- SERVER_FLAGS...]
 *
 * @module
 */

import net from "node:net";
import { parseArgs } from "node:util";
import { connectAndReset } from "../tests/_helpers/mod.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const { values, positionals } = parseArgs({
  args: Deno.args,
  options: {
    connections: { type: "string", default: "25000" },
    rounds: { type: "string", default: "2" },
    concurrency: { type: "string", default: "200" },
    idle: { type: "string", default: "10" },
    resets: { type: "string", default: "300" },
  },
  allowPositionals: true,
});
const CONNECTIONS = Number(values.connections);
const ROUNDS = Number(values.rounds);
const CONCURRENCY = Number(values.concurrency);
const IDLE_S = Number(values.idle);
const RESETS = Number(values.resets);
const LINE = new TextEncoder().encode("a short line from a short connection\n");
const MARK = "hello after the flood";

const server = new Deno.Command(Deno.execPath(), {
  args: [
    "run",
    "--allow-net",
    "--allow-sys=hostname",
    `${ROOT}server.ts`,
    "--host",
    "127.0.0.1",
    "--port",
    "0",
    ...positionals,
  ],
  stdin: "null",
  stdout: "piped",
  stderr: "piped",
}).spawn();

let output = "";
let marked = null as (() => void) | null;
const decoder = new TextDecoder();
(async () => {
  for await (const chunk of server.stdout) {
    if (marked === null) continue;
    output += decoder.decode(chunk);
    if (output.includes(MARK)) marked();
    else output = output.slice(-MARK.length);
  }
})();
const port = await new Promise<number>((resolve, reject) => {
  let text = "";
  (async () => {
    for await (const chunk of server.stderr) {
      text += decoder.decode(chunk);
      const match = /listening on [^\s]+:(\d+)/.exec(text);
      if (match !== null) resolve(Number(match[1]));
    }
    reject(new Error(`server exited: ${text}`));
  })();
});

function rssKiB(): number {
  const status = Deno.readTextFileSync(`/proc/${server.pid}/status`);
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
}

async function shortConnection(reset: boolean): Promise<void> {
  if (reset) {
    await new Promise<void>((resolve) => {
      const socket = net.connect(port, "127.0.0.1", () => {
        socket.write(LINE, () => {
          socket.resetAndDestroy();
          resolve();
        });
      });
      socket.on("error", () => resolve());
    });
    return;
  }
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(LINE);
  } finally {
    conn.close();
  }
}

async function churn(total: number): Promise<number> {
  let started = 0;
  const begin = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (started < total) {
      const n = started++;
      await shortConnection(n % 10 === 9);
    }
  }));
  return total / ((performance.now() - begin) / 1000);
}

const mb = (kib: number): string => (kib / 1024).toFixed(1);
console.log(`server RSS at start: ${mb(rssKiB())} MB`);
for (let round = 1; round <= ROUNDS; round++) {
  const rate = await churn(CONNECTIONS);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  console.log(
    `round ${round}: ${CONNECTIONS} connections at ${rate.toFixed(0)}/s; ` +
      `server RSS ${mb(rssKiB())} MB`,
  );
}
await new Promise((resolve) => setTimeout(resolve, IDLE_S * 1000));
console.log(`after ${IDLE_S} s idle: server RSS ${mb(rssKiB())} MB`);

await connectAndReset(port, RESETS);
const seen = new Promise<void>((resolve) => marked = resolve);
const sent = performance.now();
const conn = await Deno.connect({ hostname: "127.0.0.1", port });
await conn.write(new TextEncoder().encode(`${MARK}\n`));
conn.close();
await seen;
console.log(
  `after ${RESETS} resets before accept: a normal client's line written in ` +
    `${(performance.now() - sent).toFixed(1)} ms`,
);
server.kill("SIGTERM");
await server.status;
