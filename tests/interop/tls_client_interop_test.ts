/**
 * The client's TLS against TLS servers nobody here wrote: nmap's
 * `ncat --ssl` and `openssl s_server`, with the throwaway certificates of
 * `tests/_helpers/certs.ts`. What the client sends appears on the peer's stdout, and what
 * is typed into the peer appears on the client's. A test whose peer (or
 * `openssl`, for the certificates) is missing is registered as ignored,
 * with the reason in its name.
 *
 * Facts these tests rely on (ncat 7.93, OpenSSL 3.0): both print what they
 * receive as it arrives; `ncat --ssl -l` exits once the client has
 * half-closed (a TLS close_notify); `s_server -naccept 1` serves one
 * connection and exits when it ends; `s_server -Verify 1
 * -verify_return_error` refuses a client without a trusted certificate with
 * a TLS alert, after the client's side of a TLS 1.3 handshake is done.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  assertNoCrash,
  type CertFiles,
  clientScriptArgs,
  DENO,
  freePort,
  hasCommand,
  type ProcessResult,
  type RunningProgram,
  sleep,
  spawnProgram,
  type TestCertificates,
  testCertificates,
  waitForListener,
} from "../_helpers/mod.ts";

const made = await testCertificates();
const HAVE_NCAT = await hasCommand("ncat");
const HAVE_OPENSSL = await hasCommand("openssl");

/** Registers a test that needs `peer` and the certificates; ignored, with
 * the reason in its name, when one is missing. */
function interopTest(
  name: string,
  peer: "ncat" | "openssl",
  fn: (certs: TestCertificates) => Promise<void>,
): void {
  const missing = [
    ...(typeof made === "string" ? [made] : []),
    ...(peer === "ncat" && !HAVE_NCAT ? ["ncat not installed"] : []),
    ...(peer === "openssl" && !HAVE_OPENSSL ? ["openssl not installed"] : []),
  ];
  if (missing.length > 0) {
    Deno.test({ name: `${name} (skipped: ${missing.join("; ")})`, ignore: true, fn: () => {} });
  } else {
    Deno.test({ name, fn: () => fn(made as TestCertificates) });
  }
}

const P = "linehub-client: ";

/** Pause before connecting where the listener cannot be seen (not Linux). */
const BLIND_WAIT_MS = 500;

/** `ncat --ssl -l` on `port` with the certificate `files`, its stdin piped. */
function ncatTls(files: CertFiles, port: number): RunningProgram {
  return spawnProgram(
    "ncat",
    ["--ssl", "--ssl-cert", files.cert, "--ssl-key", files.key, "-l", "127.0.0.1", String(port)],
    { stdin: "piped" },
  );
}

/**
 * Runs the client against `peer`, a one-shot TLS server on `port` that was
 * given `greeting` on its stdin: waits until the client has printed the
 * greeting (so the handshake is done and the client reads while it sends),
 * then types `input` and ends it. Returns the client's and the peer's
 * results; the peer's stdin stays open until the client is done.
 */
async function exchange(
  peer: RunningProgram,
  port: number,
  clientArgs: string[],
  greeting: string,
  input: string,
): Promise<{ client: ProcessResult; peer: ProcessResult }> {
  if (!await waitForListener(port, peer)) {
    await sleep(BLIND_WAIT_MS);
  }
  const client = spawnProgram(DENO, clientScriptArgs(clientArgs), { stdin: "piped" });
  try {
    await client.waitForStdout(greeting);
    await client.write(input);
    await client.closeStdin();
    const clientResult = await client.finished();
    await peer.closeStdin();
    return { client: clientResult, peer: await peer.finished() };
  } finally {
    await client.stop();
    await peer.stop();
  }
}

/** Runs the client to its end against `peer` (no greeting awaited), with
 * stdin open until the client exits, as a refused client would have it. */
async function refusedBy(
  peer: RunningProgram,
  port: number,
  clientArgs: string[],
): Promise<ProcessResult> {
  if (!await waitForListener(port, peer)) {
    await sleep(BLIND_WAIT_MS);
  }
  const client = spawnProgram(DENO, clientScriptArgs(clientArgs), { stdin: "piped" });
  try {
    await client.write("never delivered\n");
    return await client.finished();
  } finally {
    await client.stop();
    await peer.stop();
  }
}

function assertClientOk(client: ProcessResult, stdout: string, stderr = ""): void {
  assertNoCrash(client.stderr);
  assert.deepEqual(
    { code: client.code, killed: client.killed, stdout: client.stdout, stderr: client.stderr },
    { code: 0, killed: false, stdout, stderr },
  );
}

// --- ncat --ssl ----------------------------------------------------------------

interopTest(
  "client --tls exchanges lines with ncat --ssl -l, verifying its certificate",
  "ncat",
  async (certs) => {
    const port = freePort();
    const ncat = ncatTls(certs.server, port);
    await ncat.write("hello from ncat\n");
    const { client, peer } = await exchange(
      ncat,
      port,
      ["--tls", "--ca", certs.ca.cert, "127.0.0.1", String(port)],
      "hello from ncat\n",
      "one\ntwo\nno newline",
    );
    assertClientOk(
      client,
      "hello from ncat\n",
      `${P}Connected to 127.0.0.1:${port} (TLS, certificate verified)\n`,
    );
    assert.equal(peer.stdout, "one\ntwo\nno newline");
    assert.equal(peer.killed, false, `ncat did not exit after the half-close: ${peer.stderr}`);
  },
);

