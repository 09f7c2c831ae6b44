/**
 * End-to-end tests of the server's TLS (`--tls-cert`, `--tls-key`,
 * `--tls-client-ca`): the real `server.ts` process, and `node:tls` clients
 * from this process with throwaway certificates from `tests/_helpers/certs.ts`. Each test
 * is skipped, naming the reason, where `openssl` is missing.
 */

import assert from "node:assert/strict";
import { connect as tlsConnect, type ConnectionOptions } from "node:tls";
import { readKeyPair } from "../../lib/net/tls_files.ts";
import {
  handshakeFailureText,
  TlsAcceptor,
  verifyErrorText,
} from "../../lib/server/tls_acceptor.ts";
import { workersUnavailableReason } from "../../lib/server/workers/pool.ts";
import {
  bytes,
  certificatesForTests,
  clientHello,
  closeQuietly,
  connectTo,
  jsonLines,
  nameUnless,
  readToEnd,
  runClientProcess,
  runServerProcess,
  type ServerProcess,
  sleep,
  startLineServer,
  startServer,
  waitFor,
  withTimeout,
  writeAll,
} from "../_helpers/mod.ts";

const { files, skip } = await certificatesForTests();
const SESSION_TIMEOUT_MS = 10_000;

/** Starts the server serving TLS with the test server certificate, plus `args`. */
function startTlsServer(args: string[] = []): Promise<ServerProcess> {
  const { server } = files();
  return startServer(["--tls-cert", server.cert, "--tls-key", server.key, ...args]);
}

/** What a TLS client saw: whether it got through the handshake, and every
 * byte the server sent before closing. */
interface TlsSession {
  secure: boolean;
  received: string;
  error: string | null;
}

/**
 * Connects with TLS, trusting the test CA, sends `text`, half-closes, and
 * collects what the server sends until it closes. Never rejects: a refused
 * handshake shows as `secure: false` or an early close.
 */
function tlsSession(
  port: number,
  text: string,
  options: ConnectionOptions = {},
): Promise<TlsSession> {
  const { promise, resolve } = Promise.withResolvers<TlsSession>();
  const session: TlsSession = { secure: false, received: "", error: null };
  const socket = tlsConnect({
    host: "127.0.0.1",
    port,
    servername: "localhost",
    ca: Deno.readTextFileSync(files().ca.cert),
    ...options,
  });
  socket.on("secureConnect", () => {
    session.secure = true;
    socket.end(text);
  });
  socket.on("data", (chunk: Uint8Array) => session.received += new TextDecoder().decode(chunk));
  socket.on("error", (error: Error) => session.error ??= error.message);
  socket.on("close", () => resolve(session));
  const timer = setTimeout(() => socket.destroy(), SESSION_TIMEOUT_MS);
  return promise.finally(() => clearTimeout(timer));
}

/** A client certificate and key: alice's, a stranger's, or one signed by the
 * trusted CA that expired in 2021 (made for a server, which Deno's node:tls
 * does not tell apart either). */
function clientCert(which: "client" | "strangerClient" | "expiredServer"): ConnectionOptions {
  return {
    cert: Deno.readTextFileSync(files()[which].cert),
    key: Deno.readTextFileSync(files()[which].key),
  };
}

Deno.test({
  name: nameUnless(skip, "TLS server delivers each client's lines, labelled, as plain TCP does"),
  ignore: skip !== null,
  async fn(): Promise<void> {
    const server = await startTlsServer();
    try {
      assert.match(server.stderrSoFar(), /listening on 127\.0\.0\.1:\d+ \(text to stdout, TLS\)/);
      const first = await tlsSession(server.port, "hello over TLS\nsecond line\n");
      const second = await tlsSession(server.port, "from the other one\n");
      assert.equal(first.secure, true);
      assert.equal(second.secure, true);
    } finally {
      const result = await server.stop();
      assert.equal(result.code, 0);
      assert.equal(
        result.stdout,
        "[client 0] hello over TLS\n[client 0] second line\n[client 1] from the other one\n",
      );
      assert.match(result.stderr, /client 0 connected from 127\.0\.0\.1:\d+\n/);
      assert.match(result.stderr, /shut down: 2 clients served, 3 lines/);
    }
  },
});

