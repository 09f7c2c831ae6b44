/**
 * Short connections for the soak (`tools/soak/`), by the thousand: the
 * churn, where each connection sends one line and ends, gracefully or with a
 * reset, and bursts of connects that reset before the server accepts them.
 * A server that keeps something for every connection that ended, or that
 * stalls when a connection dies in its accept queue, only shows it under
 * this many connections; a soak's few hundred fault connections miss both.
 *
 * Nothing here judges: each function reports what it did, connection by
 * connection (its local port, when, what it sent), and the soak files that
 * against the server's output.
 *
 * @module
 */

import net from "node:net";
import { closeQuietly } from "../../lib/io/close_quietly.ts";
import { writeAll } from "../../lib/io/write_all.ts";
import { AckParser } from "../../lib/wire/ack_protocol.ts";
import { describe, HOST, letters, PROBE_IO_TIMEOUT_MS, sleep } from "./_common.ts";
import { readToClose } from "./read_to_end.ts";

/** How a short connection ended: `graceful` half-closes and reads to the
 * server's close; `reset` waits for its line's acknowledgment, then resets;
 * `early-reset` resets as soon as it is connected, sending nothing. */
export type ShortKind = "graceful" | "reset" | "early-reset";

/** One short connection, as its side saw it. */
export interface ShortConnection {
  readonly kind: ShortKind;
  /** Its local port: the `port` field of its records; 0 if it never
   * connected. */
  readonly port: number;
  /** Wall-clock milliseconds before connecting and after closing. */
  readonly startMs: number;
  readonly endMs: number;
  /** What it wrote, newline included; empty for an early reset. */
  readonly sent: string;
  /** What went wrong on the soak's side, or null. */
  readonly failure: string | null;
}

/** What {@linkcode churn} is to do. */
export interface ChurnOptions {
  /** Connections to make. */
  readonly count: number;
  /** Starts every line, so that each line names its connection. */
  readonly tag: string;
  /** Picks graceful or reset, and each line's length. */
  readonly random: () => number;
  /** No connection starts after this `performance.now()`: the churn is
   * bounded in time as well as in count. */
  readonly deadline: number;
  /** Connections open at once. @default {50} */
  readonly concurrency?: number;
}

/** Connections a churn keeps open at once: enough to keep the server's
 * accept loop and the connection ends overlapping, few enough that the
 * soak's side is not the bottleneck on two cores. */
const CHURN_CONCURRENCY = 50;

/** How often the output file is looked at while a line is awaited: fine
 * enough against a bound of a second. */
const OUTPUT_POLL_MS = 5;

const encoder = new TextEncoder();

/**
 * Makes `options.count` short connections to `port`, each sending one line
 * (`<tag>.<i> <letters>`), about half of them ending gracefully and half
 * with a reset once the line is acknowledged (the server must run with
 * `--ack`). Waiting for the acknowledgment makes the line certain to be in
 * the output, so the soak can demand every churned line, and the reset
 * certain to reach a server that has read everything, so that it ends the
 * connection with `reset`.
 */
export async function churn(port: number, options: ChurnOptions): Promise<ShortConnection[]> {
  const { count, tag, random, deadline } = options;
  // Drawn up front, so that the same seed gives the same connections
  // whatever order they finish in.
  const plan = Array.from({ length: count }, (_, i) => ({
    kind: random() < 0.5 ? "graceful" as const : "reset" as const,
    text: `${tag}.${i} ${letters(random, 4, 40)}\n`,
  }));
  const done: ShortConnection[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < plan.length && performance.now() < deadline) {
      const { kind, text } = plan[next++] as (typeof plan)[number];
      done.push(kind === "graceful" ? await graceful(port, text) : await resetAfterAck(port, text));
    }
  };
  await Promise.all(
    Array.from({ length: options.concurrency ?? CHURN_CONCURRENCY }, worker),
  );
  return done;
}

/**
 * Opens `count` connections to `port` at once and resets each as soon as
 * its handshake completes. The kernel completes the handshake and queues
 * the connection for `accept()` whatever the server is doing, so a reset
 * that comes before the server gets to it leaves a dead connection in the
 * queue, for which `accept()` fails. Whether it comes before is a race with
 * the server's accept loop, unless the server is held still meanwhile.
 */
export function resetBurst(port: number, count: number): Promise<ShortConnection[]> {
  return Promise.all(Array.from({ length: count }, () => resetOnConnect(port)));
}

/** A line sent after a burst, and how long it took to reach the output. */
export interface TimedLine extends ShortConnection {
  /** Milliseconds from just before connecting until the line was in the
   * output file, or null if it was not there within the time allowed. */
  readonly latencyMs: number | null;
}

/**
 * Connects to `port`, sends `text` (one line, no newline), and watches the
 * file at `outPath` for it, for at most `timeoutMs`; then half-closes and
 * reads to the server's close, a graceful end. The file is read from where
 * it ended before the connect, so a large output costs nothing.
 */
