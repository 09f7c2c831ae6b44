/**
 * Interoperability of the TLS server with TLS clients nobody here wrote:
 * nmap's `ncat --ssl` and `openssl s_client`, each verifying our certificate
 * against the test CA, with and without a client certificate of their own.
 * A test whose peer (or `openssl`, which makes the certificates) is missing
 * is registered as ignored, with the reason in its name.
 *
 * Facts these tests rely on (ncat 7.93, OpenSSL 3.0): `ncat --ssl` verifies
 * only with `--ssl-verify`; `openssl s_client -quiet` implies `-ign_eof`,
 * which `-no_ign_eof` undoes so that it ends with its stdin.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  certificatesForTests,
  hasCommand,
  nameUnless,
  type ProcessResult,
  runProgram,
  startServer,
  waitForDisconnects,
} from "../_helpers/mod.ts";

const { files, skip: noCerts } = await certificatesForTests();
const noNcat = noCerts ?? (await hasCommand("ncat") ? null : "ncat not installed");

/** Runs a TLS server (mutual when `mutual`), lets `client` connect `count`
 * times, and returns the server's result once they are all done. */
async function withTlsServer(
  mutual: boolean,
  count: number,
  client: (port: number) => Promise<void>,
): Promise<ProcessResult> {
  const { server: pair, ca } = files();
  const server = await startServer([
    "--tls-cert",
    pair.cert,
    "--tls-key",
    pair.key,
    ...(mutual ? ["--tls-client-ca", ca.cert] : []),
  ]);
  try {
    await client(server.port);
    await waitForDisconnects(server, count);
  } finally {
    await server.stop();
  }
  return await server.finished();
}

function assertQuiet(result: ProcessResult & { killed: boolean }, who: string): void {
  assert.equal(result.killed, false, `${who} had to be killed`);
  assert.equal(result.code, 0, `${who} failed: ${result.stderr}`);
}

Deno.test({
  name: nameUnless(noNcat, "ncat --ssl --ssl-verify sends lines to the TLS server"),
  ignore: noNcat !== null,
  async fn(): Promise<void> {
    const server = await withTlsServer(false, 1, async (port) => {
      const result = await runProgram(
        "ncat",
        ["--ssl", "--ssl-verify", "--ssl-trustfile", files().ca.cert, "--send-only"].concat(
          ["localhost", String(port)],
        ),
        "from ncat over TLS\nsecond line\n",
      );
      assertQuiet(result, "ncat");
    });
    assert.equal(server.code, 0);
    assert.equal(server.stdout, "[client 0] from ncat over TLS\n[client 0] second line\n");
  },
});

Deno.test({
  name: nameUnless(noNcat, "ncat --ssl with a client certificate passes mutual TLS as its CN"),
  ignore: noNcat !== null,
  async fn(): Promise<void> {
    const { client, ca } = files();
    const server = await withTlsServer(true, 1, async (port) => {
      const result = await runProgram(
        "ncat",
        ["--ssl", "--ssl-verify", "--ssl-trustfile", ca.cert, "--ssl-cert", client.cert].concat(
          ["--ssl-key", client.key, "--send-only", "localhost", String(port)],
        ),
        "alice via ncat\n",
      );
      assertQuiet(result, "ncat");
    });
    assert.equal(server.stdout, "[client 0] alice via ncat\n");
    assert.match(server.stderr, /client 0 connected from 127\.0\.0\.1:\d+ as alice\n/);
  },
});

Deno.test({
  name: nameUnless(noCerts, "openssl s_client verifies the server and sends lines over TLS"),
  ignore: noCerts !== null,
  async fn(): Promise<void> {
    const server = await withTlsServer(false, 1, async (port) => {
      const result = await runProgram(
        "openssl",
        ["s_client", "-connect", `127.0.0.1:${port}`, "-servername", "localhost"].concat(
          ["-CAfile", files().ca.cert, "-verify_return_error", "-quiet", "-no_ign_eof"],
        ),
        "from openssl\n",
      );
      assert.equal(result.killed, false);
      assert.equal(result.code, 0, result.stderr);
    });
    assert.equal(server.stdout, "[client 0] from openssl\n");
  },
});

Deno.test({
  name: nameUnless(
    noCerts,
    "openssl s_client: with a client certificate it is served, without one it is refused",
  ),
  ignore: noCerts !== null,
  async fn(): Promise<void> {
    const { client, ca } = files();
    const base = (port: number): string[] =>
      ["s_client", "-connect", `127.0.0.1:${port}`, "-servername", "localhost"].concat(
        ["-CAfile", ca.cert, "-verify_return_error", "-quiet", "-no_ign_eof"],
      );
    const server = await withTlsServer(true, 1, async (port) => {
      const refused = await runProgram("openssl", base(port), "not allowed in\n");
      assert.equal(refused.killed, false);
      const served = await runProgram(
        "openssl",
        base(port).concat(["-cert", client.cert, "-key", client.key]),
        "alice via openssl\n",
      );
      assert.equal(served.code, 0, served.stderr);
    });
    assert.equal(server.stdout, "[client 0] alice via openssl\n");
    assert.match(server.stderr, /refused 127\.0\.0\.1:\d+: TLS: no client certificate\n/);
    assert.match(server.stderr, /client 0 connected from 127\.0\.0\.1:\d+ as alice\n/);
  },
});
