/**
 * The churn: two rounds of thousands of one-line connections, half ending
 * gracefully and half with a reset, with the server otherwise idle and its
 * heap read after a full collection before, between and after them. What
 * the heap grows by per connection over the second round is what a server
 * keeps of connections that ended.
 *
 * @module
 */

import { describe, log, PROBE_IO_TIMEOUT_MS, sleep } from "./_common.ts";
import { churn, type ShortConnection } from "./churn.ts";
import { HeapGauge } from "./heap_gauge.ts";
import { fileShort, type ProbeContext } from "./probe.ts";
import { readRssKiB } from "./read_rss_kib.ts";
import type { HeapGrowth } from "./verdict.ts";

/** The longest one churn round may start connections for. */
const CHURN_ROUND_MS = 20_000;

/**
 * The most the server's heap may grow per connection over a churn round,
 * measured after a full collection. A server that keeps nothing of an ended
 * connection grows by 0 to 2 bytes per connection (measured with the leak
 * patched out in a scratch copy); the leak the churn was added for kept
 * about 190 bytes per connection of this mix (about 380 per graceful end,
 * which is half of them).
 */
export const HEAP_GROWTH_BOUND_BYTES = 100;

/** Wait after a churn round before the heap is read: the server ends each
 * connection a moment after the client's last step (a reset is noticed at
 * its next read). */
const CHURN_SETTLE_MS = 500;

/** One churn round, as the table shows it. */
export interface ChurnRound {
  readonly connections: number;
  readonly reset: number;
  readonly ms: number;
  /** The server's heap after a full collection, and its RSS, once the
   * round's connections had ended. */
  readonly heapBytes: number;
  readonly rssKiB: number;
  /** The highest RSS sampled during the round. */
  readonly peakRssKiB: number;
}

/** What the churn found. */
export interface ChurnReport {
  /** The server's heap and RSS at idle before the churn, if it ran. */
  readonly idleHeapBytes: number | null;
  readonly idleRssKiB: number | null;
  readonly rounds: readonly ChurnRound[];
  readonly heapGrowth: HeapGrowth | null;
}

/** The churn's part of the report when there was none. */
export const NO_CHURN: ChurnReport = {
  idleHeapBytes: null,
  idleRssKiB: null,
  rounds: [],
  heapGrowth: null,
};

/**
 * Two rounds of churn with the server otherwise idle, its heap read after a
 * full collection before, between and after them. The first round warms the
 * server up (code compiled and optimized, tables grown to the churn's
 * concurrency); the heap growth over the second is what the verdict judges:
 * what each connection that ended left behind.
 */
export async function churnPhase(
  ctx: ProbeContext,
  total: number,
  random: () => number,
): Promise<ChurnReport> {
  const server = ctx.server.current;
  if (server === null || server.done || server.inspectorUrl === null) {
    ctx.errors.push("churn: no server with an inspector to measure the heap of");
    return NO_CHURN;
  }
  let gauge: HeapGauge;
  try {
    gauge = await HeapGauge.connect(server.inspectorUrl, PROBE_IO_TIMEOUT_MS);
  } catch (error) {
    ctx.errors.push(`churn: Cannot measure the server's heap: ${describe(error)}`);
    return NO_CHURN;
  }
  // The session must be closed before the server is stopped, or it waits.
  await using _ = gauge;
  const epoch = ctx.server.epoch;
  const pid = server.child.pid;
  const idleHeapBytes = await gauge.usedAfterGc();
  const idleRssKiB = readRssKiB(pid);
  const rounds: ChurnRound[] = [];
  const first = Math.floor(total / 2);
  for (const [round, size] of [[1, first], [2, total - first]] as const) {
    const began = performance.now();
    let peakRssKiB = 0;
    const sampler = setInterval(() => {
      try {
        peakRssKiB = Math.max(peakRssKiB, readRssKiB(pid));
      } catch {
        // The server ended; the round's connections say so.
      }
    }, 250);
    let conns: ShortConnection[];
    try {
      conns = await churn(ctx.server.port, {
        count: size,
        tag: `c${round}`,
        random,
        deadline: began + CHURN_ROUND_MS,
      });
    } finally {
      clearInterval(sampler);
    }
    const ms = performance.now() - began;
    fileShort(
      ctx,
      `churn round ${round}`,
      epoch,
      conns.map((conn, i) => ({ conn, name: `churn#${round}.${i}` })),
    );
    await sleep(CHURN_SETTLE_MS);
    const heapBytes = await gauge.usedAfterGc();
    const rssKiB = readRssKiB(pid);
    rounds.push({
      connections: conns.length,
      reset: conns.filter((c) => c.kind === "reset").length,
      ms,
      heapBytes,
      rssKiB,
      peakRssKiB,
    });
    log(
      `churn round ${round}: ${conns.length} connections in ${Math.round(ms)} ms; server heap ` +
        `${(heapBytes / 2 ** 20).toFixed(1)} MiB after a full collection, RSS ${
          (rssKiB / 1024).toFixed(1)
        } MiB`,
    );
  }
  if (ctx.server.epoch !== epoch) {
    ctx.errors.push("churn: the server restarted during the churn; its heap growth says nothing");
    return { idleHeapBytes, idleRssKiB, rounds, heapGrowth: null };
  }
  const [warm, measured] = rounds as [ChurnRound, ChurnRound];
  return {
    idleHeapBytes,
    idleRssKiB,
    rounds,
    heapGrowth: {
      connections: measured.connections,
      beforeBytes: warm.heapBytes,
      afterBytes: measured.heapBytes,
    },
  };
}
