/**
 * The client's TLS (`--tls` and its flags): the real `client.ts` process
 * against TLS servers in this process, built with `node:tls` on 127.0.0.1
 * port 0 with the throwaway certificates of `tests/_helpers/certs.ts` (skipped, saying
 * why, without `openssl`); and, without sockets, the words each handshake
 * failure is told in.
 */

import assert from "node:assert/strict";
import { createServer, type TLSSocket } from "node:tls";
import { encodeAck } from "../../lib/wire/ack_protocol.ts";
import { parseHelloLine } from "../../lib/wire/hello_line.ts";
import { describeConnError } from "../../lib/net/conn_error.ts";
import { describeTlsFailure } from "../../lib/net/tls_failure.ts";
import {
  assertNoCrash,
  assertRun,
  bytes,
  type CertFiles,
  closeQuietly,
  freePort,
  nameUnless,
  type ProcessResult,
  runClientProcess,
  spawnClient,
  type TestCertificates,
  testCertificates,
  waitFor,
  writeAll,
} from "../_helpers/mod.ts";

const made = await testCertificates();
const skipReason = typeof made === "string" ? made : null;

/** Registers a test that needs the certificates; ignored, saying why, without them. */
function tlsTest(name: string, fn: (certs: TestCertificates) => Promise<void>): void {
  Deno.test({
    name: nameUnless(skipReason, name),
    ignore: skipReason !== null,
    fn: () => fn(made as TestCertificates),
  });
}

const P = "linehub-client: ";
const VERIFIED = "TLS, certificate verified";
const NOT_VERIFIED = "TLS, certificate NOT verified: --insecure";
const INSECURE_WARNING = `${P}warning: --insecure: the server's certificate is not verified; ` +
  "anyone on the path can read or change this connection\n";

/** One connection a {@linkcode TlsPeer} accepted. */
interface PeerConnection {
  readonly socket: TLSSocket;
  /** Whether the client's certificate (if asked for) was verified. */
  readonly authorized: boolean;
  /** The client certificate's subject CN, if it sent one. */
  readonly clientName: string | undefined;
  /** The SNI name the client sent, or false. */
  readonly servername: string | false;
  /** Everything received so far. */
  text(): string;
  /** Resolves when the socket has closed. */
  readonly closed: Promise<void>;
}

/** How a {@linkcode TlsPeer} treats each connection. */
interface TlsPeerOptions {
  /** Listen on this port (one reserved earlier) instead of port 0. */
  port?: number;
  /** Ask for a client certificate, verified against the test CA. */
  requestCert?: boolean;
  /** Close connections whose client certificate was not verified at once,
   * without a word (as linehub-server does). */
  dropUnauthorized?: boolean;
  /** Let node:tls itself refuse a client without a trusted certificate
   * (it sends an alert). */
  rejectUnauthorized?: boolean;
  /** When the client half-closes: end with "bye\n" and a close_notify
   * ("end"), or write "bye\n" and just drop the connection ("destroy").
   * @default {"end"} */
  onEnd?: "end" | "destroy";
  /** Close the connection after this many lines, without a word. */
  closeAfterLines?: number;
  /** Acknowledge lines as linehub-server --ack does (the final partial
   * line at the end of input too; a hello first line is no line). */
  autoAck?: boolean;
}

/** A TLS line server the test controls: greets each client with
 * "welcome\n" and says "bye\n" when the client half-closes. */
