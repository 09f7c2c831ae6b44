/**
 * Resets before accept: bursts of connects reset while the server is
 * stopped, so that each dies in its accept queue, each burst followed by an
 * ordinary client whose line is timed to the output. A server that stalls
 * on a failed accept shows it here as a late line.
 *
 * @module
 */

import { letters, log, sleep } from "./_common.ts";
import { resetBurst, type ShortConnection, timedLine } from "./churn.ts";
import {
  connectFailed,
  fileProbe,
  fileShort,
  type ProbeContext,
  type ProbeShape,
} from "./probe.ts";
import type { AcceptLatency } from "./verdict.ts";

/** Connects per burst of resets before accept. Each burst lands while the
 * server is stopped (SIGSTOP), so that every reset comes before the accept:
 * left to race the accept loop, bursts of 200 against an idle server had
 * none of their resets land first in 6 tries out of 6, and bursts of 400
 * from 24 to 128. A server that pauses 100 ms per failed accept takes 20 s
 * to get through a burst. */
const EARLY_RESET_BURST = 200;

/** How long the server stays stopped after the last reset of a burst was
 * sent, so that the kernel has handled every one before it runs again. */
const BURST_SETTLE_MS = 50;

/**
 * The most an ordinary client's line may take to reach the output after a
 * burst of resets before accept. A server that goes straight on to the next
 * connection gets the line out in 7 to 62 ms (measured, during a full soak);
 * one that pauses 100 ms for each failed accept takes 20 s after a burst of
 * 200. A second leaves room for a loaded machine and is still short of what
 * a user would call a stall; ten failed accepts at 100 ms already exceed it.
 */
export const ACCEPT_LATENCY_BOUND_MS = 1000;

/** How long the line after a burst is waited for before the soak gives up
 * on it: long enough for a server that pauses 100 ms per failure to get
 * through a whole burst (20 s), so the report says how late the line was. */
const AFTER_BURST_TIMEOUT_MS = 30_000;

const encoder = new TextEncoder();

/** One burst of resets before accept, as the table shows it. */
export interface BurstReport extends AcceptLatency {
  /** "accept failed" lines the server wrote meanwhile. */
  readonly acceptFailures: number;
}

/** "accept failed" lines in a server's stderr. */
function acceptFailures(stderr: string): number {
  return stderr.split("accept failed").length - 1;
}

/**
 * Bursts of connects reset before the server accepts them, each followed by
 * an ordinary client whose line is timed to the output. The server is
 * stopped while a burst lands, as a busy or descheduled server would be, so
 * that every reset is in before its accept. It stops after the first late
 * line: that is the evidence, and every further burst would cost as long
 * again.
 */
export async function earlyResetPhase(
  ctx: ProbeContext,
  total: number,
  random: () => number,
): Promise<BurstReport[]> {
  const reports: BurstReport[] = [];
  for (let burst = 1, done = 0; done < total; burst++) {
    const server = ctx.server.current;
    if (server === null || server.done) {
      ctx.errors.push("resets before accept: no server to run them against");
      break;
    }
    const size = Math.min(EARLY_RESET_BURST, total - done);
    done += size;
    const epoch = ctx.server.epoch;
    const port = ctx.server.port;
    const failedBefore = acceptFailures(server.stderr);
    server.signal("SIGSTOP");
    let resets: ShortConnection[];
    try {
      resets = await resetBurst(port, size);
      await sleep(BURST_SETTLE_MS);
    } finally {
      server.signal("SIGCONT");
    }
    // Connected after the whole burst, the line's connection is behind all of
    // it in the accept queue: once the line is out, the server has been
    // through every connection of the burst.
    const text = `after-burst ${burst} ${letters(random, 8, 30)}`;
    const line = await timedLine(port, ctx.server.outPath, text, AFTER_BURST_TIMEOUT_MS);
    const report: BurstReport = {
      resets: size,
      latencyMs: line.latencyMs,
      waitedMs: AFTER_BURST_TIMEOUT_MS,
      acceptFailures: acceptFailures(server.stderr) - failedBefore,
    };
    reports.push(report);
    fileShort(
      ctx,
      `reset burst ${burst}`,
      epoch,
      resets.map((conn, i) => ({ conn, name: `early-reset#${burst}.${i}` })),
    );
    const shape: ProbeShape = {
      kind: "after-burst",
      name: `after-burst#${burst}`,
      reasons: ["eof"],
      mayLoseUnread: false,
    };
    if (line.port === 0) {
      connectFailed(ctx, shape, epoch, line.failure);
    } else {
      fileProbe(ctx, shape, {
        epoch,
        startMs: line.startMs,
        endMs: line.endMs,
        port: line.port,
        sent: [encoder.encode(line.sent)],
        failure: line.failure,
      });
    }
    log(
      `burst ${burst}: ${size} connects reset before accept; server logged ` +
        `${report.acceptFailures} accept failures; a line after it took ${
          line.latencyMs === null
            ? `over ${AFTER_BURST_TIMEOUT_MS} ms`
            : `${Math.round(line.latencyMs)} ms`
        }`,
    );
    if (line.latencyMs === null || line.latencyMs > ACCEPT_LATENCY_BOUND_MS) break;
  }
  return reports;
}
