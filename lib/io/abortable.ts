/**
 * {@linkcode abortable}: waits for a short-lived promise, or for a signal
 * that lives much longer (a server's drain deadline, a client session's
 * fatal error), without leaving anything behind on the long-lived side.
 *
 * `Promise.race([work, longLived])` adds a reaction to `longLived` that stays
 * until `longLived` settles, holding the race and everything it captured:
 * done once per connection, that is memory kept for every connection that
 * ever finished. An `AbortSignal` listener can be removed, so here it is,
 * as soon as `work` settles.
 *
 * @module
 */

/**
 * Settles like `promise`, or rejects with `signal.reason` as soon as `signal`
 * aborts, whichever comes first. The listener on `signal` is removed when
 * either happens, so a signal that never aborts keeps nothing of the call.
 *
 * @example
 * ```ts
 * import { abortable } from "./abortable.ts";
 * import assert from "node:assert/strict";
 *
 * const stop = new AbortController();
 * assert.equal(await abortable(Promise.resolve(1), stop.signal), 1);
 * const never = new Promise<number>(() => {});
 * const waiting = abortable(never, stop.signal);
 * stop.abort(new Error("deadline"));
 * await assert.rejects(waiting, { message: "deadline" });
 * ```
 */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}
