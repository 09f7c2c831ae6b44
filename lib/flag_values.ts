/**
 * Values on the command line: whole numbers, seconds, and the wording of
 * `node:util` `parseArgs` errors. Each error names the flag and the value.
 *
 * @module
 */

import { UsageError } from "./usage_error.ts";

/** Parses a whole number within bounds, naming the flag and value on error. */
export function parseInteger(text: string, flag: string, min: number, max: number): number {
  if (!/^[0-9]+$/.test(text) || Number(text) < min || Number(text) > max) {
    throw new UsageError(`Invalid --${flag} "${text}": must be an integer from ${min} to ${max}`);
  }
  return Number(text);
}

/** Parses a non-negative number of seconds (fractions allowed), at most a day. */
export function parseSeconds(text: string, flag: string): number {
  if (!/^[0-9]+(\.[0-9]+)?$/.test(text) || Number(text) > 86400) {
    throw new UsageError(
      `Invalid --${flag} "${text}": must be a number of seconds from 0 to 86400`,
    );
  }
  return Number(text);
}

/** Turns node's parseArgs errors into linehub's style. */
export function parseArgsMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const unknown = /Unknown option '([^']+)'/.exec(message);
  if (unknown !== null) return `Unknown option "${unknown[1]}"`;
  // "-p -1": node calls the value ambiguous, naming the option as typed
  // (`-p` or `--port`), and says how to pass a value that starts with "-".
  const missing = /Option '(?:-\w, )?(--?[\w-]+)[^']*' argument (missing|is ambiguous)/.exec(
    message,
  );
  if (missing !== null) {
    const long = /use '(--[\w-]+)=-XYZ'/.exec(message);
    const tip = missing[2] === "is ambiguous" && long !== null
      ? `: write ${long[1]}=VALUE for a value that starts with "-"`
      : "";
    return `Option "${missing[1]}" needs a value${tip}`;
  }
  const extra = /Option '(?:-\w, )?(--[\w-]+)[^']*' does not take an argument/.exec(message);
  if (extra !== null) return `Option "${extra[1]}" does not take a value`;
  const positional = /Unexpected argument '([^']+)'/.exec(message);
  if (positional !== null) return `Unexpected argument "${positional[1]}"`;
  return message.split("\n")[0] ?? message;
}
