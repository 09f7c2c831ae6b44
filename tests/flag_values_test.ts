/**
 * Unit tests for command-line values shared by both programs: whole numbers,
 * seconds, and the rewording of `node:util` `parseArgs` errors.
 */

import assert from "node:assert/strict";
import { parseArgs } from "node:util";
import { parseArgsMessage, parseInteger, parseSeconds } from "../lib/flag_values.ts";
import { UsageError } from "../lib/usage_error.ts";

/** Asserts that `fn` throws a UsageError with exactly `message`. */
function throwsUsage(fn: () => unknown, message: string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof UsageError, `expected a UsageError, got ${error}`);
    assert.equal(error.message, message);
    return true;
  });
}

/** The error node's parseArgs throws for `args`, with the options both programs use. */
function parseArgsError(args: string[], allowPositionals = false): unknown {
  try {
    parseArgs({
      args,
      strict: true,
      allowPositionals,
      options: {
        port: { type: "string", short: "p" },
        "max-line": { type: "string" },
        message: { type: "string", short: "m", multiple: true },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    return error;
  }
  throw new Error(`parseArgs accepted ${JSON.stringify(args)}`);
}

function messageFor(args: string[]): string {
  return parseArgsMessage(parseArgsError(args));
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

Deno.test("parseSeconds accepts whole and fractional seconds up to a day", () => {
  assert.equal(parseSeconds("0", "drain-timeout"), 0);
  assert.equal(parseSeconds("5", "drain-timeout"), 5);
  assert.equal(parseSeconds("0.25", "drain-timeout"), 0.25);
  assert.equal(parseSeconds("1.5", "drain-timeout"), 1.5);
  assert.equal(parseSeconds("86400", "drain-timeout"), 86400);
  assert.equal(parseSeconds("86400.0", "drain-timeout"), 86400);
});

Deno.test("parseSeconds rejects negative, malformed and too large values, naming them", () => {
  for (
    const text of [
      "-1",
      "",
      ".5",
      "5.",
      "1e3",
      "abc",
      "Infinity",
      "NaN",
      " 1",
      "1,5",
      "86400.001",
      "86401",
    ]
  ) {
    throwsUsage(
      () => parseSeconds(text, "connect-timeout"),
      `Invalid --connect-timeout "${text}": must be a number of seconds from 0 to 86400`,
    );
  }
});

Deno.test("parseArgsMessage rewords an unknown option", () => {
  assert.equal(messageFor(["--nope"]), 'Unknown option "--nope"');
  assert.equal(messageFor(["-x"]), 'Unknown option "-x"');
});

Deno.test("parseArgsMessage rewords a missing value, naming the long option", () => {
  assert.equal(messageFor(["--port"]), 'Option "--port" needs a value');
  assert.equal(messageFor(["-p"]), 'Option "--port" needs a value');
  assert.equal(messageFor(["--max-line"]), 'Option "--max-line" needs a value');
  assert.equal(messageFor(["-m"]), 'Option "--message" needs a value');
});

Deno.test("parseArgsMessage explains how to pass a value that starts with a dash", () => {
  assert.equal(
    messageFor(["--port", "-1"]),
    'Option "--port" needs a value: write --port=VALUE for a value that starts with "-"',
  );
  assert.equal(
    messageFor(["-p", "-1"]),
    'Option "-p" needs a value: write --port=VALUE for a value that starts with "-"',
  );
  assert.equal(
    messageFor(["-m", "-dash"]),
    'Option "-m" needs a value: write --message=VALUE for a value that starts with "-"',
  );
  assert.equal(
    messageFor(["--max-line", "--help"]),
    'Option "--max-line" needs a value: write --max-line=VALUE for a value that starts with "-"',
  );
});

Deno.test("parseArgsMessage rewords a value given to a boolean option", () => {
  assert.equal(messageFor(["--help=yes"]), 'Option "--help" does not take a value');
});

Deno.test("parseArgsMessage rewords an unexpected positional argument", () => {
  assert.equal(messageFor(["stray"]), 'Unexpected argument "stray"');
});

Deno.test("parseArgsMessage keeps only the first line of an unknown message", () => {
  assert.equal(parseArgsMessage(new Error("Something odd\nmore detail")), "Something odd");
  assert.equal(parseArgsMessage(new Error("")), "");
});

Deno.test("parseArgsMessage accepts values that are not errors", () => {
  assert.equal(parseArgsMessage("Unknown option '--x'"), 'Unknown option "--x"');
  assert.equal(parseArgsMessage("plain text"), "plain text");
  assert.equal(parseArgsMessage(42), "42");
  assert.equal(parseArgsMessage(undefined), "undefined");
});
