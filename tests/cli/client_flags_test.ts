/**
 * Unit tests for the client's command line, `linehub-client [options] HOST
 * [PORT]`: defaults, every flag in each of its spellings, the HOST and PORT
 * positionals, and a UsageError naming the bad value for every mistake.
 */

import assert from "node:assert/strict";
import {
  EXIT_BUSY,
  EXIT_FAILURE,
  EXIT_LOST,
  EXIT_OK,
  EXIT_OUTPUT,
  EXIT_REFUSED,
  EXIT_SIGINT,
  EXIT_SIGTERM,
  EXIT_USAGE,
} from "../../lib/cli/_exit_status.ts";
import { CLIENT_USAGE, parseClientArgs } from "../../lib/cli/_client_flags.ts";
import { UsageError } from "../../lib/text/usage_error.ts";

/** Asserts that parsing `args` throws a UsageError with exactly `message`. */
function rejects(args: string[], message: string): void {
  assert.throws(() => parseClientArgs(args), (error: unknown) => {
    assert.ok(error instanceof UsageError, `expected a UsageError, got ${error}`);
    assert.equal(error.message, message, `for ${JSON.stringify(args)}`);
    return true;
  });
}

const DEFAULTS = {
  target: { host: "localhost", port: 8888 },
  messages: [],
  connectTimeout: 10,
  retry: 0,
  ack: false,
  bufferLines: 10000,
  maxLine: 65536,
  name: undefined,
  tls: undefined,
  quiet: false,
  help: false,
  version: false,
};

/** What `--tls` alone gives: verify against HOST and the built-in roots. */
const TLS_DEFAULTS = {
  ca: undefined,
  servername: undefined,
  cert: undefined,
  key: undefined,
  insecure: false,
};

Deno.test("client connects to HOST on port 8888 by default, reading stdin", () => {
  assert.deepEqual(parseClientArgs(["localhost"]), DEFAULTS);
});

Deno.test("client takes PORT as a second argument", () => {
  assert.deepEqual(parseClientArgs(["localhost", "9000"]), {
    ...DEFAULTS,
    target: { host: "localhost", port: 9000 },
  });
  assert.deepEqual(parseClientArgs(["::1", "9000"]).target, { host: "::1", port: 9000 });
});

Deno.test("client takes HOST:PORT and [IPV6]:PORT", () => {
  assert.deepEqual(parseClientArgs(["10.0.0.2:7000"]).target, { host: "10.0.0.2", port: 7000 });
  assert.deepEqual(parseClientArgs(["[::1]:7000"]).target, { host: "::1", port: 7000 });
  assert.deepEqual(parseClientArgs(["[fe80::1]"]).target, { host: "fe80::1", port: 8888 });
  assert.deepEqual(parseClientArgs(["fe80::1"]).target, { host: "fe80::1", port: 8888 });
});

Deno.test("client takes options before or after HOST", () => {
  const expected = { ...DEFAULTS, connectTimeout: 3 };
  assert.deepEqual(parseClientArgs(["--connect-timeout", "3", "localhost"]), expected);
  assert.deepEqual(parseClientArgs(["localhost", "--connect-timeout", "3"]), expected);
});

Deno.test("client accepts -m and --message, repeated, in order", () => {
  assert.deepEqual(parseClientArgs(["-m", "hello", "localhost"]).messages, ["hello"]);
  assert.deepEqual(
    parseClientArgs(["--message", "one", "-m", "two", "--message=three", "-mfour", "h"]).messages,
    ["one", "two", "three", "four"],
  );
});

Deno.test("client accepts empty, non-ASCII and dash-leading messages", () => {
  assert.deepEqual(parseClientArgs(["-m", "", "h"]).messages, [""]);
  assert.deepEqual(parseClientArgs(["-m", "h\u00e9llo \u{1f389}", "h"]).messages, [
    "h\u00e9llo \u{1f389}",
  ]);
  assert.deepEqual(parseClientArgs(["--message=-v", "h"]).messages, ["-v"]);
  assert.deepEqual(parseClientArgs(["-m", "a\tb", "h"]).messages, ["a\tb"]);
});

Deno.test("client rejects a message containing a line break", () => {
  rejects(
    ["-m", "a\nb", "localhost"],
    'Invalid --message "a\\nb": a message is one line; repeat -m for more',
  );
  rejects(
    ["-m", "ok", "-m", "x\r", "localhost"],
    'Invalid --message "x\\r": a message is one line; repeat -m for more',
  );
});

Deno.test("client accepts --connect-timeout in whole or fractional seconds", () => {
  assert.equal(parseClientArgs(["--connect-timeout", "0", "h"]).connectTimeout, 0);
  assert.equal(parseClientArgs(["--connect-timeout=2.5", "h"]).connectTimeout, 2.5);
  assert.equal(parseClientArgs(["--connect-timeout", "86400", "h"]).connectTimeout, 86400);
});

