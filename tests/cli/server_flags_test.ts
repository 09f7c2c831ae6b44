/**
 * Unit tests for the server's command line: defaults, every flag in each of
 * its spellings, and a UsageError naming the bad value for every mistake,
 * all before any socket or file is opened.
 */

import assert from "node:assert/strict";
import { MAX_MAX_LINE } from "../../lib/cli/_flag_values.ts";
import {
  EXIT_CUT_OFF,
  EXIT_FAILURE,
  EXIT_OK,
  EXIT_OUTPUT,
  EXIT_USAGE,
} from "../../lib/cli/_exit_status.ts";
import { nodeFromHostName, parseServerArgs, SERVER_USAGE } from "../../lib/cli/_server_flags.ts";
import { UsageError } from "../../lib/text/usage_error.ts";

/** Asserts that parsing `args` throws a UsageError with exactly `message`. */
function rejects(args: string[], message: string): void {
  assert.throws(() => parseServerArgs(args), (error: unknown) => {
    assert.ok(error instanceof UsageError, `expected a UsageError, got ${error}`);
    assert.equal(error.message, message, `for ${JSON.stringify(args)}`);
    return true;
  });
}

const DEFAULTS = {
  host: "0.0.0.0",
  port: 8888,
  format: "text",
  node: undefined,
  label: "number",
  labelNode: false,
  timestamp: false,
  output: undefined,
  sink: undefined,
  maxLine: 65536,
  framing: "lf",
  drainTimeout: 5,
  backlog: 4096,
  idleTimeout: 0,
  lineTimeout: 0,
  ack: false,
  workers: 1,
  allow: [],
  deny: [],
  proxyProtocol: false,
  proxyFrom: [],
  maxClients: 0,
  maxPerIp: 0,
  rateLimit: undefined,
  tlsCert: undefined,
  tlsKey: undefined,
  tlsClientCa: undefined,
  maxHandshakes: 1024,
  mode: "log",
  sendQueue: 1048576,
  console: false,
  http: undefined,
  httpToken: undefined,
  help: false,
  version: false,
};

Deno.test("server flags default to 0.0.0.0:8888, text, stdout", () => {
  assert.deepEqual(parseServerArgs([]), DEFAULTS);
});

Deno.test("server accepts --host", () => {
  assert.deepEqual(parseServerArgs(["--host", "::"]), { ...DEFAULTS, host: "::" });
  assert.deepEqual(parseServerArgs(["--host=127.0.0.1"]), { ...DEFAULTS, host: "127.0.0.1" });
});

Deno.test("server accepts --port and -p in every spelling", () => {
  for (const args of [["--port", "9000"], ["--port=9000"], ["-p", "9000"], ["-p9000"]]) {
    assert.deepEqual(parseServerArgs(args), { ...DEFAULTS, port: 9000 }, args.join(" "));
  }
  assert.equal(parseServerArgs(["-p", "0"]).port, 0);
  assert.equal(parseServerArgs(["-p", "65535"]).port, 65535);
});

Deno.test("server accepts --format and -f with text, json and raw", () => {
  for (const format of ["text", "json", "raw"]) {
    assert.equal(parseServerArgs(["--format", format]).format, format);
    assert.equal(parseServerArgs([`--format=${format}`]).format, format);
    assert.equal(parseServerArgs(["-f", format]).format, format);
  }
});

Deno.test("server takes --label number, address or both and --timestamp, for text", () => {
  for (const label of ["number", "address", "both"]) {
    assert.equal(parseServerArgs(["--label", label]).label, label);
  }
  assert.equal(parseServerArgs(["--timestamp"]).timestamp, true);
  assert.deepEqual(
    (({ format, label, timestamp }) => ({ format, label, timestamp }))(
      parseServerArgs(["-f", "text", "--label=both", "--timestamp"]),
    ),
    { format: "text", label: "both", timestamp: true },
  );
  rejects(["--label", "name"], 'Invalid label "name": must be one of number, address, both');
  rejects(["--label", ""], 'Invalid label "": must be one of number, address, both');
});

