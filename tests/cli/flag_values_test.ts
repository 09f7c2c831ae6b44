/**
 * Unit tests for the command-line reading shared by both programs: the flags
 * and their errors, whole numbers and seconds.
 */

import assert from "node:assert/strict";
import type { ParseArgsOptionsConfig } from "node:util";
import { parseDuration, parseInteger, readFlags } from "../../lib/cli/_flag_values.ts";
import { UsageError } from "../../lib/text/usage_error.ts";

/** Asserts that `fn` throws a UsageError with exactly `message`. */
function throwsUsage(fn: () => unknown, message: string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof UsageError, `expected a UsageError, got ${error}`);
    assert.equal(error.message, message);
    return true;
  });
}

/** Flags like the programs' own: a string with a short name and a default,
 * a repeatable string, and a boolean. */
const OPTIONS = {
  port: { type: "string", short: "p", default: "8888" },
  "max-line": { type: "string" },
  message: { type: "string", short: "m", multiple: true, default: [] },
  help: { type: "boolean", short: "h", default: false },
} satisfies ParseArgsOptionsConfig;

/** The message of the UsageError that reading `args` throws. */
function messageFor(args: string[]): string {
  try {
    readFlags(args, OPTIONS);
  } catch (error) {
    assert.ok(error instanceof UsageError, `expected a UsageError, got ${error}`);
    return error.message;
  }
  throw new Error(`readFlags accepted ${JSON.stringify(args)}`);
}

Deno.test("parseInteger accepts whole numbers within bounds", () => {
  assert.equal(parseInteger("1", "max-line", 1, 10), 1);
  assert.equal(parseInteger("10", "max-line", 1, 10), 10);
  assert.equal(parseInteger("007", "max-line", 1, 10), 7);
  assert.equal(parseInteger("0", "n", 0, 0), 0);
  assert.equal(parseInteger("67108864", "max-line", 1, 67108864), 67108864);
});

Deno.test("parseInteger rejects out-of-range and malformed values, naming flag and value", () => {
  for (
    const text of [
      "0",
      "11",
      "",
      "-1",
      "1.0",
      "1e1",
      "0x1",
      " 1",
      "1 ",
      "+1",
      "one",
      "99999999999999999999999",
    ]
  ) {
    throwsUsage(
      () => parseInteger(text, "max-line", 1, 10),
      `Invalid --max-line "${text}": must be an integer from 1 to 10`,
    );
  }
});

Deno.test("parseDuration takes a plain number as seconds, whole or fractional, up to a day", () => {
  assert.equal(parseDuration("0", "drain-timeout"), 0);
  assert.equal(parseDuration("5", "drain-timeout"), 5);
  assert.equal(parseDuration("0.25", "drain-timeout"), 0.25);
  assert.equal(parseDuration("1.1", "drain-timeout"), 1.1);
  assert.equal(parseDuration("86400", "drain-timeout"), 86400);
  assert.equal(parseDuration("86400.0", "drain-timeout"), 86400);
});

Deno.test("parseDuration takes ms, s, m and h, as ncat's -i and -w do", () => {
  assert.equal(parseDuration("500ms", "idle-timeout"), 0.5);
  assert.equal(parseDuration("1ms", "idle-timeout"), 0.001);
  assert.equal(parseDuration("0ms", "idle-timeout"), 0);
  assert.equal(parseDuration("30s", "idle-timeout"), 30);
  assert.equal(parseDuration("2.5s", "idle-timeout"), 2.5);
  assert.equal(parseDuration("5m", "idle-timeout"), 300);
  assert.equal(parseDuration("0.5m", "idle-timeout"), 30);
  assert.equal(parseDuration("1h", "idle-timeout"), 3600);
  assert.equal(parseDuration("24h", "idle-timeout"), 86400);
  assert.equal(parseDuration("1440m", "idle-timeout"), 86400);
});