Deno.test({
  name: nameUnless(
    skip,
    "mutual TLS: a client with a certificate from the client CA is shown by its name",
  ),
  ignore: skip !== null,
  async fn(): Promise<void> {
    const server = await startTlsServer(["--tls-client-ca", files().ca.cert, "--format", "json"]);
    try {
      assert.match(server.stderrSoFar(), /TLS with client certificates/);
      const session = await tlsSession(server.port, "signed by alice\n", clientCert("client"));
      assert.equal(session.secure, true);
      assert.equal(session.error, null);
    } finally {
      const result = await server.stop();
      assert.equal(result.code, 0);
      const records = jsonLines(result.stdout);
      assert.deepEqual(
        records.map((r) => [r.type, r.client, r.identity, r.text]),
        [
          ["start", undefined, undefined, undefined],
          ["connect", 0, "alice", undefined],
          ["message", 0, "alice", "signed by alice"],
          ["disconnect", 0, "alice", undefined],
          ["stop", undefined, undefined, undefined],
        ],
      );
    }
  },
});

Deno.test({
  name: nameUnless(
    skip,
    "mutual TLS: clients without a certificate or with a stranger's are refused, " +
      "each logged once, while a verified client is served",
  ),
  ignore: skip !== null,
  async fn(): Promise<void> {
    const server = await startTlsServer(["--tls-client-ca", files().ca.cert]);
    try {
      const none = await tlsSession(server.port, "no certificate\n");
      const stranger = await tlsSession(server.port, "mallory\n", clientCert("strangerClient"));
      const alice = await tlsSession(server.port, "alice is in\n", clientCert("client"));
      // Refused clients are told why in one line; their lines are never recorded.
      assert.equal(none.received, "linehub-server: refused (tls): TLS: no client certificate\n");
      assert.equal(
        stranger.received,
        "linehub-server: refused (tls): TLS: client certificate refused: untrusted (unknown " +
          "issuer, or not for client use)\n",
      );
      assert.equal(alice.secure, true);
    } finally {
      const result = await server.stop();
      assert.equal(result.code, 0);
      assert.equal(result.stdout, "[client 0] alice is in\n");
      assert.match(result.stderr, /refused 127\.0\.0\.1:\d+: TLS: no client certificate\n/);
      assert.match(
        result.stderr,
        /refused 127\.0\.0\.1:\d+: TLS: client certificate refused: untrusted \(unknown issuer, or not for client use\)\n/,
      );
      assert.match(result.stderr, /client 0 connected from 127\.0\.0\.1:\d+ as alice\n/);
      assert.match(result.stderr, /1 client served, 1 line, .* 2 refused \(2 TLS\)/);
      assert.equal(result.stderr.match(/refused 127/g)?.length, 2, result.stderr);
    }
  },
});

Deno.test({
  name: nameUnless(
    skip,
    "mutual TLS: an expired certificate from the trusted CA is refused as expired, not as " +
      "an unknown issuer",
  ),
  ignore: skip !== null,
  async fn(): Promise<void> {
    const server = await startTlsServer(["--tls-client-ca", files().ca.cert]);
    try {
      const expired = await tlsSession(server.port, "too late\n", clientCert("expiredServer"));
      assert.equal(
        expired.received,
        "linehub-server: refused (tls): TLS: client certificate refused: expired\n",
      );
    } finally {
      const result = await server.stop();
      assert.equal(result.stdout, "");
      assert.match(
        result.stderr,
        /refused 127\.0\.0\.1:\d+: TLS: client certificate refused: expired\n/,
      );
    }
  },
});

