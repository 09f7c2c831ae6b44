/**
 * The linehub server: `LineServer` (accept loop, one task per connection,
 * drain, refusals, timeouts), its events, TLS on accepted connections, the
 * two-way modes (`Hub`), the operator console, and `WorkerPool` for
 * `--workers` (in workers/).
 *
 * @module
 */

export * from "./client_handle.ts";
export * from "./events.ts";
export * from "./hub.ts";
export * from "./line_server.ts";
export * from "./operator_console.ts";
export * from "./server.ts";
export * from "./stats.ts";
export * from "./tls_acceptor.ts";
export * from "./workers/pool.ts";
