/**
 * Test helpers for the network tests: an in-memory output, a collecting log,
 * a seeded PRNG, bounded waits, and small socket chores (read to the end,
 * write and close, a port with nobody listening). Every wait has a deadline
 * and fails with a message saying what it was waiting for.
 *
 * @module
 */

import net from "node:net";
import type { ByteWriter, ChunkSink } from "../../lib/io/types.ts";
import { closeQuietly } from "../../lib/io/close_quietly.ts";
import { concatBytes } from "../../lib/io/concat_bytes.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** How long a wait may take before it fails the test, unless told. */
export const WAIT_TIMEOUT_MS = 10_000;
/** Pause between two looks at a condition. */
const POLL_MS = 10;

/** Encodes text as UTF-8. */
export function bytes(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Joins byte arrays. */
export const concat = concatBytes;

/** A ByteWriter that keeps everything written to it, like a file in memory. */
export class MemoryWriter implements ByteWriter {
  #parts: Uint8Array[] = [];

  write(chunk: Uint8Array): Promise<number> {
    // Copied: the writer's caller reuses its buffers.
    this.#parts.push(chunk.slice());
    return Promise.resolve(chunk.length);
  }

  /** Everything written so far. */
  bytes(): Uint8Array {
    return concat(this.#parts);
  }

  /** Everything written so far, as UTF-8 text. */
  text(): string {
    return decoder.decode(this.bytes());
  }
}

/** A ChunkSink that keeps what it is given, like stderr in memory. */
export class LogSink implements ChunkSink {
  #text = "";

  write(chunk: string | Uint8Array): void {
    this.#text += typeof chunk === "string" ? chunk : decoder.decode(chunk);
  }

  /** Everything written so far. */
  text(): string {
    return this.#text;
  }
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `condition` until it holds; fails with `what` (and `detail()`, if
 * given) after `timeoutMs`.
 */
export async function waitFor(
  what: string,
  condition: () => boolean | Promise<boolean>,
  detail: () => string = () => "",
  timeoutMs = WAIT_TIMEOUT_MS,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) {
      const more = detail();
      throw new Error(
        `Timed out after ${timeoutMs} ms waiting for ${what}${more ? `:\n${more}` : ""}`,
      );
    }
    await sleep(POLL_MS);
  }
}

/** Settles like `promise`, or rejects with `what` after `ms`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** A seeded PRNG (mulberry32): the same seed gives the same sequence. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A whole number from `min` to `max`, both included. */
export function randomInt(random: () => number, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}

/** Writes all of `data`. */
export async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < data.length) offset += await conn.write(data.subarray(offset));
}

/** Reads until the peer half-closes (or closes); at most `limit` bytes. */
export async function readToEnd(conn: Deno.Conn, limit = 16 * 1024 * 1024): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const buffer = new Uint8Array(65536);
  let total = 0;
  while (true) {
    const n = await conn.read(buffer);
    if (n === null) return concat(parts);
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

/** Closes a connection or listener that may already be closed. */
export { closeQuietly };

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

/** A loopback port that nothing listens on (bound, read back, released). */
export function unusedPort(hostname = "127.0.0.1"): number {
  const listener = Deno.listen({ hostname, port: 0, transport: "tcp" });
  const { port } = listener.addr;
  listener.close();
  return port;
}

/** A test name that, for a test ignored on this host, says why, since the
 * runner itself only says "ignored". */
export function nameUnless(skipReason: string | null, name: string): string {
  return skipReason === null ? name : `${name} (skipped: ${skipReason})`;
}

/** Why IPv6 loopback tests cannot run here, or null when they can. */
export function noIPv6Reason(): string | null {
  return canListenOn("::1") ? null : "cannot bind ::1 on this host (no IPv6 loopback)";
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

/** Connects after shutdown began: the connection must fail or be closed
 * unserved (a connect racing the listener's close may be reset instead of
 * refused). */
export async function assertNotServed(port: number, hostname = "127.0.0.1"): Promise<void> {
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
  try {
    const n = await withTimeout(
      conn.read(new Uint8Array(1)).catch((error) => {
        if (error instanceof Deno.errors.ConnectionReset) return null;
        throw error;
      }),
      WAIT_TIMEOUT_MS,
      "a connection made after shutdown to be closed",
    );
    if (n !== null) throw new Error("A connection made after shutdown was served");
  } finally {
    conn.close();
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

/** Fails if `stderr` shows a stack trace or an uncaught error, which users
 * should never see. */
export function assertNoCrash(stderr: string): void {
  if (/^\s+at /m.test(stderr) || stderr.includes("error: Uncaught")) {
    throw new Error(`stderr shows a crash:\n${stderr}`);
  }
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
