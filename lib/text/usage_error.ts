/**
 * The error for a bad command line: a flag that does not exist, a value out of
 * range, flags that conflict. The entry points print its message in one line,
 * with a pointer to `--help` rather than the whole usage (which would push
 * the one line that matters off the screen), and exit with status 2, before
 * any socket or file is opened.
 *
 * @module
 */

/** A problem with the command line, reported in one line with exit status 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/**
 * What a program prints on stderr for a usage error: the problem, then where
 * to read more, as GNU tools do.
 *
 * @example
 * ```ts
 * import { UsageError, usageErrorText } from "./usage_error.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(
 *   usageErrorText("linehub-server", new UsageError('Unknown option "--x"')),
 *   "linehub-server: Unknown option \"--x\"\n" +
 *     "Try 'linehub-server --help' for more information.\n",
 * );
 * ```
 */
export function usageErrorText(program: string, error: UsageError): string {
  return `${program}: ${error.message}\nTry '${program} --help' for more information.\n`;
}
