/**
 * Tests of reading the TLS flags' PEM files: each mistake is one error that
 * names the file, found at start-up rather than at the first handshake.
 */

import assert from "node:assert/strict";
import {
  certificateSummary,
  parseCertificates,
  readCertificates,
  readKeyPair,
  TlsFileError,
} from "../../lib/net/tls_files.ts";
import { certificatesForTests, nameUnless } from "../_helpers/mod.ts";

const { files, skip } = await certificatesForTests();

async function rejectsWith(promise: Promise<unknown>, message: string | RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof TlsFileError, `expected a TlsFileError, got ${error}`);
    if (typeof message === "string") assert.equal(error.message, message);
    else assert.match(error.message, message);
    return true;
  });
}

Deno.test({
  name: nameUnless(skip, "readKeyPair returns a certificate and the key that belongs to it"),
  ignore: skip !== null,
  async fn(): Promise<void> {
    const { server } = files();
    const pair = await readKeyPair(server.cert, server.key);
    assert.equal(pair.cert, await Deno.readTextFile(server.cert));
    assert.equal(pair.key, await Deno.readTextFile(server.key));
  },
});

Deno.test({
  name: nameUnless(skip, "readKeyPair names the file that is missing, not a key, or not the pair"),
  ignore: skip !== null,
  async fn(): Promise<void> {
    const { server, client, ca, dir } = files();
    await rejectsWith(
      readKeyPair(`${dir}/missing.pem`, server.key),
      `Cannot read certificate file "${dir}/missing.pem": no such file or directory`,
    );
    await rejectsWith(
      readKeyPair(server.cert, ca.cert),
      `Invalid key file "${ca.cert}": not a PEM private key`,
    );
    await rejectsWith(
      readKeyPair(server.cert, client.key),
      `Key file "${client.key}" does not belong to certificate file "${server.cert}"`,
    );
    await rejectsWith(
      readKeyPair(server.key, server.key),
      `Invalid certificate file "${server.key}": no PEM certificate in it`,
    );
  },
});

Deno.test({
  name: nameUnless(skip, "readCertificates takes a bundle of several certificates"),
  ignore: skip !== null,
  async fn(): Promise<void> {
    const { ca, otherCa, dir } = files();
    const bundle = `${dir}/bundle.pem`;
    await Deno.writeTextFile(
      bundle,
      (await Deno.readTextFile(ca.cert)) + (await Deno.readTextFile(otherCa.cert)),
    );
    assert.equal(parseCertificates(await readCertificates(bundle), bundle).length, 2);
  },
});

Deno.test({
  name: nameUnless(
    skip,
    "readKeyPair with validAt refuses a certificate expired or not yet valid then, naming it",
  ),
  ignore: skip !== null,
  async fn(): Promise<void> {
    const { server, expiredServer } = files();
    await rejectsWith(
      readKeyPair(expiredServer.cert, expiredServer.key, { validAt: new Date() }),
      `Certificate file "${expiredServer.cert}" has expired: valid until 2021-01-01 00:00:00 UTC`,
    );
    await rejectsWith(
      readKeyPair(server.cert, server.key, { validAt: new Date("2000-01-01T00:00:00Z") }),
      new RegExp(`^Certificate file "${server.cert}" is not valid yet: valid from \\d{4}-`),
    );
    // Without validAt, as at start-up, the dates are not looked at.
    await readKeyPair(expiredServer.cert, expiredServer.key);
    await readKeyPair(server.cert, server.key, { validAt: new Date() });
  },
});

Deno.test({
  name: nameUnless(skip, "certificateSummary names the served certificate's subject and end date"),
  ignore: skip !== null,
  async fn(): Promise<void> {
    const { expiredServer, server } = files();
    assert.equal(
      certificateSummary(await Deno.readTextFile(expiredServer.cert)),
      "CN=localhost, valid until 2021-01-01 00:00:00 UTC",
    );
    // The first of a chain: the server's own.
    const chain = (await Deno.readTextFile(server.cert)) +
      (await Deno.readTextFile(files().ca.cert));
    assert.match(certificateSummary(chain), /^CN=localhost, valid until \d{4}-\d\d-\d\d /);
  },
});

Deno.test("parseCertificates refuses text with no certificate or a damaged one, naming the file", () => {
  assert.throws(
    () => parseCertificates("just text\n", "x.pem"),
    { message: 'Invalid certificate file "x.pem": no PEM certificate in it' },
  );
  assert.throws(
    () =>
      parseCertificates(
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        "broken.pem",
      ),
    { message: 'Invalid certificate file "broken.pem": certificate 1 is not valid DER' },
  );
});