interopTest(
  "client --tls --insecure talks to ncat --ssl with an untrusted certificate, and warns",
  "ncat",
  async (certs) => {
    const port = freePort();
    const ncat = ncatTls(certs.strangerServer, port);
    await ncat.write("unverified hello\n");
    const { client, peer } = await exchange(
      ncat,
      port,
      ["-q", "--tls", "--insecure", "127.0.0.1", String(port)],
      "unverified hello\n",
      "sent anyway\n",
    );
    assertClientOk(
      client,
      "unverified hello\n",
      `${P}warning: --insecure: the server's certificate is not verified; ` +
        "anyone on the path can read or change this connection\n",
    );
    assert.equal(peer.stdout, "sent anyway\n");
  },
);

interopTest(
  "client --tls refuses ncat --ssl's untrusted certificate with exit 1",
  "ncat",
  async (certs) => {
    const port = freePort();
    const ncat = ncatTls(certs.strangerServer, port);
    const client = await refusedBy(ncat, port, [
      "--tls",
      "--ca",
      certs.ca.cert,
      `127.0.0.1:${port}`,
    ]);
    assertNoCrash(client.stderr);
    assert.equal(client.code, 1);
    assert.equal(
      client.stderr,
      `${P}Cannot connect to 127.0.0.1:${port}: certificate verify failed: unknown issuer\n`,
    );
    const served = await ncat.finished();
    assert.equal(served.stdout, "");
  },
);

// --- openssl s_server --------------------------------------------------------

/** `openssl s_server` serving one connection on 127.0.0.1:`port`. */
function sServer(port: number, certs: TestCertificates, extra: string[] = []): RunningProgram {
  return spawnProgram(
    "openssl",
    [
      "s_server",
      "-accept",
      `127.0.0.1:${port}`,
      "-cert",
      certs.server.cert,
      "-key",
      certs.server.key,
      "-quiet",
      "-naccept",
      "1",
      ...extra,
    ],
    { stdin: "piped" },
  );
}

/** `openssl s_server` that requires a client certificate signed by the test CA. */
function verifyingSServer(port: number, certs: TestCertificates): RunningProgram {
  return sServer(port, certs, ["-Verify", "1", "-verify_return_error", "-CAfile", certs.ca.cert]);
}

interopTest(
  "client --tls exchanges lines with openssl s_server, verifying its certificate",
  "openssl",
  async (certs) => {
    const port = freePort();
    const server = sServer(port, certs);
    await server.write("hello from openssl\n");
    const { client, peer } = await exchange(
      server,
      port,
      ["--tls", "--ca", certs.ca.cert, "127.0.0.1", String(port)],
      "hello from openssl\n",
      "alpha\nbeta\n",
    );
    assertClientOk(
      client,
      "hello from openssl\n",
      `${P}Connected to 127.0.0.1:${port} (TLS, certificate verified)\n`,
    );
    assert.equal(peer.stdout, "alpha\nbeta\n");
  },
);

for (const servername of [[], ["--servername", "localhost"]]) {
  const how = servername.length === 0 ? "--tls" : "--tls --servername";
  interopTest(
    `client ${how} --cert --key passes openssl s_server's client certificate check`,
    "openssl",
    async (certs) => {
      const port = freePort();
      const server = verifyingSServer(port, certs);
      await server.write("hello alice\n");
      const { client, peer } = await exchange(
        server,
        port,
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
          String(port),
        ],
        "hello alice\n",
        "signed line\n",
      );
      assertClientOk(client, "hello alice\n");
      assert.equal(peer.stdout, "signed line\n");
      assert.match(peer.stderr, /CN ?= ?alice/);
    },
  );

  interopTest(
    `client ${how} without --cert is refused by openssl s_server -Verify with exit 1 and why`,
    "openssl",
    async (certs) => {
      const port = freePort();
      const server = verifyingSServer(port, certs);
      const client = await refusedBy(server, port, [
        "-q",
        "--tls",
        "--ca",
        certs.ca.cert,
        ...servername,
        "127.0.0.1",
        String(port),
      ]);
      assertNoCrash(client.stderr);
      assert.equal(client.code, 1, client.stderr);
      assert.equal(
        client.stderr,
        `${P}Cannot connect to 127.0.0.1:${port}: TLS handshake failed: ` +
          "the server requires a client certificate (see --cert and --key)\n",
      );
    },
  );
}

interopTest(
  "client --tls with a certificate s_server does not trust is told so, exit 1",
  "openssl",
  async (certs) => {
    const port = freePort();
    const server = verifyingSServer(port, certs);
    const client = await refusedBy(server, port, [
      "-q",
      "--tls",
      "--ca",
      certs.ca.cert,
      "--cert",
      certs.strangerClient.cert,
      "--key",
      certs.strangerClient.key,
      "127.0.0.1",
      String(port),
    ]);
    assertNoCrash(client.stderr);
    assert.equal(client.code, 1, client.stderr);
    assert.equal(
      client.stderr,
      `${P}Cannot connect to 127.0.0.1:${port}: TLS handshake failed: ` +
        "the server does not trust the client certificate's issuer\n",
    );
  },
);
