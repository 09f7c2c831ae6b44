/**
 * Reading the PEM files of the TLS flags (`--tls-cert`, `--tls-key`,
 * `--tls-client-ca`, `--ca`, `--cert`, `--key`) and checking them at start-up,
 * so that a wrong file is one clear error naming it, not a failure of every
 * handshake later (`node:tls` takes any text and fails only then).
 *
 * @module
 */

import { createPrivateKey, X509Certificate } from "node:crypto";
import { describeError } from "../text/mod.ts";

/** A TLS file that cannot be read or is not what its flag needs. */
export class TlsFileError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "TlsFileError";
  }
}

/** A certificate chain and its private key, as PEM text. */
export interface KeyPair {
  /** The certificate, then any intermediates. */
  readonly cert: string;
  readonly key: string;
}

const CERTIFICATE_BLOCK = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g;

/** The PEM certificate blocks in `text`, each with its BEGIN and END lines. */
export function pemCertificates(text: string): string[] {
  return text.match(CERTIFICATE_BLOCK) ?? [];
}

/**
 * The certificates in PEM `text`, each checked to parse; throws
 * {@linkcode TlsFileError} naming `path` when there is none or one is bad.
 */
export function parseCertificates(text: string, path: string): X509Certificate[] {
  const blocks = pemCertificates(text);
  if (blocks.length === 0) {
    throw new TlsFileError(`Invalid certificate file "${path}": no PEM certificate in it`);
  }
  return blocks.map((block, index) => {
    try {
      return new X509Certificate(block);
    } catch (error) {
      throw new TlsFileError(
        `Invalid certificate file "${path}": certificate ${index + 1} is not valid DER`,
        { cause: error },
      );
    }
  });
}

/** Reads a PEM file of one or more certificates (a CA bundle, a chain). */
export async function readCertificates(path: string): Promise<string> {
  const text = await readText(path, "certificate");
  parseCertificates(text, path);
  return text;
}

/** Reads a certificate and its key, checking that the key is a private key
 * and belongs to the (first) certificate. */
export async function readKeyPair(certPath: string, keyPath: string): Promise<KeyPair> {
  const cert = await readText(certPath, "certificate");
  const key = await readText(keyPath, "key");
  const [leaf] = parseCertificates(cert, certPath);
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch (error) {
    throw new TlsFileError(`Invalid key file "${keyPath}": not a PEM private key`, {
      cause: error,
    });
  }
  if (leaf !== undefined && !leaf.checkPrivateKey(privateKey)) {
    throw new TlsFileError(
      `Key file "${keyPath}" does not belong to certificate file "${certPath}"`,
    );
  }
  return { cert, key };
}

async function readText(path: string, kind: "certificate" | "key"): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    throw new TlsFileError(`Cannot read ${kind} file "${path}": ${describeError(error)}`, {
      cause: error,
    });
  }
}
