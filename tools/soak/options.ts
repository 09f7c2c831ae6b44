/**
 * The soak's command line: one `parseArgs` declaration, the usage text, and
 * the checks that turn each flag into a number within its bounds. Every
 * problem is a {@linkcode UsageError} naming the flag and quoting the value,
 * reported before anything is started.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { UsageError } from "../../lib/text/usage_error.ts";

export const USAGE = `Usage: deno task soak [options]
       deno run --allow-all tools/soak/main.ts [options]

Runs linehub's server and clients under a steady load while killing and
restarting the server, rotating its output and opening faulty connections;
prints a table of counts and one verdict line. Exit status 0 on PASS, 1 on
FAIL, 2 on bad usage.

Then, with the server idle, it resets bursts of connects before the server
can accept them, timing an ordinary client's line after each burst, and runs
a churn of short connections, measuring the server's heap around it.

Options:
  --duration SECS    how long the load and the faults last (default 30)
  --seed N           seed of the fault schedule (default: random, printed)
  --clients N        steady client processes (default 8)
  --rate N           lines per second each steady client sends (default 100)
  --rss-limit MB     most the server's RSS may reach (default 128)
  --early-resets N   connects reset before accept, in bursts of 200
                     (default 600; 0 skips them)
  --churn N          short connections, one line each, half of them reset
                     (default 20000, at least 4000; 0 skips them)
  --keep             keep the output directory even on PASS
  -h, --help         show this help and exit
`;

/** Fewest short connections for a churn: the heap growth of a round is
 * judged per connection, and a fixed noise of some 30 KB is 32 bytes per
 * connection in rounds of 1,000 (measured), too close to the bound. */
export const MIN_CHURN = 4000;

/** The soak's command line. */
export interface SoakOptions {
  readonly duration: number;
  readonly seed: number;
  readonly clients: number;
  readonly rate: number;
  readonly rssLimitMb: number;
  readonly earlyResets: number;
  readonly churn: number;
  readonly keep: boolean;
}

/** Reads `args`; "help" when `--help` was asked for. */
export function parseOptions(args: string[]): SoakOptions | "help" {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        duration: { type: "string", default: "30" },
        seed: { type: "string" },
        clients: { type: "string", default: "8" },
        rate: { type: "string", default: "100" },
        "rss-limit": { type: "string", default: "128" },
        "early-resets": { type: "string", default: "600" },
        churn: { type: "string", default: "20000" },
        keep: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  if (values.help) return "help";
  return {
    duration: integer(values.duration, "duration", 5, 3600),
    seed: values.seed === undefined
      ? Math.floor(Math.random() * 2 ** 31)
      : integer(values.seed, "seed", 0, 2 ** 32 - 1),
    clients: integer(values.clients, "clients", 1, 64),
    rate: integer(values.rate, "rate", 1, 5000),
    rssLimitMb: integer(values["rss-limit"], "rss-limit", 16, 65536),
    earlyResets: integer(values["early-resets"], "early-resets", 0, 100_000),
    churn: churnCount(values.churn),
    keep: values.keep,
  };
}

function integer(text: string, name: string, min: number, max: number): number {
  const value = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(
      `Invalid --${name} "${text}": must be a whole number from ${min} to ${max}`,
    );
  }
  return value;
}

function churnCount(text: string): number {
  const value = integer(text, "churn", 0, 1_000_000);
  if (value !== 0 && value < MIN_CHURN) {
    throw new UsageError(
      `Invalid --churn "${text}": must be 0 or at least ${MIN_CHURN}`,
    );
  }
  return value;
}
