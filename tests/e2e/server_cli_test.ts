/**
 * End-to-end tests of `server.ts` as a real process (see `tests/_helpers/process.ts`):
 * stdout, stderr, output files, exit statuses and signals. Clients are TCP
 * connections from this process. A client that half-closes and then sees the
 * server close knows the server has handled all it sent, which is how these
 * tests know what the server has seen without looking at the clock.
 */

import assert from "node:assert/strict";
import { SAME_SIGNAL_MS } from "../../lib/cli/_signal_listeners.ts";
import { SERVER_USAGE } from "../../lib/cli/_server_flags.ts";
import {
  assertNoCrash,
  assertNotServed,
  bytes,
  closeQuietly,
  commandResult,
  concat,
  connectTo,
  DENO,
  hasCommand,
  hostName,
  jsonLines,
  nameUnless,
  noIPv6Reason,
  proxyV1,
  proxyV2,
  readToEnd,
  ROOT,
  runProgram,
  runServerProcess,
  sendAndClose,
  type ServerProcess,
  serverScriptArgs,
  shellQuote,
  sleep,
  spawnInTerminal,
  spawnProgram,
  startServer,
  startServerCommand,
  waitFor,
  withTimeout,
  writeAll,
} from "../_helpers/mod.ts";
import { VERSION } from "../../lib/cli/_version.ts";
import { nodeNameFromHost } from "../../lib/server/node_name.ts";

const SESSION_TIMEOUT_MS = 10_000;

/** Sends `data`, half-closes, and waits for the server to close: after
 * that, the server has written every line. Returns the client's port. */
async function session(port: number, data: string | Uint8Array): Promise<number> {
  const conn = await connectTo(port);
  try {
    await finish(conn, data);
    return conn.localAddr.port;
  } finally {
    conn.close();
  }
}

/** The second half of {@linkcode session}, for a connection already open. */
async function finish(conn: Deno.TcpConn, data: string | Uint8Array = ""): Promise<void> {
  await writeAll(conn, typeof data === "string" ? bytes(data) : data);
  await conn.closeWrite();
  const n = await withTimeout(
    conn.read(new Uint8Array(1)),
    SESSION_TIMEOUT_MS,
    "the server to close the connection",
  );
  assert.equal(n, null, "the server sent nothing");
}

/** Connects, sends `data`, and returns all the server said before it closed
 * the connection (a peer it refuses), and the port the peer had. */
async function refusalOf(port: number, data: Uint8Array): Promise<{ said: string; port: number }> {
  const conn = await connectTo(port);
  try {
    await writeAll(conn, data);
    const said = await withTimeout(readToEnd(conn), SESSION_TIMEOUT_MS, "the refusal");
    return { said: new TextDecoder().decode(said), port: conn.localAddr.port };
  } finally {
    conn.close();
  }
}

/** Waits until the server's stderr includes `text`. */
function stderrShows(server: ServerProcess, text: string): Promise<void> {
  return waitFor(
    `server stderr ${JSON.stringify(text)}`,
    () => server.stderrSoFar().includes(text),
    () => server.stderrSoFar(),
  );
}

/** Opens a client and waits until the server reports it as client `id`. */
async function connectAs(server: ServerProcess, id: number): Promise<Deno.TcpConn> {
  const conn = await connectTo(server.port);
  try {
    await stderrShows(server, `client ${id} connected from 127.0.0.1:${conn.localAddr.port}\n`);
    return conn;
  } catch (error) {
    conn.close();
    throw error;
  }
}

/** stderr lines, with durations (`0.0 s`) shown as `D s`. */
function stderrLines(stderr: string): string[] {
  assert.ok(stderr.endsWith("\n"), `stderr ends with a newline: ${JSON.stringify(stderr)}`);
  return stderr.slice(0, -1).split("\n").map((line) => line.replace(/, \d+\.\d s$/, ", D s"));
}

