/**
 * End-to-end tests of `--mode echo|broker|chat`, the send-queue cap and the
 * operator console (`--console` with piped stdin): the real `server.ts`
 * process with TCP clients from this process, our client, and `ncat`/`nc`.
 * Each client waits for the server's join event before anyone sends, so what
 * every client receives is exact.
 */

import assert from "node:assert/strict";
import {
  bytes,
  closeQuietly,
  connectTo,
  DENO,
  findOpenbsdNetcat,
  freePort,
  hasCommand,
  nameUnless,
  proxyV1,
  proxyV2,
  readToEnd,
  runClientProcess,
  runServerProcess,
  type ServerProcess,
  serverScriptArgs,
  shellQuote,
  spawnInTerminal,
  spawnProgram,
  startServer,
  waitFor,
  withTimeout,
  writeAll,
} from "../_helpers/mod.ts";

const READ_TIMEOUT_MS = 15_000;

/** Connects and waits until the server reports this client's join. */
async function join(server: ServerProcess, id: number): Promise<Deno.TcpConn> {
  const conn = await connectTo(server.port);
  await waitFor(
    `client ${id} to connect`,
    () => server.stderrSoFar().includes(`client ${id} connected from`),
    () => server.stderrSoFar(),
  );
  return conn;
}

/** Reads from `conn` until `done` says what arrived so far is enough (or
 * the connection ends); returns it all. */
async function readWhile(conn: Deno.Conn, done: (text: string) => boolean): Promise<string> {
  const decoder = new TextDecoder();
  const buffer = new Uint8Array(65536);
  let text = "";
  return await withTimeout(
    (async () => {
      while (!done(text)) {
        const n = await conn.read(buffer);
        if (n === null) break;
        text += decoder.decode(buffer.subarray(0, n), { stream: true });
      }
      return text;
    })(),
    READ_TIMEOUT_MS,
    "the server's lines",
  );
}

/** Reads until what arrived ends with `end`. */
function readUntil(conn: Deno.Conn, end: string): Promise<string> {
  return readWhile(conn, (text) => text.endsWith(end));
}

/** Reads `count` more bytes' worth of text (ASCII here). */
function readMore(conn: Deno.Conn, count: number): Promise<string> {
  return readWhile(conn, (text) => text.length >= count);
}

function numbered(prefix: string, count: number): string {
  return Array.from({ length: count }, (_, i) => `${prefix} ${i}\n`).join("");
}

Deno.test("--mode echo sends each line back to its sender only, and still records it", async () => {
  const server = await startServer(["--mode", "echo"]);
  try {
    assert.match(server.stderrSoFar(), /\(text to stdout, echo mode\)/);
    const other = await join(server, 0);
    try {
      const result = await runClientProcess(["127.0.0.1", String(server.port)], "ping\npong\n");
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, "ping\npong\n");
      await other.closeWrite();
      assert.equal(new TextDecoder().decode(await readToEnd(other)), "");
    } finally {
      closeQuietly(other);
    }
  } finally {
    const result = await server.stop();
    assert.equal(result.stdout, "[client 1] ping\n[client 1] pong\n");
  }
});

Deno.test("--mode broker relays each line unchanged to every other client, in order per sender", async () => {
  const server = await startServer(["--mode", "broker"]);
  const [a, b, c] = [await join(server, 0), await join(server, 1), await join(server, 2)];
  try {
    const fromA = numbered("a", 200) + "tab\there \x1b[1m\n";
    const fromB = numbered("b", 200);
    await Promise.all([writeAll(a, bytes(fromA)), writeAll(b, bytes(fromB))]);
    const atC = await readMore(c, fromA.length + fromB.length);
    const seen = { a: "", b: "" };
    for (const line of atC.split(/(?<=\n)/)) {
      if (line.startsWith("a ") || line.startsWith("tab")) seen.a += line;
      else seen.b += line;
    }
    assert.equal(seen.a, fromA);
    assert.equal(seen.b, fromB);
    // Senders get the other's lines, never their own.
    assert.equal(await readMore(a, fromB.length), fromB);
    assert.equal(await readMore(b, fromA.length), fromA);
  } finally {
    for (const conn of [a, b, c]) closeQuietly(conn);
    const result = await server.stop();
    assert.equal(result.stdout.split("\n").length - 1, 401);
  }
});

