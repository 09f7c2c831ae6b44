/**
 * What every connection the soak makes besides its steady senders shares:
 * the context it runs in (the server, the counts, the list of what the
 * output must show), {@linkcode probe}, which connects, runs a body and
 * closes, and the filing of each finished connection as a
 * {@linkcode ProbeExpectation} for the verdict; a connection that a server
 * restart overlapped is filed as waived, since the server promises nothing
 * for raw connections it was killed under.
 *
 * @module
 */

import { closeQuietly } from "../../lib/io/close_quietly.ts";
import { concatBytes as concat } from "../../lib/io/concat_bytes.ts";
import { writeAll } from "../../lib/io/write_all.ts";
import { describe, HOST, PROBE_IO_TIMEOUT_MS } from "./_common.ts";
import { count } from "./_count.ts";
import type { ShortConnection } from "./churn.ts";
import { MAX_LINE, type ServerControl } from "./server_control.ts";
import { expectedMessages, type ProbeExpectation, type ProbeKind } from "./verdict.ts";

const encoder = new TextEncoder();

/** Counts for the table. */
export interface ProbeCounts {
  reset: number;
  "half-open": number;
  idle: number;
  flood: number;
  hostile: number;
  drain: number;
  floodConnects: number;
  floodBestRate: number;
  /** Connects that failed while the server was up. */
  connectErrors: number;
  /** Lines the drain clients sent after the final SIGTERM. */
  linesAfterSigterm: number;
}

/** Counts at the start of a run: all zero. */
export function emptyProbeCounts(): ProbeCounts {
  return {
    reset: 0,
    "half-open": 0,
    idle: 0,
    flood: 0,
    hostile: 0,
    drain: 0,
    floodConnects: 0,
    floodBestRate: 0,
    connectErrors: 0,
    linesAfterSigterm: 0,
  };
}

/** What every fault connection shares. */
export interface ProbeContext {
  readonly server: ServerControl;
  readonly expectations: ProbeExpectation[];
  readonly errors: string[];
  readonly counts: ProbeCounts;
}

/** What a probe's body reports about the bytes it sent. */
export interface ProbeRecord {
  /** Everything written, in order. */
  readonly sent: Uint8Array[];
  send(conn: Deno.Conn, bytes: Uint8Array): Promise<void>;
}

/** What a probe is, for the verdict: its kind, its name in reports, how it
 * must end. */
export interface ProbeShape {
  readonly kind: ProbeKind;
  readonly name: string;
  readonly reasons: readonly string[];
  readonly mayLoseUnread: boolean;
}

/**
 * Connects, runs `body`, closes, and files what the output must show. A
 * probe that overlapped a server restart is filed as waived: the server
 * promises nothing for raw connections it was killed under.
 */
export async function probe(
  ctx: ProbeContext,
  shape: ProbeShape,
  body: (conn: Deno.TcpConn, record: ProbeRecord) => Promise<void>,
): Promise<void> {
  const epoch = ctx.server.epoch;
  const startMs = Date.now();
  const record: ProbeRecord = {
    sent: [],
    async send(conn, bytes): Promise<void> {
      // Recorded first: bytes half written may still have reached the server.
      this.sent.push(bytes);
      await writeAll(conn, bytes);
    },
  };
  let conn: Deno.TcpConn;
  try {
    conn = await Deno.connect({
      hostname: HOST,
      port: ctx.server.port,
      transport: "tcp",
      signal: AbortSignal.timeout(PROBE_IO_TIMEOUT_MS),
    });
  } catch (error) {
    connectFailed(ctx, shape, epoch, error);
    return;
  }
  let failure: string | null = null;
  try {
    await body(conn, record);
  } catch (error) {
    failure = describe(error);
  } finally {
    closeQuietly(conn);
  }
  fileProbe(ctx, shape, {
    epoch,
    startMs,
    endMs: Date.now(),
    port: conn.localAddr.port,
    sent: record.sent,
    failure,
  });
}

/** A connect that failed while the server was up is a failure of its own. */
export function connectFailed(
  ctx: ProbeContext,
  shape: ProbeShape,
  epoch: number,
  error: unknown,
): void {
  if (epoch === ctx.server.epoch && epoch % 2 === 0) {
    ctx.counts.connectErrors++;
    ctx.errors.push(`${shape.name}: connect failed while the server was up: ${describe(error)}`);
  }
}

/** How one fault connection went. */
export interface ProbeRun {
  /** The server's epoch when it began. */
  readonly epoch: number;
  readonly startMs: number;
  readonly endMs: number;
  /** Its local port. */
  readonly port: number;
  readonly sent: readonly Uint8Array[];
  /** What went wrong on the soak's side, or null. */
  readonly failure: string | null;
}

/** Files what the output must show for a finished fault connection; one
 * that overlapped a restart is filed as waived. */
export function fileProbe(ctx: ProbeContext, shape: ProbeShape, run: ProbeRun): void {
  const restarted = run.epoch % 2 === 1 || ctx.server.epoch !== run.epoch;
  if (run.failure !== null && !restarted) ctx.errors.push(`${shape.name}: ${run.failure}`);
  const bytes = concat(run.sent);
  ctx.expectations.push({
    ...shape,
    port: run.port,
    startMs: run.startMs,
    endMs: run.endMs,
    sentBytes: bytes.length,
    expected: expectedMessages(bytes, MAX_LINE),
    waived: restarted ? "a server restart overlapped it" : null,
  });
}

/** How each short connection must show in the output. */
function shortShape(conn: ShortConnection, name: string): ProbeShape {
  switch (conn.kind) {
    case "graceful":
      return { kind: "churn", name, reasons: ["eof"], mayLoseUnread: false };
    case "reset":
      // Reset only once its line was acknowledged: nothing can be unread.
      return { kind: "churn", name, reasons: ["reset"], mayLoseUnread: false };
    case "early-reset":
      return { kind: "early-reset", name, reasons: ["reset"], mayLoseUnread: false };
  }
}

/**
 * Files short connections like fault connections, except that their
 * failures on the soak's side are summed up in one line: thousands of
 * connections failing alike are one problem.
 */
export function fileShort(
  ctx: ProbeContext,
  phase: string,
  epoch: number,
  conns: readonly { readonly conn: ShortConnection; readonly name: string }[],
): void {
  const failures: string[] = [];
  const restarted = (): boolean => epoch % 2 === 1 || ctx.server.epoch !== epoch;
  for (const { conn, name } of conns) {
    if (conn.failure !== null) failures.push(`${name}: ${conn.failure}`);
    if (conn.port === 0) continue; // never connected: nothing to look for
    fileProbe(ctx, shortShape(conn, name), {
      epoch,
      startMs: conn.startMs,
      endMs: conn.endMs,
      port: conn.port,
      sent: conn.sent === "" ? [] : [encoder.encode(conn.sent)],
      failure: null,
    });
  }
  if (failures.length > 0 && !restarted()) {
    ctx.errors.push(
      `${phase}: ${count(failures.length)} of ${count(conns.length)} connections failed on ` +
        `the soak's side (first: ${failures.slice(0, 3).join("; ")})`,
    );
  }
}
