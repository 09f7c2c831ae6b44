/**
 * {@linkcode acceptErrorKind}: what a failed `accept()` means for the accept
 * loop.
 *
 * Most accept errors concern one pending connection only: the peer reset it
 * or gave up while it waited in the listen queue (ECONNABORTED; on Linux,
 * Deno's accept also asks for the peer's address, which then fails with
 * ENOTCONN), or a protocol or firewall error hit it. Accepting the next one
 * at once is right: a pause there would let any peer that connects and resets
 * hold every other client off. Only running out of descriptors or memory is
 * a state of the process, one that a retry loop without a pause would spin
 * on; so is an error of a kind not known here, to be safe.
 *
 * @module
 */

/** `connection`: only that pending connection failed, accept the next at
 * once; `exhausted`: the process or system is out of a resource (or the error
 * is unknown), pause before trying again. */
export type AcceptErrorKind = "connection" | "exhausted";

/** errno names (as Deno gives them in an error's `code`) of failures that
 * belong to one pending connection: gone before it was accepted, refused by
 * a firewall rule (EPERM), or hit by a network error the socket reports. */
const CONNECTION_CODES: ReadonlySet<string> = new Set([
  "ECONNABORTED",
  "ECONNRESET",
  "ENOTCONN",
  "EPROTO",
  "EPERM",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "EHOSTDOWN",
  "ENONET",
  "ENOPROTOOPT",
  "EOPNOTSUPP",
]);

/** Deno's error classes for the same failures, for errors without a code. */
const CONNECTION_ERRORS = [
  Deno.errors.ConnectionAborted,
  Deno.errors.ConnectionReset,
  Deno.errors.NotConnected,
  Deno.errors.TimedOut,
];

/**
 * Whether an `accept()` error concerns only the connection being accepted,
 * or the process (EMFILE, ENFILE, ENOBUFS, ENOMEM, or anything unknown).
 *
 * @example
 * ```ts
 * import { acceptErrorKind } from "./accept_error.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(acceptErrorKind(new Deno.errors.NotConnected("not connected")), "connection");
 * const emfile = Object.assign(new Error("Too many open files (os error 24)"), { code: "EMFILE" });
 * assert.equal(acceptErrorKind(emfile), "exhausted");
 * ```
 */
export function acceptErrorKind(error: unknown): AcceptErrorKind {
  const code = typeof error === "object" && error !== null && "code" in error
    ? error.code
    : undefined;
  if (typeof code === "string" && CONNECTION_CODES.has(code)) return "connection";
  if (CONNECTION_ERRORS.some((kind) => error instanceof kind)) return "connection";
  return "exhausted";
}