Deno.test({
  name: nameUnless(
    skip,
    "a plaintext client on the TLS port is told so in plaintext, is one refusal event, and " +
      "does not disturb a TLS client",
  ),
  ignore: skip !== null,
  async fn(): Promise<void> {
    const server = await startTlsServer(["--format", "json"]);
    try {
      const plain = await connectTo(server.port);
      try {
        await plain.write(bytes("GET / HTTP/1.0\r\n\r\nhello in clear text\n"));
        const tls = await tlsSession(server.port, "encrypted line\n");
        assert.equal(tls.secure, true);
        // The plaintext peer reads why, in plaintext, and the server closes.
        assert.equal(
          new TextDecoder().decode(
            await withTimeout(readToEnd(plain), SESSION_TIMEOUT_MS, "the refusal"),
          ),
          "linehub-server: refused (plain-on-tls-port): this port speaks TLS, not plain TCP\n",
        );
      } finally {
        closeQuietly(plain);
      }
    } finally {
      const result = await server.stop();
      assert.equal(result.code, 0);
      const records = jsonLines(result.stdout);
      const refused = records.filter((r) => r.type === "refused");
      assert.equal(refused.length, 1);
      assert.equal(refused[0].reason, "tls");
      assert.match(refused[0].detail, /not a TLS client/);
      assert.deepEqual(
        records.filter((r) => r.type === "message").map((r) => r.text),
        ["encrypted line"],
      );
    }
  },
});

Deno.test({
  name: nameUnless(
    skip,
    "linehub-client without --tls on the TLS port, or without the certificate mutual TLS " +
      "needs, is told it is refused (exit 6) and prints nothing",
  ),
  ignore: skip !== null,
  async fn(): Promise<void> {
    const plainPort = await startTlsServer();
    const mutual = await startTlsServer(["--tls-client-ca", files().ca.cert]);
    try {
      const [plain, noCert] = await Promise.all([
        runClientProcess(["-q", "127.0.0.1", String(plainPort.port)], "in clear\n"),
        runClientProcess(
          ["-q", "--tls", "--ca", files().ca.cert, "localhost", String(mutual.port)],
          "no certificate\n",
        ),
      ]);
      assert.deepEqual([plain.code, plain.stdout, plain.stderr], [
        6,
        "",
        `linehub-client: Server 127.0.0.1:${plainPort.port} refused the connection: this port ` +
        "speaks TLS, not plain TCP; nothing was delivered\n",
      ]);
      assert.deepEqual([noCert.code, noCert.stdout, noCert.stderr], [
        6,
        "",
        `linehub-client: Server localhost:${mutual.port} refused the connection: TLS: no client ` +
        "certificate; nothing was delivered\n",
      ]);
    } finally {
      await plainPort.stop();
      await mutual.stop();
    }
  },
});

Deno.test({
  name: nameUnless(skip, "a TLS client cut off by --idle-timeout is told why over TLS"),
  ignore: skip !== null,
  async fn(): Promise<void> {
    const server = await startTlsServer(["--idle-timeout", "0.3"]);
    try {
      // Deno's own TLS client, as in the test of a full server above.
      const conn = await Deno.connectTls({
        hostname: "127.0.0.1",
        port: server.port,
        caCerts: [Deno.readTextFileSync(files().ca.cert)],
      });
      try {
        // The server closes without a TLS close_notify, which Deno reports
        // as an error after the last bytes.
        let text = "";
        const buffer = new Uint8Array(1024);
        const reading = (async () => {
          for (let reads = 0; reads < 100; reads++) {
            const n = await conn.read(buffer).catch((error) => {
              if (error instanceof Deno.errors.UnexpectedEof) return null;
              throw error;
            });
            if (n === null) return;
            text += new TextDecoder().decode(buffer.subarray(0, n));
          }
        })();
        await withTimeout(reading, SESSION_TIMEOUT_MS, "the close");
        assert.equal(
          text,
          "linehub-server: closing (idle-timeout): nothing received for 0.3 s (--idle-timeout)\n",
        );
      } finally {
        closeQuietly(conn);
      }
    } finally {
      const result = await server.stop();
      assert.match(result.stderr, /client 0 disconnected from \S+ \(idle-timeout\)/);
    }
  },
});