interface TlsPeer {
  readonly port: number;
  readonly connections: PeerConnection[];
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

async function startTlsPeer(
  certs: TestCertificates,
  files: CertFiles,
  options: TlsPeerOptions = {},
): Promise<TlsPeer> {
  const connections: PeerConnection[] = [];
  const server = createServer({
    cert: await Deno.readTextFile(files.cert),
    key: await Deno.readTextFile(files.key),
    ca: await Deno.readTextFile(certs.ca.cert),
    requestCert: options.requestCert ?? false,
    rejectUnauthorized: options.rejectUnauthorized ?? false,
  }, (socket: TLSSocket) => {
    let text = "";
    const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    const peer = socket.getPeerCertificate();
    connections.push({
      socket,
      authorized: socket.authorized,
      clientName: typeof peer?.subject?.CN === "string" ? peer.subject.CN : undefined,
      servername: (socket as TLSSocket & { servername: string | false }).servername,
      text: () => text,
      closed,
    });
    socket.on("error", () => {}); // the test looks at what arrived
    if (options.dropUnauthorized && !socket.authorized) {
      socket.destroy();
      return;
    }
    socket.write("welcome\n");
    /** 1 once the first line is in and is a linehub-client hello. */
    const hello = (): number => {
      const end = text.indexOf("\n");
      return end >= 0 && parseHelloLine(new TextEncoder().encode(text.slice(0, end))) ? 1 : 0;
    };
    socket.on("data", (chunk: Uint8Array) => {
      text += new TextDecoder().decode(chunk);
      const lines = text.split("\n").length - 1 - hello();
      if (options.autoAck) socket.write(encodeAck(lines));
      if (options.closeAfterLines !== undefined && lines >= options.closeAfterLines) {
        socket.destroy();
      }
    });
    socket.on("end", () => {
      if (options.autoAck && !text.endsWith("\n") && text !== "") {
        socket.write(encodeAck(text.split("\n").length - hello()));
      }
      if (options.onEnd === "destroy") socket.write("bye\n", () => socket.destroy());
      else socket.end("bye\n");
    });
  });
  server.on("tlsClientError", () => {}); // a refused client is what some tests want
  const { promise: listening, resolve } = Promise.withResolvers<void>();
  server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  await listening;
  const address = server.address();
  assert.ok(address !== null && typeof address === "object");
  return {
    port: address.port,
    connections,
    async close(): Promise<void> {
      const { promise, resolve } = Promise.withResolvers<void>();
      server.close(() => resolve());
      for (const connection of connections) connection.socket.destroy();
      await Promise.all([promise, ...connections.map((connection) => connection.closed)]);
    },
  };
}

// --- Connecting and verifying ------------------------------------------------

tlsTest(
  "client --tls sends its lines and prints what the server sends, saying it is verified",
  async (certs) => {
    const server = await startTlsPeer(certs, certs.server);
    try {
      const where = `127.0.0.1:${server.port}`;
      const result = await runClientProcess(
        ["--tls", "--ca", certs.ca.cert, "127.0.0.1", String(server.port)],
        "one\ntwo\n",
      );
      assertRun(result, {
        code: 0,
        stdout: "welcome\nbye\n",
        stderr: `${P}Connected to ${where} (${VERIFIED})\n`,
      });
      assert.equal(server.connections.length, 1);
      assert.equal(server.connections[0]?.text(), "one\ntwo\n");
    } finally {
      await server.close();
    }
  },
);

tlsTest(
  "client --tls finishes normally when the server closes without a close_notify",
  async (certs) => {
    // What node:tls's destroy() does, and so linehub-server's TLS connections.
    const server = await startTlsPeer(certs, certs.server, { onEnd: "destroy" });
    try {
      const result = await runClientProcess(
        ["-q", "--tls", "--ca", certs.ca.cert, "127.0.0.1", String(server.port)],
        "last\n",
      );
      assertRun(result, { code: 0, stdout: "welcome\nbye\n", stderr: "" });
      assert.equal(server.connections[0]?.text(), "last\n");
    } finally {
      await server.close();
    }
  },
);

/** The certificates a client with `--ca` (the test CA) must refuse, and why. */
const REFUSED: Array<
  { what: string; files: (certs: TestCertificates) => CertFiles; reason: string }
> = [
  {
    what: "an unknown issuer",
    files: (certs) => certs.strangerServer,
    reason: "certificate verify failed: unknown issuer",
  },
  {
    what: "an expired certificate",
    files: (certs) => certs.expiredServer,
    reason: "certificate verify failed: certificate expired",
  },
];

for (const { what, files, reason } of REFUSED) {
  for (const servername of [[], ["--servername", "localhost"]]) {
    const how = servername.length === 0 ? "--tls" : "--tls --servername";
    tlsTest(
      `client ${how} refuses ${what} with exit 1 and one line, sending nothing`,
      async (certs) => {
        const server = await startTlsPeer(certs, files(certs));
        try {
          const result = await runClientProcess(
            ["--tls", "--ca", certs.ca.cert, ...servername, "127.0.0.1", String(server.port)],
            "secret\n",
          );
          assertRun(result, {
            code: 1,
            stdout: "",
            stderr: `${P}Cannot connect to 127.0.0.1:${server.port}: ${reason}\n`,
          });
          assert.equal(server.connections.map((c) => c.text()).join(""), "");
        } finally {
          await server.close();
        }
      },
    );
  }
}

tlsTest(
  "client --tls refuses a certificate for another host, naming the host checked",
  async (certs) => {
    const server = await startTlsPeer(certs, certs.wrongHostServer);
    try {
      const port = String(server.port);
      const [byAddress, byName] = await Promise.all([
        runClientProcess(["--tls", "--ca", certs.ca.cert, "127.0.0.1", port], "x\n"),
        runClientProcess(
          ["--tls", "--ca", certs.ca.cert, "--servername", "localhost", "127.0.0.1", port],
          "x\n",
        ),
      ]);
      const cannot = `${P}Cannot connect to 127.0.0.1:${port}: certificate verify failed: `;
      assertRun(byAddress, {
        code: 1,
        stdout: "",
        stderr: `${cannot}not valid for name "127.0.0.1"\n`,
      });
      assertRun(byName, {
        code: 1,
        stdout: "",
        stderr: `${cannot}not valid for name "localhost"\n`,
      });
    } finally {
      await server.close();
    }
  },
);

tlsTest(
  "client --servername verifies the certificate for that name and sends it as SNI",
  async (certs) => {
    const server = await startTlsPeer(certs, certs.wrongHostServer);
    try {
      const where = `127.0.0.1:${server.port}`;
      const result = await runClientProcess(
        ["--tls", "--ca", certs.ca.cert, "--servername", "elsewhere.example", where],
        "named\n",
      );
      assertRun(result, {
        code: 0,
        stdout: "welcome\nbye\n",
        stderr: `${P}Connected to ${where} (${VERIFIED})\n`,
      });
      assert.equal(server.connections[0]?.servername, "elsewhere.example");
      assert.equal(server.connections[0]?.text(), "named\n");
    } finally {
      await server.close();
    }
  },
);

tlsTest(
  "client --tls without --ca does not trust the test CA (built-in roots only)",
  async (certs) => {
    const server = await startTlsPeer(certs, certs.server);
    try {
      const result = await runClientProcess(["--tls", "127.0.0.1", String(server.port)], "x\n");
      assertRun(result, {
        code: 1,
        stdout: "",
        stderr: `${P}Cannot connect to 127.0.0.1:${server.port}: ` +
          "certificate verify failed: unknown issuer\n",
      });
    } finally {
      await server.close();
    }
  },
);

for (const servername of [[], ["--servername", "localhost"]]) {
  const how = servername.length === 0 ? "--tls" : "--tls --servername";
  tlsTest(
    `client ${how} trusts --ca in addition to the built-in roots, not instead`,
    async (certs) => {
      // DENO_CERT adds the stranger CA to Deno's built-in roots, standing in
      // for a public CA; --ca names the test CA. Both must be trusted.
      const stranger = await startTlsPeer(certs, certs.strangerServer);
      const ours = await startTlsPeer(certs, certs.server);
      try {
        const env = { DENO_CERT: certs.otherCa.cert };
        const run = (port: number): Promise<ProcessResult> =>
          runClientProcess(
            ["-q", "--tls", "--ca", certs.ca.cert, ...servername, "127.0.0.1", String(port)],
            "x\n",
            { env },
          );
        const [byRoots, byCa] = await Promise.all([run(stranger.port), run(ours.port)]);
        assertRun(byRoots, { code: 0, stdout: "welcome\nbye\n", stderr: "" });
        assertRun(byCa, { code: 0, stdout: "welcome\nbye\n", stderr: "" });
      } finally {
        await stranger.close();
        await ours.close();
      }
    },
  );
}

tlsTest(
  "client --insecure connects to an unknown issuer, and warns even with --quiet",
  async (certs) => {
    const server = await startTlsPeer(certs, certs.strangerServer);
    try {
      const where = `127.0.0.1:${server.port}`;
      const [loud, quiet] = await Promise.all([
        runClientProcess(["--tls", "--insecure", where], "a\n"),
        runClientProcess(["--tls", "--insecure", "-q", where], "b\n"),
      ]);
      assertRun(loud, {
        code: 0,
        stdout: "welcome\nbye\n",
        stderr: `${P}Connected to ${where} (${NOT_VERIFIED})\n${INSECURE_WARNING}`,
      });
      assertRun(quiet, { code: 0, stdout: "welcome\nbye\n", stderr: INSECURE_WARNING });
      const received = server.connections.map((c) => c.text()).sort();
      assert.deepEqual(received, ["a\n", "b\n"]);
    } finally {
      await server.close();
    }
  },
);

// --- Client certificates -----------------------------------------------------

for (const servername of [[], ["--servername", "localhost"]]) {
  const how = servername.length === 0 ? "--tls" : "--tls --servername";
  tlsTest(`client ${how} --cert --key presents the client certificate`, async (certs) => {
    const server = await startTlsPeer(certs, certs.server, { requestCert: true });
    try {
      const result = await runClientProcess(
        [
          "-q",
          "--tls",
          "--ca",
          certs.ca.cert,
          ...servername,
          "--cert",
          certs.client.cert,
          "--key",
          certs.client.key,
          "127.0.0.1",
          String(server.port),
        ],
        "from alice\n",
      );
      assertRun(result, { code: 0, stdout: "welcome\nbye\n", stderr: "" });
      const [connection] = server.connections;
      assert.equal(connection?.authorized, true);
      assert.equal(connection?.clientName, "alice");
      assert.equal(connection?.text(), "from alice\n");
    } finally {
      await server.close();
    }
  });
}

for (const servername of [[], ["--servername", "localhost"]]) {
  const how = servername.length === 0 ? "--tls" : "--tls --servername";
  tlsTest(
    `client ${how} without a client certificate says the server requires one (exit 1)`,
    async (certs) => {
      const server = await startTlsPeer(certs, certs.server, {
        requestCert: true,
        rejectUnauthorized: true,
      });
      // stdin stays open: whatever the timing, the session cannot have ended.
      const client = spawnClient([
        "-q",
        "--tls",
        "--ca",
        certs.ca.cert,
        ...servername,
        "127.0.0.1",
        String(server.port),
      ]);
      try {
        const result = await client.finished();
        assertNoCrash(result.stderr);
        assert.equal(result.code, 1, result.stderr);
        assert.equal(
          result.stderr,
          `${P}Cannot connect to 127.0.0.1:${server.port}: TLS handshake failed: ` +
            "the server requires a client certificate (see --cert and --key)\n",
        );
      } finally {
        await client.stop();
        await server.close();
      }
    },
  );
}

tlsTest(
  "client whose certificate the server drops without a word hints at the certificate",
  async (certs) => {
    const server = await startTlsPeer(certs, certs.server, {
      requestCert: true,
      dropUnauthorized: true,
    });
    const client = spawnClient([
      "-q",
      "--tls",
      "--ca",
      certs.ca.cert,
      "--cert",
      certs.strangerClient.cert,
      "--key",
      certs.strangerClient.key,
      "127.0.0.1",
      String(server.port),
    ]);
    try {
      const result = await client.finished();
      assertNoCrash(result.stderr);
      assert.equal(result.code, 3, result.stderr);
      assert.equal(
        result.stderr,
        `${P}Server 127.0.0.1:${server.port} closed the connection before the input ended ` +
          "(with --tls: was the client certificate refused?); the rest of the input was not sent\n",
      );
      assert.equal(server.connections[0]?.authorized, false);
    } finally {
      await client.stop();
      await server.close();
    }
  },
);

// --- Files, checked before connecting ---------------------------------------

tlsTest(
  "client exits 1 with one line naming a TLS file it cannot use, before connecting",
  async (certs) => {
    // Nothing listens on the port: a client that tried to connect would say
    // "connection refused" instead.
    const port = String(freePort());
    const notPem = `${certs.dir}/not-a-certificate.txt`;
    await Deno.writeTextFile(notPem, "hello\n");
    const missing = `${certs.dir}/missing.pem`;
    const cases: Array<[string[], string]> = [
      [["--ca", missing], `Cannot read certificate file "${missing}": no such file or directory`],
      [["--ca", notPem], `Invalid certificate file "${notPem}": no PEM certificate in it`],
      [
        ["--cert", certs.client.cert, "--key", missing],
        `Cannot read key file "${missing}": no such file or directory`,
      ],
      [
        ["--cert", certs.client.cert, "--key", notPem],
        `Invalid key file "${notPem}": not a PEM private key`,
      ],
      [
        ["--cert", certs.client.cert, "--key", certs.strangerClient.key],
        `Key file "${certs.strangerClient.key}" does not belong to certificate file ` +
        `"${certs.client.cert}"`,
      ],
    ];
    const results = await Promise.all(
      cases.map(([flags]) => runClientProcess(["--tls", ...flags, "127.0.0.1", port], "x\n")),
    );
    results.forEach((result, i) => {
      const [, message] = cases[i] as [string[], string];
      assertRun(result, { code: 1, stdout: "", stderr: `${P}${message}\n` });
    });
  },
);

// --- Servers that do not speak TLS ------------------------------------------

Deno.test("client --tls against a plaintext server that talks says it does not speak TLS, exit 6", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0, transport: "tcp" });
  const peer = (async () => {
    const conn = await listener.accept();
    try {
      await writeAll(conn, bytes("hello, this is plain text\n"));
      await conn.read(new Uint8Array(4096)).catch(() => null);
    } finally {
      closeQuietly(conn);
    }
  })();
  try {
    const port = listener.addr.port;
    const result = await runClientProcess(["--tls", "127.0.0.1", String(port)], "x\n");
    assertRun(result, {
      code: 6,
      stdout: "",
      stderr: `${P}Cannot connect to 127.0.0.1:${port}: the server does not speak TLS ` +
        "(it answered in plain text; connect without --tls?)\n",
    });
  } finally {
    listener.close();
    await peer.catch(() => {});
  }
});