Deno.test("server refuses --label and --timestamp beside another format than text, naming both", () => {
  rejects(
    ["-f", "json", "--timestamp"],
    "Cannot combine --timestamp with --format json: it is for text output " +
      "(JSON records name the node, the client and the time anyway)",
  );
  rejects(
    ["--label", "number", "-f", "json"],
    "Cannot combine --label with --format json: it is for text output " +
      "(JSON records name the node, the client and the time anyway)",
  );
  rejects(
    ["-f", "raw", "--label", "address"],
    "Cannot combine --label with --format raw: it is for text output",
  );
  rejects(
    ["--label-node", "-f", "json"],
    "Cannot combine --label-node with --format json: it is for text output " +
      "(JSON records name the node, the client and the time anyway)",
  );
});

Deno.test("server takes --node, leaving it undefined (the host name) unless given, and --label-node for text", () => {
  assert.equal(parseServerArgs([]).node, undefined);
  for (const node of ["web-3", "web-3.eu.example.net", "WIN_BOX01", "n".repeat(64)]) {
    assert.equal(parseServerArgs(["--node", node]).node, node);
  }
  assert.equal(parseServerArgs(["--node=web-3", "-f", "json"]).node, "web-3");
  assert.deepEqual(
    (({ node, labelNode }) => ({ node, labelNode }))(
      parseServerArgs(["--node", "web-3", "--label-node"]),
    ),
    { node: "web-3", labelNode: true },
  );
  // Without --node, the label shows the host name.
  assert.equal(parseServerArgs(["--label-node"]).labelNode, true);
});

Deno.test("server refuses a --node that is not 1 to 64 letters, digits or . _ -, quoting it", () => {
  const rule = "must be 1 to 64 ASCII letters, digits or . _ -";
  rejects(["--node", "web 3"], `Invalid node "web 3": ${rule}`);
  rejects(["--node", "web/3"], `Invalid node "web/3": ${rule}`);
  rejects(["--node="], `Invalid node "": ${rule}`);
  rejects(["--node", "n".repeat(65)], `Invalid node "${"n".repeat(65)}": ${rule}`);
  // A control character is quoted as an escape, never printed raw.
  rejects(["--node", "x\x1b[2J"], `Invalid node "x\\u001b[2J": ${rule}`);
  rejects(["--node"], 'Option "--node" needs a value');
  rejects(["--label-node=yes"], 'Option "--label-node" does not take a value');
});

Deno.test("the default node is the host name, mended and said so when it is not a node name", () => {
  assert.deepEqual(nodeFromHostName("web-3"), { node: "web-3", note: null });
  assert.deepEqual(nodeFromHostName("Jo's Mac"), {
    node: "Jo-s-Mac",
    note: `host name "Jo's Mac" is not a valid node name; using "Jo-s-Mac" ` +
      "(--node NAME sets another)",
  });
  assert.deepEqual(nodeFromHostName("bad\x1b"), {
    node: "bad-",
    note: `host name "bad\\u001b" is not a valid node name; using "bad-" ` +
      "(--node NAME sets another)",
  });
  assert.deepEqual(nodeFromHostName(""), {
    problem: "Cannot name this node after the host name: it is empty; give --node NAME",
  });
  assert.deepEqual(nodeFromHostName(null), {
    problem: "Cannot name this node after the host name: reading it needs Deno's " +
      "--allow-sys=hostname; give --node NAME instead",
  });
});

Deno.test("server accepts --output and -o", () => {
  assert.deepEqual(parseServerArgs(["--output", "out.log"]), { ...DEFAULTS, output: "out.log" });
  assert.equal(parseServerArgs(["--output=/tmp/x y.log"]).output, "/tmp/x y.log");
  assert.equal(parseServerArgs(["-o", "out.log"]).output, "out.log");
});

Deno.test("server accepts --max-line from 1 to 64 MiB", () => {
  assert.equal(MAX_MAX_LINE, 64 * 1024 * 1024);
  assert.deepEqual(parseServerArgs(["--max-line", "100"]), { ...DEFAULTS, maxLine: 100 });
  assert.equal(parseServerArgs(["--max-line=1"]).maxLine, 1);
  assert.equal(parseServerArgs(["--max-line", String(MAX_MAX_LINE)]).maxLine, MAX_MAX_LINE);
});

