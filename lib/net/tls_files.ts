/**
 * Reading the PEM files of the TLS flags (`--tls-cert`, `--tls-key`,
 * `--tls-client-ca`, `--ca`, `--cert`, `--key`) and checking them at start-up,
 * so that a wrong file is one clear error naming it, not a failure of every
 * handshake later (`node:tls` takes any text and fails only then). The
 * server reads its files again on SIGHUP, and then also refuses a
 * certificate outside its dates, since it has a working one to keep.
 *
 * @module
 */

import { createPrivateKey, X509Certificate } from "node:crypto";
import { describeError, safeString } from "../text/mod.ts";

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

/** Options for {@linkcode readKeyPair}. */
export interface ReadKeyPairOptions {
  /** Refuse a certificate that is not valid at this time (expired, or not
   * yet valid).
   * @default {undefined: its dates are not checked} */
  validAt?: Date;
}

/** Reads a certificate and its key, checking that the key is a private key
 * and belongs to the (first) certificate, and its dates if asked. */
export async function readKeyPair(
  certPath: string,
  keyPath: string,
  options: ReadKeyPairOptions = {},
): Promise<KeyPair> {
  const cert = await readText(certPath, "certificate");
  const key = await readText(keyPath, "key");
  const [leaf] = parseCertificates(cert, certPath);
  if (leaf !== undefined && options.validAt !== undefined) {
    checkDates(leaf, certPath, options.validAt);
  }
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

/** Throws {@linkcode TlsFileError} naming `path` when `certificate` is not
 * valid at `now`. */
function checkDates(certificate: X509Certificate, path: string, now: Date): void {
  const from = new Date(certificate.validFrom);
  const to = new Date(certificate.validTo);
  if (to < now) {
    throw new TlsFileError(`Certificate file "${path}" has expired: valid until ${utc(to)}`);
  }
  if (from > now) {
    throw new TlsFileError(`Certificate file "${path}" is not valid yet: valid from ${utc(from)}`);
  }
}

/**
 * The first certificate of PEM `text` (the server's own, in a chain) in a
 * few words: its subject and when it expires, to say which one is served.
 * Its subject is the file's text, made safe for a terminal:
 * `CN=logs.example.net, valid until 2027-11-24 10:00:00 UTC`.
 */
export function certificateSummary(text: string): string {
  const [block] = pemCertificates(text);
  if (block === undefined) return "no certificate";
  const certificate = new X509Certificate(block);
  const subject = safeString(certificate.subject.split("\n").join(", "));
  return `${subject === "" ? "no subject" : subject}, valid until ${
    utc(new Date(certificate.validTo))
  }`;
}

/** A time as `2027-11-24 10:00:00 UTC`. */
function utc(time: Date): string {
  return Number.isNaN(time.getTime())
    ? "an unreadable date"
    : `${time.toISOString().slice(0, 19).replace("T", " ")} UTC`;
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