/** A plain TCP listener that accepts and reads but never answers: a TLS
 * handshake with it never completes. */
function silentListener(): { port: number; helloBytes(): number; close(): Promise<void> } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0, transport: "tcp" });
  const conns: Deno.TcpConn[] = [];
  let received = 0;
  const accepting = (async () => {
    try {
      for await (const conn of listener) {
        conns.push(conn);
        (async () => {
          const buffer = new Uint8Array(4096);
          while (true) {
            const n = await conn.read(buffer);
            if (n === null) return;
            received += n;
          }
        })().catch(() => {});
      }
    } catch {
      // Closed.
    }
  })();
  return {
    port: listener.addr.port,
    helloBytes: () => received,
    async close(): Promise<void> {
      closeQuietly(listener);
      conns.forEach(closeQuietly);
      await accepting;
    },
  };
}

for (const insecure of [[], ["--insecure"]]) {
  const how = insecure.length === 0 ? "--tls" : "--tls --insecure";
  Deno.test(`client ${how} gives up a TLS handshake after --connect-timeout`, async () => {
    const silent = silentListener();
    try {
      const where = `127.0.0.1:${silent.port}`;
      const result = await runClientProcess(
        ["--tls", ...insecure, "--connect-timeout", "0.5", where],
        "x\n",
      );
      assertRun(result, {
        code: 1,
        stdout: "",
        stderr: `${P}Cannot connect to ${where}: TLS handshake timed out after 0.5 s ` +
          "(does the server speak TLS?)\n",
      });
      assert.ok(silent.helloBytes() > 0, "the client began a handshake");
    } finally {
      await silent.close();
    }
  });

  Deno.test(`client ${how} stops a TLS handshake on SIGINT with exit 130`, async () => {
    const silent = silentListener();
    const client = spawnClient([
      "--tls",
      ...insecure,
      "--connect-timeout",
      "0",
      "127.0.0.1",
      String(silent.port),
    ]);
    try {
      await waitFor("the client hello", () => silent.helloBytes() > 0);
      client.kill("SIGINT");
      const result = await client.finished();
      assertNoCrash(result.stderr);
      assert.equal(result.code, 130);
      assert.equal(result.stderr, `${P}Interrupted by SIGINT before all input was sent\n`);
    } finally {
      await client.stop();
      await silent.close();
    }
  });
}