Deno.test({
  name: nameUnless(
    skip,
    "--idle-timeout counts from the end of the TLS handshake, not from the connect",
  ),
  ignore: skip !== null,
  async fn(): Promise<void> {
    const server = await startTlsServer(["--idle-timeout", "0.3"]);
    try {
      // Connected, then silent for longer than the idle timeout before the
      // handshake starts: the handshake's own deadline (10 s) is what holds.
      const tcp = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
      await sleep(800);
      const conn = await Deno.startTls(tcp, {
        hostname: "127.0.0.1",
        caCerts: [Deno.readTextFileSync(files().ca.cert)],
      });
      try {
        await conn.handshake();
        await writeAll(conn, new TextEncoder().encode("after a slow start\n"));
      } finally {
        closeQuietly(conn);
      }
      const result = await server.stop();
      assert.equal(result.stdout, "[client 0] after a slow start\n");
    } finally {
      await server.stop();
    }
  },
});

Deno.test({
  name: nameUnless(
    skip,
    "over TLS the server still answers after a client's input ends: --ack and --mode echo",
  ),
  ignore: skip !== null,
  async fn(): Promise<void> {
    const input = Array.from({ length: 3000 }, (_, i) => `line ${i}\n`).join("");
    const clientArgs = (
      port: number,
      extra: string[],
    ): string[] => ["--tls", "--ca", files().ca.cert, "-q", ...extra, "localhost", String(port)];
    const acked = await startTlsServer(["--ack"]);
    try {
      const client = await runClientProcess(clientArgs(acked.port, ["--ack"]), input);
      assert.deepEqual([client.code, client.stderr], [0, ""]);
    } finally {
      const result = await acked.stop();
      assert.equal(result.stdout.split("\n").length - 1, 3000);
    }
    const echo = await startTlsServer(["--mode", "echo"]);
    try {
      const client = await runClientProcess(clientArgs(echo.port, []), input);
      assert.deepEqual([client.code, client.stderr], [0, ""]);
      assert.equal(client.stdout, input);
    } finally {
      await echo.stop();
    }
  },
});

Deno.test({
  name: nameUnless(skip, "a TLS server that is full tells the next client so, over TLS"),
  ignore: skip !== null,
  async fn(): Promise<void> {
    const server = await startTlsServer(["--max-clients", "1"]);
    const first = tlsConnect({
      host: "127.0.0.1",
      port: server.port,
      servername: "localhost",
      ca: Deno.readTextFileSync(files().ca.cert),
    });
    first.on("error", () => {});
    try {
      await waitFor(
        "the first client",
        () => /client 0 connected/.test(server.stderrSoFar()),
        () => server.stderrSoFar(),
      );
      // Deno's own TLS client here: after earlier sessions in this process,
      // node:tls clients can miss the server's close (a Deno quirk).
      const second = await Deno.connectTls({
        hostname: "127.0.0.1",
        port: server.port,
        caCerts: [Deno.readTextFileSync(files().ca.cert)],
      });
      try {
        await second.closeWrite();
        const received = await withTimeout(readToEnd(second), SESSION_TIMEOUT_MS, "the refusal");
        assert.equal(
          new TextDecoder().decode(received),
          "linehub-server: refused (full): server full (1 client); try again later\n",
        );
      } finally {
        closeQuietly(second);
      }
    } finally {
      first.destroy();
      const result = await server.stop();
      assert.match(result.stderr, /1 refused \(1 server full\)/);
    }
  },
});

