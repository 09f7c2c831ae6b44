/**
 * What a pending TLS handshake costs the server: the real `server.ts` is
 * started with TLS (throwaway certificates, made with `openssl` as the tests
 * make them), N connections are opened that never finish their handshake,
 * and the server's RSS above its baseline is divided by N. The same with a
 * plain TCP server is the yardstick.
 *
 * Scenarios, each on a fresh server:
 * - `plain`: plain TCP, N connections that send nothing;
 * - `tls-silent`: TLS, N connections that send nothing (never start the
 *   handshake);
 * - `tls-hello`: TLS, H connections that each send a ClientHello and then
 *   nothing (the handshake started; the server has answered and waits).
 *   Fewer than N by default: the server must answer them all within its
 *   10 s handshake deadline, and one thread answers a few hundred to a
 *   thousand a second.
 *
 * The RSS is read once every connection is accepted (`tls-hello`: once each
 * has had the server's answer, or its close), and divided by the connections
 * the server holds then, counted in /proc/PID/fd: those it refused, or closed
 * at its 10 s handshake deadline, are not counted.
 *
 * Usage: deno run -A bench/tls_handshake_memory.ts [--connections N]
 * [--hellos H] [--only plain,tls-silent,tls-hello] [-- SERVER_FLAG...]; the
 * flags after `--` go to the TLS servers (e.g. `-- --max-handshakes 0`); the
 * plain one, the yardstick, runs as started by default.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  clientHello,
  type ServerProcess,
  sleep,
  startServer,
  testCertificates,
} from "../tests/_helpers/mod.ts";
import { writeAll } from "../lib/io/write_all.ts";
import { closeQuietly } from "../lib/io/close_quietly.ts";

const SCENARIOS = ["plain", "tls-silent", "tls-hello"] as const;
type Scenario = typeof SCENARIOS[number];

/** The server's handshake deadline: waiting longer for connections to be
 * accepted would see the first ones closed. */
const HANDSHAKE_DEADLINE_MS = 10_000;
/** How long the count of accepted connections may stand still before the
 * rest are taken to be lost. */
const STALLED_MS = 1000;
/** Connects in flight at once, well under the server's listen queue. */
const CONNECT_BATCH = 256;
/** Time given to the server after the last connect before reading its RSS,
 * so that what it allocates per connection is in place. */
const SETTLE_MS = 500;

interface Result {
  scenario: Scenario;
  opened: number;
  /** Connections the server had open at the reading (not refused, not
   * timed out). */
  held: number;
  baselineKb: number;
  loadedKb: number;
  seconds: number;
}

/** RSS of a process, in KiB (the server's Workers are threads of it). */
function rssKb(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
}

/** Open file descriptors of a process: a connection it accepted is one. */
function openFds(pid: number): number {
  let count = 0;
  for (const _ of Deno.readDirSync(`/proc/${pid}/fd`)) count++;
  return count;
}

/** One complete TLS session, so that what the first handshake loads is in
 * the baseline and not charged to the connections. */
async function warmUp(port: number, caCert: string): Promise<void> {
  const conn = await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: [caCert] });
  await conn.handshake();
  await conn.closeWrite();
  try {
    while (await conn.read(new Uint8Array(64)) !== null) { /* until the server closes */ }
  } catch {
    // The server closes without a close_notify; the session is done either way.
  }
  closeQuietly(conn);
}

async function openConnections(port: number, count: number): Promise<Deno.TcpConn[]> {
  const conns: Deno.TcpConn[] = [];
  for (let i = 0; i < count; i += CONNECT_BATCH) {
    const made = await Promise.allSettled(
      Array.from(
        { length: Math.min(CONNECT_BATCH, count - i) },
        () => Deno.connect({ hostname: "127.0.0.1", port, signal: AbortSignal.timeout(5000) }),
      ),
    );
    for (const result of made) if (result.status === "fulfilled") conns.push(result.value);
  }
  return conns;
}

/** Sends the ClientHello on each connection and waits for the server's
 * first answer (or its close). */
