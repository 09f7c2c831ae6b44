/**
 * What the soak's modules share: where the programs it runs are, the
 * loopback address everything runs on, bounded waiting, progress on stderr,
 * and random words for the lines it sends. Private to the soak; nothing
 * outside `tools/soak/` imports it.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { randomInt } from "../seeded_random.ts";

/** The checkout, where `server.ts` and `client.ts` are. */
export const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** The Deno that runs the soak runs the programs too. */
export const DENO = Deno.execPath();

/** The address the soak's server listens on and every connection goes to. */
export const HOST = "127.0.0.1";

/** How long a connect or a bounded read in a fault connection may take. */
export const PROBE_IO_TIMEOUT_MS = 5_000;

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Settles like `promise`, or resolves with `fallback` after `ms`. */
export async function within<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(fallback), ms);
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** One line for an error of any kind, for the soak's reports. */
export function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

const encoder = new TextEncoder();
const started = performance.now();

/** Progress on stderr, stamped with the seconds since the start. */
export function log(message: string): void {
  const seconds = ((performance.now() - started) / 1000).toFixed(1).padStart(6);
  Deno.stderr.writeSync(encoder.encode(`soak [${seconds} s] ${message}\n`));
}

/** `min` to `max` random lower-case letters. */
export function letters(random: () => number, min: number, max: number): string {
  const length = randomInt(random, min, max);
  let word = "";
  for (let i = 0; i < length; i++) word += String.fromCharCode(97 + randomInt(random, 0, 25));
  return word;
}