Deno.test("server takes --framing lf, octet or auto, lf by default, and names a bad one", () => {
  for (const framing of ["lf", "octet", "auto"]) {
    assert.deepEqual(parseServerArgs(["--framing", framing]), { ...DEFAULTS, framing });
  }
  assert.equal(parseServerArgs(["--framing=octet"]).framing, "octet");
  // With every mode and --ack: framing is how a client's bytes are read,
  // whatever is sent back.
  assert.equal(parseServerArgs(["--framing", "auto", "--ack"]).framing, "auto");
  assert.equal(parseServerArgs(["--framing", "octet", "--mode", "chat"]).framing, "octet");
  for (const bad of ["octet-counted", "LF", "", "crlf"]) {
    rejects(["--framing", bad], `Invalid framing "${bad}": must be one of lf, octet, auto`);
  }
  rejects(["--framing"], 'Option "--framing" needs a value');
});

Deno.test("server takes --drain-timeout and --idle-timeout with ms, s, m or h", () => {
  assert.equal(parseServerArgs(["--drain-timeout", "500ms"]).drainTimeout, 0.5);
  assert.equal(parseServerArgs(["--drain-timeout=30s"]).drainTimeout, 30);
  assert.equal(parseServerArgs(["--idle-timeout", "5m"]).idleTimeout, 300);
  assert.equal(parseServerArgs(["--idle-timeout", "1h"]).idleTimeout, 3600);
});

Deno.test("server accepts --drain-timeout in whole or fractional seconds", () => {
  assert.deepEqual(parseServerArgs(["--drain-timeout", "0"]), { ...DEFAULTS, drainTimeout: 0 });
  assert.equal(parseServerArgs(["--drain-timeout=0.5"]).drainTimeout, 0.5);
  assert.equal(parseServerArgs(["--drain-timeout", "86400"]).drainTimeout, 86400);
});

Deno.test("server --sink takes a redis:// URL, and the records become JSON unless told otherwise", () => {
  const config = parseServerArgs(["--sink", "redis://127.0.0.1:6380/lines?maxlen=5000"]);
  assert.deepEqual(config.sink, {
    scheme: "redis",
    hostname: "127.0.0.1",
    port: 6380,
    stream: "lines",
    maxLen: 5000,
  });
  assert.equal(config.format, "json");
  assert.equal(parseServerArgs(["--sink=redis://h/s", "-f", "json", "-o", "x"]).format, "json");
});

Deno.test("server --sink refuses a bad URL or another format than json, naming the value", () => {
  rejects(
    ["--sink", "redis://127.0.0.1:6379"],
    `Invalid --sink "redis://127.0.0.1:6379": no stream: give it as the path, redis://HOST:PORT/STREAM`,
  );
  rejects(
    ["--sink", "kafka://k/t"],
    `Invalid --sink "kafka://k/t": unknown scheme "kafka:"; give ` +
      "redis://HOST[:PORT]/STREAM[?maxlen=N] or nats://HOST[:PORT]/SUBJECT[?create=STREAM]",
  );
  rejects(
    ["--sink", "redis://h/s", "--format", "text"],
    "Cannot combine --sink with --format text: the sink's entries are made from the JSON " +
      "records, which the output gets too",
  );
});

Deno.test("server accepts --help, -h, --version and -V", () => {
  assert.deepEqual(parseServerArgs(["--help"]), { ...DEFAULTS, help: true });
  assert.deepEqual(parseServerArgs(["-h"]), { ...DEFAULTS, help: true });
  assert.deepEqual(parseServerArgs(["--version"]), { ...DEFAULTS, version: true });
  assert.deepEqual(parseServerArgs(["-V"]), { ...DEFAULTS, version: true });
  assert.deepEqual(parseServerArgs(["-hV"]), { ...DEFAULTS, help: true, version: true });
});

Deno.test("server takes the last of a repeated flag", () => {
  assert.equal(parseServerArgs(["-p", "1", "--port", "2"]).port, 2);
});

Deno.test("server accepts every flag at once", () => {
  assert.deepEqual(
    parseServerArgs([
      "--host=::1",
      "-p",
      "7000",
      "-f",
      "json",
      "-o",
      "log.jsonl",
      "--max-line",
      "512",
      "--drain-timeout",
      "2.5",
      "--backlog",
      "64",
      "--framing",
      "octet",
    ]),
    {
      host: "::1",
      port: 7000,
      format: "json",
      node: undefined,
      label: "number",
      labelNode: false,
      timestamp: false,
      output: "log.jsonl",
      sink: undefined,
      maxLine: 512,
      framing: "octet",
      drainTimeout: 2.5,
      backlog: 64,
      idleTimeout: 0,
      lineTimeout: 0,
      ack: false,
      workers: 1,
      allow: [],
      deny: [],
      proxyProtocol: false,
      proxyFrom: [],
      maxClients: 0,
      maxPerIp: 0,
      rateLimit: undefined,
      tlsCert: undefined,
      tlsKey: undefined,
      tlsClientCa: undefined,
      maxHandshakes: 1024,
      mode: "log",
      sendQueue: 1048576,
      console: false,
      http: undefined,
      httpToken: undefined,
      help: false,
      version: false,
    },
  );
});

