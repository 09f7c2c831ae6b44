/**
 * Bounded waits: every test that waits for something names what it waits
 * for and fails, saying so, after a deadline, instead of hanging the suite or
 * guessing a time after which it "must" have happened.
 *
 * @module
 */

/** How long a wait may take before it fails the test, unless told. */
export const WAIT_TIMEOUT_MS = 10_000;
/** Pause between two looks at a condition. */
const POLL_MS = 10;

/** Resolves after `ms` milliseconds. For where time itself is the subject
 * (a timeout, a pace); to wait for something to happen, use
 * {@linkcode waitFor}. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `condition` until it holds; fails with `what` (and `detail()`, if
 * given) after `timeoutMs`. A condition may throw to fail at once, when what
 * it waits for can no longer happen.
 */
export async function waitFor(
  what: string,
  condition: () => boolean | Promise<boolean>,
  detail: () => string = () => "",
  timeoutMs = WAIT_TIMEOUT_MS,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) {
      const more = detail();
      throw new Error(
        `Timed out after ${timeoutMs} ms waiting for ${what}${more ? `:\n${more}` : ""}`,
      );
    }
    await sleep(POLL_MS);
  }
}

/** Settles like `promise`, or rejects with `what` after `ms`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}
