/**
 * Certificate reload on SIGHUP, with the real `server.ts` and real
 * `openssl s_client` handshakes: two self-signed certificates made here with
 * `openssl req -x509`, the first served, then the second once its files
 * replace the first's and SIGHUP is sent, while a client connected before
 * stays connected and is still served; then bad files, refused with one
 * line naming them, the second certificate still served. Once with one
 * listener, once with `--workers 2` (each Worker must take the new files).
 *
 * @module
 */

import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import { pemCertificates } from "../../lib/net/tls_files.ts";
import { workersUnavailableReason } from "../../lib/server/workers/pool.ts";
import {
  assertNoCrash,
  type CertFiles,
  certificatesForTests,
  nameUnless,
  opensslMissing,
  runProgram,
  selfSigned,
  type ServerProcess,
  startServer,
  waitFor,
} from "../_helpers/mod.ts";

const NO_OPENSSL = await opensslMissing();

/** The certificate `openssl s_client` is served by the server on `port`. */
async function servedCertificate(port: number): Promise<X509Certificate> {
  // No stdin: s_client shakes hands, prints the certificate, and leaves.
  const result = await runProgram("openssl", [
    "s_client",
    "-connect",
    `127.0.0.1:${port}`,
    "-servername",
    "localhost",
  ]);
  const [pem] = pemCertificates(result.stdout);
  assert.ok(pem !== undefined, `s_client got no certificate:\n${result.stdout}${result.stderr}`);
  return new X509Certificate(pem);
}

/** Asserts that handshakes on `port` get `expected` (by fingerprint), `tries` times. */
async function assertServes(port: number, expected: X509Certificate, tries = 1): Promise<void> {
  for (let i = 0; i < tries; i++) {
    const served = await servedCertificate(port);
    assert.equal(served.subject, expected.subject);
    assert.equal(served.fingerprint256, expected.fingerprint256);
  }
}

/** A TLS client from this process that stays connected until told. */
async function connectTls(port: number): Promise<TLSSocket> {
  const socket = tlsConnect({ host: "127.0.0.1", port, rejectUnauthorized: false });
  await new Promise<void>((resolve, reject) => {
    socket.once("secureConnect", () => resolve());
    socket.once("error", reject);
  });
  return socket;
}

function stderrShows(server: ServerProcess, text: string): Promise<void> {
  return waitFor(
    JSON.stringify(text),
    () => server.stderrSoFar().includes(text),
    () => server.stderrSoFar(),
  );
}

function stdoutShows(server: ServerProcess, text: string): Promise<void> {
  return waitFor(
    JSON.stringify(text),
    () => server.stdoutSoFar().includes(text),
    () => server.stdoutSoFar(),
  );
}

/** Puts `from`'s certificate and key where the server reads its own. */
async function install(from: CertFiles, to: CertFiles): Promise<void> {
  await Deno.copyFile(from.cert, to.cert);
  await Deno.copyFile(from.key, to.key);
}

