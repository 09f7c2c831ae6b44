/**
 * {@linkcode describeTlsFailure}: why a TLS connection failed, in a few
 * words, as the connecting side sees it, from either TLS a connection may
 * run on: Deno's own (rustls, whose errors are messages) or `node:tls`
 * (whose errors carry OpenSSL-style codes). What a certificate code means is
 * {@linkcode certificateProblem}'s, shared with the server; the words here
 * are the client's.
 *
 * @module
 */

import {
  type CertificateProblem,
  certificateProblem,
  type Validity,
} from "./certificate_problem.ts";

/** What {@linkcode describeTlsFailure} may be told besides the error. */
export interface TlsFailureContext {
  /** The name the certificate was checked against, for node:tls's
   * name mismatch, which does not say it.
   * @default {undefined: the name the error gives, else ""} */
  name?: string;
  /** The server certificate's validity, when known: node:tls in Deno
   * reports an expired certificate as an unknown issuer, and these dates
   * tell them apart.
   * @default {undefined: the code taken at its word} */
  validity?: Validity;
  /** The time the certificate was checked at.
   * @default {new Date()} */
  now?: Date;
}

const VERIFY_FAILED = "certificate verify failed";

/** Why a handshake failed when the server answered it in plain text: it
 * does not speak TLS (a linehub server on a plain port says so at once). */
export const SERVER_NOT_TLS = "the server does not speak TLS (it answered in plain text; " +
  "connect without --tls?)";

/** A server certificate's problem, in the words after "certificate verify failed: ". */
const PROBLEM_WORDS: Readonly<Record<CertificateProblem, string>> = {
  "unknown-issuer": "unknown issuer",
  "expired": "certificate expired",
  "not-yet-valid": "certificate not yet valid",
  "revoked": "certificate revoked",
  "bad-signature": "bad signature",
  "wrong-purpose": "certificate not usable for a TLS server",
  "untrusted-for-purpose": "certificate not usable for a TLS server",
};

/** rustls's names of the same problems, at the start of its reason. */
const RUSTLS_PROBLEMS: ReadonlyArray<[RegExp, CertificateProblem]> = [
  [/^UnknownIssuer/, "unknown-issuer"],
  [/^(certificate expired|Expired)/, "expired"],
  [/^(certificate not valid yet|NotValidYet)/, "not-yet-valid"],
  [/^Revoked/, "revoked"],
  [/^BadSignature/, "bad-signature"],
  [/^(InvalidPurpose|certificate does not allow extended key usage)/, "wrong-purpose"],
];

/** TLS alerts a server sends about the client's certificate, as words. */
const ALERTS: ReadonlyArray<[RegExp, string]> = [
  [
    /CertificateRequired|CERTIFICATE_REQUIRED/i,
    "the server requires a client certificate (see --cert and --key)",
  ],
  [/UnknownCA|UNKNOWN_CA/i, "the server does not trust the client certificate's issuer"],
  [/BadCertificate|BAD_CERTIFICATE/i, "the server refused the client certificate"],
  [/CertificateExpired|CERTIFICATE_EXPIRED/i, "the server says the client certificate expired"],
  [/AccessDenied|ACCESS_DENIED/i, "the server denied access"],
  [/ProtocolVersion|PROTOCOL_VERSION/i, "no TLS version in common with the server"],
  [/HandshakeFailure|HANDSHAKE_FAILURE/i, "the server refused the handshake"],
];

/**
 * Says in a few words why a TLS connection failed, from Deno's TLS errors
 * (rustls's wording) or node:tls's error codes; null when the error is not
 * about TLS (a refused connection, a reset), for the caller to describe.
 *
 * @example
 * ```ts
 * import { describeTlsFailure } from "./tls_failure.ts";
 * import assert from "node:assert/strict";
 *
 * const deno = new Deno.errors.InvalidData("invalid peer certificate: UnknownIssuer");
 * assert.equal(describeTlsFailure(deno), "certificate verify failed: unknown issuer");
 * assert.equal(describeTlsFailure(new Deno.errors.ConnectionRefused("refused")), null);
 * ```
 */
