/**
 * Interoperability with programs nobody here wrote, as Debian ships them:
 * nmap's `ncat`, `socat` and OpenBSD netcat. They act as clients of
 * `server.ts` and as servers for `client.ts`. A test whose peer is missing
 * is registered as ignored, with the reason in its name.
 *
 * Facts about the peers these tests rely on (ncat 7.93, socat 1.7.4, OpenBSD
 * netcat 1.219): `nc -N` half-closes at the end of its stdin, without `-N` it
 * never does (and would wait for our server forever); `ncat -l` half-closes
 * as soon as its own stdin ends, so it is given a stdin that stays open;
 * `ncat -l`, `nc -l` and `socat` all exit once our client half-closes;
 * `socat` with `EXEC:` passes the half-close on to the program and closes
 * after the program's output ends.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  canListenOn,
  clientScriptArgs,
  concat,
  DENO,
  findOpenbsdNetcat,
  freePort,
  hasCommand,
  type ProcessResult,
  runClientAgainstPeer,
  runProgram,
  type ServerProcess,
  spawnProgram,
  startServer,
  waitFor,
  waitForDisconnects,
  waitForListener,
} from "../_helpers/mod.ts";

const NC = await findOpenbsdNetcat();
const HAVE_NCAT = await hasCommand("ncat");
const HAVE_SOCAT = await hasCommand("socat");
const HAVE_IPV6 = canListenOn("::1");

type Need = "ncat" | "socat" | "nc" | "ipv6";

const MISSING: Record<Need, string> = {
  ncat: "ncat not installed",
  socat: "socat not installed",
  nc: "OpenBSD netcat (nc.openbsd) not installed",
  ipv6: "::1 not available",
};

function available(need: Need): boolean {
  switch (need) {
    case "ncat":
      return HAVE_NCAT;
    case "socat":
      return HAVE_SOCAT;
    case "nc":
      return NC !== null;
    case "ipv6":
      return HAVE_IPV6;
  }
}

/** Registers a test that needs real peers; ignored, with the reason in its
 * name, when one is missing. */
function peerTest(name: string, needs: Need[], fn: () => Promise<void>): void {
  const missing = needs.filter((need) => !available(need)).map((need) => MISSING[need]);
  if (missing.length > 0) {
    Deno.test({ name: `${name} (skipped: ${missing.join("; ")})`, ignore: true, fn });
  } else {
    Deno.test({ name, fn });
  }
}

/** The OpenBSD netcat command; only called from tests that need it. */
function nc(): string {
  assert.ok(NC !== null);
  return NC;
}

function bytes(...parts: Array<string | number[]>): Uint8Array {
  return concat(
    parts.map((part) =>
      typeof part === "string" ? new TextEncoder().encode(part) : new Uint8Array(part)
    ),
  );
}

/** A peer client finished cleanly and printed nothing. */
function assertQuietSuccess(result: ProcessResult, who: string): void {
  assert.deepEqual(
    { code: result.code, killed: result.killed, stdout: result.stdout },
    { code: 0, killed: false, stdout: "" },
    `${who} failed; stderr:\n${result.stderr}`,
  );
}

/** Runs `fn` against a fresh server, then stops it (SIGTERM) once `clients`
 * disconnects were reported, and returns the server's exit status and stdout. */
async function withServer(
  serverArgs: string[],
  clients: number,
  fn: (server: ServerProcess) => Promise<void>,
): Promise<{ code: number; stdout: string; stdoutBytes: Uint8Array; stderr: string }> {
  const server = await startServer(serverArgs);
  try {
    await fn(server);
    await waitForDisconnects(server, clients);
  } finally {
    await server.stop();
  }
  const { code, stdout, stdoutBytes, stderr } = await server.finished();
  return { code, stdout, stdoutBytes, stderr };
}

/** Groups text-format output by client number; lines that are not messages
 * are kept under -1 so that an assertion shows them. */
function messagesByClient(stdout: string): Map<number, string[]> {
  const byClient = new Map<number, string[]>();
  for (const line of stdout.split("\n").slice(0, -1)) {
    const match = /^\[client (\d+)\] (.*)$/.exec(line);
    const id = match === null ? -1 : Number(match[1]);
    const text = match === null ? line : match[2] ?? "";
    byClient.set(id, [...(byClient.get(id) ?? []), text]);
  }
  return byClient;
}

