/**
 * The linehub server: `LineServer` (accept loop, one task per connection,
 * drain, refusals, timeouts), the `Server` surface it shares with
 * `WorkerPool` (`--workers`, in workers/), their options with named
 * defaults, their totals (`ServerStats`) and events, TLS on accepted
 * connections, the two-way modes (`Hub`) and the operator console.
 *
 * @module
 */

export * from "./client_handle.ts";
export * from "./client_limits.ts";
export * from "./events.ts";
export * from "./hub.ts";
export * from "./line_server.ts";
export * from "./node_name.ts";
export * from "./operator_console.ts";
export * from "./server.ts";
export * from "./server_options.ts";
export * from "./stats.ts";
export * from "./tls_acceptor.ts";
export * from "./token_bucket.ts";
export * from "./workers/pool.ts";
