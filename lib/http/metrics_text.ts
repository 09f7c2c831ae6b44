/**
 * `GET /metrics`: a snapshot of the server's state ({@linkcode MetricsSnapshot})
 * as Prometheus's text exposition format (version 0.0.4), by one pure
 * function, {@linkcode metricsText}. Each family has its `# HELP` and
 * `# TYPE` lines before its samples; counters end in `_total`, times are in
 * seconds and sizes in bytes, as Prometheus's naming rules ask. Label values
 * are escaped (backslash, double quote, newline) and so is help text
 * (backslash, newline).
 *
 * @module
 */

import type { DisconnectReason, RefusalReason, ServerStats } from "../server/mod.ts";

/** The `Content-Type` of the text format. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Counts of observations by upper bound, as a histogram has them. */
export interface HistogramSnapshot {
  /** Upper bounds in seconds, ascending (without +Inf). */
  readonly bounds: readonly number[];
  /** Observations at or below each bound (cumulative), one per bound. */
  readonly cumulative: readonly number[];
  /** Every observation. */
  readonly count: number;
  /** The sum of every observation, in seconds. */
  readonly sum: number;
}

/** A sink's state, for a server that also sends its records to a broker
 * (`--sink`): whoever runs the sink fills it in. */
export interface SinkSnapshot {
  /** The sink, as the start-up line names it (a URL without credentials). */
  readonly name: string;
  /** Whether it takes records now (false while it retries a failure). */
  readonly up: boolean;
  /** Bytes of records accepted and not yet confirmed by the broker. */
  readonly pendingBytes: number;
  /** Messages the broker confirmed. */
  readonly delivered: number;
  /** Messages sent again after a failure (each may be stored twice). */
  readonly resent: number;
}

/** What `/metrics` shows: the server's totals and the state around them. */
export interface MetricsSnapshot {
  readonly version: string;
  readonly node: string;
  readonly run: string;
  /** When the server started listening, in ms since the epoch. */
  readonly startedAt: number;
  /** How many Workers accept (1: the main thread alone). */
  readonly workers: number;
  readonly stats: ServerStats;
  /** Whether new clients are taken (false while the output stalls or the
   * server drains). */
  readonly accepting: boolean;
  /** Whether a shutdown has begun. */
  readonly draining: boolean;
  /** Output bytes accepted and not yet written. */
  readonly outputPendingBytes: number;
  /** Whether a failed output write is being retried (a full disk). */
  readonly outputStalled: boolean;
  /** How long the output's writes took. */
  readonly writeSeconds: HistogramSnapshot;
  /** The process's resident memory, in bytes. */
  readonly residentBytes: number;
  /** CPU time the process has used, user and system, in seconds. */
  readonly cpuSeconds: number;
  /** Live-page subscribers now, and those dropped for not reading. */
  readonly tailSubscribers: number;
  readonly tailDropped: number;
  /** The broker sink, when one is configured. */
  readonly sink?: SinkSnapshot;
}

/** The counter of each refusal reason in {@linkcode ServerStats}. A new
 * reason fails the type check here until it is given its counter. */
const REFUSALS: Record<RefusalReason, keyof ServerStats> = {
  denied: "refusedDenied",
  full: "refusedFull",
  "per-ip": "refusedPerIp",
  tls: "refusedTls",
  proxy: "refusedProxy",
};

type Labels = Readonly<Record<string, string>>;
type Sample = readonly [labels: Labels, value: number];