// --- Line mode over TLS ------------------------------------------------------

tlsTest(
  "client --tls --retry reconnects with a new handshake when the server comes back",
  async (certs) => {
    let server = await startTlsPeer(certs, certs.server, { closeAfterLines: 1 });
    const port = server.port;
    const where = `127.0.0.1:${port}`;
    const client = spawnClient([
      "--tls",
      "--ca",
      certs.ca.cert,
      "--retry",
      "forever",
      "127.0.0.1",
      String(port),
    ]);
    try {
      await client.write("first\n");
      await waitFor("the first line", () => server.connections[0]?.text() === "first\n");
      await server.close(); // gone: the client retries against a closed port
      await client.write("second\nthird\n");
      await client.waitForStderr(/connection refused; retrying in .*\n/);
      server = await startTlsPeer(certs, certs.server, { port });
      await client.waitForStderr(/Reconnected to /);
      await client.closeStdin();
      const result = await client.finished();
      assertNoCrash(result.stderr);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, "welcome\nwelcome\nbye\n");
      assert.equal(server.connections[0]?.text(), "second\nthird\n");
      const lines = result.stderr.split("\n").slice(0, -1);
      assert.equal(lines[0], `${P}Connected to ${where} (${VERIFIED})`);
      assert.equal(lines.at(-1), `${P}Reconnected to ${where} (${VERIFIED}); sending 2 lines held`);
    } finally {
      await client.stop();
      await server.close();
    }
  },
);

