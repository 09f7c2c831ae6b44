/**
 * Socket chores for the network tests: connect, write all, read to the end,
 * a loopback port with nobody listening, peers that reset or are never
 * answered, and the check that a server no longer serves a port.
 *
 * @module
 */

import net from "node:net";
import { closeQuietly } from "../../lib/io/close_quietly.ts";
import { concatBytes } from "../../lib/io/concat_bytes.ts";
import { writeAll } from "../../lib/io/write_all.ts";
import { formatHostPort } from "../../lib/net/address.ts";
import { bytes } from "./memory.ts";
import { waitFor } from "./wait.ts";

/** Writes all of `data`; the one the program itself uses (a Deno.Conn is a ByteWriter). */
export { writeAll };

/** Closes a connection or listener that may already be closed. */
export { closeQuietly };

/** Reads until the peer half-closes (or closes); at most `limit` bytes. */
export async function readToEnd(conn: Deno.Conn, limit = 16 * 1024 * 1024): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const buffer = new Uint8Array(65536);
  let total = 0;
  while (true) {
    const n = await conn.read(buffer);
    if (n === null) return concatBytes(parts);
    parts.push(buffer.slice(0, n));
    total += n;
    if (total > limit) throw new Error(`Peer sent more than ${limit} bytes`);
  }
}

/** Reads until at least `count` bytes have arrived; rejects at EOF first. */
export async function readExactly(conn: Deno.Conn, count: number): Promise<Uint8Array> {
  const out = new Uint8Array(count);
  let filled = 0;
  while (filled < count) {
    const n = await conn.read(out.subarray(filled));
    if (n === null) throw new Error(`EOF after ${filled} of ${count} bytes`);
    filled += n;
  }
  return out;
}

/** Time for bytes a peer has already sent to cross the loopback: a bound on
 * delivery, for checking that nothing was sent once the sender has
 * certainly reached the point where it would have sent it. */
export const LOOPBACK_MS = 100;

/** Connects to `hostname:port` over TCP. */
export function connectTo(port: number, hostname = "127.0.0.1"): Promise<Deno.TcpConn> {
  return Deno.connect({ hostname, port, transport: "tcp" });
}

/** Connects, sends `data`, and closes. */
export async function sendAndClose(
  port: number,
  data: string | Uint8Array,
  hostname = "127.0.0.1",
): Promise<void> {
  const conn = await connectTo(port, hostname);
  try {
    await writeAll(conn, typeof data === "string" ? bytes(data) : data);
  } finally {
    conn.close();
  }
}

/** A loopback port that nothing listens on: bound, read back and released,
 * so free a moment ago. */
export function freePort(hostname = "127.0.0.1"): number {
  const listener = Deno.listen({ hostname, port: 0, transport: "tcp" });
  const { port } = listener.addr;
  listener.close();
  return port;
}

/** How many sockets listen on TCP `port` (one for each Worker of a pool
 * sharing it), on the IPv4 address `hostname` if given (another program may
 * listen on the same port on another address), on any address otherwise.
 * Read from the kernel's socket table, which Deno opens only with
 * --allow-all, or else from `ss` (iproute2); null where neither can be
 * read. Looking connects to nothing, so it does not use up a one-shot
 * listener's only client. */
export async function listenerCount(port: number, hostname?: string): Promise<number | null> {
  return await listenersInProcTable(port, hostname) ?? await listenersBySs(port, hostname);
}

async function listenersInProcTable(port: number, hostname?: string): Promise<number | null> {
  const hex = (value: number, digits: number): string =>
    value.toString(16).toUpperCase().padStart(digits, "0");
  // The table shows an IPv4 address as one number in the host's byte order
  // (little-endian on the machines this runs on): 127.0.0.1 is 0100007F.
  const address = hostname === undefined
    ? ""
    : hostname.split(".").reverse().map((part) => hex(Number(part), 2)).join("");
  const local = `${address}:${hex(port, 4)}`;
  let seen = false;
  let count = 0;
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = await Deno.readTextFile(table);
    } catch {
      continue;
    }
    seen = true;
    for (const line of text.split("\n").slice(1)) {
      const [, where, , state] = line.trim().split(/\s+/);
      // State 0A is LISTEN.
      const matches = address === "" ? where?.endsWith(local) : where === local;
      if (matches && state === "0A") count++;
    }
  }
  return seen ? count : null;
}