Deno.test({
  name: nameUnless(
    skip,
    "server with a bad TLS file exits 1 with one line naming it; half the flags is a usage error",
  ),
  ignore: skip !== null,
  async fn(): Promise<void> {
    const { server, client, dir } = files();
    const missing = await runServerProcess([
      "--tls-cert",
      `${dir}/nope.pem`,
      "--tls-key",
      server.key,
    ]);
    assert.equal(missing.code, 1);
    assert.equal(
      missing.stderr,
      `linehub-server: Cannot read certificate file "${dir}/nope.pem": no such file or directory\n`,
    );
    const mismatch = await runServerProcess(["--tls-cert", server.cert, "--tls-key", client.key]);
    assert.equal(mismatch.code, 1);
    assert.equal(
      mismatch.stderr,
      `linehub-server: Key file "${client.key}" does not belong to certificate file ` +
        `"${server.cert}"\n`,
    );
    const notCert = await runServerProcess(["--tls-cert", server.key, "--tls-key", server.key]);
    assert.equal(notCert.code, 1);
    assert.match(notCert.stderr, /^linehub-server: Invalid certificate file ".*": no PEM/);
    const half = await runServerProcess(["--tls-cert", server.cert]);
    assert.equal(half.code, 2);
    assert.match(half.stderr, /^linehub-server: --tls-cert needs --tls-key\n/);
  },
});

const noWorkers = skip ?? workersUnavailableReason();

Deno.test({
  name: nameUnless(noWorkers, "TLS with --workers 2: every Worker serves TLS to its clients"),
  ignore: noWorkers !== null,
  async fn(): Promise<void> {
    const server = await startTlsServer(["--workers", "2", "--tls-client-ca", files().ca.cert]);
    try {
      const sessions = await Promise.all(
        Array.from(
          { length: 6 },
          (_, i) => tlsSession(server.port, `line ${i}\n`, clientCert("client")),
        ),
      );
      assert.ok(sessions.every((s) => s.secure));
    } finally {
      const result = await server.stop();
      assert.equal(result.code, 0);
      const lines = result.stdout.trim().split("\n").map((l) => l.replace(/^\[client \d+\] /, ""));
      assert.deepEqual(lines.sort(), ["line 0", "line 1", "line 2", "line 3", "line 4", "line 5"]);
      assert.equal(result.stderr.match(/ as alice\n/g)?.length, 6);
    }
  },
});

Deno.test({
  name: nameUnless(
    noWorkers,
    "--workers 2 --max-handshakes 2: each Worker takes its share, one handshake at a time",
  ),
  ignore: noWorkers !== null,
  async fn(): Promise<void> {
    const server = await startTlsServer(["--workers", "2", "--max-handshakes", "2"]);
    const conns: Deno.TcpConn[] = [];
    try {
      const hello = await clientHello();
      for (let i = 0; i < 4; i++) conns.push(await connectTo(server.port));
      // Each starts a handshake and waits for the server's answer, or its close.
      const answered = await Promise.all(conns.map(async (conn) => {
        await conn.write(hello);
        try {
          return await withTimeout(conn.read(new Uint8Array(1)), 5000, "an answer") !== null;
        } catch (error) {
          if (error instanceof Deno.errors.ConnectionReset) return false;
          throw error;
        }
      }));
      const held = answered.filter(Boolean).length;
      assert.ok(held >= 1 && held <= 2, `${held} handshakes held`);
      await waitFor(
        "the refusals",
        () => server.stderrSoFar().split("(limit 1)").length - 1 === 4 - held,
        () => server.stderrSoFar(),
      );
    } finally {
      for (const conn of conns) closeQuietly(conn);
      const result = await server.stop();
      assert.equal(result.code, 0);
      assert.match(result.stderr, /TLS: too many TLS handshakes in progress \(limit 1\)\n/);
    }
  },
});

Deno.test({
  name: nameUnless(
    skip,
    "a client that never starts its handshake is refused at the deadline; others are served meanwhile",
  ),
  ignore: skip !== null,
  async fn(): Promise<void> {
    const { server: serverFiles } = files();
    const tls = new TlsAcceptor({
      keyPair: await readKeyPair(serverFiles.cert, serverFiles.key),
      handshakeTimeout: 0.5,
    });
    await using h = startLineServer({ tls });
    const { port, log, out } = h;
    const silent = await connectTo(port);
    try {
      const session = await tlsSession(port, "served while another waits\n");
      assert.equal(session.secure, true);
      await waitFor(
        "the silent client's refusal",
        () => log.text().includes("TLS: no TLS handshake within 0.5 s"),
        () => log.text(),
      );
      assert.equal(await withTimeout(silent.read(new Uint8Array(8)), 5000, "close"), null);
    } finally {
      closeQuietly(silent);
      const stats = await h.stop();
      assert.equal(stats.refusedTls, 1);
      assert.equal(stats.clients, 1);
      assert.equal(out.text(), "[client 0] served while another waits\n");
    }
  },
});

