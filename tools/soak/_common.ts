/**
 * What the soak's modules (`main.ts`, `churn.ts`, `heap_gauge.ts`) share:
 * the loopback address they run on, and bounded waiting. Private to the
 * soak; nothing outside `tools/soak/` imports it.
 *
 * @module
 */

/** The address the soak's server listens on and every connection goes to. */
export const HOST = "127.0.0.1";

/** How long a connect or a bounded read in a fault connection may take. */
export const PROBE_IO_TIMEOUT_MS = 5_000;

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
