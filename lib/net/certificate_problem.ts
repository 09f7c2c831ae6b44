/**
 * {@linkcode certificateProblem}: what is wrong with a peer's certificate, as
 * a fact, from the OpenSSL-style code node:tls gives and the certificate's
 * own dates. The client and the server word the same facts differently (one
 * checks a server's certificate, the other a client's), so this says only
 * which problem it is, and each side keeps its words.
 *
 * @module
 */

import type { PeerCertificate } from "node:tls";

/** When a certificate is valid, as it says itself. */
export interface Validity {
  validFrom: Date;
  validTo: Date;
}

/**
 * A certificate's problem: no trusted issuer, outside its dates, revoked, a
 * signature that does not verify, made for another purpose
 * (`wrong-purpose`), or from a CA not trusted for this purpose
 * (`untrusted-for-purpose`).
 */
export type CertificateProblem =
  | "unknown-issuer"
  | "expired"
  | "not-yet-valid"
  | "revoked"
  | "bad-signature"
  | "wrong-purpose"
  | "untrusted-for-purpose";

/** The verification codes node:tls gives (OpenSSL's names), and the problem
 * each names. */
const PROBLEM_OF_CODE: ReadonlyMap<string, CertificateProblem> = new Map<
  string,
  CertificateProblem
>([
  ["UNABLE_TO_GET_ISSUER_CERT", "unknown-issuer"],
  ["UNABLE_TO_GET_ISSUER_CERT_LOCALLY", "unknown-issuer"],
  ["UNABLE_TO_VERIFY_LEAF_SIGNATURE", "unknown-issuer"],
  // Not "self-signed" even when the code says so: node:tls in Deno says it
  // of certificates that are not.
  ["SELF_SIGNED_CERT_IN_CHAIN", "unknown-issuer"],
  ["DEPTH_ZERO_SELF_SIGNED_CERT", "unknown-issuer"],
  ["CERT_HAS_EXPIRED", "expired"],
  ["CERT_NOT_YET_VALID", "not-yet-valid"],
  ["CERT_REVOKED", "revoked"],
  ["CERT_SIGNATURE_FAILURE", "bad-signature"],
  ["INVALID_PURPOSE", "wrong-purpose"],
  ["CERT_UNTRUSTED", "untrusted-for-purpose"],
  ["CERT_REJECTED", "untrusted-for-purpose"],
]);

/**
 * The problem a node:tls verification code names, or null for a code not
 * about the certificate itself (a name mismatch, an unknown code). node:tls
 * in Deno reports an expired or not yet valid certificate as one without a
 * trusted issuer, so given the certificate's `validity`, its dates are
 * believed over an issuer code; other codes are taken at their word.
 *
 * @param code `authorizationError` of a TLS socket, or an error's `code`
 * @param validity the certificate's dates, if they could be read
 * @param now the time of the check
 *
 * @example
 * ```ts
 * import { certificateProblem } from "./certificate_problem.ts";
 * import assert from "node:assert/strict";
 *
 * const in2020 = { validFrom: new Date("2020-01-01"), validTo: new Date("2021-01-01") };
 * assert.equal(certificateProblem("UNABLE_TO_GET_ISSUER_CERT"), "unknown-issuer");
 * assert.equal(certificateProblem("UNABLE_TO_GET_ISSUER_CERT", in2020), "expired");
 * assert.equal(certificateProblem("CERT_REVOKED", in2020), "revoked");
 * assert.equal(certificateProblem("HOSTNAME_MISMATCH"), null);
 * ```
 */
export function certificateProblem(
  code: string,
  validity?: Validity,
  now: Date = new Date(),
): CertificateProblem | null {
  const problem = PROBLEM_OF_CODE.get(code) ?? null;
  if (problem !== "unknown-issuer" || validity === undefined) return problem;
  if (validity.validTo < now) return "expired";
  if (validity.validFrom > now) return "not-yet-valid";
  return problem;
}

/** A peer certificate's validity dates, when node:tls shows both and they
 * read as dates; undefined otherwise (no certificate, or odd dates). */
export function certificateValidity(
  peer: PeerCertificate | null | undefined,
): Validity | undefined {
  if (peer === null || typeof peer !== "object" || !peer.valid_from || !peer.valid_to) {
    return undefined;
  }
  const validFrom = new Date(peer.valid_from);
  const validTo = new Date(peer.valid_to);
  if (Number.isNaN(validFrom.getTime()) || Number.isNaN(validTo.getTime())) return undefined;
  return { validFrom, validTo };
}
