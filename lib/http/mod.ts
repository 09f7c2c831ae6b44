/**
 * `--http`: what an operator and a load balancer see of a running server.
 * `HttpMonitor` serves the live page, its event stream (`LiveFeed`, the
 * server's line sampler), `/metrics` (Prometheus text from a snapshot,
 * `metricsText`) and `/healthz` (`HealthCheck`); `WriteLatency` times the
 * output's writes for the metrics. It reads the server through data (its
 * totals and client list) and the format part's `LineSampler`, and the
 * server knows nothing of it.
 *
 * @module
 */

export * from "./health_check.ts";
export * from "./http_monitor.ts";
export * from "./live_feed.ts";
export * from "./metrics_text.ts";
export * from "./write_latency.ts";
