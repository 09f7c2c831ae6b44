/**
 * End-to-end tests of `client.ts` as a real process (see `tests/_helpers/process.ts`),
 * against a real server process and against small peers in this process:
 * what reaches the server, what the client prints, exit statuses, and the
 * one-line messages of every failure.
 */

import assert from "node:assert/strict";
import { CLIENT_USAGE } from "../../lib/cli/_client_flags.ts";
import {
  assertNoCrash,
  assertRun,
  bytes,
  closeQuietly,
  connectTo,
  freePort,
  nameUnless,
  noIPv6Reason,
  type ProcessResult,
  readToEnd,
  ROOT,
  runClientProcess,
  type ServerProcess,
  spawnClient,
  startServer,
  unansweringListener,
  waitFor,
  writeAll,
} from "../_helpers/mod.ts";

/**
 * `result` as if the client had read its stdin to the end before the
 * refusal came: whether it had is a race between the pipe and the server's
 * notice, and the client says which (", input not read to the end"), truly
 * either way; the tests of refusals assert the rest.
 */
function inputReadToEnd(result: ProcessResult): ProcessResult {
  return { ...result, stderr: result.stderr.replace(", input not read to the end", "") };
}

/** The connection message the client prints on stderr unless `--quiet`. */
function connected(where: string): string {
  return `linehub-client: Connected to ${where}\n`;
}

Deno.test("client sends its stdin lines to the server and exits 0, saying only that it connected", async () => {
  const server = await startServer();
  try {
    const result = await runClientProcess(
      ["127.0.0.1", String(server.port)],
      "one\ntwo\r\n\n\x1b[31mthree",
    );
    assertRun(result, {
      code: 0,
      stdout: "",
      stderr: connected(`127.0.0.1:${server.port}`),
    });
    const served = await server.stop();
    assert.equal(
      served.stdout,
      "[client 0] one\n[client 0] two\n[client 0] \n[client 0 partial] \\x1b[31mthree\n",
    );
  } finally {
    await server.stop();
  }
});

Deno.test("client -m sends each message as a line to HOST:PORT", async () => {
  const server = await startServer();
  try {
    const result = await runClientProcess([
      "-m",
      "hello",
      "--message",
      "with  spaces\tand tab",
      "--connect-timeout",
      "0",
      `127.0.0.1:${server.port}`,
    ]);
    assertRun(result, { code: 0, stdout: "", stderr: connected(`127.0.0.1:${server.port}`) });
    const served = await server.stop();
    assert.equal(served.stdout, "[client 0] hello\n[client 0] with  spaces\tand tab\n");
  } finally {
    await server.stop();
  }
});

Deno.test("client --name: a linehub server shows the name in each label, with or without --ack", async () => {
  for (const extra of [[], ["--ack"]]) {
    const server = await startServer(extra);
    try {
      const result = await runClientProcess(
        ["--name", "web1", ...extra, "127.0.0.1", String(server.port)],
        "one\ntwo\n",
      );
      assertRun(result, { code: 0, stdout: "", stderr: connected(`127.0.0.1:${server.port}`) });
      const served = await server.stop();
      assert.equal(served.stdout, "[client 0 web1] one\n[client 0 web1] two\n", `${extra}`);
    } finally {
      await server.stop();
    }
  }
});

const noIPv6 = noIPv6Reason();

Deno.test({
  name: nameUnless(noIPv6, "client connects to [::1]:PORT"),
  ignore: noIPv6 !== null,
  async fn(): Promise<void> {
    const server = await startServer(["--host", "::1"]);
    try {
      const result = await runClientProcess([`[::1]:${server.port}`], "over v6\n");
      assertRun(result, { code: 0, stdout: "", stderr: connected(`[::1]:${server.port}`) });
      const served = await server.stop();
      assert.equal(served.stdout, "[client 0] over v6\n");
      assert.match(served.stderr, /^client 0 connected from \[::1\]:\d+$/m);
    } finally {
      await server.stop();
    }
  },
});

Deno.test("client prints what the server sends, also after its input ended, and exits 0 when the server closes", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0, transport: "tcp" });
  const peer = (async () => {
    const conn = await listener.accept();
    try {
      await writeAll(conn, bytes("welcome\n"));
      // Returns once the client has half-closed at the end of its stdin.
      const received = new TextDecoder().decode(await readToEnd(conn));
      await writeAll(conn, bytes(`echo: ${received}`));
      await writeAll(conn, bytes("no newline at the end"));
    } finally {
      conn.close();
    }
  })();
  try {
    const [result, peerError] = await Promise.all([
      runClientProcess(["127.0.0.1", String(listener.addr.port)], "ping\npong\n"),
      peer.then(() => null, (error: unknown) => error),
    ]);
    assertRun(result, {
      code: 0,
      stdout: "welcome\necho: ping\npong\nno newline at the end",
      stderr: connected(`127.0.0.1:${listener.addr.port}`),
    });
    assert.equal(peerError, null);
  } finally {
    listener.close();
    await peer.catch(() => {});
  }
});