Deno.test("server rejects an unknown option", () => {
  rejects(["--verbose"], 'Unknown option "--verbose"');
  rejects(["-x"], 'Unknown option "-x"');
});

Deno.test("server rejects a flag without its value", () => {
  rejects(["--port"], 'Option "--port" needs a value');
  rejects(["-p"], 'Option "--port" needs a value');
  rejects(["--format"], 'Option "--format" needs a value');
  rejects(["-o"], 'Option "--output" needs a value');
  rejects(["--max-line"], 'Option "--max-line" needs a value');
  rejects(["--drain-timeout"], 'Option "--drain-timeout" needs a value');
  rejects(["--host"], 'Option "--host" needs a value');
});

Deno.test("server says a negative number is out of range rather than a missing value", () => {
  rejects(["--port", "-1"], 'Invalid --port "-1": must be an integer from 0 to 65535');
  rejects(["-p", "-1"], 'Invalid --port "-1": must be an integer from 0 to 65535');
  rejects(
    ["--max-line", "-5"],
    `Invalid --max-line "-5": must be an integer from 1 to ${MAX_MAX_LINE}`,
  );
  rejects(["--backlog", "-1"], 'Invalid --backlog "-1": must be an integer from 1 to 65535');
});

Deno.test("server explains how to give a value that starts with a dash", () => {
  rejects(
    ["-o", "-log"],
    'Option "--output" needs a value: write --output=VALUE for a value that starts with "-"',
  );
  rejects(
    ["--max-line", "--ack"],
    'Option "--max-line" needs a value: write --max-line=VALUE for a value that starts with "-"',
  );
  assert.equal(parseServerArgs(["--output=-log"]).output, "-log");
});

Deno.test("server skips a first -- as `deno task server -- --port 9000` passes it", () => {
  assert.deepEqual(parseServerArgs(["--", "--port", "9000"]), { ...DEFAULTS, port: 9000 });
  rejects(["--", "--port", "9000", "--", "x"], 'Unexpected argument "x"');
});

Deno.test("server rejects a value given to --help", () => {
  rejects(["--help=1"], 'Option "--help" does not take a value');
});

Deno.test("server rejects positional arguments", () => {
  rejects(["8888"], 'Unexpected argument "8888"');
});

Deno.test("server rejects a bad port, naming it", () => {
  for (const port of ["-1", "65536", "http", "", "1e3", "0x50"]) {
    rejects([`--port=${port}`], `Invalid --port "${port}": must be an integer from 0 to 65535`);
  }
});

Deno.test("server rejects a format other than text, json or raw", () => {
  for (const format of ["xml", "TEXT", "", "jsonl"]) {
    rejects(["-f", format], `Invalid format "${format}": must be one of text, json, raw`);
  }
});

Deno.test("server rejects a bad --max-line, naming it", () => {
  for (const value of ["0", "-5", "1.5", "abc", String(MAX_MAX_LINE + 1), "1e6"]) {
    rejects(
      [`--max-line=${value}`],
      `Invalid --max-line "${value}": must be an integer from 1 to ${MAX_MAX_LINE}`,
    );
  }
});

Deno.test("server rejects a bad --drain-timeout, naming it", () => {
  for (const value of ["-1", "abc", "86401", ".5", ""]) {
    rejects(
      [`--drain-timeout=${value}`],
      `Invalid --drain-timeout "${value}": must be a duration from 0 to 24h, ` +
        "such as 2.5 (seconds), 500ms, 30s or 5m",
    );
  }
});

Deno.test("server rejects an empty host or output path", () => {
  rejects(["--host="], 'Invalid host "": empty host');
  rejects(["-o", ""], 'Invalid output file "": empty path');
});

