/**
 * `--proxy-protocol` behind a real HAProxy (Debian's `haproxy` package,
 * 2.6): HAProxy in TCP mode, started here on loopback with a config of its
 * own in a temporary folder, balances clients round robin over two linehub
 * servers, one sent the v1 header (`send-proxy`) and one the v2 header
 * (`send-proxy-v2`); a third backend serves TLS, the header sent before the
 * client's own TLS handshake, which HAProxy passes through untouched; and
 * HAProxy's own health checks (`check-send-proxy`) arrive as v2 LOCAL
 * headers, which make no client.
 *
 * HAProxy connects to the servers from 127.0.0.1, and so would a client on
 * loopback: the clients here bind 127.0.0.2 (and 127.0.0.3), which only a
 * header read from HAProxy can tell a server, and the servers' `--allow
 * 127.0.0.2/32` is judged on that address. Skipped, naming the reason,
 * where `haproxy` is missing or those addresses cannot be bound.
 *
 * @module
 */

import assert from "node:assert/strict";
import net from "node:net";
import { connect as tlsConnect } from "node:tls";
import {
  certificatesForTests,
  freePort,
  jsonLines,
  nameUnless,
  type RunningProgram,
  runProgram,
  type ServerProcess,
  spawnProgram,
  startServer,
  waitFor,
  waitForListener,
  withTimeout,
} from "../_helpers/mod.ts";

/** Where HAProxy is: on the PATH, or where Debian puts it (`/usr/sbin`,
 * often not on a user's PATH). */
async function findHaproxy(): Promise<string | null> {
  for (const command of ["haproxy", "/usr/sbin/haproxy"]) {
    try {
      const { code, stdout } = await runProgram(command, ["-v"]);
      if (code === 0 && stdout.includes("HAProxy")) return command;
    } catch {
      // Not there.
    }
  }
  return null;
}

/** Whether a client socket can be bound to `address` (any 127/8 address on Linux). */
function canBind(address: string): boolean {
  try {
    Deno.listen({ hostname: address, port: 0 }).close();
    return true;
  } catch {
    return false;
  }
}

const HAPROXY = await findHaproxy();
const SKIP = HAPROXY === null
  ? "haproxy not installed"
  : !canBind("127.0.0.2") || !canBind("127.0.0.3")
  ? "cannot bind 127.0.0.2 and 127.0.0.3 on this host"
  : null;
const { files, skip: noCertificates } = await certificatesForTests();

const SESSION_TIMEOUT_MS = 10_000;
const decoder = new TextDecoder();

/**
 * HAProxy in the foreground (`-db`), its config in a temporary folder
 * removed with it: {@linkcode DEFAULTS}, a frontend on a free loopback port
 * (`frontend`) for the backend `linehub`, and `backends`, which define it.
 * Disposing of it kills it.
 */
