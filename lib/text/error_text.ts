/**
 * Short, lower-case descriptions of system errors, for one-line messages such
 * as `Cannot listen on 0.0.0.0:8888: address already in use`. Users see these
 * instead of stack traces or Rust-flavoured error text.
 *
 * @module
 */

const BY_CLASS: ReadonlyArray<[new (...args: never[]) => Error, string]> = [
  [Deno.errors.AddrInUse, "address already in use"],
  [Deno.errors.AddrNotAvailable, "address not available"],
  [Deno.errors.ConnectionRefused, "connection refused"],
  [Deno.errors.ConnectionReset, "connection reset by peer"],
  [Deno.errors.ConnectionAborted, "connection aborted"],
  [Deno.errors.BrokenPipe, "broken pipe"],
  [Deno.errors.TimedOut, "timed out"],
  [Deno.errors.NotFound, "no such file or directory"],
  [Deno.errors.IsADirectory, "is a directory"],
  [Deno.errors.NotConnected, "not connected"],
];

/** What a lookup failure says, whichever resolver produced it. */
const UNKNOWN_HOST =
  /failed to lookup address|name or service not known|no address associated|nodename nor servname|temporary failure in name resolution/i;

/**
 * Describes an error in a few lower-case words, without a stack trace.
 *
 * @example
 * ```ts
 * import { describeError } from "./error_text.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(describeError(new Deno.errors.AddrInUse("os error 98")), "address already in use");
 * ```
 */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) {
    try {
      return String(error);
    } catch {
      return "unknown error"; // e.g. an object without a prototype
    }
  }
  if (error instanceof Deno.errors.PermissionDenied || error instanceof Deno.errors.NotCapable) {
    return permissionText(error.message);
  }
  for (const [kind, text] of BY_CLASS) {
    if (error instanceof kind) return text;
  }
  if (UNKNOWN_HOST.test(error.message)) return "unknown host";
  if (/network is unreachable/i.test(error.message)) return "network unreachable";
  if (/no route to host/i.test(error.message)) return "no route to host";
  return cleanMessage(error.message);
}

function permissionText(message: string): string {
  // Deno opens devices (but /dev/null and a few others), /proc and the like
  // only with --allow-all, which neither program ever has: "run again with
  // the --allow-all flag" would send the user after a flag that does not
  // exist for them.
  if (needsAllAccess(message)) return SPECIAL_FILE;
  // Deno's own permission errors say which flag is missing; the OS's say little.
  return /Requires/.test(message) ? cleanMessage(message) : "permission denied";
}

/** What a file Deno opens only with every permission is called. */
const SPECIAL_FILE = "a device or system file, which this program may not open";

function needsAllAccess(message: string): boolean {
  return /^Requires all access/.test(message);
}

/**
 * Whether `error` is Deno refusing a device or system file (`/dev/tty`,
 * `/dev/stdout`, `/proc/...`) that it opens only for a program with every
 * permission; {@linkcode describeError} calls it "a device or system file".
 *
 * @example
 * ```ts
 * import { describeError, isSpecialFileRefusal } from "./error_text.ts";
 * import assert from "node:assert/strict";
 *
 * const error = new Deno.errors.NotCapable(
 *   'Requires all access to "/dev/tty", run again with the --allow-all flag',
 * );
 * assert.ok(isSpecialFileRefusal(error));
 * assert.equal(describeError(error), "a device or system file, which this program may not open");
 * ```
 */
export function isSpecialFileRefusal(error: unknown): boolean {
  return error instanceof Deno.errors.NotCapable && needsAllAccess(error.message);
}

/** Drops Rust's `(os error N)` suffix, with the `: open '/path'` detail Deno
 * appends after it (callers name the file themselves), and a trailing period;
 * lower-cases the start. */
function cleanMessage(message: string): string {
  const firstLine = message.split("\n")[0] ?? "";
  const text = firstLine.replace(/\s*\(os error -?\d+\)(?::.*)?\s*$/, "").replace(/\.$/, "")
    .trim();
  return text.length > 0 ? text[0]?.toLowerCase() + text.slice(1) : "unknown error";
}