Deno.test("server usage lists every flag", () => {
  assert.match(SERVER_USAGE, /^Usage: linehub-server \[options\]\n/);
  for (
    const flag of [
      "--host ADDR",
      "-p, --port N",
      "-f, --format FORMAT",
      "--label WHAT",
      "--node NAME",
      "--label-node",
      "--timestamp",
      "-o, --output FILE",
      "--sink URL",
      "--max-line BYTES",
      "--framing HOW",
      "--idle-timeout TIME",
      "--drain-timeout TIME",
      "--backlog N",
      "--allow CIDR",
      "--deny CIDR",
      "--proxy-protocol",
      "--proxy-from CIDR",
      "--max-clients N",
      "--max-per-ip N",
      "--rate-limit RATE",
      "--workers N",
      "--ack",
      "--tls-cert FILE",
      "--tls-key FILE",
      "--tls-client-ca FILE",
      "--mode MODE",
      "--send-queue BYTES",
      "--console",
      "--http ADDR",
      "--http-token TOKEN",
      "-h, --help",
      "-V, --version",
    ]
  ) {
    assert.match(SERVER_USAGE, new RegExp(`^  ${flag} `, "m"), flag);
  }
});

Deno.test("server usage fits an 80-column terminal", () => {
  for (const line of SERVER_USAGE.split("\n")) {
    assert.ok(line.length <= 80, `${line.length} columns: ${line}`);
  }
});

Deno.test("server usage shows the ranges and defaults the parser applies", () => {
  for (
    const text of [
      "0 to 65535",
      "(default 8888)",
      "(default 0.0.0.0)",
      "1 to 67108864",
      "(default 65536)",
      "lf, a newline",
      "octet, RFC 6587",
      "auto, each connection's first byte",
      "(default lf)",
      "(default 5s)",
      "1 to 65535",
      "(default 4096)",
      "up to 10000000",
      "1 to 256",
      "65536 to 1073741824",
      "at least --max-line + 64",
      "(default 1048576",
      "up to 24h",
      "500ms",
    ]
  ) {
    assert.ok(SERVER_USAGE.includes(text), text);
  }
});

Deno.test("server usage names its signals and every exit status", () => {
  assert.match(SERVER_USAGE, /\nSignals:\n {2}SIGINT, SIGTERM {2}stop accepting/);
  assert.match(SERVER_USAGE, /a second one exits at once, unless it comes\n {19}within 500 ms of/);
  assert.match(SERVER_USAGE, /\n {2}SIGHUP {11}with --output, reopen the file/);
  assert.match(SERVER_USAGE, /with\n {19}TLS, read the TLS files again: new handshakes get them/);
  const statuses = SERVER_USAGE.slice(SERVER_USAGE.indexOf("\nExit status:\n"));
  for (const code of [EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_CUT_OFF, EXIT_OUTPUT, 130]) {
    assert.match(statuses, new RegExp(`\\n  ${code} +[a-z]`), String(code));
  }
  assert.match(statuses, /143 a second SIGTERM/);
});

Deno.test("server usage no longer says --workers needs --unstable-net", () => {
  // The task and the compiled binary both run with it.
  assert.doesNotMatch(SERVER_USAGE, /unstable/);
});

Deno.test("server takes a bracketed IPv6 --host as the address inside", () => {
  assert.equal(parseServerArgs(["--host", "[::1]"]).host, "::1");
  assert.equal(parseServerArgs(["--host", "::"]).host, "::");
  assert.equal(parseServerArgs(["--host", "localhost"]).host, "localhost");
});

Deno.test("server rejects a --host that holds a port or is no address", () => {
  rejects(["--host", "127.0.0.1:9000"], 'Invalid host "127.0.0.1:9000": give the port with --port');
  rejects(["--host", "[]"], 'Invalid host "[]": empty host');
  rejects(["--host", "a b"], 'Invalid host "a b": not an address or host name');
  rejects(["--host", "[::1]:80"], 'Invalid host "[::1]:80": not an address or host name');
});

Deno.test("server accepts --backlog and rejects values outside 1 to 65535, naming them", () => {
  assert.equal(parseServerArgs(["--backlog", "128"]).backlog, 128);
  rejects(["--backlog", "0"], 'Invalid --backlog "0": must be an integer from 1 to 65535');
  rejects(["--backlog", "70000"], 'Invalid --backlog "70000": must be an integer from 1 to 65535');
});