tlsTest(
  "client --tls --ack --retry retries a refused certificate like any connect failure, then exits 1",
  async (certs) => {
    const server = await startTlsPeer(certs, certs.strangerServer);
    try {
      const where = `127.0.0.1:${server.port}`;
      const result = await runClientProcess(
        ["--tls", "--ca", certs.ca.cert, "--ack", "--retry", "1", where],
        "x\n",
      );
      assertNoCrash(result.stderr);
      assert.equal(result.code, 1);
      const reason = `Cannot connect to ${where}: certificate verify failed: unknown issuer`;
      const lines = result.stderr.split("\n");
      assert.match(lines[0] ?? "", new RegExp(`^${P}${escape(reason)}; retrying in [0-9.]+ s`));
      assert.equal(lines[1], `${P}${reason}; gave up after 1 retry`);
      assert.equal(server.connections.map((c) => c.text()).join(""), "");
    } finally {
      await server.close();
    }
  },
);

tlsTest(
  "client --tls --ack gets its lines acknowledged over TLS and prints the other bytes",
  async (certs) => {
    const server = await startTlsPeer(certs, certs.server, { autoAck: true });
    try {
      const result = await runClientProcess(
        ["-q", "--tls", "--ca", certs.ca.cert, "--ack", "127.0.0.1", String(server.port)],
        "a\nb\nc",
      );
      assertRun(result, { code: 0, stdout: "welcome\nbye\n", stderr: "" });
      // With --ack the client says where its numbering stands, in a hello first.
      const text = server.connections[0]?.text() ?? "";
      assert.match(text, /^\0linehub-hello session=[0-9a-f]{16} seq=1\n/);
      assert.equal(text.slice(text.indexOf("\n") + 1), "a\nb\nc");
    } finally {
      await server.close();
    }
  },
);

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