Deno.test({
  name: nameUnless(
    skip,
    "TlsAcceptor.reload: handshakes after it get the new certificate and client CA, a client " +
      "connected before stays served",
  ),
  ignore: skip !== null,
  async fn(): Promise<void> {
    const { server: serverFiles, strangerServer, ca, otherCa } = files();
    const tls = new TlsAcceptor({
      keyPair: await readKeyPair(serverFiles.cert, serverFiles.key),
      clientCa: Deno.readTextFileSync(ca.cert),
    });
    await using h = startLineServer({ tls });
    const alice = clientCert("client");
    const before = tlsConnect({
      host: "127.0.0.1",
      port: h.port,
      servername: "localhost",
      ca: Deno.readTextFileSync(ca.cert),
      ...alice,
    });
    try {
      await new Promise((resolve) => before.once("secureConnect", resolve));
      before.write("connected before\n");
      await waitFor("the first line", () => h.out.text().includes("connected before"));
      // The stranger CA's server certificate, and its clients only.
      tls.reload({
        keyPair: await readKeyPair(strangerServer.cert, strangerServer.key),
        clientCa: Deno.readTextFileSync(otherCa.cert),
      });
      const strangerCa = { ca: Deno.readTextFileSync(otherCa.cert) };
      const mallory = await tlsSession(h.port, "mallory after\n", {
        ...strangerCa,
        ...clientCert("strangerClient"),
      });
      assert.equal(mallory.secure, true, String(mallory.error));
      const refused = await tlsSession(h.port, "alice after\n", { ...strangerCa, ...alice });
      assert.match(refused.received, /refused \(tls\): TLS: client certificate refused/);
      // Made before the reload: same connection, still read.
      before.end("still here\n");
      await waitFor("the last line", () => h.out.text().includes("still here"));
    } finally {
      before.destroy();
      await h.stop();
    }
    assert.equal(
      h.out.text(),
      "[client 0] connected before\n[client 1] mallory after\n[client 0] still here\n",
    );
    assert.match(h.log.text(), /client 1 connected from 127\.0\.0\.1:\d+ as mallory\n/);
  },
});

/** The first bytes of a TLS record, and no more: the server starts a
 * handshake and waits for the rest. */
const PARTIAL_RECORD = new Uint8Array([0x16, 0x03, 0x01]);

/** A connection whose handshake has started and stalls. */
async function stalledHandshake(port: number): Promise<Deno.TcpConn> {
  const conn = await connectTo(port);
  await conn.write(PARTIAL_RECORD);
  return conn;
}

/** Resolves once the server has closed `conn` (a reset counts), with
 * whatever it sent first. */
async function untilClosed(conn: Deno.TcpConn): Promise<void> {
  const buffer = new Uint8Array(1024);
  try {
    while (await withTimeout(conn.read(buffer), 5000, "the server's close") !== null) {
      // What the server sent is not looked at.
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.ConnectionReset)) throw error;
  }
}

/** A connection whose handshake the server has answered, and which says no
 * more: the server then certainly counts it as in progress. */
async function answeredHandshake(port: number): Promise<Deno.TcpConn> {
  const conn = await connectTo(port);
  await conn.write(await clientHello());
  assert.notEqual(await withTimeout(conn.read(new Uint8Array(1)), 5000, "ServerHello"), null);
  return conn;
}

