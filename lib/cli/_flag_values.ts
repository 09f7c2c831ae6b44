/**
 * Reading a command line, shared by both programs: the flags (through
 * `node:util` `parseArgs`), whole numbers and durations. Every error is a
 * {@linkcode UsageError} that names the flag and quotes the value.
 *
 * @module
 */

import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import { UsageError } from "../text/mod.ts";

/** Largest `--max-line` either program accepts: 64 MiB, so that one client
 * cannot make the server (or the client) hold more for a single line. */
export const MAX_MAX_LINE = 64 * 1024 * 1024;

/** Highest TCP port number. */
export const MAX_PORT = 65535;

/** Longest duration a flag takes: a day. */
const MAX_DURATION_SECONDS = 24 * 60 * 60;

/** The flags read from a command line, typed as `parseArgs` types them in
 * strict mode: a string option holds a string, a repeatable one an array. */
export type Flags<T extends ParseArgsOptionsConfig> = ReturnType<
  typeof parseArgs<{ options: T; strict: true; allowPositionals: true }>
>;

/**
 * Reads `args` against `options`, as `parseArgs` in strict mode would, with
 * three differences a user notices:
 *
 * - a first `--` is skipped: `deno task server -- --port 9000` (the npm
 *   habit) passes it on, and it would otherwise turn every flag after it
 *   into a positional argument;
 * - a negative number is taken as the value it follows (`--port -1`), so the
 *   range check names it, instead of being reported as a missing value;
 * - the errors are linehub's own wording, made from the parsed tokens rather
 *   than from node's English messages.
 *
 * @example
 * ```ts
 * import { readFlags } from "./_flag_values.ts";
 * import assert from "node:assert/strict";
 *
 * const options = { port: { type: "string", default: "8888" } } as const;
 * assert.equal(readFlags(["--", "--port", "9000"], options).values.port, "9000");
 * assert.equal(readFlags(["--port", "-1"], options).values.port, "-1");
 * assert.throws(() => readFlags(["--port"], options), /Option "--port" needs a value/);
 * ```
 */
export function readFlags<T extends ParseArgsOptionsConfig>(
  args: readonly string[],
  options: T,
): Flags<T> {
  const { values, positionals, tokens } = parseArgs({
    args: args[0] === "--" ? args.slice(1) : [...args],
    options,
    // Strict mode would throw at the first problem with node's wording, and
    // would refuse "-1" as a value; the tokens let us judge each flag here.
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  for (const token of tokens) {
    if (token.kind !== "option") continue;
    const option = Object.hasOwn(options, token.name) ? options[token.name] : undefined;
    if (option === undefined) throw new UsageError(`Unknown option "${token.rawName}"`);
    const flag = `--${token.name}`;
    if (option.type === "boolean") {
      if (token.value !== undefined) {
        throw new UsageError(`Option "${flag}" does not take a value`);
      }
    } else if (token.value === undefined) {
      throw new UsageError(`Option "${flag}" needs a value`);
    } else if (!token.inlineValue && looksLikeAnOption(token.value)) {
      // "--max-line --ack": more likely a forgotten value than a line length.
      throw new UsageError(
        `Option "${flag}" needs a value: write ${flag}=VALUE for a value that starts with "-"`,
      );
    }
  }
  // Every token passed the checks strict mode makes, so the values have the
  // types strict mode gives them.
  return { values, positionals } as Flags<T>;
}

/** Whether a separate argument after a flag looks like another flag rather
 * than its value. A lone "-" does not (it often names stdin), and neither
 * does a negative number, so that the flag's own check can name it. */
function looksLikeAnOption(text: string): boolean {
  return text.length > 1 && text.startsWith("-") && !/^-\.?[0-9]/.test(text);
}

/** Parses a whole number within bounds, naming the flag and value on error;
 * `why`, when given, says where a bound comes from. */
export function parseInteger(
  text: string,
  flag: string,
  min: number,
  max: number,
  why?: string,
): number {
  if (!/^[0-9]+$/.test(text) || Number(text) < min || Number(text) > max) {
    throw new UsageError(
      `Invalid --${flag} "${text}": must be an integer from ${min} to ${max}` +
        (why === undefined ? "" : `: ${why}`),
    );
  }
  return Number(text);
}

/**
 * Parses a duration into seconds: a plain number is seconds, as it always
 * was; `ms`, `s`, `m` and `h` may follow, as in ncat's `-i` and `-w`.
 * Fractions are allowed (`2.5`, `0.5m`); the longest is a day.
 *
 * @example
 * ```ts
 * import { parseDuration } from "./_flag_values.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(parseDuration("2.5", "drain-timeout"), 2.5);
 * assert.equal(parseDuration("500ms", "drain-timeout"), 0.5);
 * assert.equal(parseDuration("5m", "idle-timeout"), 300);
 * ```
 */
export function parseDuration(text: string, flag: string): number {
  const match = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)?$/.exec(text);
  const seconds = match === null ? NaN : toSeconds(Number(match[1]), match[2] ?? "s");
  if (!(seconds <= MAX_DURATION_SECONDS)) {
    throw new UsageError(
      `Invalid --${flag} "${text}": must be a duration from 0 to 24h, ` +
        "such as 2.5 (seconds), 500ms, 30s or 5m",
    );
  }
  return seconds;
}

/** `value` in `unit`, in seconds. Milliseconds are divided by 1000 rather
 * than multiplied by 0.001, which binary cannot hold exactly, so that
 * "500ms" is exactly 0.5 and "2.5" stays exactly 2.5. */
function toSeconds(value: number, unit: string): number {
  switch (unit) {
    case "ms":
      return value / 1000;
    case "m":
      return value * 60;
    case "h":
      return value * 3600;
    default:
      return value;
  }
}
