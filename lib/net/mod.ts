/**
 * Addresses and peers: host:port parsing and formatting, the `--allow` /
 * `--deny` access list, the backoff between reconnects, the TLS files read at start-up, what a failed
 * `accept()` means, what a failed connection or TLS handshake means (in
 * words, and a certificate's problem as a fact), and random ids for runs and
 * sessions.
 *
 * @module
 */

export * from "./accept_error.ts";
export * from "./access_list.ts";
export * from "./address.ts";
export * from "./backoff.ts";
export * from "./certificate_problem.ts";
export * from "./conn_error.ts";
export * from "./random_id.ts";
export * from "./tls_failure.ts";
export * from "./tls_files.ts";
