/**
 * Tests of the `/metrics` text: what each family says, and that Prometheus's
 * own checker (`promtool check metrics`, Debian's `prometheus` package)
 * accepts it, names, help, types and escaping included.
 *
 * @module
 */

import assert from "node:assert/strict";
import { emptyStats } from "../../lib/server/stats.ts";
import { type MetricsSnapshot, metricsText } from "../../lib/http/metrics_text.ts";
import { nameUnless, runProgram } from "../_helpers/mod.ts";

/** A snapshot with something in every family, and a sink whose name needs
 * escaping. */
function busySnapshot(): MetricsSnapshot {
  const stats = {
    ...emptyStats(),
    clients: 7,
    connected: 2,
    lines: 1200,
    bytes: 98765,
    truncated: 3,
    partial: 4,
    refusedDenied: 1,
    refusedTls: 2,
    refusedProxy: 6,
    dropped: 1,
    abortedBeforeAccept: 5,
    throttled: 2,
    throttledMs: 1500,
    framingErrors: 8,
  };
  stats.disconnects = { ...stats.disconnects, eof: 3, "send-queue-full": 1, "idle-timeout": 1 };
  return {
    version: "0.1.0",
    node: "web-3",
    run: "3f2a9c0e7d1b5a68",
    startedAt: 1_795_000_000_500,
    workers: 1,
    stats,
    accepting: true,
    draining: false,
    outputPendingBytes: 4096,
    outputStalled: false,
    writeSeconds: { bounds: [0.001, 0.01, 1], cumulative: [5, 9, 10], count: 11, sum: 2.5 },
    residentBytes: 50_000_000,
    cpuSeconds: 1.25,
    tailSubscribers: 1,
    tailDropped: 2,
    sink: {
      name: 'redis://host:6379/a"b\\c\nd',
      up: false,
      pendingBytes: 10,
      delivered: 100,
      resent: 3,
    },
  };
}

/** The sample lines (not comments) of `text`, as "name{labels} value". */
function samples(text: string): string[] {
  return text.split("\n").filter((line) => line !== "" && !line.startsWith("#"));
}

Deno.test("metricsText gives each family its HELP and TYPE before its samples, counters ending in _total", () => {
  const text = metricsText(busySnapshot());
  assert.ok(text.endsWith("\n"));
  const lines = text.split("\n");
  const declared = new Map<string, string>();
  for (const [i, line] of lines.entries()) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type === null) continue;
    assert.match(lines[i - 1] ?? "", new RegExp(`^# HELP ${type[1]} \\S`));
    declared.set(type[1] as string, type[2] as string);
  }
  for (const [name, type] of declared) {
    if (type === "counter") assert.match(name, /_total$/, name);
    else assert.doesNotMatch(name, /_total$/, name);
  }
  for (const sample of samples(text)) {
    const name = /^[a-z_]+/.exec(sample)?.[0] ?? "";
    const family = name.replace(/_(bucket|sum|count)$/, "");
    assert.ok(declared.has(name) || declared.get(family) === "histogram", sample);
  }
});

Deno.test("metricsText counts clients, lines, refusals and disconnects by reason", () => {
  const lines = samples(metricsText(busySnapshot()));
  for (
    const expected of [
      'linehub_info{version="0.1.0",node="web-3",run="3f2a9c0e7d1b5a68"} 1',
      "linehub_start_time_seconds 1795000000.5",
      "linehub_clients_connected 2",
      "linehub_clients_total 7",
      "linehub_lines_total 1200",
      "linehub_received_bytes_total 98765",
      "linehub_truncated_lines_total 3",
      "linehub_partial_lines_total 4",
      'linehub_refused_total{reason="denied"} 1',
      'linehub_refused_total{reason="full"} 0',
      'linehub_refused_total{reason="tls"} 2',
      'linehub_refused_total{reason="proxy"} 6',
      'linehub_disconnects_total{reason="eof"} 3',
      'linehub_disconnects_total{reason="send-queue-full"} 1',
      'linehub_disconnects_total{reason="drain-timeout"} 0',
      "linehub_send_queue_drops_total 1",
      "linehub_rate_limited_clients_total 2",
      "linehub_rate_limited_seconds_total 1.5",
      "linehub_framing_errors_total 8",
      "linehub_output_pending_bytes 4096",
      "linehub_output_stalled 0",
      "linehub_accepting 1",
      "process_cpu_seconds_total 1.25",
    ]
  ) assert.ok(lines.includes(expected), expected);
});

Deno.test("metricsText gives the write times as a cumulative histogram ending at +Inf", () => {
  const lines = samples(metricsText(busySnapshot()))
    .filter((line) => line.startsWith("linehub_output_write_seconds"));
  assert.deepEqual(lines, [
    'linehub_output_write_seconds_bucket{le="0.001"} 5',
    'linehub_output_write_seconds_bucket{le="0.01"} 9',
    'linehub_output_write_seconds_bucket{le="1"} 10',
    'linehub_output_write_seconds_bucket{le="+Inf"} 11',
    "linehub_output_write_seconds_sum 2.5",
    "linehub_output_write_seconds_count 11",
  ]);
});

Deno.test("metricsText escapes a label value's backslash, quote and newline, and leaves out the sink when there is none", () => {
  const text = metricsText(busySnapshot());
  assert.ok(
    samples(text).includes('linehub_sink_up{sink="redis://host:6379/a\\"b\\\\c\\nd"} 0'),
  );
  const { sink: _, ...withoutSink } = busySnapshot();
  assert.doesNotMatch(metricsText(withoutSink), /linehub_sink/);
});

/** `promtool`, Prometheus's own checker, or null when it is not installed. */
async function promtool(): Promise<string | null> {
  try {
    await runProgram("promtool", ["--version"]);
    return "promtool";
  } catch {
    return null;
  }
}

const checker = await promtool();

Deno.test({
  name: nameUnless(
    checker === null ? "promtool not installed (Debian package prometheus)" : null,
    "promtool check metrics accepts the /metrics text, with and without a sink, and finds nothing to lint",
  ),
  ignore: checker === null,
  async fn(): Promise<void> {
    const { sink: _, ...withoutSink } = busySnapshot();
    for (const snapshot of [busySnapshot(), withoutSink]) {
      const result = await runProgram("promtool", ["check", "metrics"], metricsText(snapshot));
      assert.equal(result.code, 0, result.stdout + result.stderr);
      // Lint findings (a counter without _total, a bad unit) are printed
      // even when the text parses.
      assert.equal((result.stdout + result.stderr).trim(), "");
    }
  },
});
