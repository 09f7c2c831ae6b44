/**
 * Tests that cannot run on every host (no IPv6 loopback, no `socat`, no
 * Workers) are registered anyway, ignored, with the reason in their name:
 * the runner itself only says "ignored".
 *
 * @module
 */

import { canListenOn } from "./net.ts";

/** A test name that, for a test ignored on this host, says why. */
export function nameUnless(skipReason: string | null, name: string): string {
  return skipReason === null ? name : `${name} (skipped: ${skipReason})`;
}

/** Why IPv6 loopback tests cannot run here, or null when they can. */
export function noIPv6Reason(): string | null {
  return canListenOn("::1") ? null : "cannot bind ::1 on this host (no IPv6 loopback)";
}
