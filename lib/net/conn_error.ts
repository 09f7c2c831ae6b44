/**
 * {@linkcode describeConnError}: a connection's error in a few words,
 * whatever made it: Deno's TCP or TLS, or node:tls, whose network errors
 * carry Node's codes rather than Deno's error classes. For one-line messages
 * such as `Cannot connect to HOST:PORT: REASON`.
 *
 * @module
 */

import { describeError } from "../text/mod.ts";
import { describeTlsFailure, type TlsFailureContext } from "./tls_failure.ts";

/** Node network error codes, as the words `describeError` uses for Deno's. */
const NODE_CODES: Readonly<Record<string, string>> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset by peer",
  ECONNABORTED: "connection aborted",
  EPIPE: "broken pipe",
  ETIMEDOUT: "timed out",
  ENOTFOUND: "unknown host",
  EAI_AGAIN: "unknown host",
  EAI_NONAME: "unknown host",
  EHOSTUNREACH: "no route to host",
  ENETUNREACH: "network unreachable",
  EADDRNOTAVAIL: "address not available",
};

/**
 * Describes a connection's error in a few words: why its TLS failed (see
 * {@linkcode describeTlsFailure}), else its network error.
 *
 * @example
 * ```ts
 * import { describeConnError } from "./conn_error.ts";
 * import assert from "node:assert/strict";
 *
 * const node = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });
 * assert.equal(describeConnError(node), "connection reset by peer");
 * assert.equal(describeConnError(new Deno.errors.BrokenPipe("os error 32")), "broken pipe");
 * ```
 */
export function describeConnError(error: unknown, context: TlsFailureContext = {}): string {
  const tls = describeTlsFailure(error, context);
  if (tls !== null) return tls;
  const code = error instanceof Error ? (error as { code?: unknown }).code : undefined;
  if (typeof code === "string" && code in NODE_CODES) return NODE_CODES[code] as string;
  return describeError(error);
}