Deno.test("client takes --connect-timeout with ms, s, m or h", () => {
  assert.equal(parseClientArgs(["--connect-timeout", "250ms", "h"]).connectTimeout, 0.25);
  assert.equal(parseClientArgs(["--connect-timeout=1.5s", "h"]).connectTimeout, 1.5);
  assert.equal(parseClientArgs(["--connect-timeout", "2m", "h"]).connectTimeout, 120);
});

Deno.test("client rejects a bad --connect-timeout, naming it", () => {
  for (const value of ["-1", "abc", "86401", "1e3", ""]) {
    rejects(
      [`--connect-timeout=${value}`, "localhost"],
      `Invalid --connect-timeout "${value}": must be a duration from 0 to 24h, ` +
        "such as 2.5 (seconds), 500ms, 30s or 5m",
    );
  }
});

Deno.test("client --help and --version need no HOST", () => {
  const noTarget = { ...DEFAULTS, target: undefined };
  assert.deepEqual(parseClientArgs(["--help"]), { ...noTarget, help: true });
  assert.deepEqual(parseClientArgs(["-h"]), { ...noTarget, help: true });
  assert.deepEqual(parseClientArgs(["--version"]), { ...noTarget, version: true });
  assert.deepEqual(parseClientArgs(["-V"]), { ...noTarget, version: true });
});

Deno.test("client --help ignores HOST and PORT, even too many of them", () => {
  assert.deepEqual(parseClientArgs(["localhost", "1", "2", "--help"]), {
    ...DEFAULTS,
    target: undefined,
    help: true,
  });
});

Deno.test("client requires HOST", () => {
  rejects([], "Missing HOST: say where to connect");
  rejects(["-m", "hi"], "Missing HOST: say where to connect");
});

Deno.test("client rejects more than HOST and PORT", () => {
  rejects(["localhost", "8888", "extra"], 'Unexpected argument "extra": expected HOST [PORT]');
});

Deno.test("client rejects a bad HOST or PORT, naming it", () => {
  rejects(["localhost", "99999"], 'Invalid port "99999": must be an integer from 1 to 65535');
  rejects(["localhost:x"], 'Invalid port "x": must be an integer from 0 to 65535');
  rejects(["[::1"], 'Invalid host "[::1": unbalanced brackets');
  rejects([""], 'Invalid host "": empty host');
  rejects(["host:1", "2"], 'Port given twice: "host:1" and "2"');
});

Deno.test("client rejects an unknown option", () => {
  rejects(["--nope", "localhost"], 'Unknown option "--nope"');
  rejects(["-x", "localhost"], 'Unknown option "-x"');
});

Deno.test("client rejects a flag without its value", () => {
  rejects(["localhost", "-m"], 'Option "--message" needs a value');
  rejects(["localhost", "--connect-timeout"], 'Option "--connect-timeout" needs a value');
});

Deno.test("client explains how to send a message that starts with a dash", () => {
  rejects(
    ["-m", "-hello", "localhost"],
    'Option "--message" needs a value: write --message=VALUE for a value that starts with "-"',
  );
  assert.deepEqual(parseClientArgs(["--message=-hello", "localhost"]).messages, ["-hello"]);
});

Deno.test("client refuses port 0, which it could never connect to, as bad usage", () => {
  for (const args of [["localhost", "0"], ["localhost:0"], ["[::1]:0"], ["::1", "0"]]) {
    rejects(args, 'Invalid port "0": must be an integer from 1 to 65535');
  }
  assert.equal(parseClientArgs(["localhost", "1"]).target?.port, 1);
  assert.equal(parseClientArgs(["localhost:65535"]).target?.port, 65535);
});

Deno.test("client skips a first -- as `deno task client -- --ack HOST` passes it", () => {
  assert.deepEqual(parseClientArgs(["--", "--ack", "localhost"]), { ...DEFAULTS, ack: true });
});

Deno.test("client rejects a value given to --version", () => {
  rejects(["--version=2"], 'Option "--version" does not take a value');
});

Deno.test("client treats arguments after -- as HOST and PORT", () => {
  assert.deepEqual(parseClientArgs(["--", "localhost", "9"]).target, {
    host: "localhost",
    port: 9,
  });
});

Deno.test("client usage names HOST, PORT and every flag", () => {
  assert.match(CLIENT_USAGE, /^Usage: linehub-client \[options\] HOST \[PORT\]\n/);
  for (
    const flag of [
      "-m, --message",
      "--connect-timeout TIME",
      "--retry N|forever",
      "--ack",
      "--buffer-lines",
      "--max-line",
      "--name NAME",
      "--tls",
      "--ca FILE",
      "--servername NAME",
      "--cert FILE",
      "--key FILE",
      "--insecure",
      "-q, --quiet",
      "-h, --help",
      "-V, --version",
    ]
  ) {
    assert.ok(CLIENT_USAGE.includes(flag), flag);
  }
});