function numberedLines(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix} line ${i}`);
}

/** Each client's lines arrived whole, in its own order, under its own number. */
function assertOneClientPerSender(stdout: string, sent: string[][]): void {
  const byClient = messagesByClient(stdout);
  assert.deepEqual([...byClient.keys()].sort((a, b) => a - b), sent.map((_, i) => i));
  const received = [...byClient.values()].sort((a, b) => (a[0] ?? "").localeCompare(b[0] ?? ""));
  const expected = [...sent].sort((a, b) => (a[0] ?? "").localeCompare(b[0] ?? ""));
  assert.deepEqual(received, expected);
}

// --- Peers as clients of our server -----------------------------------------

peerTest(
  "nc.openbsd -N clients' lines arrive labelled with their client number, in connect order",
  ["nc"],
  async () => {
    const server = await withServer([], 2, async ({ port }) => {
      const first = await runProgram(nc(), ["-N", "127.0.0.1", String(port)], "hello\nworld\n");
      assertQuietSuccess(first, "nc");
      const second = await runProgram(nc(), ["-N", "127.0.0.1", String(port)], "again\n");
      assertQuietSuccess(second, "nc");
    });
    assert.equal(server.code, 0);
    assert.equal(server.stdout, "[client 0] hello\n[client 0] world\n[client 1] again\n");
  },
);

peerTest(
  "nc.openbsd refused by a full server reads why, as one line of text",
  ["nc"],
  async () => {
    const server = await withServer(["--max-clients", "1"], 1, async (server) => {
      const holder = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
      try {
        await waitFor("the first client", () => /client 0 connected/.test(server.stderrSoFar()));
        const refused = await runProgram(nc(), ["-N", "127.0.0.1", String(server.port)], "hi\n");
        assert.equal(
          refused.stdout,
          "linehub-server: refused (full): server full (1 client); try again later\n",
        );
      } finally {
        holder.close();
      }
    });
    assert.equal(server.stdout, "");
  },
);

peerTest(
  "ncat --send-only lines arrive labelled with their client number",
  ["ncat"],
  async () => {
    const server = await withServer([], 1, async ({ port }) => {
      const result = await runProgram(
        "ncat",
        ["--send-only", "127.0.0.1", String(port)],
        "from ncat\nsecond line\n",
      );
      assertQuietSuccess(result, "ncat");
    });
    assert.equal(server.code, 0);
    assert.equal(server.stdout, "[client 0] from ncat\n[client 0] second line\n");
  },
);

peerTest(
  "socat CRLF lines lose their CR and a final line without newline is labelled partial",
  ["socat"],
  async () => {
    const server = await withServer([], 1, async ({ port }) => {
      const result = await runProgram(
        "socat",
        ["-u", "-", `TCP:127.0.0.1:${port}`],
        "alpha\r\nbeta\r\n\r\ngamma",
      );
      assertQuietSuccess(result, "socat");
    });
    assert.equal(server.code, 0);
    assert.equal(
      server.stdout,
      "[client 0] alpha\n[client 0] beta\n[client 0] \n[client 0 partial] gamma\n",
    );
  },
);

const UNTIDY_INPUT = bytes("plain\r\n", [0x1b], "[31mred\n", "\n", [0xff, 0xfe], "\n", "tail");

peerTest(
  "raw format writes socat's bytes back exactly, control and invalid UTF-8 bytes included",
  ["socat"],
  async () => {
    const server = await withServer(["--format", "raw"], 1, async ({ port }) => {
      const result = await runProgram("socat", ["-u", "-", `TCP:127.0.0.1:${port}`], UNTIDY_INPUT);
      assertQuietSuccess(result, "socat");
    });
    assert.equal(server.code, 0);
    // Exactly: the CR of the CRLF too, as nc -lk would show it.
    assert.deepEqual(
      server.stdoutBytes,
      bytes("plain\r\n", [0x1b], "[31mred\n", "\n", [0xff, 0xfe], "\n", "tail\n"),
    );
  },
);

peerTest(
  "text format escapes control bytes and replaces invalid UTF-8 from socat",
  ["socat"],
  async () => {
    const server = await withServer([], 1, async ({ port }) => {
      const result = await runProgram("socat", ["-u", "-", `TCP:127.0.0.1:${port}`], UNTIDY_INPUT);
      assertQuietSuccess(result, "socat");
    });
    assert.equal(server.code, 0);
    assert.equal(
      server.stdout,
      "[client 0] plain\n[client 0] \\x1b[31mred\n[client 0] \n[client 0] \ufffd\ufffd\n" +
        "[client 0 partial] tail\n",
    );
  },
);

peerTest(
  "raw format passes 20000 lines from ncat through unchanged",
  ["ncat"],
  async () => {
    const input = numberedLines("bulk", 20_000).join("\n") + "\n";
    const server = await withServer(["--format", "raw"], 1, async ({ port }) => {
      const result = await runProgram("ncat", ["--send-only", "127.0.0.1", String(port)], input);
      assertQuietSuccess(result, "ncat");
    });
    assert.equal(server.code, 0);
    assert.equal(server.stdout, input);
  },
);

peerTest(
  "three socat clients sending at once each get their own number and whole lines",
  ["socat"],
  async () => {
    const sent = [0, 1, 2].map((k) => numberedLines(`socat ${k}`, 300));
    const server = await withServer([], sent.length, async ({ port }) => {
      const peers = sent.map(() =>
        spawnProgram("socat", ["-u", "-", `TCP:127.0.0.1:${port}`], { stdin: "piped" })
      );
      try {
        // Interleave the senders: half of every client's lines, then the rest.
        for (const half of [0, 1]) {
          await Promise.all(peers.map((peer, k) => {
            const lines = (sent[k] ?? []).slice(half * 150, half * 150 + 150);
            return peer.write(lines.join("\n") + "\n");
          }));
        }
        await Promise.all(peers.map((peer) => peer.closeStdin()));
        for (const result of await Promise.all(peers.map((peer) => peer.finished()))) {
          assertQuietSuccess(result, "socat");
        }
      } finally {
        await Promise.all(peers.map((peer) => peer.stop()));
      }
    });
    assert.equal(server.code, 0);
    assertOneClientPerSender(server.stdout, sent);
  },
);

peerTest(
  "nc.openbsd, ncat and socat connected at once are told apart by client number",
  ["nc", "ncat", "socat"],
  async () => {
    const sent = ["nc", "ncat", "socat"].map((name) => numberedLines(name, 100));
    const server = await withServer([], 3, async ({ port }) => {
      const results = await Promise.all([
        runProgram(nc(), ["-N", "127.0.0.1", String(port)], sent[0]?.join("\n") + "\n"),
        runProgram("ncat", ["--send-only", "127.0.0.1", String(port)], sent[1]?.join("\n") + "\n"),
        runProgram("socat", ["-u", "-", `TCP:127.0.0.1:${port}`], sent[2]?.join("\n") + "\n"),
      ]);
      for (const result of results) assertQuietSuccess(result, "peer");
    });
    assert.equal(server.code, 0);
    assertOneClientPerSender(server.stdout, sent);
  },
);

peerTest(
  "an nc.openbsd client over IPv6 loopback is served and reported from [::1]",
  ["nc", "ipv6"],
  async () => {
    const server = await withServer(["--host", "::1"], 1, async ({ port }) => {
      const result = await runProgram(nc(), ["-N", "::1", String(port)], "over v6\n");
      assertQuietSuccess(result, "nc");
    });
    assert.equal(server.code, 0);
    assert.equal(server.stdout, "[client 0] over v6\n");
    assert.match(server.stderr, /^client 0 connected from \[::1\]:\d+$/m);
  },
);

// --- Peers as servers for our client ----------------------------------------

/** Starts a one-shot peer server, runs our client against it, and returns
 * both results. The peer's stdin stays open until the client is done. */
async function clientAgainst(
  command: string,
  peerArgs: (port: number) => string[],
  clientArgs: (port: number) => string[],
  stdin?: string | Uint8Array,
  hostname = "127.0.0.1",
): Promise<{ client: ProcessResult; peer: ProcessResult }> {
  const port = freePort(hostname);
  const peer = spawnProgram(command, peerArgs(port), { stdin: "piped" });
  try {
    const client = await runClientAgainstPeer(
      peer,
      port,
      DENO,
      clientScriptArgs(clientArgs(port)),
      stdin,
    );
    await peer.closeStdin();
    return { client, peer: await peer.finished() };
  } finally {
    await peer.stop();
  }
}

/** Exact text equality; for long texts the failure names the first
 * difference instead of printing megabytes. */
function assertSameText(actual: string, expected: string, what: string): void {
  if (expected.length < 10_000) {
    assert.equal(actual, expected, what);
    return;
  }
  let at = 0;
  while (at < expected.length && actual[at] === expected[at]) at++;
  assert.ok(
    actual === expected,
    `${what}: ${actual.length} characters where ${expected.length} were expected; ` +
      `first difference at ${at}: ${JSON.stringify(actual.slice(at, at + 40))}`,
  );
}

/** Our client finished cleanly, said only that it connected, and printed
 * exactly `stdout` (what the peer sent it). */
function assertClientDone(client: ProcessResult, stdout: string): void {
  assert.deepEqual(
    {
      code: client.code,
      killed: client.killed,
      stderr: client.stderr.replace(/^linehub-client: Connected to \S+\n/, ""),
    },
    { code: 0, killed: false, stderr: "" },
  );
  assertSameText(client.stdout, stdout, "client stdout");
}

peerTest(
  "ncat -l receives exactly the lines the client sent and closes after the half-close",
  ["ncat"],
  async () => {
    const { client, peer } = await clientAgainst(
      "ncat",
      (port) => ["-l", "127.0.0.1", String(port)],
      (port) => ["127.0.0.1", String(port)],
      "one\ntwo\n",
    );
    assertClientDone(client, "");
    assert.deepEqual({ code: peer.code, killed: peer.killed }, { code: 0, killed: false });
    assert.equal(peer.stdout, "one\ntwo\n");
  },
);

peerTest(
  "socat -u TCP-LISTEN receives stdin byte for byte, CRLF and unterminated last line kept",
  ["socat"],
  async () => {
    const input = "first\r\nsecond\nno newline";
    const { client, peer } = await clientAgainst(
      "socat",
      (port) => ["-u", `TCP-LISTEN:${port},bind=127.0.0.1,reuseaddr`, "-"],
      (port) => ["127.0.0.1", String(port)],
      input,
    );
    assertClientDone(client, "");
    assert.deepEqual({ code: peer.code, killed: peer.killed }, { code: 0, killed: false });
    assert.equal(peer.stdout, input);
  },
);

peerTest(
  "nc.openbsd -l receives the -m messages as lines",
  ["nc"],
  async () => {
    const { client, peer } = await clientAgainst(
      nc(),
      (port) => ["-l", "127.0.0.1", String(port)],
      (port) => ["-m", "first message", "-m", "second message", "127.0.0.1", String(port)],
    );
    assertClientDone(client, "");
    assert.deepEqual({ code: peer.code, killed: peer.killed }, { code: 0, killed: false });
    assert.equal(peer.stdout, "first message\nsecond message\n");
  },
);

peerTest(
  "the client prints a socat echo of its first line while its stdin is still open",
  ["socat"],
  async () => {
    const port = freePort();
    const echo = spawnProgram("socat", [
      "-t",
      "10",
      `TCP-LISTEN:${port},bind=127.0.0.1,reuseaddr,fork`,
      "EXEC:cat",
    ]);
    try {
      // With fork, a probe connection (where the socket table is unreadable)
      // only costs socat one short-lived child.
      await waitForListener(port, echo, { hostname: "127.0.0.1" });
      const client = spawnProgram(DENO, clientScriptArgs(["127.0.0.1", String(port)]), {
        stdin: "piped",
      });
      try {
        await client.write("first\n");
        // The echo can only appear if the client reads while it still sends.
        await client.waitForStdout("first\n");
        await client.write("second\n");
        await client.closeStdin();
        assertClientDone(await client.finished(), "first\nsecond\n");
      } finally {
        await client.stop();
      }
    } finally {
      await echo.stop();
    }
  },
);

peerTest(
  "the client prints all 2 MB that a socat cat echo server sends back, then exits",
  ["socat"],
  async () => {
    const input = numberedLines("echo", 100_000).join("\n") + "\n";
    const { client, peer } = await clientAgainst(
      "socat",
      // -t bounds how long socat waits for cat after our half-close.
      (port) => ["-t", "10", `TCP-LISTEN:${port},bind=127.0.0.1,reuseaddr`, "EXEC:cat"],
      (port) => ["127.0.0.1", String(port)],
      input,
    );
    assertClientDone(client, input);
    assert.deepEqual({ code: peer.code, killed: peer.killed }, { code: 0, killed: false });
  },
);

peerTest(
  "the client prints a reply that socat's tac can only send after the client's half-close",
  ["socat"],
  async () => {
    const { client, peer } = await clientAgainst(
      "socat",
      (port) => ["-t", "10", `TCP-LISTEN:${port},bind=127.0.0.1,reuseaddr`, "EXEC:tac"],
      (port) => ["127.0.0.1", String(port)],
      "one\ntwo\nthree\n",
    );
    assertClientDone(client, "three\ntwo\none\n");
    assert.deepEqual({ code: peer.code, killed: peer.killed }, { code: 0, killed: false });
  },
);

peerTest(
  "the client reaches a socat server on [::1]:PORT",
  ["socat", "ipv6"],
  async () => {
    const { client, peer } = await clientAgainst(
      "socat",
      (port) => ["-u", `TCP6-LISTEN:${port},bind=[::1],reuseaddr`, "-"],
      (port) => [`[::1]:${port}`],
      "v6 line\n",
      "::1",
    );
    assertClientDone(client, "");
    assert.deepEqual({ code: peer.code, killed: peer.killed }, { code: 0, killed: false });
    assert.equal(peer.stdout, "v6 line\n");
  },
);
