/**
 * Test fixture: throwaway certificates made with the `openssl` CLI at test
 * time, once per test process, in a temporary directory:
 *
 * - `ca`: the test CA; `server` (CN localhost; SAN localhost, 127.0.0.1, ::1;
 *   serverAuth) and `client` (CN alice; SAN DNS:alice.example; clientAuth)
 *   are signed by it;
 * - `expiredServer`: like `server`, valid only in 2020;
 * - `wrongHostServer`: signed by the CA for `elsewhere.example` only;
 * - `otherCa` and, signed by it, `strangerServer` and `strangerClient`: an
 *   issuer nobody here trusts.
 *
 * Tests call {@linkcode testCertificates} and skip, naming the reason, when it
 * returns a string (no `openssl`).
 *
 * @module
 */

import { runProgram } from "./process.ts";

/** Paths of one certificate and its key. */
export interface CertFiles {
  readonly cert: string;
  readonly key: string;
}

/** Every certificate the TLS tests use (see the module doc). */
export interface TestCertificates {
  readonly dir: string;
  readonly ca: CertFiles;
  readonly server: CertFiles;
  readonly client: CertFiles;
  readonly expiredServer: CertFiles;
  readonly wrongHostServer: CertFiles;
  readonly otherCa: CertFiles;
  readonly strangerServer: CertFiles;
  readonly strangerClient: CertFiles;
}

let made: Promise<TestCertificates | string> | null = null;

/** The certificates, made on first use; a string says why they cannot be. */
export function testCertificates(): Promise<TestCertificates | string> {
  made ??= make();
  return made;
}

const SERVER_EXT = "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n" +
  "extendedKeyUsage=serverAuth\n";
const CLIENT_EXT = "subjectAltName=DNS:alice.example\nextendedKeyUsage=clientAuth\n";
const WRONG_HOST_EXT = "subjectAltName=DNS:elsewhere.example\nextendedKeyUsage=serverAuth\n";

async function make(): Promise<TestCertificates | string> {
  const missing = await opensslMissing();
  if (missing !== null) return missing;
  const dir = await Deno.makeTempDir({ prefix: "linehub-certs-" });
  const at = (name: string): CertFiles => ({
    cert: `${dir}/${name}.pem`,
    key: `${dir}/${name}.key`,
  });
  const certs: TestCertificates = {
    dir,
    ca: at("ca"),
    server: at("server"),
    client: at("client"),
    expiredServer: at("expired-server"),
    wrongHostServer: at("wrong-host-server"),
    otherCa: at("other-ca"),
    strangerServer: at("stranger-server"),
    strangerClient: at("stranger-client"),
  };
  await selfSigned(certs.ca, "linehub test CA");
  await selfSigned(certs.otherCa, "stranger CA");
  await signed(certs.server, "localhost", certs.ca, SERVER_EXT, dir);
  await signed(certs.client, "alice", certs.ca, CLIENT_EXT, dir);
  await signed(certs.wrongHostServer, "elsewhere.example", certs.ca, WRONG_HOST_EXT, dir);
  await signed(certs.strangerServer, "localhost", certs.otherCa, SERVER_EXT, dir);
  await signed(certs.strangerClient, "mallory", certs.otherCa, CLIENT_EXT, dir);
  await expired(certs.expiredServer, certs.ca, dir);
  return certs;
}

/** Why the `openssl` command cannot be used here, or null when it can. */
export async function opensslMissing(): Promise<string | null> {
  try {
    const { code } = await runProgram("openssl", ["version"]);
    return code === 0 ? null : "openssl version failed";
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return "the openssl command is not installed";
    throw error;
  }
}

async function openssl(args: string[]): Promise<void> {
  const { code, stderr } = await runProgram("openssl", args);
  if (code !== 0) throw new Error(`openssl ${args[0]} failed: ${stderr}`);
}

const NEW_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];

/** Makes a self-signed certificate for `name` (its CN), valid two days,
 * and its key, at `files` (`openssl req -x509`). */
export async function selfSigned(files: CertFiles, name: string): Promise<void> {
  await openssl([
    "req",
    "-x509",
    ...NEW_KEY,
    "-keyout",
    files.key,
    "-out",
    files.cert,
    "-days",
    "2",
    "-subj",
    `/CN=${name}`,
  ]);
}

async function request(files: CertFiles, name: string): Promise<string> {
  const csr = `${files.cert}.csr`;
  await openssl(["req", ...NEW_KEY, "-keyout", files.key, "-out", csr, "-subj", `/CN=${name}`]);
  return csr;
}

async function signed(
  files: CertFiles,
  name: string,
  issuer: CertFiles,
  extensions: string,
  dir: string,
): Promise<void> {
  const csr = await request(files, name);
  const ext = `${files.cert}.ext`;
  await Deno.writeTextFile(ext, extensions);
  await openssl([
    "x509",
    "-req",
    "-in",
    csr,
    "-CA",
    issuer.cert,
    "-CAkey",
    issuer.key,
    "-CAcreateserial",
    "-CAserial",
    `${dir}/serial`,
    "-out",
    files.cert,
    "-days",
    "2",
    "-extfile",
    ext,
  ]);
}

/** `openssl x509` cannot back-date; `openssl ca` can, with a minimal CA setup. */
async function expired(files: CertFiles, issuer: CertFiles, dir: string): Promise<void> {
  const csr = await request(files, "localhost");
  const caDir = `${dir}/ca-db`;
  await Deno.mkdir(caDir, { recursive: true });
  await Deno.writeTextFile(`${caDir}/index.txt`, "");
  await Deno.writeTextFile(`${caDir}/serial`, "1000\n");
  const config = `${caDir}/ca.cnf`;
  await Deno.writeTextFile(
    config,
    [
      "[ca]",
      "default_ca = test",
      "[test]",
      `database = ${caDir}/index.txt`,
      `serial = ${caDir}/serial`,
      `new_certs_dir = ${caDir}`,
      "default_md = sha256",
      "policy = any",
      "copy_extensions = none",
      "x509_extensions = leaf",
      "[any]",
      "commonName = supplied",
      "[leaf]",
      "subjectAltName = DNS:localhost,IP:127.0.0.1,IP:::1",
      "extendedKeyUsage = serverAuth",
      "",
    ].join("\n"),
  );
  await openssl([
    "ca",
    "-batch",
    "-config",
    config,
    "-cert",
    issuer.cert,
    "-keyfile",
    issuer.key,
    "-in",
    csr,
    "-out",
    files.cert,
    "-startdate",
    "20200101000000Z",
    "-enddate",
    "20210101000000Z",
    "-notext",
  ]);
}

/**
 * For a test file's top level: `skip` is why there are no certificates (or
 * null), and `files()` returns them in a test that runs only when they exist.
 */
export async function certificatesForTests(): Promise<
  { files: () => TestCertificates; skip: string | null }
> {
  const certs = await testCertificates();
  return {
    skip: typeof certs === "string" ? certs : null,
    files(): TestCertificates {
      if (typeof certs === "string") throw new Error(certs);
      return certs;
    },
  };
}