Deno.test("client usage fits an 80-column terminal", () => {
  for (const line of CLIENT_USAGE.split("\n")) {
    assert.ok(line.length <= 80, `${line.length} columns: ${line}`);
  }
});

Deno.test("client usage shows the ranges and defaults the parser applies", () => {
  for (
    const text of [
      "PORT is 1 to 65535 (default 8888)",
      "(default 10s)",
      "up to 24h",
      "N up to 1000000",
      "(default 10000)",
      "1 to 67108864 (default 65536)",
      "500ms",
    ]
  ) {
    assert.ok(CLIENT_USAGE.includes(text), text);
  }
  assert.match(CLIENT_USAGE, /--buffer-lines N .*1 to\s+1000000;/);
});

Deno.test("client usage names its signals and every exit status", () => {
  assert.match(CLIENT_USAGE, /\nSignals:\n {2}SIGINT, SIGTERM {2}stop at once/);
  const statuses = CLIENT_USAGE.slice(CLIENT_USAGE.indexOf("\nExit status:\n"));
  for (
    const code of [
      EXIT_OK,
      EXIT_FAILURE,
      EXIT_USAGE,
      EXIT_LOST,
      EXIT_OUTPUT,
      EXIT_BUSY,
      EXIT_REFUSED,
      EXIT_SIGINT,
    ]
  ) {
    assert.match(statuses, new RegExp(`\\n  ${code} +[a-z]`), String(code));
  }
  assert.match(statuses, new RegExp(`${EXIT_SIGTERM} by SIGTERM`));
});

Deno.test("client takes --retry as a number of retries or forever", () => {
  assert.equal(parseClientArgs(["--retry", "5", "h"]).retry, 5);
  assert.equal(parseClientArgs(["--retry=0", "h"]).retry, 0);
  assert.equal(parseClientArgs(["--retry", "1000000", "h"]).retry, 1_000_000);
  assert.equal(parseClientArgs(["--retry", "forever", "h"]).retry, Infinity);
});

Deno.test("client rejects a bad --retry, naming it", () => {
  for (const value of ["abc", "-1", "1.5", "", "1000001", "Forever", "infinity"]) {
    rejects(
      [`--retry=${value}`, "localhost"],
      `Invalid --retry "${value}": must be an integer from 0 to 1000000 or "forever"`,
    );
  }
});

Deno.test("client takes --ack, --buffer-lines and --max-line", () => {
  assert.deepEqual(
    parseClientArgs(["--ack", "--buffer-lines", "5", "--max-line=100", "localhost"]),
    { ...DEFAULTS, ack: true, bufferLines: 5, maxLine: 100 },
  );
  assert.deepEqual(
    parseClientArgs(["--retry", "forever", "--buffer-lines=1000000", "localhost"]),
    { ...DEFAULTS, retry: Infinity, bufferLines: 1_000_000 },
  );
  assert.equal(parseClientArgs(["--ack", "--max-line", "67108864", "h"]).maxLine, 67_108_864);
});

Deno.test("client rejects a bad --buffer-lines or --max-line, naming it", () => {
  for (const value of ["0", "abc", "-5", "1000001", "1e3"]) {
    rejects(
      ["--ack", `--buffer-lines=${value}`, "localhost"],
      `Invalid --buffer-lines "${value}": must be an integer from 1 to 1000000`,
    );
  }
  for (const value of ["0", "x", "67108865"]) {
    rejects(
      ["--retry", "1", `--max-line=${value}`, "localhost"],
      `Invalid --max-line "${value}": must be an integer from 1 to 67108864`,
    );
  }
});

Deno.test("client rejects --buffer-lines and --max-line without --retry or --ack", () => {
  rejects(
    ["--buffer-lines", "5", "localhost"],
    'Option "--buffer-lines" needs --retry or --ack: without them the client holds no lines',
  );
  rejects(
    ["--retry", "0", "--max-line", "5", "localhost"],
    'Option "--max-line" needs --retry or --ack: without them the client holds no lines',
  );
});

Deno.test("client rejects a value given to --ack", () => {
  rejects(["--ack=yes", "localhost"], 'Option "--ack" does not take a value');
});

Deno.test("client takes --name in any mode: letters, digits and . _ - : @ /, up to 64", () => {
  for (const name of ["web1", "db-2.eu", "app/worker:3", "svc@host", "n".repeat(64)]) {
    assert.equal(parseClientArgs(["--name", name, "localhost"]).name, name);
    assert.equal(parseClientArgs([`--name=${name}`, "--ack", "localhost"]).name, name);
  }
});

