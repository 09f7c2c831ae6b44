/**
 * Signal handling shared by both programs: install handlers for the signals
 * the platform has, and get back one function that removes them all.
 *
 * @module
 */

/** A second SIGINT or SIGTERM this soon after the first is the same request:
 * one Ctrl-C under `deno task server` (or `npx ... task server`) reaches the
 * server twice, from the terminal and forwarded by the task runner, and
 * would otherwise skip the drain. Half a second is far longer than the two
 * copies are apart and shorter than a person takes to press Ctrl-C again on
 * purpose. */
export const SAME_SIGNAL_MS = 500;

/**
 * Calls `handler` with the signal's name whenever one of `signals` arrives.
 * Signals the platform lacks are skipped (Windows has no SIGTERM or SIGHUP;
 * SIGINT, Ctrl-C, is enough there). Returns the function that removes the
 * handlers.
 */
export function listenForSignals(
  signals: readonly Deno.Signal[],
  handler: (signal: Deno.Signal) => void,
): () => void {
  const removers: Array<() => void> = [];
  for (const signal of signals) {
    const listener = (): void => handler(signal);
    try {
      Deno.addSignalListener(signal, listener);
      removers.push(() => Deno.removeSignalListener(signal, listener));
    } catch {
      // Not a signal on this platform.
    }
  }
  return () => removers.forEach((remove) => remove());
}
