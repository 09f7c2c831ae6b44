/**
 * Every child process the soak starts, so that all of them are killed on
 * the way out, whatever way out it is: the end of the run, a failure, the
 * watchdog or Ctrl-C. A soak must not leave servers or clients behind.
 *
 * @module
 */

import { within } from "./_common.ts";

/** How long a killed child, server or client, may take to be gone. */
export const EXIT_TIMEOUT_MS = 10_000;

/** Every child process still running, so that all are killed on the way out. */
const children = new Set<Deno.ChildProcess>();

/** Keeps `child` until it exits. */
export function track(child: Deno.ChildProcess): void {
  children.add(child);
  child.status.finally(() => children.delete(child)).catch(() => {});
}

/** SIGKILL to every child still running. */
export function killAll(): void {
  for (const child of children) {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  }
}

/** Waits for every child still running to be gone, for at most
 * {@linkcode EXIT_TIMEOUT_MS} each. */
export async function reapAll(): Promise<void> {
  await Promise.all([...children].map((c) => within(c.status, EXIT_TIMEOUT_MS, null)));
}