Deno.test("--mode chat labels relayed lines, makes them terminal-safe, and announces joins and leaves", async () => {
  const server = await startServer(["--mode", "chat"]);
  const alice = await join(server, 0);
  try {
    assert.equal(await readUntil(alice, "\n"), "* you are client 0; 0 other clients here\n");
    const bob = await join(server, 1);
    const bobPort = bob.localAddr.port;
    try {
      assert.equal(await readUntil(bob, "\n"), "* you are client 1; 1 other client here\n");
      assert.equal(
        await readUntil(alice, "\n"),
        `* client 1 joined from 127.0.0.1:${bobPort}\n`,
      );
      await writeAll(alice, bytes("hello bob \x1b[2J\n"));
      assert.equal(await readUntil(bob, "\n"), "<client 0> hello bob \\x1b[2J\n");
      await writeAll(bob, bytes("hi alice\n"));
      assert.equal(await readUntil(alice, "\n"), "<client 1> hi alice\n");
    } finally {
      closeQuietly(bob);
    }
    assert.equal(await readUntil(alice, "\n"), "* client 1 left\n");
  } finally {
    closeQuietly(alice);
    const result = await server.stop();
    // The operator sees the whole conversation on stdout, exactly as sent.
    assert.equal(result.stdout, "[client 0] hello bob \\x1b[2J\n[client 1] hi alice\n");
  }
});

Deno.test("a client that stops reading is disconnected at --send-queue; the others get every line", async () => {
  const server = await startServer(["--mode", "broker", "--send-queue", "1048576"]);
  const stalled = await join(server, 0);
  const reader = await join(server, 1);
  const senders = [await join(server, 2), await join(server, 3), await join(server, 4)];
  try {
    // Three bursts at once, far more than the socket buffers and the queues
    // hold: the reader keeps up only if senders wait for it now and then.
    const count = 10_000;
    const lines = ["a", "b", "c"].map((tag) => `${tag}${"y".repeat(998)}\n`);
    const reading = readMore(reader, 1000 * count * senders.length);
    // Senders get one another's lines too, and read them as a reader does.
    const echoes = senders.map((sender) => readMore(sender, 1000 * count * 2));
    for (const promise of [reading, ...echoes]) promise.catch(() => {}); // awaited below
    await Promise.all(
      senders.map((sender, i) => writeAll(sender, bytes((lines[i] ?? "").repeat(count)))),
    );
    await Promise.all(echoes);
    const received = (await reading).split("\n");
    for (const [i, line] of lines.entries()) {
      const got = received.filter((text) => text + "\n" === line).length;
      assert.equal(got, count, `sender ${i}'s lines at the reader`);
    }
    await waitFor(
      "the stalled client to be dropped",
      () => /client 0 disconnected from .* \(send-queue-full\)/.test(server.stderrSoFar()),
      () => server.stderrSoFar(),
    );
  } finally {
    for (const conn of [stalled, reader, ...senders]) closeQuietly(conn);
    const result = await server.stop();
    assert.equal(result.code, 0);
    assert.equal(result.stdout.split("\n").length - 1, 30_000, result.stderr);
    assert.match(result.stderr, /; 1 client dropped for a full send queue/);
  }
});