Deno.test("client exits 1 with one line when the connection is refused", async () => {
  const port = freePort();
  const result = await runClientProcess(["127.0.0.1", String(port)], "lost\n");
  assertRun(result, {
    code: 1,
    stdout: "",
    stderr: `linehub-client: Cannot connect to 127.0.0.1:${port}: connection refused\n`,
  });
});

Deno.test("client exits 1 with one line when --connect-timeout passes", async () => {
  const { listener, queued } = await unansweringListener();
  try {
    const port = listener.addr.port;
    const result = await runClientProcess(
      ["--connect-timeout", "0.5", "127.0.0.1", String(port)],
      "lost\n",
    );
    assertRun(result, {
      code: 1,
      stdout: "",
      stderr: `linehub-client: Cannot connect to 127.0.0.1:${port}: timed out after 0.5 s\n`,
    });
  } finally {
    queued.forEach(closeQuietly);
    listener.close();
  }
});

Deno.test("client exits 1 with one line for an unknown host", async () => {
  // .invalid is reserved (RFC 2606): it never resolves.
  const result = await runClientProcess(["nosuch.invalid", "9"], "lost\n");
  assertRun(result, {
    code: 1,
    stdout: "",
    stderr: "linehub-client: Cannot connect to nosuch.invalid:9: unknown host\n",
  });
});

/** What the client prints on stderr for a usage error: one line and a
 * pointer to --help, not the whole usage. */
function usageError(message: string): string {
  return `linehub-client: ${message}\nTry 'linehub-client --help' for more information.\n`;
}

Deno.test("client rejects bad usage with exit 2, one line naming the value, and a pointer to --help", async () => {
  const cases: Array<[string[], string]> = [
    [
      ["--connect-timeout", "abc", "127.0.0.1"],
      `Invalid --connect-timeout "abc": must be a duration from 0 to 24h, ` +
      "such as 2.5 (seconds), 500ms, 30s or 5m",
    ],
    [[], "Missing HOST: say where to connect"],
    [["127.0.0.1", "99999"], `Invalid port "99999": must be an integer from 1 to 65535`],
    [["127.0.0.1", "0"], `Invalid port "0": must be an integer from 1 to 65535`],
    [["--bogus", "127.0.0.1"], `Unknown option "--bogus"`],
    [["127.0.0.1:1", "2"], `Port given twice: "127.0.0.1:1" and "2"`],
    [
      ["--retry", "abc", "127.0.0.1"],
      `Invalid --retry "abc": must be an integer from 0 to 1000000 or "forever"`,
    ],
    [
      ["--ack", "--buffer-lines", "0", "127.0.0.1"],
      `Invalid --buffer-lines "0": must be an integer from 1 to 1000000`,
    ],
    [
      ["--max-line", "100", "127.0.0.1"],
      `Option "--max-line" needs --retry or --ack: without them the client holds no lines`,
    ],
  ];
  const results = await Promise.all(cases.map(([args]) => runClientProcess(args)));
  results.forEach((result, i) => {
    const [, message] = cases[i] as [string[], string];
    assertRun(result, {
      code: 2,
      stdout: "",
      stderr: usageError(message),
    });
  });
});

Deno.test("client skips a first -- as `deno task client -- ARGS` passes it", async () => {
  const result = await runClientProcess(["--", "--connect-timeout", "-1", "127.0.0.1"]);
  assertRun(result, {
    code: 2,
    stdout: "",
    stderr: usageError(
      `Invalid --connect-timeout "-1": must be a duration from 0 to 24h, ` +
        "such as 2.5 (seconds), 500ms, 30s or 5m",
    ),
  });
});