Deno.test({
  name: nameUnless(
    skip,
    "at maxHandshakes, a client that starts one more handshake is refused and closed; " +
      "a silent client takes no slot, and slots free up as handshakes end",
  ),
  ignore: skip !== null,
  async fn(): Promise<void> {
    const { server: serverFiles } = files();
    const tls = new TlsAcceptor({
      keyPair: await readKeyPair(serverFiles.cert, serverFiles.key),
      handshakeTimeout: 1,
      maxHandshakes: 2,
    });
    await using h = startLineServer({ tls, drainTimeout: 5 });
    const { port, log, out } = h;
    const silent = await connectTo(port);
    const stalled = [await stalledHandshake(port), await stalledHandshake(port)];
    try {
      await waitFor("two handshakes in progress", () => tls.handshaking === 2, () => log.text());
      const refused = await tlsSession(port, "one too many\n");
      assert.equal(refused.secure, false);
      assert.match(
        log.text(),
        /refused 127\.0\.0\.1:\d+: TLS: too many TLS handshakes in progress \(limit 2\)\n/,
      );
      // The stalled ones and the silent one reach their deadline; then a
      // client that completes its handshake gets in.
      await waitFor(
        "three handshake deadlines",
        () => log.text().split("no TLS handshake within 1 s").length - 1 === 3,
        () => log.text(),
      );
      assert.equal(tls.handshaking, 0);
      const served = await tlsSession(port, "room again\n");
      assert.equal(served.secure, true);
    } finally {
      for (const conn of [silent, ...stalled]) closeQuietly(conn);
      const stats = await h.stop();
      assert.equal(out.text(), "[client 0] room again\n");
      assert.equal(stats.refusedTls, 4);
      assert.equal(tls.handshaking, 0);
    }
  },
});

Deno.test({
  name: nameUnless(
    skip,
    "every way a handshake ends frees its slot: at maxHandshakes 2, a verified client " +
      "still gets in after many failed handshakes",
  ),
  ignore: skip !== null,
  async fn(): Promise<void> {
    const { server: serverFiles, ca } = files();
    const tls = new TlsAcceptor({
      keyPair: await readKeyPair(serverFiles.cert, serverFiles.key),
      clientCa: Deno.readTextFileSync(ca.cert),
      handshakeTimeout: 0.5,
      maxHandshakes: 2,
    });
    await using h = startLineServer({ tls, drainTimeout: 5 });
    const { port, log, out } = h;
    try {
      for (let round = 0; round < 3; round++) {
        // Plaintext on the TLS port.
        const plain = await connectTo(port);
        await plain.write(bytes("GET / HTTP/1.0\r\n\r\n"));
        await untilClosed(plain);
        closeQuietly(plain);
        // Closed in the middle of the handshake.
        closeQuietly(await stalledHandshake(port));
        // Certificates refused: none, and a stranger's (told why, then closed).
        await tlsSession(port, "no certificate\n");
        await tlsSession(port, "mallory\n", clientCert("strangerClient"));
        // Past the deadline: two at once, filling both slots.
        const late = [await stalledHandshake(port), await stalledHandshake(port)];
        await Promise.all(late.map(untilClosed));
        for (const conn of late) closeQuietly(conn);
      }
      await waitFor("no handshake in progress", () => tls.handshaking === 0, () => log.text());
      const alice = await tlsSession(port, "alice is in\n", clientCert("client"));
      assert.equal(alice.secure, true);
    } finally {
      const stats = await h.stop();
      assert.equal(out.text(), "[client 0] alice is in\n");
      assert.equal(stats.refusedTls, 18, log.text());
      assert.doesNotMatch(log.text(), /too many TLS handshakes/);
    }
  },
});

Deno.test({
  name: nameUnless(skip, "a handshake cut off by the drain deadline frees its slot"),
  ignore: skip !== null,
  async fn(): Promise<void> {
    const { server: serverFiles } = files();
    const tls = new TlsAcceptor({
      keyPair: await readKeyPair(serverFiles.cert, serverFiles.key),
      maxHandshakes: 1,
    });
    await using h = startLineServer({ tls, drainTimeout: 0.1 });
    const { port, log } = h;
    const stalled = await stalledHandshake(port);
    try {
      await waitFor("a handshake in progress", () => tls.handshaking === 1, () => log.text());
    } finally {
      const stats = await h.stop();
      closeQuietly(stalled);
      assert.equal(tls.handshaking, 0);
      assert.equal(stats.refusedTls, 1);
      assert.match(log.text(), /TLS: server shut down during the TLS handshake\n/);
    }
  },
});