async function startHaproxy(
  backends: string,
): Promise<RunningProgram & { dir: string; frontend: number }> {
  // HAProxy cannot be given port 0: a port free a moment ago it is.
  const frontend = freePort();
  const dir = await Deno.makeTempDir({ prefix: "linehub-haproxy-" });
  await Deno.writeTextFile(
    `${dir}/haproxy.cfg`,
    `${DEFAULTS}
frontend lines
  bind 127.0.0.1:${frontend}
  default_backend linehub
${backends}`,
  );
  const program = spawnProgram(HAPROXY as string, ["-db", "-f", `${dir}/haproxy.cfg`], {
    timeoutMs: 60_000,
  });
  try {
    await waitForListener(frontend, program);
  } catch (error) {
    await program.stop();
    await Deno.remove(dir, { recursive: true });
    throw error;
  }
  return {
    ...program,
    dir,
    frontend,
    async [Symbol.asyncDispose](): Promise<void> {
      await program.stop();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** What HAProxy needs in TCP mode, and nothing it would warn about. */
const DEFAULTS = `defaults
  mode tcp
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  timeout check 2s
`;

/** What a client saw: its own port, and all the server sent it. */
interface Visit {
  port: number;
  received: string;
}

/**
 * Connects from `localAddress` to `port` (HAProxy's frontend), sends
 * `text`, half-closes, and collects what comes back until the close. With
 * `ca`, speaks TLS over that connection, verifying the server as
 * `localhost`.
 */
function visit(port: number, localAddress: string, text: string, ca?: string): Promise<Visit> {
  const { promise, resolve, reject } = Promise.withResolvers<Visit>();
  const socket = net.connect({ port, host: "127.0.0.1", localAddress });
  let received = "";
  const timer = setTimeout(() => socket.destroy(new Error("no close in time")), SESSION_TIMEOUT_MS);
  socket.on("connect", () => {
    const { localPort = 0 } = socket;
    const done = (): void => resolve({ port: localPort, received });
    if (ca === undefined) {
      socket.on("data", (chunk: Uint8Array) => received += decoder.decode(chunk));
      socket.on("close", done);
      socket.end(text);
      return;
    }
    const secure = tlsConnect({ socket, servername: "localhost", ca });
    secure.on("secureConnect", () => secure.end(text));
    secure.on("data", (chunk: Uint8Array) => received += decoder.decode(chunk));
    secure.on("error", reject);
    secure.on("close", done);
  });
  socket.on("error", reject);
  return promise.finally(() => clearTimeout(timer));
}

/** The JSON records a server wrote, once it has stopped. */
async function recordsOf(server: ServerProcess): Promise<Array<Record<string, unknown>>> {
  const { stdout, code, stderr } = await server.stop("SIGTERM");
  assert.equal(code, 0, stderr);
  return jsonLines(stdout);
}

/** `type address:port text` of each record but `start` and `stop`. */
function summary(records: Array<Record<string, unknown>>): string[] {
  return records.filter(({ type }) => type !== "start" && type !== "stop").map((record) =>
    `${record.type} ${record.address}:${record.port}` +
    (record.text === undefined ? "" : ` ${record.text}`) +
    (record.reason === undefined ? "" : ` ${record.reason}`)
  );
}

Deno.test({
  name: nameUnless(
    SKIP,
    "behind HAProxy's send-proxy and send-proxy-v2, round robin, each server shows the client's " +
      "own address and judges --allow on it",
  ),
  ignore: SKIP !== null,
  async fn(): Promise<void> {
    // HAProxy connects from 127.0.0.1: only it may send headers; only the
    // clients of 127.0.0.2 may send lines.
    const args = [
      "--proxy-protocol",
      "--proxy-from",
      "127.0.0.1/32",
      "--allow",
      "127.0.0.2/32",
      "--format",
      "json",
    ];
    await using v1 = await startServer(args);
    await using v2 = await startServer(args);
    await using haproxy = await startHaproxy(`backend linehub
  balance roundrobin
  server v1 127.0.0.1:${v1.port} send-proxy
  server v2 127.0.0.1:${v2.port} send-proxy-v2
`);
    const { frontend } = haproxy;
    const visits: Visit[] = [];
    for (let k = 0; k < 4; k++) {
      visits.push(await visit(frontend, "127.0.0.2", `line ${k} from 127.0.0.2\n`));
    }
    // Told why through HAProxy, which relays the server's words.
    const outsider = await visit(frontend, "127.0.0.3", "line from 127.0.0.3\n");
    assert.equal(outsider.received, "linehub-server: refused (denied): denied by --allow/--deny\n");
    assert.deepEqual(visits.map((seen) => seen.received), ["", "", "", ""]);
    // Round robin: the first client to one server, the next to the other.
    await waitFor(
      "the servers to see every client leave",
      () => [v1, v2].every((server) => server.stdoutSoFar().split('"disconnect"').length === 3),
      () => v1.stdoutSoFar() + v2.stdoutSoFar(),
      SESSION_TIMEOUT_MS,
    );
    const seen = [...summary(await recordsOf(v1)), ...summary(await recordsOf(v2))];
    const expected = visits.flatMap(({ port }, k) => [
      `connect 127.0.0.2:${port}`,
      `message 127.0.0.2:${port} line ${k} from 127.0.0.2`,
      `disconnect 127.0.0.2:${port} eof`,
    ]);
    expected.push(`refused 127.0.0.3:${outsider.port} denied`);
    assert.deepEqual(seen.toSorted(), expected.toSorted());
  },
});

Deno.test({
  name: nameUnless(
    SKIP ?? noCertificates,
    "behind HAProxy's send-proxy-v2 in TCP mode, a TLS client's handshake follows the header",
  ),
  ignore: (SKIP ?? noCertificates) !== null,
  async fn(): Promise<void> {
    const { server: certificate, ca } = files();
    await using tls = await startServer([
      "--proxy-protocol",
      "--proxy-from",
      "127.0.0.1",
      "--tls-cert",
      certificate.cert,
      "--tls-key",
      certificate.key,
    ]);
    await using haproxy = await startHaproxy(`backend linehub
  server tls 127.0.0.1:${tls.port} send-proxy-v2
`);
    const { frontend } = haproxy;
    const seen = await withTimeout(
      visit(frontend, "127.0.0.2", "over TLS, through HAProxy\n", await Deno.readTextFile(ca.cert)),
      SESSION_TIMEOUT_MS,
      "the TLS client",
    );
    assert.equal(seen.received, "");
    await waitFor(
      "the client to leave",
      () => tls.stderrSoFar().includes(" disconnected "),
      () => tls.stderrSoFar(),
    );
    const { stdout, stderr } = await tls.stop("SIGTERM");
    assert.equal(stdout, "[client 0] over TLS, through HAProxy\n");
    assert.match(stderr, new RegExp(`^client 0 connected from 127\\.0\\.0\\.2:${seen.port}$`, "m"));
  },
});

Deno.test({
  name: nameUnless(
    SKIP,
    "HAProxy's health checks, sent as v2 LOCAL headers, are closed without a word and make no client",
  ),
  ignore: SKIP !== null,
  async fn(): Promise<void> {
    await using server = await startServer([
      "--proxy-protocol",
      "--proxy-from",
      "127.0.0.1/32",
      "--format",
      "json",
    ]);
    // A plain connect check resets the connection as soon as it is made,
    // mostly before the server has read anything. The expect rule makes
    // HAProxy wait for the server's answer and report it: a server that
    // closes without a word gives "an empty response" (one that kept the
    // check as a client would time out, one that refused it would say so).
    // That fails the check, which is why this backend serves no one.
    await using haproxy = await startHaproxy(`backend linehub
  server relay 127.0.0.1:${server.port} send-proxy-v2
backend checks
  option tcp-check
  tcp-check expect string linehub-server
  server checked 127.0.0.1:${server.port} send-proxy-v2 check check-send-proxy inter 100ms fall 1
`);
    await waitFor(
      "HAProxy to report a check's answer",
      () => /Server checks\/checked is DOWN/.test(haproxy.stderrSoFar()),
      () => haproxy.stderrSoFar(),
      SESSION_TIMEOUT_MS,
    );
    assert.match(haproxy.stderrSoFar(), /TCPCHK got an empty response/);
    // And a client through the same HAProxy is still one.
    const client = await visit(haproxy.frontend, "127.0.0.2", "a real client\n");
    await waitFor(
      "the client to leave",
      () => server.stdoutSoFar().includes('"disconnect"'),
      () => server.stdoutSoFar(),
      SESSION_TIMEOUT_MS,
    );
    const records = await recordsOf(server);
    assert.deepEqual(summary(records), [
      `connect 127.0.0.2:${client.port}`,
      `message 127.0.0.2:${client.port} a real client`,
      `disconnect 127.0.0.2:${client.port} eof`,
    ]);
    const stop = records.find(({ type }) => type === "stop");
    assert.equal(stop?.clients, 1);
    assert.equal(stop?.refused, 0);
  },
});