async function startHandshakes(conns: Deno.TcpConn[], hello: Uint8Array): Promise<void> {
  await Promise.allSettled(conns.map(async (conn) => {
    await writeAll(conn, hello);
    await conn.read(new Uint8Array(1));
  }));
}

async function measure(
  scenario: Scenario,
  count: number,
  serverFlags: string[],
  hello: Uint8Array,
): Promise<Result> {
  const certs = await testCertificates();
  if (typeof certs === "string") throw new Error(`Cannot make certificates: ${certs}`);
  const tls = scenario !== "plain";
  const server: ServerProcess = await startServer([
    ...(tls
      ? ["--tls-cert", certs.server.cert, "--tls-key", certs.server.key, ...serverFlags]
      : []),
  ]);
  let conns: Deno.TcpConn[] = [];
  try {
    const pid = server.process.pid;
    if (tls) await warmUp(server.port, Deno.readTextFileSync(certs.ca.cert));
    await sleep(SETTLE_MS);
    const baselineKb = rssKb(pid);
    const fdsBefore = openFds(pid);
    const started = performance.now();
    conns = await openConnections(server.port, count);
    if (scenario === "tls-hello") {
      await startHandshakes(conns, hello);
    } else {
      // Until all are accepted, or no more are (one may have failed).
      let fds = openFds(pid);
      let changed = performance.now();
      while (fds < fdsBefore + conns.length) {
        const now = performance.now();
        if (now - started > HANDSHAKE_DEADLINE_MS || now - changed > STALLED_MS) break;
        await sleep(20);
        const next = openFds(pid);
        if (next !== fds) changed = performance.now();
        fds = next;
      }
    }
    await sleep(SETTLE_MS);
    const loadedKb = rssKb(pid);
    const held = openFds(pid) - fdsBefore;
    const seconds = (performance.now() - started) / 1000;
    return { scenario, opened: conns.length, held, baselineKb, loadedKb, seconds };
  } finally {
    for (const conn of conns) closeQuietly(conn);
    await server.stop();
  }
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]?.length ?? 0)));
  const line = (cells: string[]): string =>
    `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(" | ")} |`;
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

async function main(args: string[]): Promise<number> {
  const split = args.indexOf("--");
  const own = split < 0 ? args : args.slice(0, split);
  const serverFlags = split < 0 ? [] : args.slice(split + 1);
  let values;
  try {
    ({ values } = parseArgs({
      args: own,
      options: {
        connections: { type: "string", default: "5000" },
        hellos: { type: "string", default: "2000" },
        only: { type: "string", default: SCENARIOS.join(",") },
      },
    }));
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    return 2;
  }
  const count = Number(values.connections);
  const hellos = Number(values.hellos);
  for (const [flag, value] of [["connections", count], ["hellos", hellos]] as const) {
    if (!Number.isSafeInteger(value) || value < 1) {
      console.error(`Invalid --${flag} "${values[flag]}": must be a positive integer`);
      return 2;
    }
  }
  const chosen = values.only.split(",");
  for (const name of chosen) {
    if (!(SCENARIOS as readonly string[]).includes(name)) {
      console.error(`Invalid scenario "${name}": must be one of ${SCENARIOS.join(", ")}`);
      return 2;
    }
  }
  const hello = await clientHello();
  const rows: string[][] = [];
  for (const scenario of chosen as Scenario[]) {
    const r = await measure(
      scenario,
      scenario === "tls-hello" ? hellos : count,
      serverFlags,
      hello,
    );
    const grownKb = r.loadedKb - r.baselineKb;
    rows.push([
      r.scenario,
      String(r.opened),
      String(r.held),
      (r.baselineKb / 1024).toFixed(0),
      (r.loadedKb / 1024).toFixed(0),
      (grownKb / Math.max(1, r.held)).toFixed(1),
      r.seconds.toFixed(1),
    ]);
  }
  console.log(
    `\nTLS server flags: ${serverFlags.join(" ") || "(none)"}\n\n` +
      table(
        [
          "scenario",
          "opened",
          "held by server",
          "RSS before MB",
          "RSS after MB",
          "KB per held connection",
          "seconds",
        ],
        rows,
      ),
  );
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