Deno.test("server accepts --idle-timeout in seconds, off (0) by default, and rejects bad values", () => {
  assert.equal(parseServerArgs([]).idleTimeout, 0);
  assert.equal(parseServerArgs(["--idle-timeout", "2.5"]).idleTimeout, 2.5);
  rejects(
    ["--idle-timeout", "-1"],
    'Invalid --idle-timeout "-1": must be a duration from 0 to 24h, ' +
      "such as 2.5 (seconds), 500ms, 30s or 5m",
  );
  rejects(
    ["--idle-timeout", "soon"],
    'Invalid --idle-timeout "soon": must be a duration from 0 to 24h, ' +
      "such as 2.5 (seconds), 500ms, 30s or 5m",
  );
});

Deno.test("server accepts --line-timeout in seconds, off (0) by default, and rejects bad values", () => {
  assert.equal(parseServerArgs([]).lineTimeout, 0);
  assert.equal(parseServerArgs(["--line-timeout", "30"]).lineTimeout, 30);
  rejects(
    ["--line-timeout", "never"],
    'Invalid --line-timeout "never": must be a duration from 0 to 24h, ' +
      "such as 2.5 (seconds), 500ms, 30s or 5m",
  );
  assert.equal(parseServerArgs(["--line-timeout", "1500ms"]).lineTimeout, 1.5);
});

Deno.test("server --ack turns on acknowledgments, off by default", () => {
  assert.equal(parseServerArgs([]).ack, false);
  assert.equal(parseServerArgs(["--ack"]).ack, true);
});

Deno.test("server accepts --max-clients and --max-per-ip, 0 (no limit) by default, and names bad values", () => {
  const config = parseServerArgs(["--max-clients", "100", "--max-per-ip=3"]);
  assert.equal(config.maxClients, 100);
  assert.equal(config.maxPerIp, 3);
  assert.equal(parseServerArgs([]).maxClients, 0);
  assert.throws(() => parseServerArgs(["--max-clients=-1"]), /Invalid --max-clients "-1"/);
  assert.throws(() => parseServerArgs(["--max-per-ip", "two"]), /Invalid --max-per-ip "two"/);
});

Deno.test("server takes --rate-limit as LINES/s[:BURST], BURST one second's worth unless given, off by default", () => {
  assert.equal(parseServerArgs([]).rateLimit, undefined);
  assert.deepEqual(parseServerArgs(["--rate-limit", "200/s"]).rateLimit, {
    lines: 200,
    burst: 200,
  });
  assert.deepEqual(parseServerArgs(["--rate-limit=200/s:1000"]).rateLimit, {
    lines: 200,
    burst: 1000,
  });
  assert.deepEqual(parseServerArgs(["--rate-limit", "50"]).rateLimit, { lines: 50, burst: 50 });
  assert.deepEqual(parseServerArgs(["--rate-limit", "1/s:10000000"]).rateLimit, {
    lines: 1,
    burst: 10_000_000,
  });
  // Fine beside the flags it works with.
  const config = parseServerArgs(["--rate-limit", "10/s", "--workers", "2", "--ack"]);
  assert.deepEqual(config.rateLimit, { lines: 10, burst: 10 });
});

Deno.test("server rejects a bad --rate-limit in one line quoting it", () => {
  const form = "must be LINES/s or LINES/s:BURST, such as 200/s or 200/s:1000";
  for (const text of ["", "fast", "200/m", "200/s:", "2.5/s", "-1/s", "200:1000/s", "/s"]) {
    rejects([`--rate-limit=${text}`], `Invalid --rate-limit "${text}": ${form}`);
  }
  const range = "must be an integer from 1 to 10000000";
  rejects(["--rate-limit", "0/s"], `Invalid --rate-limit "0/s": LINES ${range}`);
  rejects(["--rate-limit", "10000001"], `Invalid --rate-limit "10000001": LINES ${range}`);
  rejects(["--rate-limit", "200/s:0"], `Invalid --rate-limit "200/s:0": BURST ${range}`);
  rejects(["--rate-limit"], 'Option "--rate-limit" needs a value');
});