export async function timedLine(
  port: number,
  outPath: string,
  text: string,
  timeoutMs: number,
): Promise<TimedLine> {
  const file = await Deno.open(outPath);
  try {
    const from = (await file.stat()).size;
    const began = performance.now();
    let latencyMs: number | null = null;
    const conn = await graceful(port, text + "\n", async () => {
      if (await appears(file, from, text, began + timeoutMs)) {
        latencyMs = performance.now() - began;
      }
    });
    return { ...conn, latencyMs };
  } finally {
    file.close();
  }
}

/** Whether `text` shows up in `file` after byte `from` before `deadline`
 * (a `performance.now()`). */
async function appears(
  file: Deno.FsFile,
  from: number,
  text: string,
  deadline: number,
): Promise<boolean> {
  const decoder = new TextDecoder();
  const buffer = new Uint8Array(65536);
  await file.seek(from, Deno.SeekMode.Start);
  // The end of what was read last, so that a line cut between two reads is
  // still found.
  let tail = "";
  while (true) {
    const n = await file.read(buffer);
    if (n !== null) {
      const seen = tail + decoder.decode(buffer.subarray(0, n), { stream: true });
      if (seen.includes(text)) return true;
      tail = seen.slice(-text.length);
      continue;
    }
    if (performance.now() >= deadline) return false;
    await sleep(OUTPUT_POLL_MS);
  }
}

/** Connect, one line, half-close, read to the server's close; `sent`, if
 * given, runs once the line is written and before the half-close. */
async function graceful(
  port: number,
  text: string,
  sent?: () => Promise<void>,
): Promise<ShortConnection> {
  const startMs = Date.now();
  let conn: Deno.TcpConn;
  try {
    conn = await Deno.connect({
      hostname: HOST,
      port,
      signal: AbortSignal.timeout(PROBE_IO_TIMEOUT_MS),
    });
  } catch (error) {
    return failedConnect("graceful", startMs, error);
  }
  let failure: string | null = null;
  try {
    await writeAll(conn, encoder.encode(text));
    await sent?.();
    await conn.closeWrite();
    // Reading the acknowledgment too leaves nothing unread, so the close
    // that follows is not a reset.
    if (!(await readToClose(conn, PROBE_IO_TIMEOUT_MS))) {
      failure = "server did not close after the input ended";
    }
  } catch (error) {
    failure = describe(error);
  } finally {
    closeQuietly(conn);
  }
  return {
    kind: "graceful",
    port: conn.localAddr.port,
    startMs,
    endMs: Date.now(),
    sent: text,
    failure,
  };
}

/**
 * Connect, one line, wait for its acknowledgment, reset. A `node:net`
 * socket, because its `resetAndDestroy()` closes with SO_LINGER 0, a real
 * reset; Deno's own `close()` would send the end of the stream first.
 */
function resetAfterAck(port: number, text: string): Promise<ShortConnection> {
  return new Promise((resolve) => {
    const startMs = Date.now();
    const parser = new AckParser();
    const socket = net.connect({ host: HOST, port });
    let localPort = 0;
    let sent = "";
    let settled = false;
    const finish = (failure: string | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (!socket.destroyed) socket.resetAndDestroy();
      resolve({ kind: "reset", port: localPort, startMs, endMs: Date.now(), sent, failure });
    };
    const timer = setTimeout(
      () => finish(localPort === 0 ? "connect timed out" : "line not acknowledged in time"),
      PROBE_IO_TIMEOUT_MS,
    );
    // An "error" event without a listener would throw out of the event loop.
    socket.on("error", (error) => {
      finish(localPort === 0 ? `connect failed: ${describe(error)}` : describe(error));
    });
    socket.once("connect", () => {
      localPort = socket.localPort ?? 0;
      sent = text; // before the write: half a write may still reach the server
      socket.write(encoder.encode(text));
    });
    socket.on("data", (chunk: Uint8Array) => {
      try {
        parser.push(chunk, () => {}, () => {});
      } catch (error) {
        finish(`bad acknowledgment: ${describe(error)}`);
        return;
      }
      if (parser.acknowledged >= 1) finish(null);
    });
  });
}

/** Connect and reset at once: no data, no end of stream. */
function resetOnConnect(port: number): Promise<ShortConnection> {
  return new Promise((resolve) => {
    const startMs = Date.now();
    const socket = net.connect({ host: HOST, port });
    let settled = false;
    const finish = (localPort: number, failure: string | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (!socket.destroyed) socket.resetAndDestroy();
      resolve({
        kind: "early-reset",
        port: localPort,
        startMs,
        endMs: Date.now(),
        sent: "",
        failure,
      });
    };
    const timer = setTimeout(() => finish(0, "connect timed out"), PROBE_IO_TIMEOUT_MS);
    socket.on("error", (error) => finish(0, `connect failed: ${describe(error)}`));
    socket.once("connect", () => finish(socket.localPort ?? 0, null));
  });
}

function failedConnect(kind: ShortKind, startMs: number, error: unknown): ShortConnection {
  return {
    kind,
    port: 0,
    startMs,
    endMs: Date.now(),
    sent: "",
    failure: `connect failed: ${describe(error)}`,
  };
}