Deno.test({
  name: nameUnless(
    skip,
    "server --max-handshakes 1: while one handshake stalls, the next TLS client is refused " +
      "with a refused event; once it is gone, clients are served",
  ),
  ignore: skip !== null,
  async fn(): Promise<void> {
    const server = await startTlsServer(["--max-handshakes", "1"]);
    try {
      const stalled = await answeredHandshake(server.port);
      try {
        const refused = await tlsSession(server.port, "turned away\n");
        assert.equal(refused.secure, false);
      } finally {
        closeQuietly(stalled);
      }
      await waitFor(
        "the stalled handshake's end",
        () => /TLS: closed during the TLS handshake/.test(server.stderrSoFar()),
        () => server.stderrSoFar(),
      );
      const served = await tlsSession(server.port, "served\n");
      assert.equal(served.secure, true);
    } finally {
      const result = await server.stop();
      assert.equal(result.code, 0);
      assert.equal(result.stdout, "[client 0] served\n");
      assert.match(
        result.stderr,
        /refused 127\.0\.0\.1:\d+: TLS: too many TLS handshakes in progress \(limit 1\)\n/,
      );
    }
  },
});

Deno.test("TlsAcceptor refuses a maxHandshakes that is not a whole number from 0", () => {
  // Checked before the key pair is used.
  const keyPair = { cert: "", key: "" };
  for (const bad of [-1, 1.5, Number.NaN]) {
    assert.throws(
      () => new TlsAcceptor({ keyPair, maxHandshakes: bad }),
      (error: unknown) =>
        error instanceof RangeError &&
        error.message === `Invalid maxHandshakes "${bad}": must be an integer from 0`,
    );
  }
  assert.equal(new TlsAcceptor({ keyPair, maxHandshakes: 0 }).handshaking, 0);
});

Deno.test("handshake failures and verification codes read as a few words", () => {
  assert.equal(
    handshakeFailureText(
      new Error("received corrupt message of type InvalidContentType (SSL routines:x)"),
      10,
    ),
    "not a TLS client (plaintext on the TLS port?)",
  );
  assert.equal(
    handshakeFailureText(new Error("TLS handshake timeout"), 10),
    "no TLS handshake within 10 s",
  );
  assert.equal(
    handshakeFailureText(new Error("peer sent no certificates"), 10),
    "TLS handshake failed: peer sent no certificates",
  );
  assert.equal(verifyErrorText("UNABLE_TO_GET_ISSUER_CERT"), "unknown issuer");
  assert.equal(verifyErrorText("CERT_HAS_EXPIRED"), "expired");
  assert.equal(verifyErrorText("SOME_NEW_CODE"), "some new code");
});

Deno.test("Deno's one verification code reads as expired, not yet valid or untrusted by the dates", () => {
  const code = "UNABLE_TO_VERIFY_LEAF_SIGNATURE";
  const validity = { validFrom: new Date("2026-01-01"), validTo: new Date("2027-01-01") };
  assert.equal(verifyErrorText(code, validity, new Date("2027-06-01")), "expired");
  assert.equal(verifyErrorText(code, validity, new Date("2025-06-01")), "not yet valid");
  assert.equal(
    verifyErrorText(code, validity, new Date("2026-06-01")),
    "untrusted (unknown issuer, or not for client use)",
  );
  // Without dates, it may be either.
  assert.equal(verifyErrorText(code), "not valid (expired or untrusted)");
  // A code that names its reason is taken at its word, whatever the dates.
  assert.equal(verifyErrorText("CERT_REVOKED", validity, new Date("2026-06-01")), "revoked");
});
