/**
 * What the tests share, each thing once: bounded waits (`wait.ts`), bytes,
 * output and log in memory (`memory.ts`), seeded randomness (`random.ts`),
 * socket chores (`net.ts`), tests skipped with a reason (`skip.ts`),
 * servers in this process (`in_process_server.ts`),
 * programs run as processes (`process.ts`), peers nobody here wrote
 * (`peers.ts`), brokers of the tests' own (Redis in `redis.ts`, NATS in
 * `nats.ts`) and the outages they are put through (`broker_outage.ts`),
 * throwaway TLS certificates (`certs.ts`), a TLS client's first flight
 * (`client_hello.ts`), the PROXY protocol headers a load balancer sends
 * (`proxy_header.ts`), a scripted line server (`fake_server.ts`), the
 * README's marked blocks (`readme.ts`) and a server with `--http`
 * (`http.ts`). Tests import this face; the benchmarks in bench/ borrow from
 * it too.
 *
 * @module
 */

export * from "./wait.ts";
export * from "./memory.ts";
export * from "./random.ts";
export * from "./chunks.ts";
export * from "./json_lines.ts";
export * from "./net.ts";
export * from "./skip.ts";
export * from "./process.ts";
export * from "./peers.ts";
export * from "./redis.ts";
export * from "./nats.ts";
export * from "./broker_outage.ts";
export * from "./certs.ts";
export * from "./client_hello.ts";
export * from "./proxy_header.ts";
export * from "./fake_server.ts";
export * from "./readme.ts";
export * from "./in_process_server.ts";
export * from "./http.ts";