export function describeTlsFailure(error: unknown, context: TlsFailureContext = {}): string | null {
  if (!(error instanceof Error)) return null;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string") {
    const reason = nodeCodeReason(code, error.message, context);
    if (reason !== null) return reason;
  }
  return rustlsReason(error.message, context);
}

/** node:tls's verification codes and TLS error codes. */
function nodeCodeReason(code: string, message: string, context: TlsFailureContext): string | null {
  const problem = certificateProblem(code, context.validity, context.now);
  if (problem !== null) return `${VERIFY_FAILED}: ${PROBLEM_WORDS[problem]}`;
  switch (code) {
    case "ERR_TLS_CERT_ALTNAME_INVALID":
    case "HOSTNAME_MISMATCH": {
      const name = context.name ?? /Host: ([^\s]+?)\.? is not/.exec(message)?.[1];
      return `${VERIFY_FAILED}: not valid for name ${JSON.stringify(name ?? "")}`;
    }
    case "ERR_SSL_WRONG_VERSION_NUMBER":
    case "ERR_SSL_PACKET_LENGTH_TOO_LONG":
    case "ERR_SSL_HTTP_REQUEST":
      return SERVER_NOT_TLS;
  }
  return null;
}

/** Deno's TLS errors: rustls's messages, as `Deno.errors.InvalidData` and
 * friends (also what node:tls in Deno says in its messages). */
function rustlsReason(message: string, context: TlsFailureContext): string | null {
  const peer = /invalid peer certificate: (.*)$/s.exec(message)?.[1];
  if (peer !== undefined) {
    const problem = RUSTLS_PROBLEMS.find(([pattern]) => pattern.test(peer))?.[1];
    if (problem !== undefined) return `${VERIFY_FAILED}: ${PROBLEM_WORDS[problem]}`;
    const wrongName = /^certificate not valid for name "([^"]*)"/.exec(peer);
    if (wrongName !== null) {
      return `${VERIFY_FAILED}: not valid for name ${JSON.stringify(wrongName[1])}`;
    }
    if (/^NotValidForName/.test(peer)) {
      return `${VERIFY_FAILED}: not valid for name ${JSON.stringify(context.name ?? "")}`;
    }
    return `${VERIFY_FAILED}: ${tlsErrorLine(peer)}`;
  }
  if (/received corrupt message|InvalidContentType|wrong version number/i.test(message)) {
    return SERVER_NOT_TLS;
  }
  const alert = /received fatal alert: ?(\w+)/i.exec(message)?.[1];
  if (alert !== undefined) {
    for (const [pattern, text] of ALERTS) {
      if (pattern.test(alert)) return `TLS handshake failed: ${text}`;
    }
    return `TLS handshake failed: the server sent the alert ${alert}`;
  }
  if (/peer closed connection without sending TLS close_notify/i.test(message)) {
    return "the server closed the connection during the TLS handshake";
  }
  if (/peer is incompatible|no cipher suites in common|peer misbehaved/i.test(message)) {
    return `TLS handshake failed: ${tlsErrorLine(message).toLowerCase()}`;
  }
  return null;
}

/**
 * Whether `error` is the server refusing the handshake with an alert (most
 * often about the client certificate), which with TLS 1.3 comes only once
 * the client has finished its side, as the first read or write failing.
 */
export function isHandshakeRefusal(error: unknown): boolean {
  return error instanceof Error && /received fatal alert/i.test(error.message);
}

/**
 * The first line of a TLS library's error message, without the OpenSSL
 * routine names node:tls may add in parentheses: the part worth showing.
 *
 * @example
 * ```ts
 * import { tlsErrorLine } from "./tls_failure.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(tlsErrorLine("no shared cipher (SSL routines:x:y)\nmore"), "no shared cipher");
 * ```
 */
export function tlsErrorLine(message: string): string {
  return (message.split("\n")[0] ?? "").replace(/\s*\(SSL routines:[^)]*\)/, "").trim();
}