async function listenersBySs(port: number, hostname?: string): Promise<number | null> {
  let stdout: Uint8Array;
  try {
    const result = await new Deno.Command("ss", {
      args: ["-Hltn", `sport = :${port}`],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).output();
    if (!result.success) return null;
    stdout = result.stdout;
  } catch {
    return null; // not installed, or not allowed to run
  }
  // State, Recv-Q, Send-Q, then the local address: 127.0.0.1:8888.
  const locals = new TextDecoder().decode(stdout).split("\n")
    .map((line) => line.trim().split(/\s+/)[3])
    .filter((local) => local !== undefined);
  return hostname === undefined
    ? locals.length
    : locals.filter((local) => local === `${hostname}:${port}`).length;
}

/** Whether a listener can be bound on `hostname` (e.g. `::1` on a host
 * without IPv6). */
export function canListenOn(hostname: string): boolean {
  try {
    Deno.listen({ hostname, port: 0, transport: "tcp" }).close();
    return true;
  } catch {
    return false;
  }
}

/**
 * Connects to a server that must not take new clients (shutting down,
 * paused, holding off while its output is stuck) and fails if it serves
 * this one. Refused, reset (a connect racing the listener's close may be
 * reset instead of refused), or accepted and closed without a byte is not
 * served. In log mode the server sends a client nothing, so the socket alone
 * cannot tell a served connection from one about to be closed: `log`, the
 * server's log so far, decides, since serving a client starts with its
 * connect event, and a served connection fails at once rather than by
 * timing out.
 */
export async function assertNotServed(
  port: number,
  log: () => string,
  hostname = "127.0.0.1",
): Promise<void> {
  let conn: Deno.TcpConn;
  try {
    conn = await connectTo(port, hostname);
  } catch (error) {
    if (
      error instanceof Deno.errors.ConnectionRefused ||
      error instanceof Deno.errors.ConnectionReset
    ) return;
    throw error;
  }
  const from = formatHostPort(conn.localAddr.hostname, conn.localAddr.port);
  const served = new RegExp(`^client \\d+ .*connected from ${RegExp.escape(from)}( |$)`, "m");
  let closed = false;
  const reading = conn.read(new Uint8Array(1)).then((n) => n, (error) => {
    if (error instanceof Deno.errors.ConnectionReset) return null;
    throw error;
  }).finally(() => closed = true);
  try {
    await waitFor(
      "a connection made after shutdown to be closed",
      () => closed || served.test(log()),
      () => `the server's log:\n${log()}`,
    );
    const event = served.exec(log());
    if (event !== null) {
      throw new Error(`A connection made after shutdown was served: ${event[0]}`);
    }
    if (await reading !== null) throw new Error("A connection made after shutdown was served");
  } finally {
    conn.close();
    // Settled by now, or by the close: only its outcome above matters.
    await reading.catch(() => {});
  }
}

/**
 * A listener that never accepts and whose queue is full, so that new
 * connects get no answer (Linux drops the SYN), as with a black-holed host.
 * Connects until one goes unanswered for 300 ms; returns the listener and the
 * queued connections, for the caller to close.
 */
export async function unansweringListener(): Promise<{
  listener: Deno.TcpListener;
  queued: Deno.TcpConn[];
}> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0, tcpBacklog: 1 });
  const { port } = listener.addr;
  const queued: Deno.TcpConn[] = [];
  for (let i = 0; i < 16; i++) {
    try {
      queued.push(
        await Deno.connect({ hostname: "127.0.0.1", port, signal: AbortSignal.timeout(300) }),
      );
    } catch (error) {
      if (error instanceof Error && error.name === "TimeoutError") return { listener, queued };
      queued.forEach(closeQuietly);
      listener.close();
      throw error;
    }
  }
  queued.forEach(closeQuietly);
  listener.close();
  throw new Error(`The listen queue did not fill after ${queued.length} connections`);
}

/**
 * Connects and resets (SO_LINGER 0, through node:net's `resetAndDestroy`),
 * `count` times one after another, as fast as the loopback allows: a server
 * whose accept loop is behind finds most of them gone before it accepts.
 */
export async function connectAndReset(
  port: number,
  count: number,
  hostname = "127.0.0.1",
): Promise<void> {
  for (let i = 0; i < count; i++) {
    await new Promise<void>((resolve) => {
      const socket = net.connect(port, hostname, () => {
        socket.resetAndDestroy();
        resolve();
      });
      socket.on("error", () => resolve());
    });
  }
}