// --- The words for each failure, without sockets ----------------------------

Deno.test("describeTlsFailure reads Deno's (rustls's) certificate errors", () => {
  const cases: Array<[string, string]> = [
    ["invalid peer certificate: UnknownIssuer", "certificate verify failed: unknown issuer"],
    [
      "invalid peer certificate: certificate expired: verification time 1795513396 (UNIX), " +
      "but certificate is not valid after 1609459200 (186054196 seconds ago)",
      "certificate verify failed: certificate expired",
    ],
    ["invalid peer certificate: Expired", "certificate verify failed: certificate expired"],
    [
      "invalid peer certificate: certificate not valid yet: verification time 1 (UNIX), " +
      "but certificate is not valid before 2 (1 seconds in future)",
      "certificate verify failed: certificate not yet valid",
    ],
    [
      'invalid peer certificate: certificate not valid for name "localhost"; certificate ' +
      'is only valid for DnsName("elsewhere.example")',
      'certificate verify failed: not valid for name "localhost"',
    ],
    ["invalid peer certificate: Revoked", "certificate verify failed: certificate revoked"],
    ["invalid peer certificate: BadSignature", "certificate verify failed: bad signature"],
    [
      "invalid peer certificate: InvalidPurpose",
      "certificate verify failed: certificate not usable for a TLS server",
    ],
    [
      "invalid peer certificate: UnhandledCriticalExtension",
      "certificate verify failed: UnhandledCriticalExtension",
    ],
  ];
  for (const [message, expected] of cases) {
    assert.equal(describeTlsFailure(new Deno.errors.InvalidData(message)), expected, message);
  }
  assert.equal(
    describeTlsFailure(new Deno.errors.InvalidData("invalid peer certificate: NotValidForName"), {
      name: "db.example",
    }),
    'certificate verify failed: not valid for name "db.example"',
  );
});