Deno.test("the operator console sends to all or one client, lists, kicks and counts (--console, piped)", async () => {
  const server = await startServer(["--mode", "chat", "--console"], { stdin: "piped" });
  const first = await join(server, 0);
  await readUntil(first, "here\n");
  const second = await join(server, 1);
  await readUntil(second, "here\n");
  await readUntil(first, "joined from " + `127.0.0.1:${second.localAddr.port}\n`);
  try {
    assert.match(server.stderrSoFar(), /console on stdin: \/help/);
    await server.write("hello everyone\n");
    assert.equal(await readUntil(first, "\n"), "<server> hello everyone\n");
    assert.equal(await readUntil(second, "\n"), "<server> hello everyone\n");
    await server.write("/msg 1 just for you\n");
    assert.equal(await readUntil(second, "\n"), "<server> just for you\n");
    await server.write("/list\n");
    await waitFor(
      "the client list",
      () => server.stderrSoFar().includes(`127.0.0.1:${second.localAddr.port}`),
      () => server.stderrSoFar(),
    );
    await server.write("/kick 0\n/nope\n/stats\n");
    await waitFor(
      "client 0 to be kicked",
      () => /client 0 disconnected from .* \(kicked\)/.test(server.stderrSoFar()),
      () => server.stderrSoFar(),
    );
    // The kicked client is told why; the other sees a kick, not a leave.
    assert.equal(
      await readUntil(first, "\n"),
      "linehub-server: closing (kicked): disconnected by the operator\n",
    );
    assert.equal(await readUntil(second, "\n"), "* client 0 was kicked by the operator\n");
    await waitFor(
      "the totals",
      () => /1 kicked/.test(server.stderrSoFar()) && /Unknown command/.test(server.stderrSoFar()),
      () => server.stderrSoFar(),
    );
  } finally {
    closeQuietly(first);
    closeQuietly(second);
    const result = await server.stop();
    assert.equal(result.code, 0);
    assert.match(result.stderr, /; 1 kicked\n/);
  }
});

Deno.test("behind --proxy-protocol, chat joins and the console's /list show the address each header gives", async () => {
  const server = await startServer(
    ["--mode", "chat", "--console", "--proxy-protocol", "--proxy-from", "127.0.0.1"],
    { stdin: "piped" },
  );
  const first = await connectTo(server.port);
  const second = await connectTo(server.port);
  /** Waits until the server's stderr holds `text`. */
  const stderrShows = (text: string): Promise<void> =>
    waitFor(
      JSON.stringify(text),
      () => server.stderrSoFar().includes(text),
      () => server.stderrSoFar(),
    );
  try {
    await writeAll(first, proxyV1("192.0.2.61", 40061));
    await stderrShows("client 0 connected from 192.0.2.61:40061\n");
    await writeAll(second, proxyV2("2001:db8::62", 40062));
    const joined = await readUntil(first, "joined from [2001:db8::62]:40062\n");
    assert.ok(joined.endsWith("* client 1 joined from [2001:db8::62]:40062\n"), joined);
    await server.write("/list\n");
    await stderrShows("[2001:db8::62]:40062 ");
    const rows = server.stderrSoFar().split("\n").filter((line) => /^ *[01] {2}/.test(line));
    assert.deepEqual(rows.map((row) => row.trim().split(/ +/).slice(0, 2)), [
      ["0", "192.0.2.61:40061"],
      ["1", "[2001:db8::62]:40062"],
    ]);
    // The balancer's own address is shown for neither of them.
    const aboutClients = server.stderrSoFar().split("\n").filter((line) => /client/.test(line));
    assert.ok(aboutClients.every((line) => !line.includes("127.0.0.1")), server.stderrSoFar());
  } finally {
    closeQuietly(first);
    closeQuietly(second);
    const result = await server.stop();
    assert.equal(result.code, 0, result.stderr);
  }
});

Deno.test("without --console a server whose stdin is not a terminal ignores it", async () => {
  const server = await startServer(["--mode", "broker"], { stdin: "piped" });
  const conn = await join(server, 0);
  try {
    assert.doesNotMatch(server.stderrSoFar(), /console/);
    await server.write("/kick 0\nnot for the clients\n");
    await writeAll(conn, bytes("still connected\n"));
    await conn.closeWrite();
    assert.equal(new TextDecoder().decode(await readToEnd(conn)), "");
  } finally {
    closeQuietly(conn);
    const result = await server.stop();
    assert.equal(result.stdout, "[client 0] still connected\n");
    assert.doesNotMatch(result.stderr, /kicked/);
  }
});