Deno.test("parseDuration rejects negative, malformed and too long values, naming them", () => {
  for (
    const text of [
      "-1",
      "-1s",
      "",
      ".5",
      "5.",
      "1e3",
      "abc",
      "Infinity",
      "NaN",
      " 1",
      "1,5",
      "5 s",
      "5sec",
      "5S",
      "5M",
      "1d",
      "ms",
      "86400.001",
      "86401",
      "86400001ms",
      "1441m",
      "25h",
    ]
  ) {
    throwsUsage(
      () => parseDuration(text, "connect-timeout"),
      `Invalid --connect-timeout "${text}": must be a duration from 0 to 24h, ` +
        "such as 2.5 (seconds), 500ms, 30s or 5m",
    );
  }
});

Deno.test("readFlags gives values, defaults and positionals as strict parseArgs would", () => {
  const given = readFlags(["-p9", "-m", "a", "--message=b", "-h", "x"], OPTIONS);
  assert.deepEqual({ ...given.values }, { port: "9", message: ["a", "b"], help: true });
  assert.deepEqual(given.positionals, ["x"]);
  const none = readFlags([], OPTIONS);
  assert.deepEqual({ ...none.values }, { port: "8888", message: [], help: false });
  assert.deepEqual(none.positionals, []);
});

Deno.test("readFlags skips a first -- (deno task NAME -- ARGS passes it on)", () => {
  assert.deepEqual({ ...readFlags(["--", "--port", "9000", "--help"], OPTIONS).values }, {
    port: "9000",
    message: [],
    help: true,
  });
});

Deno.test("readFlags takes arguments after a later -- as positionals", () => {
  assert.deepEqual(readFlags(["--", "x", "--", "--port"], OPTIONS).positionals, ["x", "--port"]);
});

Deno.test("readFlags takes a negative number as a value, for the range check to name", () => {
  assert.equal(readFlags(["--port", "-1"], OPTIONS).values.port, "-1");
  assert.equal(readFlags(["-p", "-1"], OPTIONS).values.port, "-1");
  assert.equal(readFlags(["--max-line", "-5"], OPTIONS).values["max-line"], "-5");
  assert.equal(readFlags(["--max-line", "-0.5"], OPTIONS).values["max-line"], "-0.5");
  assert.equal(readFlags(["--max-line", "-.5"], OPTIONS).values["max-line"], "-.5");
});

Deno.test("readFlags takes a lone dash and any inline value as the value", () => {
  assert.equal(readFlags(["--port", "-"], OPTIONS).values.port, "-");
  assert.deepEqual(readFlags(["--message=-x", "-m-y"], OPTIONS).values.message, ["-x", "-y"]);
});

Deno.test("readFlags rejects an unknown option, as typed", () => {
  assert.equal(messageFor(["--nope"]), 'Unknown option "--nope"');
  assert.equal(messageFor(["--nope=3"]), 'Unknown option "--nope"');
  assert.equal(messageFor(["-x"]), 'Unknown option "-x"');
  assert.equal(messageFor(["-hx"]), 'Unknown option "-x"');
  assert.equal(messageFor(["--constructor"]), 'Unknown option "--constructor"');
});

Deno.test("readFlags rejects a missing value, naming the long option", () => {
  assert.equal(messageFor(["--port"]), 'Option "--port" needs a value');
  assert.equal(messageFor(["-p"]), 'Option "--port" needs a value');
  assert.equal(messageFor(["--max-line"]), 'Option "--max-line" needs a value');
  assert.equal(messageFor(["-m"]), 'Option "--message" needs a value');
});

Deno.test("readFlags takes a flag after a flag as a forgotten value, saying how to pass one", () => {
  for (
    const [args, flag] of [
      [["--max-line", "--help"], "--max-line"],
      [["-p", "-h"], "--port"],
      [["--port", "--"], "--port"],
      [["-m", "-dash"], "--message"],
      [["-m", "--"], "--message"],
    ] as const
  ) {
    assert.equal(
      messageFor([...args]),
      `Option "${flag}" needs a value: write ${flag}=VALUE for a value that starts with "-"`,
    );
  }
});

Deno.test("readFlags rejects a value given to a boolean option", () => {
  assert.equal(messageFor(["--help=yes"]), 'Option "--help" does not take a value');
  assert.equal(messageFor(["--help="]), 'Option "--help" does not take a value');
});