Deno.test("describeTlsFailure tells a plaintext server and the server's alerts", () => {
  const notTls = "the server does not speak TLS (it answered in plain text; connect without " +
    "--tls?)";
  const cases: Array<[Error, string]> = [
    [new Deno.errors.InvalidData("received corrupt message of type InvalidContentType"), notTls],
    [
      Object.assign(new Error("received corrupt message (SSL routines:wrong version number)"), {
        code: "ERR_SSL_WRONG_VERSION_NUMBER",
      }),
      notTls,
    ],
    [
      new Deno.errors.InvalidData("received fatal alert: CertificateRequired"),
      "TLS handshake failed: the server requires a client certificate (see --cert and --key)",
    ],
    [
      Object.assign(new Error("received fatal alert: UnknownCA"), {
        code: "ERR_SSL_TLSV1_ALERT_UNKNOWN_CA",
      }),
      "TLS handshake failed: the server does not trust the client certificate's issuer",
    ],
    [
      new Deno.errors.InvalidData("received fatal alert: BadCertificate"),
      "TLS handshake failed: the server refused the client certificate",
    ],
    [
      new Deno.errors.InvalidData("received fatal alert: HandshakeFailure"),
      "TLS handshake failed: the server refused the handshake",
    ],
    [
      new Deno.errors.InvalidData("received fatal alert: DecryptError"),
      "TLS handshake failed: the server sent the alert DecryptError",
    ],
    [
      new Deno.errors.UnexpectedEof(
        "peer closed connection without sending TLS close_notify: https://docs.rs/rustls",
      ),
      "the server closed the connection during the TLS handshake",
    ],
  ];
  for (const [error, expected] of cases) {
    assert.equal(describeTlsFailure(error), expected, error.message);
  }
});