Deno.test("server takes repeated --allow and --deny rules and names a bad one", () => {
  const config = parseServerArgs([
    "--allow",
    "10.0.0.0/8",
    "--allow",
    "::1",
    "--deny=10.9.0.0/16",
  ]);
  assert.deepEqual(config.allow.map((rule) => rule.text), ["10.0.0.0/8", "::1/128"]);
  assert.deepEqual(config.deny.map((rule) => rule.text), ["10.9.0.0/16"]);
  assert.throws(
    () => parseServerArgs(["--deny", "10.1.2.3/8"]),
    /Invalid --deny "10.1.2.3\/8": host bits set; did you mean 10.0.0.0\/8\?/,
  );
  assert.throws(() => parseServerArgs(["--allow", "nowhere"]), /Invalid --allow "nowhere"/);
});

Deno.test("server takes --proxy-protocol, and --proxy-from only beside it, naming a bad rule", () => {
  const config = parseServerArgs([
    "--proxy-protocol",
    "--proxy-from",
    "10.0.0.0/8",
    "--proxy-from=::1",
  ]);
  assert.equal(config.proxyProtocol, true);
  assert.deepEqual(config.proxyFrom.map((rule) => rule.text), ["10.0.0.0/8", "::1/128"]);
  assert.deepEqual(parseServerArgs(["--proxy-protocol"]).proxyFrom, []);
  rejects(["--proxy-from", "10.0.0.0/8"], "--proxy-from needs --proxy-protocol");
  rejects(
    ["--proxy-protocol", "--proxy-from", "10.0.0.1/8"],
    'Invalid --proxy-from "10.0.0.1/8": host bits set; did you mean 10.0.0.0/8?',
  );
  rejects(
    ["--proxy-protocol", "--proxy-from", "balancer"],
    'Invalid --proxy-from "balancer": not an IPv4 or IPv6 address or CIDR',
  );
});

Deno.test("server --workers takes 1 to 256, with the client limits beside it", () => {
  assert.equal(parseServerArgs([]).workers, 1);
  assert.equal(parseServerArgs(["--workers", "4"]).workers, 4);
  assert.throws(() => parseServerArgs(["--workers", "0"]), /Invalid --workers "0"/);
  assert.throws(() => parseServerArgs(["--workers", "257"]), /Invalid --workers "257"/);
  const limited = parseServerArgs(["--workers", "2", "--max-clients", "10", "--max-per-ip", "3"]);
  assert.deepEqual([limited.workers, limited.maxClients, limited.maxPerIp], [2, 10, 3]);
});

Deno.test("server accepts the TLS flags, a client CA only with a certificate and key", () => {
  const config = parseServerArgs([
    "--tls-cert",
    "c.pem",
    "--tls-key",
    "k.pem",
    "--tls-client-ca",
    "ca.pem",
  ]);
  assert.deepEqual(
    [config.tlsCert, config.tlsKey, config.tlsClientCa],
    ["c.pem", "k.pem", "ca.pem"],
  );
  rejects(["--tls-cert", "c.pem"], "--tls-cert needs --tls-key");
  rejects(["--tls-key", "k.pem"], "--tls-key needs --tls-cert");
  rejects(["--tls-client-ca", "ca.pem"], "--tls-client-ca needs --tls-cert and --tls-key");
  rejects(["--tls-cert", "", "--tls-key", "k.pem"], 'Invalid tls-cert file "": empty path');
});

Deno.test("server --max-handshakes takes 0 (no limit) to 10000000 with TLS, 1024 by default", () => {
  const tls = ["--tls-cert", "c.pem", "--tls-key", "k.pem"];
  assert.equal(parseServerArgs(tls).maxHandshakes, 1024);
  assert.equal(parseServerArgs([...tls, "--max-handshakes", "0"]).maxHandshakes, 0);
  assert.equal(parseServerArgs([...tls, "--max-handshakes=10000000"]).maxHandshakes, 10_000_000);
  rejects(
    [...tls, "--max-handshakes", "-1"],
    'Invalid --max-handshakes "-1": must be an integer from 0 to 10000000',
  );
  rejects(
    [...tls, "--max-handshakes=many"],
    'Invalid --max-handshakes "many": must be an integer from 0 to 10000000',
  );
  rejects(
    [...tls, "--max-handshakes", "10000001"],
    'Invalid --max-handshakes "10000001": must be an integer from 0 to 10000000',
  );
  rejects(["--max-handshakes", "10"], "--max-handshakes needs --tls-cert and --tls-key");
  assert.match(
    SERVER_USAGE,
    /--max-handshakes N .*up to\n.*10000000;.*0: no limit\n.*\(default 1024\)\n/,
  );
});

