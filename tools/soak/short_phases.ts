/**
 * The phases of short connections that follow the load, one after the
 * other with the server idle: resets before accept first, while nothing
 * else waits in its queue, then the churn.
 *
 * @module
 */

import { forkRandom } from "../seeded_random.ts";
import { churnPhase, type ChurnReport, NO_CHURN } from "./churn_phase.ts";
import { type BurstReport, earlyResetPhase } from "./early_reset_phase.ts";
import type { SoakOptions } from "./options.ts";
import type { ProbeContext } from "./probe.ts";

/** What the short-connection phases found. */
export interface ShortReport extends ChurnReport {
  readonly bursts: readonly BurstReport[];
}

/** The short-connection phases, one after the other, with the server idle:
 * resets before accept first, while nothing else waits in its queue. */
export async function shortPhases(
  ctx: ProbeContext,
  options: SoakOptions,
  random: () => number,
): Promise<ShortReport> {
  const bursts = options.earlyResets > 0
    ? await earlyResetPhase(ctx, options.earlyResets, forkRandom(random))
    : [];
  const churned = options.churn > 0
    ? await churnPhase(ctx, options.churn, forkRandom(random))
    : NO_CHURN;
  return { bursts, ...churned };
}