Deno.test("client rejects a --name a label could not show as one word, naming it", () => {
  const charset = "must be 1 to 64 ASCII letters, digits or . _ - : @ /";
  for (const name of ["", "two words", "caf\u00e9", "x\x1b[2J", "n".repeat(65), "[a]"]) {
    rejects(["--name", name, "localhost"], `Invalid --name ${JSON.stringify(name)}: ${charset}`);
  }
  rejects(
    ["--name", "partial", "localhost"],
    'Invalid --name "partial": is a word the text label uses for its flags (truncated, partial)',
  );
});

Deno.test("client --tls alone verifies against HOST and the built-in roots", () => {
  assert.deepEqual(parseClientArgs(["--tls", "localhost"]), { ...DEFAULTS, tls: TLS_DEFAULTS });
});

Deno.test("client takes --ca, --servername, --cert and --key with --tls", () => {
  assert.deepEqual(
    parseClientArgs([
      "--tls",
      "--ca",
      "ca.pem",
      "--servername=server.example",
      "--cert",
      "me.pem",
      "--key",
      "me.key",
      "10.0.0.1:9000",
    ]),
    {
      ...DEFAULTS,
      target: { host: "10.0.0.1", port: 9000 },
      tls: {
        ca: "ca.pem",
        servername: "server.example",
        cert: "me.pem",
        key: "me.key",
        insecure: false,
      },
    },
  );
  assert.equal(parseClientArgs(["--tls", "--servername", "::1", "h"]).tls?.servername, "::1");
  assert.equal(
    parseClientArgs(["--tls", "--servername", "xn--bcher-kva.example", "h"]).tls?.servername,
    "xn--bcher-kva.example",
  );
});

Deno.test("client takes --insecure with --tls, and with --servername", () => {
  assert.deepEqual(parseClientArgs(["--tls", "--insecure", "h"]).tls, {
    ...TLS_DEFAULTS,
    insecure: true,
  });
  assert.deepEqual(parseClientArgs(["--tls", "--insecure", "--servername", "a.example", "h"]).tls, {
    ...TLS_DEFAULTS,
    servername: "a.example",
    insecure: true,
  });
});

Deno.test("client rejects each TLS flag without --tls, naming it", () => {
  rejects(["--ca", "ca.pem", "h"], "--ca needs --tls");
  rejects(["--servername", "a.example", "h"], "--servername needs --tls");
  rejects(["--cert", "c.pem", "--key", "k.pem", "h"], "--cert needs --tls");
  rejects(["--key", "k.pem", "h"], "--key needs --tls");
  rejects(["--insecure", "h"], "--insecure needs --tls");
});

Deno.test("client rejects --cert without --key and --key without --cert", () => {
  rejects(["--tls", "--cert", "c.pem", "h"], "--cert needs --key");
  rejects(["--tls", "--key", "k.pem", "h"], "--key needs --cert");
});

Deno.test("client rejects --insecure with --ca: one of them would be ignored", () => {
  rejects(
    ["--tls", "--insecure", "--ca", "ca.pem", "h"],
    "--insecure conflicts with --ca: --insecure verifies nothing, so --ca would be ignored",
  );
});

Deno.test("client rejects an empty TLS file name, naming the flag", () => {
  rejects(["--tls", "--ca", "", "h"], 'Invalid --ca "": empty file name');
  rejects(["--tls", "--cert=", "--key", "k", "h"], 'Invalid --cert "": empty file name');
  rejects(["--tls", "--cert", "c", "--key=", "h"], 'Invalid --key "": empty file name');
});

Deno.test("client rejects a --servername that is not a host name or an address", () => {
  for (const name of ["", "two words", "a..b", ".lead", "h\u00e9.example", "a/b", "[::1]"]) {
    rejects(
      ["--tls", `--servername=${name}`, "h"],
      `Invalid --servername ${JSON.stringify(name)}: must be a host name or an IP address`,
    );
  }
});

Deno.test("client rejects a value given to --tls, --insecure or --quiet", () => {
  rejects(["--tls=yes", "h"], 'Option "--tls" does not take a value');
  rejects(["--tls", "--insecure=1", "h"], 'Option "--insecure" does not take a value');
  rejects(["--quiet=1", "h"], 'Option "--quiet" does not take a value');
});

Deno.test("client takes -q and --quiet", () => {
  assert.deepEqual(parseClientArgs(["-q", "h"]), {
    ...DEFAULTS,
    target: { host: "h", port: 8888 },
    quiet: true,
  });
  assert.equal(parseClientArgs(["--quiet", "--retry", "1", "h"]).quiet, true);
});