async function reloadScenario(extra: string[]): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "linehub_reload_" });
  const at = (name: string): CertFiles => ({
    cert: `${dir}/${name}.pem`,
    key: `${dir}/${name}.key`,
  });
  const [one, two, served] = [at("one"), at("two"), at("served")];
  await selfSigned(one, "linehub one");
  await selfSigned(two, "linehub two");
  const first = new X509Certificate(await Deno.readTextFile(one.cert));
  const second = new X509Certificate(await Deno.readTextFile(two.cert));
  assert.notEqual(first.fingerprint256, second.fingerprint256);
  await install(one, served);
  const workers = extra.includes("--workers");
  const server = await startServer(["--tls-cert", served.cert, "--tls-key", served.key, ...extra]);
  let early: TLSSocket | null = null;
  try {
    await assertServes(server.port, first, workers ? 4 : 1);
    early = await connectTls(server.port);
    early.write("before the reload\n");
    await stdoutShows(server, "] before the reload\n");

    await install(two, served);
    server.process.kill("SIGHUP");
    await stderrShows(
      server,
      "linehub-server: SIGHUP: reloaded the TLS files; new handshakes get CN=linehub two, " +
        "valid until ",
    );
    // Every Worker has it by the time the line is written.
    await assertServes(server.port, second, workers ? 6 : 1);
    // Connected before, served still.
    early.write("after the reload\n");
    await stdoutShows(server, "] after the reload\n");

    // Bad files change nothing, and say which file.
    await Deno.writeTextFile(served.cert, "not a certificate\n");
    server.process.kill("SIGHUP");
    await stderrShows(
      server,
      "linehub-server: SIGHUP: Cannot reload the TLS files, still serving the old certificate: " +
        `Invalid certificate file "${served.cert}": no PEM certificate in it\n`,
    );
    await assertServes(server.port, second);
    await Deno.copyFile(one.cert, served.cert); // two's key stays: not the pair
    server.process.kill("SIGHUP");
    await stderrShows(
      server,
      `SIGHUP: Cannot reload the TLS files, still serving the old certificate: Key file ` +
        `"${served.key}" does not belong to certificate file "${served.cert}"\n`,
    );
    await assertServes(server.port, second, workers ? 4 : 1);

    early.end("last\n");
    await stdoutShows(server, "] last\n");
    early = null;
    const result = await server.stop("SIGTERM");
    assertNoCrash(result.stderr);
    assert.equal(result.code, 0, result.stderr);
    // With TLS there is something to reload: SIGHUP is not "ignored".
    assert.doesNotMatch(result.stderr, /ignored/);
    assert.match(
      result.stdout,
      /^\[client (\d+)\] before the reload\n\[client \1\] after the reload\n\[client \1\] last\n$/,
    );
    assert.match(result.stderr, /disconnected from 127\.0\.0\.1:\d+ \(eof\): 3 lines, /);
  } finally {
    early?.destroy();
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name: nameUnless(
    NO_OPENSSL,
    "SIGHUP reloads the TLS files: new handshakes get the new certificate, a client connected before stays served, bad files are refused naming them",
  ),
  ignore: NO_OPENSSL !== null,
  fn: () => reloadScenario([]),
});

const NO_WORKERS = NO_OPENSSL ?? workersUnavailableReason();

Deno.test({
  name: nameUnless(NO_WORKERS, "SIGHUP reloads the TLS files in every Worker of --workers 2"),
  ignore: NO_WORKERS !== null,
  fn: () => reloadScenario(["--workers", "2"]),
});

const { files: fixtures, skip: noFixtures } = await certificatesForTests();

Deno.test({
  name: nameUnless(
    noFixtures,
    "SIGHUP with --output and TLS reopens the file and refuses an expired certificate, keeping the old",
  ),
  ignore: noFixtures !== null,
  async fn(): Promise<void> {
    const dir = await Deno.makeTempDir({ prefix: "linehub_reload_" });
    const served: CertFiles = { cert: `${dir}/served.pem`, key: `${dir}/served.key` };
    const output = `${dir}/out.log`;
    await selfSigned(served, "linehub current");
    const current = new X509Certificate(await Deno.readTextFile(served.cert));
    const server = await startServer(
      ["--tls-cert", served.cert, "--tls-key", served.key, "--output", output],
    );
    try {
      // Signed by the test CA, valid only in 2020.
      await install(fixtures().expiredServer, served);
      server.process.kill("SIGHUP");
      await stderrShows(server, `linehub-server: SIGHUP: reopened "${output}"\n`);
      await stderrShows(
        server,
        "linehub-server: SIGHUP: Cannot reload the TLS files, still serving the old certificate: " +
          `Certificate file "${served.cert}" has expired: valid until 2021-01-01 00:00:00 UTC\n`,
      );
      await assertServes(server.port, current);
      const result = await server.stop("SIGTERM");
      assertNoCrash(result.stderr);
      assert.equal(result.code, 0, result.stderr);
    } finally {
      await server.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