Deno.test("client --help prints the usage on stdout and --version the version", async () => {
  const version = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`)).version;
  const [help, short, versionRun, shortVersion] = await Promise.all([
    runClientProcess(["--help"]),
    runClientProcess(["-h"]),
    runClientProcess(["--version"]),
    runClientProcess(["-V"]),
  ]);
  assert.match(CLIENT_USAGE, /^Usage: linehub-client \[options\] HOST \[PORT\]\n/);
  assertRun(help, { code: 0, stdout: CLIENT_USAGE, stderr: "" });
  assertRun(short, { code: 0, stdout: CLIENT_USAGE, stderr: "" });
  assertRun(versionRun, { code: 0, stdout: `linehub-client ${version}\n`, stderr: "" });
  assertRun(shortVersion, { code: 0, stdout: `linehub-client ${version}\n`, stderr: "" });
});

Deno.test("client exits 3 with one line when the server closes before the input ended", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0, transport: "tcp" });
  // The peer closes at once, while the client's stdin stays open: its
  // input cannot have ended.
  const peer = (async () => {
    const conn = await listener.accept();
    conn.close();
  })();
  const client = spawnClient(["127.0.0.1", String(listener.addr.port)]);
  try {
    await peer;
    assertRun(await client.finished(), {
      code: 3,
      stdout: "",
      stderr: connected(`127.0.0.1:${listener.addr.port}`) +
        `linehub-client: Server 127.0.0.1:${listener.addr.port} ` +
        "closed the connection before the input ended; the rest of the input was not sent\n",
    });
  } finally {
    closeQuietly(listener);
    await peer.catch(() => {});
    await client.stop();
  }
});

Deno.test("client -q and --quiet print what the server sends but no connection message", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0, transport: "tcp" });
  const peer = (async () => {
    for (let i = 0; i < 2; i++) {
      const conn = await listener.accept();
      try {
        await writeAll(conn, bytes("hello\n"));
        const received = new TextDecoder().decode(await readToEnd(conn));
        await writeAll(conn, bytes(`got ${received}`));
      } finally {
        conn.close();
      }
    }
  })();
  try {
    const port = String(listener.addr.port);
    const quiet = await runClientProcess(["-q", "127.0.0.1", port], "one\n");
    const retrying = await runClientProcess(
      ["--quiet", "--retry", "2", "127.0.0.1", port],
      "two\n",
    );
    assertRun(quiet, { code: 0, stdout: "hello\ngot one\n", stderr: "" });
    assertRun(retrying, { code: 0, stdout: "hello\ngot two\n", stderr: "" });
    await peer;
  } finally {
    listener.close();
    await peer.catch(() => {});
  }
});

Deno.test("client --quiet hides the retries but not the failure that ends the session", async () => {
  const port = freePort();
  const [quiet, loud] = await Promise.all([
    runClientProcess(["--quiet", "--retry", "1", "127.0.0.1", String(port)], "lost\n"),
    runClientProcess(["--retry", "1", "127.0.0.1", String(port)], "lost\n"),
  ]);
  const gaveUp = `linehub-client: Cannot connect to 127.0.0.1:${port}: connection refused; ` +
    "gave up after 1 retry\n";
  assertRun(quiet, { code: 1, stdout: "", stderr: gaveUp });
  assertNoCrash(loud.stderr);
  assert.equal(loud.code, 1);
  assert.match(
    loud.stderr,
    new RegExp(
      `^linehub-client: Cannot connect to 127\\.0\\.0\\.1:${port}: connection refused; ` +
        "retrying in [0-9.]+ s \\(retry 1 of 1\\)\\n",
    ),
  );
  assert.ok(loud.stderr.endsWith(gaveUp), loud.stderr);
});

// --- Refusals and cut-offs: the server says why, the client tells --------

/** A connection that fills a `--max-clients 1` server, held until closed. */
async function fillServer(server: ServerProcess): Promise<Deno.TcpConn> {
  const holder = await connectTo(server.port);
  await waitFor(
    "the first client to be served",
    () => /client 0 connected/.test(server.stderrSoFar()),
    () => server.stderrSoFar(),
  );
  return holder;
}

Deno.test("client refused by a full server exits 5 saying why, nothing on stdout, also with --ack", async () => {
  const server = await startServer(["--max-clients", "1", "--ack"]);
  const holder = await fillServer(server);
  try {
    const where = `127.0.0.1:${server.port}`;
    const refused = `linehub-client: Server ${where} refused the connection: ` +
      "server full (1 client); try again later";
    const [plain, acked] = await Promise.all([
      runClientProcess([where], "lost line\n"),
      runClientProcess(["--ack", where], "lost line\n"),
    ]);
    assertRun(inputReadToEnd(plain), {
      code: 5,
      stdout: "",
      stderr: connected(where) + `${refused}; nothing was delivered\n`,
    });
    // Not "does the server run with --ack?": the real reason. The refusal
    // can come before the client has read its line, and then says so.
    const ackedRun = inputReadToEnd(acked);
    const readFirst = ackedRun.stderr.endsWith("; 1 line not acknowledged\n");
    assertRun(ackedRun, {
      code: 5,
      stdout: "",
      stderr: connected(where) +
        `${refused}; ${readFirst ? "1 line not acknowledged" : "nothing was delivered"}\n`,
    });
  } finally {
    closeQuietly(holder);
    const result = await server.stop();
    assert.equal(result.stdout, "");
  }
});

Deno.test("client --retry tries a full server again and delivers the line sent before the refusal once a place frees", async () => {
  const server = await startServer(["--max-clients", "1"]);
  const holder = await fillServer(server);
  const where = `127.0.0.1:${server.port}`;
  const client = spawnClient(["--retry", "5", where]);
  try {
    await client.write("patient line\n");
    await client.closeStdin();
    await client.waitForStderr(/refused the connection: server full .*; retrying in /);
    closeQuietly(holder);
    const result = await client.finished();
    assertNoCrash(result.stderr);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "");
    const lines = result.stderr.split("\n").slice(0, -1);
    assert.equal(lines[0], `linehub-client: Connected to ${where}`);
    assert.match(
      lines[1] ?? "",
      /^linehub-client: Server \S+ refused the connection: server full \(1 client\); try again later; retrying in [0-9.]+ s \(retry 1 of 5\)$/,
    );
    assert.equal(lines.at(-1), `linehub-client: Reconnected to ${where}; sending 1 line held`);
  } finally {
    closeQuietly(holder);
    await client.stop();
    const result = await server.stop();
    assert.equal(result.stdout, "[client 1] patient line\n");
  }
});

Deno.test("client denied by the server's --deny exits 6 at once, without retrying", async () => {
  const server = await startServer(["--deny", "127.0.0.0/8"]);
  try {
    const where = `127.0.0.1:${server.port}`;
    const result = await runClientProcess(["--retry", "3", where], "not for you\n");
    assertRun(inputReadToEnd(result), {
      code: 6,
      stdout: "",
      stderr: connected(where) +
        `linehub-client: Server ${where} refused the connection: denied by --allow/--deny; ` +
        "1 line not sent\n",
    });
  } finally {
    const result = await server.stop();
    assert.equal(result.stdout, "");
  }
});

Deno.test("client kicked by the operator exits 3 saying so, and --retry does not undo the kick", async () => {
  const server = await startServer(["--console"], { stdin: "piped" });
  const where = `127.0.0.1:${server.port}`;
  const client = spawnClient(["--retry", "3", where]);
  try {
    await client.write("before the kick\n");
    await waitFor("the client", () => /client 0 connected/.test(server.stderrSoFar()));
    await server.write("/kick 0\n");
    const result = await client.finished();
    assertRun(result, {
      code: 3,
      stdout: "",
      stderr: connected(where) +
        `linehub-client: Server ${where} closed the connection: disconnected by the operator; ` +
        "every line read so far sent\n",
    });
  } finally {
    await client.stop();
    const result = await server.stop();
    assert.match(result.stderr, /client 0 disconnected from .* \(kicked\)/);
    assert.doesNotMatch(result.stderr, /client 1 connected/);
  }
});

Deno.test("client cut off by --idle-timeout exits 3 saying why", async () => {
  const server = await startServer(["--idle-timeout", "0.3"]);
  const where = `127.0.0.1:${server.port}`;
  // stdin stays open: the input has not ended when the server gives up.
  const client = spawnClient([where]);
  try {
    const result = await client.finished();
    assertRun(result, {
      code: 3,
      stdout: "",
      stderr: connected(where) +
        `linehub-client: Server ${where} closed the connection: nothing received for 0.3 s ` +
        "(--idle-timeout); the rest of the input was not sent\n",
    });
  } finally {
    await client.stop();
    await server.stop();
  }
});

Deno.test("client --tls against a plain linehub server is told at once that it does not speak TLS (exit 6)", async () => {
  const server = await startServer();
  try {
    const where = `127.0.0.1:${server.port}`;
    const result = await runClientProcess(["--tls", where], "secret\n");
    assertRun(result, {
      code: 6,
      stdout: "",
      stderr: `linehub-client: Cannot connect to ${where}: the server does not speak TLS ` +
        "(it answered in plain text; connect without --tls?)\n",
    });
  } finally {
    const result = await server.stop();
    // A refusal, not three lines of handshake bytes.
    assert.equal(result.stdout, "");
    assert.match(result.stderr, /client 0 disconnected from \S+ \(tls-on-plain-port\): 0 lines/);
  }
});