Deno.test("server refuses --mode values and combinations it cannot honour, naming them", async () => {
  for (
    const [args, message] of [
      [["--mode", "shout"], 'Invalid mode "shout": must be one of log, echo, broker, chat'],
      [["--mode", "echo", "--ack"], "Cannot combine --ack with --mode echo"],
      [["--console", "--ack"], "Cannot combine --ack with --console"],
      [["--send-queue", "10"], 'Invalid --send-queue "10"'],
    ] as const
  ) {
    const result = await runServerProcess([...args]);
    assert.equal(result.code, 2, args.join(" "));
    assert.ok(result.stderr.startsWith(`linehub-server: ${message}`), result.stderr);
  }
});

const NC = await findOpenbsdNetcat();
const HAVE_NCAT = await hasCommand("ncat");
const noPeers = !HAVE_NCAT
  ? "ncat not installed"
  : NC === null
  ? "OpenBSD netcat (nc.openbsd) not installed"
  : null;

Deno.test({
  name: nameUnless(noPeers, "ncat and nc chat through the server in chat mode"),
  ignore: noPeers !== null,
  async fn(): Promise<void> {
    const server = await startServer(["--mode", "chat"]);
    // ncat only listens (its stdin stays open and empty); nc says one line.
    const listener = spawnProgram("ncat", ["--recv-only", "127.0.0.1", String(server.port)]);
    try {
      await waitFor(
        "ncat to connect",
        () => server.stderrSoFar().includes("client 0 connected"),
        () => server.stderrSoFar(),
      );
      const nc = spawnProgram(NC ?? "nc", ["-N", "127.0.0.1", String(server.port)], {
        stdin: "piped",
      });
      await nc.write("hello from nc\n");
      await nc.closeStdin();
      await listener.waitForStdout("<client 1> hello from nc\n");
      await listener.waitForStdout("* client 1 left\n");
      const ncResult = await nc.finished();
      assert.equal(ncResult.code, 0);
      assert.equal(ncResult.stdout, "* you are client 1; 1 other client here\n");
    } finally {
      await listener.stop();
      const result = await server.stop();
      assert.equal(result.stdout, "[client 1] hello from nc\n");
    }
  },
});

const noScript = await hasCommand("script") ? null : "script (util-linux) not installed";

Deno.test({
  name: nameUnless(
    noScript,
    "on a terminal the console is on only with --console, and what is typed reaches clients escaped (driven through a pseudo-terminal)",
  ),
  ignore: noScript !== null,
  async fn(): Promise<void> {
    // `script` runs the server with a pseudo-terminal as its stdin, stdout
    // and stderr; what the test writes to script's stdin is typed there.
    for (const withConsole of [false, true]) {
      const port = freePort();
      const args = ["--host", "127.0.0.1", "--port", String(port), "--mode", "broker"]
        .concat(withConsole ? ["--console"] : []);
      const pty = spawnInTerminal([DENO, ...serverScriptArgs(args)].map(shellQuote).join(" "));
      try {
        if (!withConsole) {
          // A terminal is not a request: the start-up line ends without
          // the console.
          await pty.waitForStdout("(text to stdout, broker mode)\r\n");
          continue;
        }
        await pty.waitForStdout("(text to stdout, broker mode, console on stdin: /help)");
        const conn = await connectTo(port);
        try {
          await pty.waitForStdout("client 0 connected");
          await pty.write("\x1b[31mtyped at the terminal\n");
          assert.equal(await readUntil(conn, "\n"), "\\x1b[31mtyped at the terminal\n");
          await pty.waitForStdout("sent to 1 client");
        } finally {
          closeQuietly(conn);
        }
      } finally {
        await pty.stop();
      }
    }
  },
});
