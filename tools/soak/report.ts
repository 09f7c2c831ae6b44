/**
 * The soak's report on stdout: the table of counts and, on PASS, the one
 * line that sums up what was proved. The reasons for a FAIL are the
 * verdict's (verdict.ts).
 *
 * @module
 */

import { count, plural } from "./_count.ts";
import { HEAP_GROWTH_BOUND_BYTES } from "./churn_phase.ts";
import { ACCEPT_LATENCY_BOUND_MS } from "./early_reset_phase.ts";
import type { SoakOptions } from "./options.ts";
import type { ProbeCounts } from "./probe.ts";
import type { ServerControl } from "./server_control.ts";
import type { ShortReport } from "./short_phases.ts";
import type { SteadySender } from "./steady_sender.ts";
import type { OutputAnalysis, ServerExit } from "./verdict.ts";

/** Rows of a label and a value, the labels padded to one width. */
function formatTable(rows: readonly (readonly [string, string])[]): string {
  const width = Math.max(...rows.map(([label]) => label.length));
  return rows.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`).join("\n");
}

/** What the table and the PASS line are made from. */
export interface Report {
  readonly options: SoakOptions;
  readonly output: OutputAnalysis;
  readonly server: ServerControl;
  readonly counts: ProbeCounts;
  readonly senders: readonly SteadySender[];
  readonly finalExit: ServerExit | null;
  readonly pauses: number;
  readonly short: ShortReport;
}

/** The table of counts. */
export function table(report: Report): string {
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

/** The verdict line of a run that passed: the figures it passed on. */
export function passLine(report: Report): string {
  const { output, server, counts, short } = report;
  return `soak: PASS (${count(output.steady.sent)} steady lines all delivered, ` +
    `${count(output.steady.duplicates)} duplicates; ${server.kills + server.terms} restarts, ` +
    `${server.rotations} rotations, ${counts.reset} resets, ${counts.flood} floods, ` +
    `${counts.hostile} hostile clients${shortSummary(short)}; peak RSS ${
      (server.peakRssKiB / 1024).toFixed(0)
    } MiB)`;
}