/** Escapes a label value: backslash, double quote and newline. */
function labelValue(text: string): string {
  return text.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

/** Escapes help text: backslash and newline. */
function helpText(text: string): string {
  return text.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
}

/** A sample value: integers as they are, `+Inf` for infinity. */
function value(number: number): string {
  if (number === Infinity) return "+Inf";
  if (number === -Infinity) return "-Inf";
  return Number.isNaN(number) ? "NaN" : String(number);
}

function labelsText(labels: Labels): string {
  const pairs = Object.entries(labels).map(([name, text]) => `${name}="${labelValue(text)}"`);
  return pairs.length === 0 ? "" : `{${pairs.join(",")}}`;
}

/** One family: its help, its type and its samples. */
function family(
  name: string,
  type: "counter" | "gauge",
  help: string,
  samples: readonly Sample[],
): string {
  return `# HELP ${name} ${helpText(help)}\n# TYPE ${name} ${type}\n` +
    samples.map(([labels, number]) => `${name}${labelsText(labels)} ${value(number)}\n`).join("");
}

function histogram(name: string, help: string, snapshot: HistogramSnapshot): string {
  const buckets = snapshot.bounds.map((bound, i) =>
    `${name}_bucket{le="${value(bound)}"} ${snapshot.cumulative[i] ?? 0}\n`
  );
  return `# HELP ${name} ${helpText(help)}\n# TYPE ${name} histogram\n` + buckets.join("") +
    `${name}_bucket{le="+Inf"} ${snapshot.count}\n` +
    `${name}_sum ${value(snapshot.sum)}\n${name}_count ${snapshot.count}\n`;
}

const flag = (on: boolean): number => on ? 1 : 0;

/**
 * The snapshot in Prometheus's text format, families in a fixed order.
 *
 * @example
 * ```ts
 * import { metricsText } from "./metrics_text.ts";
 * import { emptyStats } from "../server/mod.ts";
 * import assert from "node:assert/strict";
 *
 * const text = metricsText({
 *   version: "0.1.0", node: "web-3", run: "3f2a9c0e7d1b5a68", startedAt: 0, workers: 1,
 *   stats: { ...emptyStats(), lines: 12 }, accepting: true, draining: false,
 *   outputPendingBytes: 0, outputStalled: false,
 *   writeSeconds: { bounds: [0.001], cumulative: [0], count: 0, sum: 0 },
 *   residentBytes: 1, cpuSeconds: 0.5, tailSubscribers: 0, tailDropped: 0,
 * });
 * assert.match(text, /^# TYPE linehub_lines_total counter\nlinehub_lines_total 12$/m);
 * ```
 */
export function metricsText(snapshot: MetricsSnapshot): string {
  const { stats } = snapshot;
  const refusals = (Object.entries(REFUSALS) as Array<[RefusalReason, keyof ServerStats]>)
    .map(([reason, field]): Sample => [{ reason }, stats[field] as number]);
  const disconnects = (Object.entries(stats.disconnects) as Array<[DisconnectReason, number]>)
    .map(([reason, count]): Sample => [{ reason }, count]);
  const parts = [
    family("linehub_info", "gauge", "The server's version, node name and run id; always 1.", [
      [{ version: snapshot.version, node: snapshot.node, run: snapshot.run }, 1],
    ]),
    family(
      "linehub_start_time_seconds",
      "gauge",
      "When the server started listening, in seconds since the epoch.",
      [[{}, snapshot.startedAt / 1000]],
    ),
    family("linehub_workers", "gauge", "Workers accepting clients (1: the main thread alone).", [
      [{}, snapshot.workers],
    ]),
    family("linehub_accepting", "gauge", "1 while new clients are taken, else 0.", [
      [{}, flag(snapshot.accepting)],
    ]),
    family("linehub_draining", "gauge", "1 once a shutdown has begun, else 0.", [
      [{}, flag(snapshot.draining)],
    ]),
    family("linehub_clients_connected", "gauge", "Clients connected now.", [
      [{}, stats.connected],
    ]),
    family("linehub_clients_total", "counter", "Clients served since the start.", [
      [{}, stats.clients],
    ]),
    family("linehub_lines_total", "counter", "Lines written to the output.", [[{}, stats.lines]]),
    family("linehub_received_bytes_total", "counter", "Bytes received from clients.", [
      [{}, stats.bytes],
    ]),
    family(
      "linehub_truncated_lines_total",
      "counter",
      "Lines cut at --max-line.",
      [[{}, stats.truncated]],
    ),
    family(
      "linehub_partial_lines_total",
      "counter",
      "Last lines without a newline, written when their connection ended.",
      [[{}, stats.partial]],
    ),
    family(
      "linehub_refused_total",
      "counter",
      "Connections refused before they became clients, by reason.",
      refusals,
    ),
    family(
      "linehub_disconnects_total",
      "counter",
      "Clients disconnected, by the reason of their disconnect event.",
      disconnects,
    ),
    family(
      "linehub_send_queue_drops_total",
      "counter",
      "Clients dropped because their send queue was full (they stopped reading).",
      [[{}, stats.dropped]],
    ),
    family(
      "linehub_rate_limited_clients_total",
      "counter",
      "Clients held back at least once for being over --rate-limit.",
      [[{}, stats.throttled]],
    ),
    family(
      "linehub_rate_limited_seconds_total",
      "counter",
      "Time clients were held back by --rate-limit, added up over all of them.",
      [[{}, stats.throttledMs / 1000]],
    ),
    family(
      "linehub_framing_errors_total",
      "counter",
      "Octet-counted streams that broke their framing and were read on as lines ending in LF.",
      [[{}, stats.framingErrors]],
    ),
    family(
      "linehub_aborted_before_accept_total",
      "counter",
      "Connections reset or aborted in the listen queue, before the server accepted them.",
      [[{}, stats.abortedBeforeAccept]],
    ),
    family(
      "linehub_output_pending_bytes",
      "gauge",
      "Output bytes accepted and not yet written.",
      [[{}, snapshot.outputPendingBytes]],
    ),
    family(
      "linehub_output_stalled",
      "gauge",
      "1 while a failed output write is retried (a full disk), else 0.",
      [[{}, flag(snapshot.outputStalled)]],
    ),
    histogram(
      "linehub_output_write_seconds",
      "How long each write to the output (stdout or --output) took.",
      snapshot.writeSeconds,
    ),
    family(
      "linehub_http_tail_subscribers",
      "gauge",
      "Live pages following the tail now.",
      [[{}, snapshot.tailSubscribers]],
    ),
    family(
      "linehub_http_tail_dropped_total",
      "counter",
      "Live pages dropped because they did not read their events.",
      [[{}, snapshot.tailDropped]],
    ),
    family(
      "process_cpu_seconds_total",
      "counter",
      "Total user and system CPU time spent in seconds.",
      [[{}, snapshot.cpuSeconds]],
    ),
    family(
      "process_resident_memory_bytes",
      "gauge",
      "Resident memory size in bytes.",
      [[{}, snapshot.residentBytes]],
    ),
  ];
  const sink = snapshot.sink;
  if (sink !== undefined) {
    const labels = { sink: sink.name };
    parts.push(
      family("linehub_sink_up", "gauge", "1 while the sink takes records, else 0.", [
        [labels, flag(sink.up)],
      ]),
      family("linehub_sink_pending_bytes", "gauge", "Record bytes the broker has not confirmed.", [
        [labels, sink.pendingBytes],
      ]),
      family("linehub_sink_delivered_total", "counter", "Messages the broker confirmed.", [
        [labels, sink.delivered],
      ]),
      family(
        "linehub_sink_resent_total",
        "counter",
        "Messages sent again after a failure; each may be stored twice.",
        [[labels, sink.resent]],
      ),
    );
  }
  return parts.join("");
}
