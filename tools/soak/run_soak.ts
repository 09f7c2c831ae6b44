/**
 * One soak run, from the options to the exit status: start the server and
 * the steady clients, carry out the schedule and the fault connections
 * while the load lasts, then the short connections, then the final stop
 * with clients mid-stream; read the output back, judge it, and print the
 * table and the verdict line. Every child is killed on the way out.
 *
 * @module
 */

import { forkRandom, seededRandom } from "../seeded_random.ts";
import { describe, HOST, log, sleep, within } from "./_common.ts";
import { killAll, reapAll } from "./_children.ts";
import { HEAP_GROWTH_BOUND_BYTES } from "./churn_phase.ts";
import { DRAIN_CLIENTS, drainAndStop } from "./drain_and_stop.ts";
import { ACCEPT_LATENCY_BOUND_MS } from "./early_reset_phase.ts";
import { runFaultProbes } from "./fault_probes.ts";
import type { SoakOptions } from "./options.ts";
import { planPauses, planServerActions, runServerActions } from "./plan.ts";
import { emptyProbeCounts, type ProbeContext } from "./probe.ts";
import { readOutput } from "./read_output.ts";
import { readRssKiB } from "./read_rss_kib.ts";
import { passLine, type Report, table } from "./report.ts";
import { ServerControl } from "./server_control.ts";
import { shortPhases } from "./short_phases.ts";
import { SteadySender } from "./steady_sender.ts";
import { analyzeOutput, judge } from "./verdict.ts";

/** How long the steady clients get to deliver their queues and exit once
 * their stdin is closed; their longest backoff after the restarts here is a
 * few seconds. */
const CLIENT_EXIT_TIMEOUT_MS = 60_000;

/** Runs the soak; 0 on PASS, 1 on FAIL. */
export async function runSoak(options: SoakOptions): Promise<number> {
  // The RSS bound is part of the verdict: a run that cannot measure it must
  // not pass by reading nothing.
  try {
    readRssKiB("self");
  } catch (error) {
    console.log(
      `soak: FAIL: the soak could not run: Cannot read /proc/self/status to sample the ` +
        `server's RSS (Linux only; run with --allow-all): ${describe(error)}`,
    );
    return 1;
  }
  const random = seededRandom(options.seed);
  const dir = await Deno.makeTempDir({ prefix: "linehub-soak-" });
  const errors: string[] = [];
  const server = new ServerControl(`${dir}/out.jsonl`, errors);
  const counts = emptyProbeCounts();
  const ctx: ProbeContext = { server, expectations: [], errors, counts };
  const senders: SteadySender[] = [];
  let pass = false;
  try {
    log(
      `seed ${options.seed}, ${options.duration} s, ${options.clients} clients x ` +
        `${options.rate} lines/s; output in ${dir}`,
    );
    await server.start();
    log(`server 1 listening on ${HOST}:${server.port}`);
    for (let k = 0; k < options.clients; k++) senders.push(new SteadySender(k, server.port));
    const durationMs = options.duration * 1000;
    const begin = performance.now();
    const endAt = begin + durationMs;
    const plan = planServerActions(forkRandom(random), durationMs);
    const pauses = planPauses(forkRandom(random), senders.length, begin, durationMs, plan);
    const feeding = senders.map((sender, k) => sender.feed(options.rate, endAt, pauses[k] ?? null));
    const acting = runServerActions(server, plan, begin).catch((error) => {
      errors.push(`server fault schedule stopped: ${describe(error)}`);
    });
    // The clients finish as soon as their input ends, while the last fault
    // connections wind down: a pause at the end would be one more idle
    // timeout for each of them.
    const finishing = (async () => {
      await sleep(Math.max(0, endAt - performance.now()));
      const fed = await within(
        Promise.all(feeding).then(() => true),
        CLIENT_EXIT_TIMEOUT_MS,
        false,
      );
      if (!fed) errors.push("steady clients stopped reading their stdin");
      log(`load over; closing the steady clients' stdin`);
      return await Promise.all(senders.map((s) => s.finish(CLIENT_EXIT_TIMEOUT_MS)));
    })();
    const maxFloods = Math.max(1, Math.ceil(options.duration / 10));
    await runFaultProbes(ctx, forkRandom(random), endAt, maxFloods);
    // Forked after every other draw, so a seed gives the same schedule as
    // before these phases existed.
    const shortRandom = forkRandom(random);
    await acting;
    const codes = await finishing;
    senders.forEach((sender, k) => {
      if (sender.feedError !== null) errors.push(`feeding steady client ${k}: ${sender.feedError}`);
      if (codes[k] !== 0) {
        log(`steady client ${k} exited ${codes[k]}; stderr ends: ${sender.stderrTail.trim()}`);
      }
    });
    // The RSS bound is for the load. The churn's garbage lifts the RSS of
    // even a server that keeps nothing (to 125 MiB over 20,000 connections
    // without a forced collection), so it is judged by its heap instead.
    server.stopSampling();
    log("steady clients done; resets before accept, then the churn, with the server idle");
    const short = await shortPhases(ctx, options, shortRandom);
    log(`SIGTERM with ${DRAIN_CLIENTS} clients mid-stream`);
    const finalExit = server.current === null ? null : await drainAndStop(ctx);
    log(`server ${server.current?.generation} exited: ${finalExit?.code ?? "killed"}`);
    if (server.peakRssKiB === 0) errors.push("the server's RSS was never sampled");

    const files = await readOutput(server);
    const steadySent = senders.map((s) => s.sent);
    const output = analyzeOutput(files, { steadySent, probes: ctx.expectations });
    const verdict = judge({
      output,
      steadyExitCodes: codes,
      serverExits: server.exits,
      serverStderr: server.processes.map((p) => p.stderr).join("\n"),
      peakRssKiB: server.peakRssKiB,
      rssLimitKiB: options.rssLimitMb * 1024,
      acceptLatencies: short.bursts,
      acceptLatencyBoundMs: ACCEPT_LATENCY_BOUND_MS,
      heapGrowth: short.heapGrowth,
      heapGrowthBoundBytes: HEAP_GROWTH_BOUND_BYTES,
      runErrors: errors,
    });
    const report: Report = {
      options,
      output,
      server,
      counts,
      senders,
      finalExit,
      pauses: pauses.filter((p) => p !== undefined).length,
      short,
    };
    console.log(`linehub soak: seed ${options.seed}, ${options.duration} s, port ${server.port}`);
    console.log(table(report));
    pass = verdict.pass;
    if (pass) {
      console.log(passLine(report));
      return 0;
    }
    for (const reason of verdict.reasons) console.log(`  - ${reason}`);
    console.log(`  output kept in ${dir}; rerun with --seed ${options.seed}`);
    console.log(`soak: FAIL: ${verdict.reasons.slice(0, 3).join("; ")}`);
    return 1;
  } catch (error) {
    console.log(`  output kept in ${dir}; rerun with --seed ${options.seed}`);
    console.log(`soak: FAIL: the soak could not run: ${describe(error)}`);
    return 1;
  } finally {
    server.stopSampling();
    killAll();
    await reapAll();
    if (pass && !options.keep) await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
