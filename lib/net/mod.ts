/**
 * Addresses and peers: host:port parsing and formatting, the `--allow` /
 * `--deny` access list, the TLS files read at start-up, what a failed
 * `accept()` means, and random ids for runs and sessions.
 *
 * @module
 */

export * from "./accept_error.ts";
export * from "./access_list.ts";
export * from "./address.ts";
export * from "./random_id.ts";
export * from "./tls_files.ts";