async function readVersion(): Promise<string> {
  return JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`)).version;
}

Deno.test("server prints each client's lines labelled with its number and reports connections on stderr", async () => {
  const server = await startServer();
  const conns: Deno.TcpConn[] = [];
  try {
    conns.push(await connectAs(server, 0));
    conns.push(await connectAs(server, 1));
    const [a, b] = conns as [Deno.TcpConn, Deno.TcpConn];
    await finish(b, "b says hi\nbye\r\n");
    await finish(a, "a says hi\n");
    const result = await server.stop();
    assert.equal(result.code, 0);
    assert.equal(result.stdout, "[client 1] b says hi\n[client 1] bye\n[client 0] a says hi\n");
    const [pa, pb] = [a.localAddr.port, b.localAddr.port];
    assert.deepEqual(stderrLines(result.stderr), [
      `linehub-server: listening on 127.0.0.1:${server.port} (text to stdout)`,
      `client 0 connected from 127.0.0.1:${pa}`,
      `client 1 connected from 127.0.0.1:${pb}`,
      `client 1 disconnected from 127.0.0.1:${pb} (eof): 2 lines, 15 bytes, D s`,
      `client 0 disconnected from 127.0.0.1:${pa} (eof): 1 line, 10 bytes, D s`,
      "linehub-server: SIGTERM: no longer accepting; waiting up to 5 s for 0 connected clients",
      "linehub-server: shut down: 2 clients served, 3 lines, 25 bytes, 0 truncated",
    ]);
  } finally {
    conns.forEach(closeQuietly);
    await server.stop();
  }
});

Deno.test("server --format json writes one JSON object per line, events and messages in order per client", async () => {
  const server = await startServer(["--format", "json", "--max-line", "10"]);
  const conns: Deno.TcpConn[] = [];
  try {
    const a = await connectTo(server.port);
    conns.push(a);
    const b = await connectTo(server.port);
    conns.push(b);
    // Interleaved, with a line of each client split around the other's.
    await writeAll(a, bytes("a1\na2 sta"));
    await writeAll(b, bytes("b1 \x1b[2J\tok\n"));
    await writeAll(a, bytes("rted\n"));
    await writeAll(b, bytes("0123456789ABC\nb3"));
    await Promise.all([finish(a, "a3\n"), finish(b)]);
    const result = await server.stop();
    assert.equal(result.code, 0);
    const lines = result.stdout.split("\n");
    assert.equal(lines.pop(), "", "stdout ends with a newline");
    const all = lines.map((line) => {
      const record = JSON.parse(line);
      assert.match(record.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, line);
      delete record.time;
      if (record.type === "disconnect" || record.type === "stop") {
        assert.ok(Number.isInteger(record.duration_ms) && record.duration_ms >= 0, line);
        delete record.duration_ms;
      }
      return record;
    });
    // The run's start and stop frame every client's records, and every
    // record names the same run and, with no --node, the host name.
    const run = all[0]?.run;
    assert.match(run, /^[0-9a-f]{16}$/);
    assert.ok(all.every((record) => record.run === run), "one run");
    const node = nodeNameFromHost(await hostName());
    assert.deepEqual(all[0], {
      type: "start",
      run,
      node,
      version: VERSION,
      listen: `127.0.0.1:${server.port}`,
    });
    assert.deepEqual(all.at(-1), {
      type: "stop",
      run,
      node,
      clients: 2,
      lines: 6,
      bytes: 44,
      truncated: 1,
      refused: 0,
      cut_off: 0,
      dropped: 0,
      kicked: 0,
      throttled: 0,
      throttled_ms: 0,
      framing_errors: 0,
    });
    const records = all.slice(1, -1);
    const idOf = (conn: Deno.TcpConn): number => {
      const connect = records.find((r) => r.type === "connect" && r.port === conn.localAddr.port);
      assert.ok(connect !== undefined, `no connect event for port ${conn.localAddr.port}`);
      return connect.client;
    };
    const [ida, idb] = [idOf(a), idOf(b)];
    assert.deepEqual([ida, idb].sort(), [0, 1]);
    const who = (conn: Deno.TcpConn) => ({
      run,
      node,
      client: idOf(conn),
      address: "127.0.0.1",
      port: conn.localAddr.port,
    });
    const ofClient = (id: number) => records.filter((r) => r.client === id);
    assert.equal(records.length, ofClient(0).length + ofClient(1).length);
    assert.deepEqual(ofClient(ida), [
      { type: "connect", ...who(a) },
      { type: "message", ...who(a), seq: 1, text: "a1" },
      { type: "message", ...who(a), seq: 2, text: "a2 started" },
      { type: "message", ...who(a), seq: 3, text: "a3" },
      { type: "disconnect", ...who(a), reason: "eof", lines: 3, bytes: 17, truncated: 0 },
    ]);
    assert.deepEqual(ofClient(idb), [
      { type: "connect", ...who(b) },
      { type: "message", ...who(b), seq: 1, text: "b1 \x1b[2J\tok" },
      { type: "message", ...who(b), seq: 2, text: "0123456789", truncated: true, length: 13 },
      { type: "message", ...who(b), seq: 3, text: "b3", partial: true },
      { type: "disconnect", ...who(b), reason: "eof", lines: 3, bytes: 27, truncated: 1 },
    ]);
    assert.ok(!result.stdout.includes("\x1b"), "escape bytes are JSON-escaped");
    // In json, events are data: stderr has only the server's own lines.
    assert.deepEqual(stderrLines(result.stderr), [
      `linehub-server: listening on 127.0.0.1:${server.port} (json to stdout)`,
      "linehub-server: SIGTERM: no longer accepting; waiting up to 5 s for 0 connected clients",
      "linehub-server: shut down: 2 clients served, 6 lines, 44 bytes, 1 truncated",
    ]);
  } finally {
    conns.forEach(closeQuietly);
    await server.stop();
  }
});

Deno.test("server --node names the node in every JSON record, and --label-node in text labels and events", async () => {
  {
    const server = await startServer(["--format", "json", "--node", "web-3"]);
    await session(server.port, "hello\n");
    const result = await server.stop();
    assert.equal(result.code, 0);
    const records = jsonLines(result.stdout);
    assert.deepEqual(records.map((record) => record.type), [
      "start",
      "connect",
      "message",
      "disconnect",
      "stop",
    ]);
    assert.ok(records.every((record) => record.node === "web-3"), result.stdout);
  }
  {
    const server = await startServer(["--node", "web-3", "--label-node"]);
    const port = await session(server.port, "hello\n");
    const result = await server.stop();
    assert.equal(result.code, 0);
    assert.equal(result.stdout, "[web-3/client 0] hello\n");
    assert.deepEqual(stderrLines(result.stderr).slice(1, 3), [
      `web-3/client 0 connected from 127.0.0.1:${port}`,
      `web-3/client 0 disconnected from 127.0.0.1:${port} (eof): 1 line, 6 bytes, D s`,
    ]);
  }
  {
    // Without --node, the label names the host.
    const server = await startServer(["--label-node"]);
    await session(server.port, "hello\n");
    const result = await server.stop();
    assert.equal(result.stdout, `[${nodeNameFromHost(await hostName())}/client 0] hello\n`);
  }
});

/** `server.ts` as it was run before it read the host name: without
 * --allow-sys=hostname. */
const WITHOUT_HOSTNAME = [
  "run",
  "--allow-net",
  "--allow-write",
  "--allow-read",
  `${ROOT}server.ts`,
];
const NO_HOSTNAME_LINE = "linehub-server: Cannot name this node after the host name: reading it " +
  "needs Deno's --allow-sys=hostname; give --node NAME instead\n";

Deno.test("server that may not read the host name exits 1 with one line saying what to give, and runs with --node", async () => {
  const args = ["--host", "127.0.0.1", "--port", "0"];
  const refused = await runProgram(DENO, [...WITHOUT_HOSTNAME, ...args]);
  assertNoCrash(refused.stderr);
  assert.deepEqual(commandResult(refused), { code: 1, stdout: "", stderr: NO_HOSTNAME_LINE });
  const server = await startServerCommand(DENO, [...WITHOUT_HOSTNAME, ...args, "--node", "web-3"]);
  await session(server.port, "hello\n");
  const result = await server.stop();
  assert.equal(result.code, 0);
  assert.equal(result.stdout, "[client 0] hello\n");
});

Deno.test("server --format raw writes the bytes of each line as received, and a newline", async () => {
  const server = await startServer(["--format", "raw", "--max-line", "8"]);
  try {
    await session(
      server.port,
      concat([
        bytes("a\x1bb"),
        new Uint8Array([0xff, 0x00]),
        bytes("\r\nplain\n0123456789\n\npart"),
      ]),
    );
    const result = await server.stop();
    assert.equal(result.code, 0);
    assert.deepEqual(
      result.stdoutBytes,
      // The CR of the CRLF stays, as nc -lk shows it.
      concat([
        bytes("a\x1bb"),
        new Uint8Array([0xff, 0x00]),
        bytes("\r\nplain\n01234567\n\npart\n"),
      ]),
    );
  } finally {
    await server.stop();
  }
});

Deno.test("server --output appends to an existing file and creates a missing one", async () => {
  const dir = await Deno.makeTempDir({ prefix: "linehub_output_" });
  try {
    const existing = `${dir}/existing.log`;
    await Deno.writeTextFile(existing, "from before\n");
    const missing = `${dir}/new.log`;
    for (const file of [existing, missing]) {
      const server = await startServer(["--output", file]);
      try {
        await session(server.port, `into ${file}\n`);
        const result = await server.stop();
        assert.equal(result.code, 0);
        assert.equal(result.stdout, "");
        assert.ok(
          result.stderr.startsWith(
            `linehub-server: listening on 127.0.0.1:${server.port} (text to ${file})\n`,
          ),
          result.stderr,
        );
      } finally {
        await server.stop();
      }
    }
    assert.equal(
      await Deno.readTextFile(existing),
      `from before\n[client 0] into ${existing}\n`,
    );
    assert.equal(await Deno.readTextFile(missing), `[client 0] into ${missing}\n`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("server on a port in use exits 1 with one line naming the address", async () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const port = taken.addr.port;
    const result = await runServerProcess(["--host", "127.0.0.1", "--port", String(port)]);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, "");
    assert.equal(
      result.stderr,
      `linehub-server: Cannot listen on 127.0.0.1:${port}: address already in use\n`,
    );
  } finally {
    taken.close();
  }
});

/** What the server prints on stderr for a usage error: one line and a
 * pointer to --help, not the whole usage. */
function usageError(message: string): string {
  return `linehub-server: ${message}\nTry 'linehub-server --help' for more information.\n`;
}

Deno.test("server rejects bad flags with exit 2, one line naming the value, and a pointer to --help", async () => {
  const cases: Array<[string[], string]> = [
    [["--port", "70000"], `Invalid --port "70000": must be an integer from 0 to 65535`],
    [["--port", "-1"], `Invalid --port "-1": must be an integer from 0 to 65535`],
    [["--format", "xml"], `Invalid format "xml": must be one of text, json, raw`],
    [["--max-line", "0"], `Invalid --max-line "0": must be an integer from 1 to 67108864`],
    [["--bogus"], `Unknown option "--bogus"`],
    [["--proxy-from", "10.0.0.0/8"], "--proxy-from needs --proxy-protocol"],
    [
      ["--drain-timeout", "soon"],
      `Invalid --drain-timeout "soon": must be a duration from 0 to 24h, ` +
      "such as 2.5 (seconds), 500ms, 30s or 5m",
    ],
  ];
  const results = await Promise.all(cases.map(([args]) => runServerProcess(args)));
  results.forEach((result, i) => {
    const [args, message] = cases[i] as [string[], string];
    assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
    assert.equal(result.stdout, "");
    assert.equal(result.stderr, usageError(message));
  });
});

Deno.test("server skips a first -- as `deno task server -- ARGS` passes it", async () => {
  const [bad, version] = await Promise.all([
    runServerProcess(["--", "--port", "70000"]),
    runServerProcess(["--", "--version"]),
  ]);
  assert.equal(bad.code, 2, bad.stderr);
  assert.equal(bad.stdout, "");
  assert.equal(
    bad.stderr,
    usageError(`Invalid --port "70000": must be an integer from 0 to 65535`),
  );
  assert.equal(version.code, 0, version.stderr);
  assert.equal(version.stdout, `linehub-server ${await readVersion()}\n`);
});

Deno.test("server --help prints the usage on stdout and --version the version", async () => {
  const [help, short, version] = await Promise.all([
    runServerProcess(["--help"]),
    runServerProcess(["-h"]),
    runServerProcess(["--version"]),
  ]);
  for (const result of [help, short]) {
    assert.equal(result.code, 0);
    assert.equal(result.stdout, SERVER_USAGE);
    assert.equal(result.stderr, "");
  }
  assert.match(SERVER_USAGE, /^Usage: linehub-server \[options\]\n/);
  assert.equal(version.code, 0);
  assert.equal(version.stdout, `linehub-server ${await readVersion()}\n`);
  assert.equal(version.stderr, "");
});

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.test(`server on ${signal} stops accepting, lets a connected client finish, prints a summary and exits 0`, async () => {
    const server = await startServer();
    let conn: Deno.TcpConn | null = null;
    try {
      conn = await connectAs(server, 0);
      await writeAll(conn, bytes("one\ntwo\n"));
      server.process.kill(signal);
      await stderrShows(
        server,
        `linehub-server: ${signal}: no longer accepting; waiting up to 5 s for 1 connected client\n`,
      );
      await assertNotServed(server.port, () => server.stderrSoFar());
      await finish(conn, "three\nfour");
      const result = await server.finished();
      assert.equal(result.code, 0);
      assert.equal(
        result.stdout,
        "[client 0] one\n[client 0] two\n[client 0] three\n[client 0 partial] four\n",
      );
      assert.deepEqual(stderrLines(result.stderr).slice(2), [
        `linehub-server: ${signal}: no longer accepting; waiting up to 5 s for 1 connected client`,
        `client 0 disconnected from 127.0.0.1:${conn.localAddr.port} (eof): 4 lines, 18 bytes, D s`,
        "linehub-server: shut down: 1 client served, 4 lines, 18 bytes, 0 truncated",
      ]);
    } finally {
      if (conn !== null) closeQuietly(conn);
      await server.stop();
    }
  });
}

Deno.test("server cuts off a silent client at the drain timeout and says so in the summary", async () => {
  const dir = await Deno.makeTempDir({ prefix: "linehub_drain_" });
  const file = `${dir}/out.log`;
  const server = await startServer(["--drain-timeout", "0.3", "--output", file]);
  let conn: Deno.TcpConn | null = null;
  try {
    conn = await connectAs(server, 0);
    await writeAll(conn, bytes("kept\nhalf"));
    // The output file shows when the server has read what was sent.
    await waitFor(
      "the first line in the output file",
      async () => (await Deno.readTextFile(file)).includes("[client 0] kept\n"),
    );
    const result = await server.stop("SIGTERM");
    assert.equal(result.code, 3);
    assert.equal(await Deno.readTextFile(file), "[client 0] kept\n[client 0 partial] half\n");
    assert.deepEqual(stderrLines(result.stderr).slice(2), [
      "linehub-server: SIGTERM: no longer accepting; waiting up to 0.3 s for 1 connected client",
      `client 0 disconnected from 127.0.0.1:${conn.localAddr.port} (drain-timeout): ` +
      "2 lines, 9 bytes, D s",
      "linehub-server: shut down: 1 client served, 2 lines, 9 bytes, 0 truncated; " +
      "1 client cut off at the drain timeout, after sending 9 bytes",
    ]);
  } finally {
    if (conn !== null) closeQuietly(conn);
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

for (const [signal, code] of [["SIGTERM", 143], ["SIGINT", 130]] as const) {
  Deno.test(`a second ${signal} later in the drain makes the server exit at once with ${code}`, async () => {
    const server = await startServer(["--drain-timeout", "30"]);
    let conn: Deno.TcpConn | null = null;
    try {
      conn = await connectAs(server, 0);
      server.process.kill(signal);
      await stderrShows(server, `waiting up to 30 s for 1 connected client\n`);
      // Past the window in which a second signal is taken as the same one.
      await sleep(SAME_SIGNAL_MS + 500);
      const result = await withTimeout(
        server.stop(signal),
        SESSION_TIMEOUT_MS,
        `the server to exit on the second ${signal}`,
      );
      assert.equal(result.code, code);
      assert.equal(result.signal, null, "the server exits by itself, not killed by the signal");
      assert.deepEqual(stderrLines(result.stderr).slice(2), [
        `linehub-server: ${signal}: no longer accepting; waiting up to 30 s for 1 connected client`,
        `linehub-server: ${signal} again: exiting without waiting for clients`,
      ]);
    } finally {
      if (conn !== null) closeQuietly(conn);
      await server.stop();
    }
  });
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.test(`two ${signal}s 50 ms apart count as one: the server drains its client and exits 0`, async () => {
    // As one Ctrl-C under `deno task server`: from the terminal and again
    // from the task runner.
    const server = await startServer(["--drain-timeout", "30"]);
    let conn: Deno.TcpConn | null = null;
    try {
      conn = await connectAs(server, 0);
      server.process.kill(signal);
      await sleep(50);
      server.process.kill(signal);
      await stderrShows(
        server,
        `${signal} again within ${SAME_SIGNAL_MS} ms: taken as the same one`,
      );
      await finish(conn, "still written\n");
      const result = await withTimeout(server.finished(), SESSION_TIMEOUT_MS, "the drain to end");
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, "[client 0] still written\n");
      assert.deepEqual(stderrLines(result.stderr).slice(2), [
        `linehub-server: ${signal}: no longer accepting; waiting up to 30 s for 1 connected client`,
        `linehub-server: ${signal} again within ${SAME_SIGNAL_MS} ms: taken as the same one; ` +
        "a later one exits at once",
        `client 0 disconnected from 127.0.0.1:${conn.localAddr.port} (eof): 1 line, 14 bytes, D s`,
        "linehub-server: shut down: 1 client served, 1 line, 14 bytes, 0 truncated",
      ]);
    } finally {
      if (conn !== null) closeQuietly(conn);
      await server.stop();
    }
  });
}

Deno.test("server exits 4 with one line when its stdout reader is gone", async () => {
  // Like `linehub-server | head -c 0`: the reader of stdout is gone.
  const server = spawnProgram(DENO, serverScriptArgs(["--host", "127.0.0.1", "--port", "0"]));
  await server.closeStdout();
  try {
    await server.waitForStderr(/listening on 127\.0\.0\.1:\d+ /);
    const port = Number(/listening on 127\.0\.0\.1:(\d+) /.exec(server.stderrSoFar())?.[1]);
    await sendAndClose(port, "nobody reads this\n");
    const { code, stderr } = await withTimeout(
      server.finished(),
      SESSION_TIMEOUT_MS,
      "the server to exit",
    );
    assert.equal(code, 4);
    assertNoCrash(stderr);
    // The connection's own events may come before or after the error.
    const lines = stderrLines(stderr).filter((line) => line.startsWith("linehub-server: "));
    assert.deepEqual(lines, [
      `linehub-server: listening on 127.0.0.1:${port} (text to stdout)`,
      "linehub-server: Cannot write output to stdout: broken pipe; " +
      "29 bytes received were not written",
    ]);
  } finally {
    await server.stop();
  }
});

Deno.test("server that cannot open its output file exits 1 with one line naming the file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "linehub_nofile_" });
  try {
    const file = `${dir}/no such dir/out.log`;
    const result = await runServerProcess(["--host", "127.0.0.1", "--port", "0", "-o", file]);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, "");
    assert.equal(
      result.stderr,
      `linehub-server: Cannot open output file "${file}": no such file or directory\n`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("server reports other bad values in one line and a pointer to --help, without a stack trace", async () => {
  const results = await Promise.all([
    runServerProcess(["--port", "-1"]),
    runServerProcess(["--output", ""]),
    runServerProcess(["--host", "127.0.0.1:80"]),
    runServerProcess(["--sink", "redis//127.0.0.1/lines"]),
  ]);
  for (const result of results) {
    assertNoCrash(result.stderr);
    assert.equal(result.code, 2);
    assert.equal(result.stdout, "");
    assert.match(
      result.stderr,
      /^linehub-server: [^\n]+\nTry 'linehub-server --help' for more information\.\n$/,
    );
  }
});

Deno.test("SIGHUP makes the server reopen --output, so a rotated log gets a fresh file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "linehub_rotate_" });
  const file = `${dir}/out.log`;
  const server = await startServer(["--output", file]);
  let conn: Deno.TcpConn | null = null;
  try {
    conn = await connectAs(server, 0);
    await writeAll(conn, bytes("before\n"));
    await waitFor(
      "the first line in the output file",
      async () => (await Deno.readTextFile(file)).includes("[client 0] before\n"),
    );
    await Deno.rename(file, `${file}.1`);
    server.process.kill("SIGHUP");
    await waitFor(
      "the reopen to be reported",
      () => server.stderrSoFar().includes(`linehub-server: SIGHUP: reopened "${file}"`),
      () => server.stderrSoFar(),
    );
    await writeAll(conn, bytes("after\n"));
    closeQuietly(conn);
    conn = null;
    await waitFor(
      "the second line in the new file",
      async () => (await Deno.readTextFile(file).catch(() => "")).includes("[client 0] after\n"),
    );
    const result = await server.stop("SIGTERM");
    assert.equal(result.code, 0);
    assertNoCrash(result.stderr);
    assert.equal(await Deno.readTextFile(`${file}.1`), "[client 0] before\n");
    assert.equal(await Deno.readTextFile(file), "[client 0] after\n");
  } finally {
    if (conn !== null) closeQuietly(conn);
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("server --output to a FIFO or /dev/null exits 0 with the summary, syncing nothing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "linehub_fifo_" });
  try {
    // A FIFO read by the test, as `-o >(gzip)` is read by gzip.
    const fifo = `${dir}/out.fifo`;
    const made = await runProgram("mkfifo", [fifo]);
    assert.equal(made.code, 0, made.stderr);
    // Opening either end waits for the other: the reader opens as the
    // server starts.
    const reading = Deno.open(fifo, { read: true }).then(async (file) => {
      const text = await new Response(file.readable).text();
      return text;
    });
    for (const output of [fifo, "/dev/null"]) {
      const server = await startServer(["--output", output]);
      try {
        await session(server.port, `into ${output}\n`);
        const result = await server.stop("SIGTERM");
        assertNoCrash(result.stderr);
        assert.equal(result.code, 0, result.stderr);
        assert.match(
          result.stderr,
          /\nlinehub-server: shut down: 1 client served, 1 line, \d+ bytes, 0 truncated\n$/,
        );
      } finally {
        await server.stop();
      }
    }
    assert.equal(
      await withTimeout(reading, SESSION_TIMEOUT_MS, "the FIFO to end"),
      `[client 0] into ${fifo}\n`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("server --output /dev/stdout and /dev/stderr write to the server's own stdout and stderr", async () => {
  for (const [output, stream] of [["/dev/stdout", "stdout"], ["/dev/stderr", "stderr"]] as const) {
    const server = await startServer(["--output", output]);
    try {
      await session(server.port, `to ${stream}\n`);
      const result = await server.stop("SIGTERM");
      assertNoCrash(result.stderr);
      assert.equal(result.code, 0, result.stderr);
      const line = `[client 0] to ${stream}\n`;
      assert.equal(result.stdout, stream === "stdout" ? line : "");
      if (stream === "stderr") assert.ok(result.stderr.includes(line), result.stderr);
      assert.match(result.stderr, /linehub-server: shut down: 1 client served, 1 line, /);
    } finally {
      await server.stop();
    }
  }
});

Deno.test("server --output to a device it may not open says so in its own words, not Deno's", async () => {
  const result = await runServerProcess(["--host", "127.0.0.1", "--port", "0", "-o", "/dev/full"]);
  assert.equal(result.code, 1);
  assert.equal(result.stdout, "");
  assert.equal(
    result.stderr,
    `linehub-server: Cannot open output file "/dev/full": a device or system file, ` +
      "which this program may not open; redirect stdout there instead\n",
  );
  const tls = await runServerProcess(["--tls-cert", "/dev/stdin", "--tls-key", "/dev/stdin"]);
  assert.equal(tls.code, 1);
  assert.equal(
    tls.stderr,
    `linehub-server: Cannot read certificate file "/dev/stdin": a device or system file, ` +
      "which this program may not open\n",
  );
});

Deno.test("SIGHUP without --output is ignored with one line: the server keeps serving and drains", async () => {
  // As `linehub-server >> FILE` under a logrotate that sends `kill -HUP`.
  const server = await startServer();
  let conn: Deno.TcpConn | null = null;
  try {
    conn = await connectAs(server, 0);
    await writeAll(conn, bytes("before\n"));
    server.process.kill("SIGHUP");
    await stderrShows(
      server,
      "linehub-server: SIGHUP: output is stdout, no file to reopen; ignored\n",
    );
    await finish(conn, "after\n");
    const result = await server.stop("SIGTERM");
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.signal, null);
    assert.equal(result.stdout, "[client 0] before\n[client 0] after\n");
    assert.match(result.stderr, /linehub-server: shut down: 1 client served, 2 lines, 13 bytes, /);
  } finally {
    if (conn !== null) closeQuietly(conn);
    await server.stop();
  }
});

/**
 * Runs the server in a mount namespace of its own where `dir` is a 64 KiB
 * tmpfs already filled by a file named `filler`: a real full disk. The test
 * reaches that file system with `nsenter`.
 */
function fullDisk(dir: string): string[] {
  const script = 'mount -t tmpfs -o size=64k tmpfs "$0" && ' +
    '{ head -c 1048576 /dev/zero > "$0/filler" 2>/dev/null; true; } && exec "$@"';
  return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, dir];
}

/** Why a full disk cannot be made here, or null when it can. */
async function noFullDiskReason(): Promise<string | null> {
  if (Deno.build.os !== "linux") return "needs Linux mount namespaces";
  try {
    const { code, stderr } = await new Deno.Command("unshare", {
      args: ["--mount", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /tmp"],
      stdout: "null",
      stderr: "piped",
    }).output();
    if (code === 0) return null;
    return `cannot mount a tmpfs in a mount namespace: ${new TextDecoder().decode(stderr).trim()}`;
  } catch (error) {
    return `cannot run unshare: ${error instanceof Error ? error.message : String(error)}`;
  }
}

const NO_FULL_DISK = await noFullDiskReason();

Deno.test({
  name: nameUnless(
    NO_FULL_DISK,
    "server on a full disk holds the lines, refuses new clients, and resumes once space is freed",
  ),
  ignore: NO_FULL_DISK !== null,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "linehub_full_" });
  const file = `${dir}/out.log`;
  const server = await startServer(["--output", file], { wrapper: fullDisk(dir) });
  // Files in the server's namespace, reached through nsenter: Deno asks for
  // --allow-all to open anything under /proc/PID/root.
  const inside = (...command: string[]): Promise<string> =>
    runProgram("nsenter", ["--target", String(server.process.pid), "--mount", ...command])
      .then((result) => result.stdout);
  let conn: Deno.TcpConn | null = null;
  try {
    conn = await connectAs(server, 0);
    await writeAll(conn, bytes("first\nsecond\n"));
    await stderrShows(server, "(SIGHUP reopens the file)\n");
    // The count depends on how the two lines were read: one read or two.
    assert.match(
      server.stderrSoFar(),
      new RegExp(
        `linehub-server: Cannot write output to "${file}": no space left on device; ` +
          "holding (17|35) bytes, not accepting clients, retrying every 1 s",
      ),
    );
    await assertNotServed(server.port, () => server.stderrSoFar());
    await inside("rm", `${dir}/filler`);
    await stderrShows(server, `linehub-server: output "${file}" writable again\n`);
    await stderrShows(server, "linehub-server: accepting clients again\n");
    const later = await connectAs(server, 1);
    await finish(later, "third\n");
    later.close();
    await finish(conn);
    conn.close();
    conn = null;
    // Read while the server runs: its file system goes with its namespace.
    const expected = "[client 0] first\n[client 0] second\n[client 1] third\n";
    let seen = "";
    await waitFor(
      "every line in the output file",
      async () => (seen = await inside("cat", `${dir}/out.log`)) === expected,
      () => seen,
    );
    const result = await server.stop("SIGTERM");
    assert.equal(result.code, 0);
    assertNoCrash(result.stderr);
  } finally {
    if (conn !== null) closeQuietly(conn);
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: nameUnless(
    NO_FULL_DISK,
    "server whose disk stays full exits 4 at the drain deadline, saying how much was not written",
  ),
  ignore: NO_FULL_DISK !== null,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "linehub_full_" });
  const file = `${dir}/out.log`;
  const server = await startServer(["--output", file, "--drain-timeout", "0.5"], {
    wrapper: fullDisk(dir),
  });
  try {
    await session(server.port, "never written\n");
    await stderrShows(server, "not accepting clients");
    const result = await server.stop("SIGTERM");
    assert.equal(result.code, 4);
    assertNoCrash(result.stderr);
    assert.match(
      result.stderr,
      new RegExp(
        `linehub-server: Cannot write output to "${file}": no space left on device; ` +
          "25 bytes received were not written\n",
      ),
    );
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("server summary counts refused connections by reason", async () => {
  const server = await startServer(["--max-clients", "1"]);
  const only = await connectAs(server, 0);
  try {
    const refused = await connectTo(server.port);
    const said = new TextDecoder().decode(
      await withTimeout(readToEnd(refused), SESSION_TIMEOUT_MS, "the refusal"),
    );
    refused.close();
    assert.equal(said, "linehub-server: refused (full): server full (1 client); try again later\n");
    await finish(only, "kept\n");
  } finally {
    only.close();
  }
  const result = await server.stop("SIGTERM");
  assert.equal(result.code, 0);
  assert.match(
    result.stderr,
    /linehub-server: shut down: 1 client served, 1 line, 5 bytes, 0 truncated; 1 refused \(1 server full\)\n/,
  );
});

/** Occurrences of `text` in what `server` has written to stderr so far. */
function stderrCount(server: ServerProcess, text: string): number {
  return server.stderrSoFar().split(text).length - 1;
}

for (
  const [flag, limit, reason] of [
    ["--max-clients", 3, "server full (3 clients)"],
    ["--max-per-ip", 2, "too many connections from 127.0.0.1 (limit 2)"],
  ] as const
) {
  Deno.test(`server --workers 2 ${flag} ${limit} holds the limit for both Workers together, and frees places as clients leave`, async () => {
    const server = await startServer(["--workers", "2", flag, String(limit)]);
    const conns: Deno.TcpConn[] = [];
    try {
      // Eight connections, spread over the Workers by the kernel: counted
      // per Worker, up to twice the limit would be let in.
      for (let i = 0; i < 8; i++) conns.push(await connectTo(server.port));
      await waitFor(
        `${limit} clients and ${8 - limit} refusals`,
        () =>
          stderrCount(server, " connected from ") + stderrCount(server, "refused 127.0.0.1:") === 8,
        () => server.stderrSoFar(),
      );
      assert.equal(stderrCount(server, " connected from "), limit, server.stderrSoFar());
      assert.equal(stderrCount(server, `: ${reason}`), 8 - limit, server.stderrSoFar());
      for (const conn of conns.splice(0)) closeQuietly(conn);
      await waitFor(
        `${limit} disconnects`,
        () => stderrCount(server, " disconnected from ") === limit,
        () => server.stderrSoFar(),
      );
      // Every place is free again, whichever Worker held it.
      for (let i = 0; i < limit; i++) conns.push(await connectTo(server.port));
      await waitFor(
        `${limit} more clients`,
        () => stderrCount(server, " connected from ") === 2 * limit,
        () => server.stderrSoFar(),
      );
      assert.equal(stderrCount(server, "refused 127.0.0.1:"), 8 - limit);
    } finally {
      for (const conn of conns) closeQuietly(conn);
      const result = await server.stop("SIGTERM");
      assert.equal(result.code, 0, result.stderr);
      const why = flag === "--max-clients" ? "server full" : "per address";
      assert.match(
        result.stderr,
        new RegExp(
          `shut down: ${2 * limit} clients served, .*; ${8 - limit} refused \\(${
            8 - limit
          } ${why}\\)`,
        ),
      );
    }
  });
}

/** Connects to `server` and says whether it was served (became a client). */
async function admitted(server: ServerProcess, hostname = "127.0.0.1"): Promise<boolean> {
  const conn = await connectTo(server.port, hostname);
  try {
    await writeAll(conn, bytes("knock\n")).catch(() => {});
    await conn.closeWrite().catch(() => {});
    const before = server.stderrSoFar().length;
    await withTimeout(readToEnd(conn).catch(() => new Uint8Array(0)), 5000, "the server to close");
    const from = `${hostname.includes(":") ? `[${hostname}]` : hostname}:${conn.localAddr.port}`;
    await waitFor(
      `an event for ${from}`,
      () => server.stderrSoFar().includes(from),
      () => server.stderrSoFar().slice(before),
    );
    const said = server.stderrSoFar();
    if (said.includes(`refused ${from}: denied by --allow/--deny\n`)) return false;
    assert.ok(said.includes(`connected from ${from}\n`), said);
    return true;
  } finally {
    conn.close();
  }
}

Deno.test("server --allow and --deny: deny wins, an allow list refuses everyone else", async () => {
  const cases: Array<[string[], boolean]> = [
    [["--deny", "127.0.0.0/8"], false],
    [["--allow", "10.0.0.0/8"], false],
    [["--allow", "127.0.0.1", "--deny", "127.0.0.1/32"], false],
    [["--allow", "127.0.0.0/8", "--deny", "10.0.0.0/8"], true],
  ];
  for (const [rules, served] of cases) {
    const server = await startServer(rules);
    try {
      assert.equal(await admitted(server), served, rules.join(" "));
    } finally {
      const result = await server.stop("SIGTERM");
      assert.equal(result.code, 0);
      if (!served) assert.match(result.stderr, /; 1 refused \(1 denied\)\n/);
    }
  }
});

Deno.test({
  name: nameUnless(noIPv6Reason(), "server --allow and --deny match IPv6 peers"),
  ignore: noIPv6Reason() !== null,
}, async () => {
  for (
    const [rules, served] of [[["--deny", "::1"], false], [["--allow", "::1/128"], true]] as const
  ) {
    const server = await startServer(["--host", "::1", ...rules]);
    try {
      assert.equal(await admitted(server, "::1"), served, rules.join(" "));
    } finally {
      await server.stop("SIGTERM");
    }
  }
});

Deno.test("server --proxy-protocol shows the header's client, warns without --proxy-from, and counts refusals", async () => {
  const server = await startServer(["--proxy-protocol"]);
  const header = bytes("PROXY TCP4 192.0.2.44 10.0.0.1 50123 8888\r\n");
  await session(server.port, concat([header, bytes("through the balancer\n")]));
  const { said, port } = await refusalOf(server.port, bytes("no header\n"));
  assert.equal(
    said,
    'linehub-server: refused (proxy): not a PROXY protocol header: the connection starts "no header\\n"\n',
  );
  await stderrShows(server, `refused 127.0.0.1:${port}: `);
  const result = await server.stop("SIGTERM");
  assert.equal(result.code, 0);
  assert.equal(result.stdout, "[client 0] through the balancer\n");
  assert.deepEqual(stderrLines(result.stderr), [
    `linehub-server: listening on 127.0.0.1:${server.port} (text to stdout, PROXY protocol)`,
    "linehub-server: warning: --proxy-protocol without --proxy-from: any peer can claim any " +
    "address; name the balancers with --proxy-from",
    "client 0 connected from 192.0.2.44:50123",
    "client 0 disconnected from 192.0.2.44:50123 (eof): 1 line, 21 bytes, D s",
    `refused 127.0.0.1:${port}: not a PROXY protocol header: the connection starts "no header\\n"`,
    "linehub-server: SIGTERM: no longer accepting; waiting up to 5 s for 0 connected clients",
    "linehub-server: shut down: 1 client served, 1 line, 21 bytes, 0 truncated; " +
    "1 refused (1 PROXY header)",
  ]);

  // Named balancers: no warning, and a peer outside them is refused.
  const guarded = await startServer(["--proxy-protocol", "--proxy-from", "10.0.0.0/8"]);
  const outsider = await refusalOf(guarded.port, concat([header, bytes("forged\n")]));
  assert.equal(
    outsider.said,
    "linehub-server: refused (proxy): 127.0.0.1 is not in --proxy-from\n",
  );
  const guardedResult = await guarded.stop("SIGTERM");
  assert.equal(guardedResult.stdout, "");
  assert.doesNotMatch(guardedResult.stderr, /warning/);
});

Deno.test("server --workers 2 started on the port of another --workers server exits 1: address already in use", async () => {
  const first = await startServer(["--workers", "2"]);
  try {
    const second = await runServerProcess(
      ["--host", "127.0.0.1", "--port", String(first.port), "--workers", "2"],
    );
    assert.equal(second.code, 1);
    assert.equal(second.stdout, "");
    assert.equal(
      second.stderr,
      `linehub-server: Cannot listen on 127.0.0.1:${first.port}: address already in use\n`,
    );
    await session(first.port, "still served\n");
  } finally {
    const result = await first.stop("SIGTERM");
    assert.equal(result.code, 0);
    assert.equal(result.stdout, "[client 0] still served\n");
  }
});

Deno.test("server --workers 2 numbers clients across its workers and drains them all", async () => {
  const server = await startServer(["--workers", "2"]);
  try {
    assert.match(server.stderrSoFar(), /\(text to stdout, 2 workers\)\n/);
    await Promise.all(
      Array.from({ length: 6 }, (_, i) => session(server.port, `from ${i}\nagain ${i}\n`)),
    );
  } finally {
    const result = await server.stop("SIGTERM");
    assert.equal(result.code, 0);
    assertNoCrash(result.stderr);
    const lines = result.stdout.split("\n").slice(0, -1);
    assert.equal(lines.length, 12);
    const ids = new Set(lines.map((line) => Number(/^\[client (\d+)\] /.exec(line)?.[1])));
    assert.deepEqual([...ids].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5]);
    assert.match(result.stderr, /shut down: 6 clients served, 12 lines, /);
  }
});

Deno.test("server --workers 2 --proxy-protocol: every Worker takes addresses from headers and honours --proxy-from and --allow", async () => {
  const CLIENTS = 6;
  const server = await startServer([
    "--workers",
    "2",
    "--proxy-protocol",
    "--proxy-from",
    "127.0.0.1",
    "--allow",
    "192.0.2.0/24",
    "--label",
    "address",
  ]);
  let denied = "";
  try {
    assert.match(server.stderrSoFar(), /\(text to stdout, PROXY protocol, 2 workers\)\n/);
    await Promise.all(
      Array.from(
        { length: CLIENTS },
        (_, i) =>
          session(server.port, concat([proxyV2(`192.0.2.${i + 1}`, 41000 + i), bytes(`${i}\n`)])),
      ),
    );
    ({ said: denied } = await refusalOf(server.port, proxyV1("198.51.100.1", 41100)));
  } finally {
    const result = await server.stop("SIGTERM");
    assert.equal(result.code, 0);
    assertNoCrash(result.stderr);
    assert.deepEqual(
      result.stdout.split("\n").slice(0, -1).sort(),
      Array.from({ length: CLIENTS }, (_, i) => `[192.0.2.${i + 1}:${41000 + i}] ${i}`).sort(),
    );
    assert.match(result.stderr, /^refused 198\.51\.100\.1:41100: denied by --allow\/--deny$/m);
  }
  assert.equal(denied, "linehub-server: refused (denied): denied by --allow/--deny\n");

  // A balancer named nowhere: each Worker refuses what it accepts.
  const guarded = await startServer([
    "--workers",
    "2",
    "--proxy-protocol",
    "--proxy-from",
    "10.0.0.0/8",
  ]);
  try {
    for (let i = 0; i < 4; i++) {
      const forged = concat([proxyV1("192.0.2.1", 42000 + i), bytes("forged\n")]);
      assert.equal(
        (await refusalOf(guarded.port, forged)).said,
        "linehub-server: refused (proxy): 127.0.0.1 is not in --proxy-from\n",
      );
    }
  } finally {
    const result = await guarded.stop("SIGTERM");
    assert.equal(result.code, 0);
    assert.equal(result.stdout, "");
    assert.match(result.stderr, /; 4 refused \(4 PROXY header\)\n/);
  }
});

Deno.test("server --framing octet prints each octet-counted message as one labelled line and tells a bad header on stderr", async () => {
  const server = await startServer(["--framing", "octet"]);
  try {
    const stream = "20 <13>1 two\nlines here9 <14>plain" + "<15>not counted\n";
    const port = await session(server.port, stream);
    const result = await server.stop();
    assert.equal(result.code, 0);
    assert.equal(
      result.stdout,
      "[client 0] <13>1 two\\x0alines here\n[client 0] <14>plain\n[client 0] <15>not counted\n",
    );
    assert.deepEqual(stderrLines(result.stderr).slice(1, 4), [
      `client 0 connected from 127.0.0.1:${port}`,
      `client 0 framing error from 127.0.0.1:${port}: Invalid octet-counting header "<": ` +
      "a frame must start with its length, a digit from 1 to 9; the rest is read as lines ending in LF",
      `client 0 disconnected from 127.0.0.1:${port} (eof): 3 lines, ${stream.length} bytes, D s`,
    ]);
    assert.equal(
      stderrLines(result.stderr).at(-1),
      `linehub-server: shut down: 1 client served, 3 lines, ${stream.length} bytes, 0 truncated; ` +
        "1 framing error",
    );
  } finally {
    await server.stop();
  }
});

Deno.test("server --framing auto --workers 2 reads octet-counting and LF clients each their own way, and counts a break", async () => {
  const server = await startServer(["--framing", "auto", "--workers", "2", "--format", "json"]);
  try {
    await Promise.all([
      session(server.port, "10 <13>a\nb c\n8 <13>more"),
      session(server.port, "<13>lf line\n8 <13>more\n"),
      session(server.port, "3 abc<13>broken\n"),
    ]);
  } finally {
    const result = await server.stop();
    assert.equal(result.code, 0);
    const records = jsonLines(result.stdout);
    const texts = records.filter((record) => record.type === "message")
      .map((record) => record.text);
    assert.deepEqual(texts.sort(), [
      "8 <13>more",
      "<13>a\nb c\n",
      "<13>broken",
      "<13>lf line",
      "<13>more",
      "abc",
    ]);
    // Only the third client broke its framing; the stop record adds up the Workers' counts.
    const stop = records.at(-1);
    assert.equal(stop.type, "stop");
    assert.equal(stop.framing_errors, 1);
  }
});

// --- In a terminal: the server run as a user runs it, through `script` ---

const NO_SCRIPT = await hasCommand("script") ? null : "script (util-linux) not installed";

/** The shell command that runs the server as `deno task server` does. */
const SERVER_COMMAND = [DENO, ...serverScriptArgs([])].map(shellQuote).join(" ");

/** Waits until the text file `path` includes `text`; returns its text. */
async function fileShows(path: string, text: string): Promise<string> {
  let seen = "";
  await waitFor(
    `${JSON.stringify(text)} in ${path}`,
    async () => (seen = await Deno.readTextFile(path).catch(() => "")).includes(text),
    () => seen,
  );
  return seen;
}

/** The port named by the start-up line in the server's stderr file. */
async function portFrom(stderrFile: string): Promise<number> {
  const text = await fileShows(stderrFile, "listening on 127.0.0.1:");
  const port = Number(/listening on 127\.0\.0\.1:(\d+) /.exec(text)?.[1]);
  assert.ok(port > 0, text);
  return port;
}

Deno.test({
  name: nameUnless(
    NO_SCRIPT,
    "server started in the background of a terminal's shell (`&`) listens, serves and drains, reading nothing from the terminal",
  ),
  ignore: NO_SCRIPT !== null,
  async fn(): Promise<void> {
    const dir = await Deno.makeTempDir({ prefix: "linehub_background_" });
    // `set -m` gives the shell job control, as an interactive one has: the
    // server gets a process group of its own that is not the terminal's
    // foreground group, and keeps the terminal as its stdin.
    const shell = "set -m; " +
      `${SERVER_COMMAND} --host 127.0.0.1 --port 0 > "$0/out.log" 2> "$0/err.log" & ` +
      'echo $! > "$0/pid"; wait $!; echo "exit $?" > "$0/status"';
    const pty = spawnInTerminal(`sh -c ${shellQuote(shell)} ${shellQuote(dir)}`);
    let pid = 0;
    try {
      const port = await portFrom(`${dir}/err.log`);
      pid = Number(await fileShows(`${dir}/pid`, "\n"));
      await pty.write("typed at the terminal\n");
      await session(port, "served\n");
      Deno.kill(pid, "SIGTERM");
      assert.equal((await fileShows(`${dir}/status`, "\n")).trim(), "exit 0");
      assert.equal(await Deno.readTextFile(`${dir}/out.log`), "[client 0] served\n");
      const stderr = await Deno.readTextFile(`${dir}/err.log`);
      assertNoCrash(stderr);
      assert.match(stderr, /\(text to stdout\)\n/, "no console on stdin");
      assert.match(stderr, /linehub-server: shut down: 1 client served, 1 line, 7 bytes, /);
    } finally {
      if (pid > 0) {
        try {
          Deno.kill(pid, "SIGKILL");
        } catch {
          // Exited, as it should have.
        }
      }
      await pty.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: nameUnless(
    NO_SCRIPT,
    "server in a terminal without --allow-sys=hostname says what to give and exits 1, asking for no permission",
  ),
  ignore: NO_SCRIPT !== null,
  async fn(): Promise<void> {
    // Deno would prompt on a terminal for the host name, and wait: a server
    // in the background would be stopped by the system for reading it.
    const command = [DENO, ...WITHOUT_HOSTNAME, "--host", "127.0.0.1", "--port", "0"];
    const pty = spawnInTerminal(command.map(shellQuote).join(" "));
    try {
      const result = await pty.finished();
      assert.equal(result.killed, false, result.stdout);
      assert.equal(result.code, 1, result.stdout);
      assert.equal(result.stdout, NO_HOSTNAME_LINE.replace("\n", "\r\n"));
    } finally {
      await pty.stop();
    }
  },
});

Deno.test({
  name: nameUnless(
    NO_SCRIPT,
    "one Ctrl-C under `deno task server`, which delivers SIGINT twice, drains a connected client and exits 0",
  ),
  ignore: NO_SCRIPT !== null,
  async fn(): Promise<void> {
    const dir = await Deno.makeTempDir({ prefix: "linehub_ctrl_c_" });
    // The terminal's Ctrl-C reaches every process of its foreground group,
    // `deno task` and the server; the task runner also passes it on. `exec`:
    // the shell that started it is not in that group in a real terminal.
    const task = `cd ${shellQuote(ROOT)} && exec ${shellQuote(DENO)} task server ` +
      `--host 127.0.0.1 --port 0 2> ${shellQuote(`${dir}/err.log`)}`;
    const pty = spawnInTerminal(task);
    let conn: Deno.TcpConn | null = null;
    try {
      const port = await portFrom(`${dir}/err.log`);
      conn = await connectTo(port);
      await fileShows(`${dir}/err.log`, "client 0 connected");
      await pty.write("\x03");
      await fileShows(`${dir}/err.log`, "SIGINT: no longer accepting");
      await finish(conn, "after Ctrl-C\n");
      closeQuietly(conn);
      conn = null;
      const result = await pty.finished();
      assert.equal(result.killed, false);
      assert.equal(result.code, 0, await Deno.readTextFile(`${dir}/err.log`));
      assert.match(result.stdout, /\[client 0\] after Ctrl-C\r\n/);
      const stderr = await Deno.readTextFile(`${dir}/err.log`);
      assert.doesNotMatch(stderr, /exiting without waiting/);
      assert.match(stderr, /linehub-server: shut down: 1 client served, 1 line, 13 bytes, /);
    } finally {
      if (conn !== null) closeQuietly(conn);
      await pty.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: nameUnless(NO_SCRIPT, "server whose terminal closes shuts down, though it ignores SIGHUP"),
  ignore: NO_SCRIPT !== null,
  async fn(): Promise<void> {
    const dir = await Deno.makeTempDir({ prefix: "linehub_hangup_" });
    const pty = spawnInTerminal(
      `${SERVER_COMMAND} --host 127.0.0.1 --port 0 2> ${shellQuote(`${dir}/err.log`)}`,
    );
    try {
      const port = await portFrom(`${dir}/err.log`);
      // Killing `script` closes the terminal, as closing its window does.
      await pty.stop();
      await waitFor("the server to stop listening", async () => {
        try {
          (await connectTo(port)).close();
          return false;
        } catch {
          return true;
        }
      });
    } finally {
      await pty.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
