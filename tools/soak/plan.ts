/**
 * The soak's schedule, drawn from the seed: when the server is killed,
 * stopped with SIGTERM and rotated, and when a steady client falls silent
 * for longer than `--idle-timeout`; and the carrying out of the server's
 * part of it at the planned times.
 *
 * @module
 */

import { randomInt } from "../seeded_random.ts";
import { sleep } from "./_common.ts";
import { DRAIN_TIMEOUT_S, IDLE_TIMEOUT_S, type ServerControl } from "./server_control.ts";
import type { Pause } from "./steady_sender.ts";

/** When the server-side faults happen, in ms from the start. */
export interface ServerAction {
  readonly at: number;
  readonly action: "kill" | "term" | "rotate";
}

/** At least two SIGKILLs in runs of 30 s or more (one in shorter ones), one
 * mid-run SIGTERM from 30 s (the default run), and a rotation every 20 s or
 * so (at least two). */
export function planServerActions(random: () => number, durationMs: number): ServerAction[] {
  const kills = durationMs >= 30_000 ? Math.max(2, Math.floor(durationMs / 40_000)) : 1;
  const terms = durationMs >= 30_000 ? 1 : 0;
  const stops: ServerAction["action"][] = [
    ...Array<"kill">(kills).fill("kill"),
    ...Array<"term">(terms).fill("term"),
  ];
  // Shuffled, then spread evenly with some jitter, so that restarts do not
  // pile up and the clients' backoff stays short.
  for (let i = stops.length - 1; i > 0; i--) {
    const j = randomInt(random, 0, i);
    [stops[i], stops[j]] = [stops[j] as ServerAction["action"], stops[i] as ServerAction["action"]];
  }
  const slot = (durationMs * 0.85) / stops.length;
  const plan: ServerAction[] = stops.map((action, i) => ({
    at: Math.max(1500, durationMs * 0.05 + slot * (i + 0.25 + 0.5 * random())),
    action,
  }));
  const rotations = Math.max(2, Math.floor(durationMs / 20_000));
  for (let i = 0; i < rotations; i++) {
    plan.push({ at: durationMs * (0.05 + 0.85 * random()), action: "rotate" });
  }
  return plan.sort((a, b) => a.at - b.at);
}

/** Silences longer than `--idle-timeout` in the input of one steady client
 * (two from 20 s on), indexed by client. Each is placed away from the
 * planned kills and SIGTERMs, so that it is the server's idle timeout, not a
 * restart, that ends the client's connection. */
export function planPauses(
  random: () => number,
  clients: number,
  begin: number,
  durationMs: number,
  actions: readonly ServerAction[],
): (Pause | undefined)[] {
  const pauses = new Array<Pause | undefined>(clients);
  const ms = IDLE_TIMEOUT_S * 1000 + 1500;
  const stops = actions.filter((a) => a.action !== "rotate");
  // A SIGTERM keeps the server down for the drain timeout, a SIGKILL briefly.
  const clear = (at: number): boolean =>
    stops.every((stop) => {
      const downFor = stop.action === "term" ? DRAIN_TIMEOUT_S * 1000 + 2000 : 2000;
      return at + ms + 500 < stop.at || at > stop.at + downFor;
    });
  const count = Math.min(clients, durationMs >= 20_000 ? 2 : 1);
  for (let i = 0; i < count; i++) {
    const k = randomInt(random, 0, clients - 1);
    let at = 0;
    for (let attempt = 0; attempt < 50; attempt++) {
      at = durationMs * (0.05 + 0.6 * random());
      if (clear(at)) break;
    }
    pauses[k] = { at: begin + at, ms };
  }
  return pauses;
}

/** Carries out `plan`, each action at its time from `begin` (a
 * `performance.now()`). */
export async function runServerActions(
  server: ServerControl,
  plan: readonly ServerAction[],
  begin: number,
): Promise<void> {
  for (const { at, action } of plan) {
    const wait = begin + at - performance.now();
    if (wait > 0) await sleep(wait);
    if (action === "kill") await server.kill();
    else if (action === "term") await server.term();
    else await server.rotate();
  }
}