Deno.test("server accepts --mode, --send-queue and --console, refusing what cannot work together", () => {
  const config = parseServerArgs(["--mode", "chat", "--send-queue", "262144", "--console"]);
  assert.deepEqual([config.mode, config.sendQueue, config.console], ["chat", 262144, true]);
  rejects(["--mode", "relay"], 'Invalid mode "relay": must be one of log, echo, broker, chat');
  rejects(
    ["--mode", "broker", "--ack"],
    "Cannot combine --ack with --mode broker: acknowledgments must be all the server sends",
  );
  rejects(
    ["--console", "--workers", "2"],
    "Cannot combine --workers 2 with --console: each Worker sees only its own clients",
  );
});

Deno.test("server takes --send-queue from 64 KiB when --max-line leaves room for a label", () => {
  assert.equal(parseServerArgs(["--send-queue", "65536", "--max-line", "1000"]).sendQueue, 65536);
  assert.equal(parseServerArgs(["--send-queue", "65600"]).sendQueue, 65600);
  assert.equal(parseServerArgs(["--send-queue", "1073741824"]).sendQueue, 1073741824);
  rejects(
    ["--send-queue", "65535", "--max-line", "1000"],
    'Invalid --send-queue "65535": must be an integer from 65536 to 1073741824',
  );
  rejects(
    ["--send-queue", "-1"],
    'Invalid --send-queue "-1": must be an integer from 65600 to 1073741824: ' +
      "room for --max-line 65536 (the default) plus 64 bytes for a label",
  );
});

Deno.test("server refuses a --send-queue that cannot hold the longest line, naming both values", () => {
  rejects(
    ["--mode", "broker", "--send-queue", "65536"],
    'Invalid --send-queue "65536": must be an integer from 65600 to 1073741824: ' +
      "room for --max-line 65536 (the default) plus 64 bytes for a label",
  );
  rejects(
    ["--max-line", "200000", "--send-queue", "200000"],
    'Invalid --send-queue "200000": must be an integer from 200064 to 1073741824: ' +
      "room for --max-line 200000 plus 64 bytes for a label",
  );
});

Deno.test("server raises the default --send-queue to hold a --max-line longer than it", () => {
  assert.equal(parseServerArgs(["--max-line", "1048512"]).sendQueue, 1048576);
  assert.equal(parseServerArgs(["--max-line", "1048513"]).sendQueue, 1048577);
  const longest = parseServerArgs(["--mode", "chat", "--max-line", String(MAX_MAX_LINE)]);
  assert.equal(longest.sendQueue, MAX_MAX_LINE + 64);
});

Deno.test("server --http takes a port on 127.0.0.1, or HOST:PORT to listen elsewhere", () => {
  assert.deepEqual(parseServerArgs(["--http", "8080"]).http, { host: "127.0.0.1", port: 8080 });
  assert.deepEqual(parseServerArgs(["--http=0.0.0.0:9100"]).http, { host: "0.0.0.0", port: 9100 });
  assert.deepEqual(parseServerArgs(["--http", "[::1]:0"]).http, { host: "::1", port: 0 });
  assert.equal(
    parseServerArgs(["--http", "8080", "--http-token", "abc.DEF_1-2~+/=="]).httpToken,
    "abc.DEF_1-2~+/==",
  );
});

Deno.test("server refuses a bad --http or --http-token in one line naming it", () => {
  const address = (text: string): string =>
    `Invalid --http "${text}": must be PORT (0 to 65535, on 127.0.0.1) or HOST:PORT ` +
    "([IPV6]:PORT), such as 8080 or 0.0.0.0:8080";
  for (const text of ["65536", ":8080", "localhost", "::1:80", "[::1]", "80x", ""]) {
    rejects([`--http=${text}`], address(text));
  }
  rejects(["--http-token", "abc"], "--http-token needs --http");
  // The error names the character, never the token.
  for (const [token, character, at] of [["has space", " ", 4], ["a=b", "=", 2]] as const) {
    rejects(
      ["--http", "8080", "--http-token", token],
      `Invalid --http-token: "${character}" at character ${at} cannot be in a bearer token; ` +
        "use A-Z a-z 0-9 - . _ ~ + / and = at the end",
    );
  }
  rejects(
    ["--http", "8080", "--http-token="],
    "Invalid --http-token: must be 1 to 256 characters, not 0",
  );
});