Deno.test("describeTlsFailure reads node:tls's codes, dating an expired certificate", () => {
  const coded = (code: string, message = code): Error =>
    Object.assign(new Error(message), { code });
  const now = new Date("2026-06-01T00:00:00Z");
  const current = { validFrom: new Date("2026-01-01T00:00:00Z"), validTo: new Date("2027-01-01") };
  const expired = { validFrom: new Date("2020-01-01T00:00:00Z"), validTo: new Date("2021-01-01") };
  const future = { validFrom: new Date("2030-01-01T00:00:00Z"), validTo: new Date("2031-01-01") };
  // node:tls in Deno says UNABLE_TO_VERIFY_LEAF_SIGNATURE of both; the dates tell.
  for (const code of ["UNABLE_TO_VERIFY_LEAF_SIGNATURE", "UNABLE_TO_GET_ISSUER_CERT_LOCALLY"]) {
    assert.equal(
      describeTlsFailure(coded(code), { validity: current, now }),
      "certificate verify failed: unknown issuer",
    );
    assert.equal(describeTlsFailure(coded(code)), "certificate verify failed: unknown issuer");
    assert.equal(
      describeTlsFailure(coded(code), { validity: expired, now }),
      "certificate verify failed: certificate expired",
    );
    assert.equal(
      describeTlsFailure(coded(code), { validity: future, now }),
      "certificate verify failed: certificate not yet valid",
    );
  }
  assert.equal(
    describeTlsFailure(coded("DEPTH_ZERO_SELF_SIGNED_CERT")),
    "certificate verify failed: unknown issuer",
  );
  assert.equal(
    describeTlsFailure(coded("CERT_HAS_EXPIRED")),
    "certificate verify failed: certificate expired",
  );
  assert.equal(
    describeTlsFailure(coded("ERR_TLS_CERT_ALTNAME_INVALID"), { name: "localhost" }),
    'certificate verify failed: not valid for name "localhost"',
  );
  assert.equal(
    describeTlsFailure(
      coded(
        "ERR_TLS_CERT_ALTNAME_INVALID",
        "Hostname/IP does not match certificate's altnames: Host: db.example. is not in the " +
          "cert's altnames: DNS:elsewhere.example",
      ),
    ),
    'certificate verify failed: not valid for name "db.example"',
  );
});

Deno.test("describeTlsFailure leaves errors that are not about TLS to the caller", () => {
  assert.equal(describeTlsFailure(new Deno.errors.ConnectionRefused("refused")), null);
  assert.equal(describeTlsFailure(new Deno.errors.ConnectionReset("reset")), null);
  assert.equal(describeTlsFailure("a string"), null);
  assert.equal(
    describeTlsFailure(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" })),
    null,
  );
});

Deno.test("describeConnError words node's network errors as Deno's", () => {
  const coded = (code: string, message: string): Error =>
    Object.assign(new Error(message), { code });
  assert.equal(
    describeConnError(coded("ECONNREFUSED", "connect ECONNREFUSED 127.0.0.1:1")),
    "connection refused",
  );
  assert.equal(
    describeConnError(coded("ENOTFOUND", "getaddrinfo ENOTFOUND nosuch.invalid")),
    "unknown host",
  );
  assert.equal(
    describeConnError(coded("ECONNRESET", "socket hang up")),
    "connection reset by peer",
  );
  assert.equal(
    describeConnError(new Deno.errors.ConnectionRefused("Connection refused (os error 111)")),
    "connection refused",
  );
  assert.equal(
    describeConnError(new Deno.errors.InvalidData("invalid peer certificate: UnknownIssuer")),
    "certificate verify failed: unknown issuer",
  );
});
