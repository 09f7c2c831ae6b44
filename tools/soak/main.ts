/**
 * `deno task soak`: a bounded reliability run that mixes every fault the
 * server and the client are meant to survive, under a steady load, and ends
 * with one verdict line. It starts `server.ts` as a real process (JSON Lines
 * to a file, `--ack`, `--idle-timeout 2`, `--max-line 4096`) and N real
 * `client.ts --ack --retry forever` processes fed numbered lines on stdin at
 * a steady pace. Meanwhile, on a schedule drawn from a seeded PRNG, it kills
 * the server with SIGKILL and restarts it on the same port, stops it once
 * with SIGTERM mid-stream (long runs) and restarts it, rotates the output
 * (rename, SIGHUP), and opens raw connections that reset mid-line,
 * half-close and hold, stay silent until `--idle-timeout` closes them, flood
 * the listener with hundreds of connects, or send hostile bytes (random
 * binary, ESC/CSI/OSC, NUL, invalid UTF-8, lone CR, lines at and over
 * `--max-line`). When the load ends it closes the clients' stdin and waits
 * for them to exit. Then, with the server idle, come the short connections
 * (churn.ts): bursts of connects reset while the server is
 * stopped, so that each dies in its accept queue, each followed by an
 * ordinary client whose line is timed to the output; and two rounds of
 * thousands of one-line connections, half ending gracefully and half with a
 * reset, with the server's heap read after a full collection before, between
 * and after them (heap_gauge.ts, over the inspector the server runs
 * with). Last, it stops the server with SIGTERM while a few clients are
 * mid-stream, and judges (verdict.ts): every steady line in the
 * output at least once, every output line a whole JSON record with no raw
 * control byte, every fault and churned connection shown exactly as the
 * framing rules say, every client exiting 0, every server ending only as the
 * soak ended it, no internal error or stack trace on the server's stderr, the
 * server's RSS under a bound during the load, a line after a burst of resets
 * in the output within a second, and no heap kept for connections that
 * ended.
 *
 * Progress goes to stderr; the table of counts and the verdict line
 * (`soak: PASS (...)` or `soak: FAIL: ...`) go to stdout; exit status 0 or 1
 * (2 on bad usage). Every wait is bounded and every child is killed on the
 * way out. Run with `--allow-all`: it starts processes, writes a temporary
 * directory and reads the server's memory in `/proc`, which Deno allows only
 * with that flag.
 *
 * @module
 */

import { UsageError } from "../../lib/text/mod.ts";
import { describe, HOST, log, sleep, within } from "./_common.ts";
import { killAll, reapAll } from "./_children.ts";
import { count, plural } from "./_count.ts";
import { parseOptions, type SoakOptions, USAGE } from "./options.ts";
import { readOutput } from "./read_output.ts";
import { readRssKiB } from "./read_rss_kib.ts";
import { planPauses, planServerActions, runServerActions } from "./plan.ts";
import { SteadySender } from "./steady_sender.ts";
import { HEAP_GROWTH_BOUND_BYTES } from "./churn_phase.ts";
import { ACCEPT_LATENCY_BOUND_MS } from "./early_reset_phase.ts";
import { shortPhases, type ShortReport } from "./short_phases.ts";
import { DRAIN_CLIENTS, drainAndStop } from "./drain_and_stop.ts";
import { runFaultProbes } from "./fault_probes.ts";
import { emptyProbeCounts, type ProbeContext, type ProbeCounts } from "./probe.ts";
import { ServerControl } from "./server_control.ts";
import { analyzeOutput, judge, type OutputAnalysis, type ServerExit } from "./verdict.ts";
import { forkRandom, seededRandom } from "../seeded_random.ts";

/** How long the steady clients get to deliver their queues and exit once
 * their stdin is closed; their longest backoff after the restarts here is a
 * few seconds. */
const CLIENT_EXIT_TIMEOUT_MS = 60_000;
/** Beyond the duration, the time the soak may take before it is cut short. */
const OVERRUN_MS = 150_000;
// ---------------------------------------------------------------------------
// The run

function formatTable(rows: readonly (readonly [string, string])[]): string {
  const width = Math.max(...rows.map(([label]) => label.length));
  return rows.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`).join("\n");
}

interface Report {
  readonly options: SoakOptions;
  readonly output: OutputAnalysis;
  readonly server: ServerControl;
  readonly counts: ProbeCounts;
  readonly senders: readonly SteadySender[];
  readonly finalExit: ServerExit | null;
  readonly pauses: number;
  readonly short: ShortReport;
}

function table(report: Report): string {
  const { output, server, counts, finalExit } = report;
  const { steady, probes } = output;
  const rows: [string, string][] = [
    ["steady lines sent", `${count(steady.sent)} (${report.senders.length} clients)`],
    ["  delivered (records)", count(steady.delivered)],
    ["  distinct / missing", `${count(steady.unique)} / ${count(steady.missing)}`],
    ["  duplicates", count(steady.duplicates)],
    ["  partial fragments", count(steady.fragments)],
    [
      "  connections ended",
      Object.entries(steady.ends).map(([reason, n]) => `${reason} ${n}`).join(", ") || "-",
    ],
    ["  pauses > --idle-timeout", count(report.pauses)],
    ["  client retries", count(report.senders.reduce((sum, c) => sum + c.retries, 0))],
    ["server SIGKILL + restart", count(server.kills)],
    [
      "server SIGTERM + restart",
      `${count(server.terms)}${
        server.termCodes.length ? ` (exit ${server.termCodes.join(", ")})` : ""
      }`,
    ],
    ["records torn by SIGKILL", count(output.tornRecords)],
    ["output rotations", count(server.rotations)],
    ["output files / lines", `${output.files} / ${count(output.lines)}`],
    ["bad JSON / control bytes", `${output.badJson} / ${output.controlBytes}`],
    [
      "resets mid-line",
      `${counts.reset} (server saw ${probes.resetsSeen} resets, ` +
      `${probes.resetPartials} partial lines flagged, ${probes.lostUnread} tails unread)`,
    ],
    ["half-open peers", count(counts["half-open"])],
    ["idle clients", `${counts.idle} (${probes.idleClosed} closed by --idle-timeout)`],
    [
      "connect floods",
      `${counts.flood} (${count(counts.floodConnects)} connects, best ` +
      `${count(Math.round(counts.floodBestRate))}/s)`,
    ],
    ["hostile clients", count(counts.hostile)],
    ["drain clients", `${counts.drain} (${counts.linesAfterSigterm} lines after SIGTERM)`],
    ...shortRows(report),
    [
      "fault connections",
      `${count(probes.checked)} checked, ${count(probes.waived)} waived (restart), ` +
      `${probes.failures} wrong`,
    ],
    [
      "peak server RSS",
      `${(server.peakRssKiB / 1024).toFixed(1)} MiB (bound ${report.options.rssLimitMb} MiB)`,
    ],
    [
      "final server exit",
      finalExit === null ? "none (killed)" : finalExit.signal ?? String(finalExit.code),
    ],
  ];
  return formatTable(rows);
}

/** The short phases' part of the PASS line: the figures the two verdicts
 * are on. */
function shortSummary(short: ShortReport): string {
  let text = "";
  const latencies = short.bursts.map((b) => b.latencyMs ?? Infinity);
  if (latencies.length > 0) {
    const resets = short.bursts.reduce((sum, b) => sum + b.resets, 0);
    text += `, ${count(resets)} resets before accept (line after: at most ` +
      `${count(Math.round(Math.max(...latencies)))} ms)`;
  }
  const growth = short.heapGrowth;
  if (growth !== null) {
    const churned = short.rounds.reduce((sum, r) => sum + r.connections, 0);
    const perConnection = (growth.afterBytes - growth.beforeBytes) / growth.connections;
    text += `, ${count(churned)} churned connections (heap ` +
      `${plural(Math.round(perConnection), "byte")} each)`;
  }
  return text;
}

/** The table's rows for the resets before accept and the churn. */
function shortRows(report: Report): [string, string][] {
  const { bursts, rounds, idleHeapBytes, idleRssKiB, heapGrowth } = report.short;
  const rows: [string, string][] = [];
  const mb = (bytes: number): string => (bytes / 2 ** 20).toFixed(1);
  if (bursts.length > 0) {
    const resets = bursts.reduce((sum, b) => sum + b.resets, 0);
    const failures = bursts.reduce((sum, b) => sum + b.acceptFailures, 0);
    rows.push([
      "resets before accept",
      `${count(resets)} of ${count(report.options.earlyResets)} in ${
        plural(bursts.length, "burst")
      }` +
      `${resets < report.options.earlyResets ? ", stopped at a late line" : ""} (${
        count(report.output.probes.neverAccepted)
      } never accepted; ${count(failures)} "accept failed" lines from the server)`,
    ]);
    rows.push([
      "  line after each burst",
      bursts.map((b) =>
        b.latencyMs === null ? `> ${count(b.waitedMs)}` : count(Math.round(b.latencyMs))
      )
        .join(" / ") + ` ms (bound ${count(ACCEPT_LATENCY_BOUND_MS)} ms)`,
    ]);
  }
  if (rounds.length > 0) {
    const total = rounds.reduce((sum, r) => sum + r.connections, 0);
    const resets = rounds.reduce((sum, r) => sum + r.reset, 0);
    const ms = rounds.reduce((sum, r) => sum + r.ms, 0);
    rows.push([
      "churn connections",
      `${count(total)} in ${rounds.length} rounds (${count(total - resets)} graceful, ` +
      `${count(resets)} reset; ${count(Math.round(total / (ms / 1000)))}/s)`,
    ]);
    rows.push([
      "  server heap at idle",
      [idleHeapBytes ?? 0, ...rounds.map((r) => r.heapBytes)].map(mb).join(" -> ") +
      " MiB after a full collection",
    ]);
    if (heapGrowth !== null) {
      const perConnection = (heapGrowth.afterBytes - heapGrowth.beforeBytes) /
        heapGrowth.connections;
      rows.push([
        "  heap growth, last round",
        `${plural(Math.round(perConnection), "byte")} per connection ` +
        `(bound ${HEAP_GROWTH_BOUND_BYTES})`,
      ]);
    }
    rows.push([
      "  server RSS at idle",
      [idleRssKiB ?? 0, ...rounds.map((r) => r.rssKiB)].map((kib) => mb(kib * 1024)).join(" -> ") +
      ` MiB (peak during the churn ${
        mb(Math.max(...rounds.map((r) => r.peakRssKiB)) * 1024)
      } MiB, not judged)`,
    ]);
  }
  return rows;
}

async function runSoak(options: SoakOptions): Promise<number> {
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
      console.log(
        `soak: PASS (${count(output.steady.sent)} steady lines all delivered, ` +
          `${count(output.steady.duplicates)} duplicates; ${
            server.kills + server.terms
          } restarts, ` +
          `${server.rotations} rotations, ${counts.reset} resets, ${counts.flood} floods, ` +
          `${counts.hostile} hostile clients${shortSummary(short)}; peak RSS ${
            (server.peakRssKiB / 1024).toFixed(0)
          } MiB)`,
      );
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

async function main(args: string[]): Promise<number> {
  let options;
  try {
    options = parseOptions(args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`soak: ${error.message}\n\n${USAGE.trimEnd()}`);
    return 2;
  }
  if (options === "help") {
    console.log(USAGE.trimEnd());
    return 0;
  }
  // A soak that hangs is a failure too, and must not leave processes behind.
  const limit = options.duration * 1000 + OVERRUN_MS;
  const watchdog = setTimeout(() => {
    killAll();
    console.log(`soak: FAIL: the soak did not finish within ${limit / 1000} s`);
    Deno.exit(1);
  }, limit);
  const onInterrupt = (): void => {
    killAll();
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", onInterrupt);
  Deno.addSignalListener("SIGTERM", onInterrupt);
  try {
    return await runSoak(options);
  } finally {
    clearTimeout(watchdog);
    Deno.removeSignalListener("SIGINT", onInterrupt);
    Deno.removeSignalListener("SIGTERM", onInterrupt);
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
