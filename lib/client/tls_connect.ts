/**
 * TLS for the client (`--tls`): the PEM files of `--ca`, `--cert` and `--key`
 * loaded at start-up, a connection whose server certificate is verified, and
 * a few words for each way a handshake can fail.
 *
 * Two ways to connect. By default, Deno's own TLS (`Deno.connectTls`,
 * rustls) verifies the certificate against HOST and Deno's bundled Mozilla
 * roots (`DENO_TLS_CA_STORE=system,mozilla` adds the system's), plus the
 * `--ca` bundle. With `--servername` or `--insecure`, `node:tls`: the one
 * that can check a name other than the address it connects to, and skip
 * the check when asked. Either way the handshake completes while
 * connecting, so that a certificate the client refuses is a connect
 * failure, never a lost session. Once connected, both are a `StreamConn`.
 *
 * @module
 */

import { isIP } from "node:net";
import {
  checkServerIdentity,
  connect as connectNodeTls,
  type ConnectionOptions,
  createSecureContext,
  type PeerCertificate,
  type TLSSocket,
} from "node:tls";
import { abortable, closeQuietly, NodeSocketConn, type StreamConn } from "../io/mod.ts";
import {
  type HostPort,
  type KeyPair,
  pemCertificates,
  readCertificates,
  readKeyPair,
} from "../net/mod.ts";
import { describeError } from "../text/mod.ts";

/** What the TLS flags name: file paths and choices, nothing read yet. */
export interface TlsClientFlags {
  /** `--ca`: a PEM bundle of CA certificates trusted besides the built-in roots. */
  readonly ca: string | undefined;
  /** `--servername`: the name to verify and send as SNI instead of HOST. */
  readonly servername: string | undefined;
  /** `--cert`: the client certificate (chain), PEM; given with `key`. */
  readonly cert: string | undefined;
  /** `--key`: the client certificate's private key, PEM. */
  readonly key: string | undefined;
  /** `--insecure`: do not verify the server's certificate. */
  readonly insecure: boolean;
}

/** TLS settings of a connection, with the files already read. */
export interface TlsClientOptions {
  /** CA certificates (PEM) trusted besides the built-in roots.
   * @default {undefined: the built-in roots only} */
  ca?: string;
  /** The name the certificate must be valid for, sent as SNI when it is a
   * host name rather than an address.
   * @default {undefined: the host connected to} */
  servername?: string;
  /** A client certificate to present.
   * @default {undefined: none} */
  keyPair?: KeyPair;
  /** Accept any certificate (`--insecure`).
   * @default {false} */
  insecure?: boolean;
}

/**
 * Reads the files the TLS flags name, checking each, before any connection
 * is made. Rejects with `TlsFileError` (from `tls_files.ts`), one line naming
 * the file.
 */
export async function loadTlsClientOptions(flags: TlsClientFlags): Promise<TlsClientOptions> {
  const ca = flags.ca === undefined ? undefined : await readCertificates(flags.ca);
  const keyPair = flags.cert !== undefined && flags.key !== undefined
    ? await readKeyPair(flags.cert, flags.key)
    : undefined;
  return {
    ...(ca === undefined ? {} : { ca }),
    ...(flags.servername === undefined ? {} : { servername: flags.servername }),
    ...(keyPair === undefined ? {} : { keyPair }),
    insecure: flags.insecure,
  };
}

/** How a TLS connection is described once it is open: "TLS, certificate verified". */
export function describeTls(options: TlsClientOptions): string {
  return options.insecure
    ? "TLS, certificate NOT verified: --insecure"
    : "TLS, certificate verified";
}

/** The warning `--insecure` earns, once, when the client connects. */
export const INSECURE_WARNING = "warning: --insecure: the server's certificate is not " +
  "verified; anyone on the path can read or change this connection";

/**
 * The TCP connection was made but the TLS handshake did not complete: it
 * failed, or it was stopped (timeout, interrupt). The message is the reason
 * in a few words (see {@linkcode describeTlsFailure}).
 */
export class TlsHandshakeFailure extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "TlsHandshakeFailure";
  }
}

/**
 * Opens a TLS connection to `target` and completes the handshake, verifying
 * the server unless `options.insecure`. Rejects with the connect error as is
 * when no TCP connection was made, and with {@linkcode TlsHandshakeFailure}
 * when the handshake failed or `signal` was aborted during it.
 */
export function connectTls(
  target: HostPort,
  options: TlsClientOptions,
  signal?: AbortSignal,
): Promise<StreamConn> {
  if (options.servername !== undefined || options.insecure === true) {
    return connectWithNode(target, options, signal);
  }
  return connectWithDeno(target, options, signal);
}

/** Deno's TLS: the name checked is the host connected to. */
async function connectWithDeno(
  target: HostPort,
  options: TlsClientOptions,
  signal: AbortSignal | undefined,
): Promise<StreamConn> {
  const connecting = Deno.connectTls({
    hostname: target.host,
    port: target.port,
    ...(options.ca === undefined ? {} : { caCerts: [options.ca] }),
    ...(options.keyPair === undefined
      ? {}
      : { cert: options.keyPair.cert, key: options.keyPair.key }),
  });
  // Deno.connectTls takes no signal: given up on, a connection that still
  // opens later is closed at once.
  const conn = await untilAborted(connecting, signal, () => {
    connecting.then((late) => late.close(), () => {});
  });
  try {
    // Closing the connection is what stops a handshake in progress.
    await untilAborted(conn.handshake(), signal, () => closeQuietly(conn));
  } catch (error) {
    closeQuietly(conn);
    const reason = signal?.aborted
      ? "TLS handshake stopped"
      : describeTlsFailure(error, { name: target.host }) ?? describeError(error);
    throw new TlsHandshakeFailure(reason, { cause: error });
  }
  return new DenoTlsConn(conn);
}

/**
 * `node:tls`, for `--servername` and `--insecure`. The certificate is checked
 * here once the handshake is done, as node:tls does itself with
 * `rejectUnauthorized`, so that the reason can be told precisely: node:tls
 * in Deno reports an expired certificate and an unknown issuer alike, and
 * the certificate's dates tell them apart. Nothing is sent before the check.
 */
function connectWithNode(
  target: HostPort,
  options: TlsClientOptions,
  signal: AbortSignal | undefined,
): Promise<StreamConn> {
  const name = options.servername ?? target.host;
  const { promise, resolve, reject } = Promise.withResolvers<StreamConn>();
  if (signal?.aborted) {
    reject(signal.reason);
    return promise;
  }
  const socket = connectNodeTls({
    host: target.host,
    port: target.port,
    // node:tls refuses an address as SNI; the name is still checked below.
    ...(isIP(name) === 0 ? { servername: name } : {}),
    ...nodeTrust(options),
    rejectUnauthorized: false,
    checkServerIdentity: (_host: string, cert: PeerCertificate) => checkServerIdentity(name, cert),
  });
  let connected = false;
  const onConnect = (): void => {
    connected = true;
  };
  const stop = (error: unknown): void => {
    socket.off("connect", onConnect);
    socket.off("secureConnect", onSecure);
    socket.off("error", onError);
    signal?.removeEventListener("abort", onAbort);
    // Given up on: a late error must not surface as uncaught.
    socket.on("error", () => {});
    socket.destroy();
    reject(error);
  };
  const onError = (error: Error): void => {
    stop(
      connected
        ? new TlsHandshakeFailure(
          describeTlsFailure(error, { name }) ?? describeConnError(error),
          { cause: error },
        )
        : error,
    );
  };
  const onAbort = (): void => {
    stop(
      connected
        ? new TlsHandshakeFailure("TLS handshake stopped", { cause: signal?.reason })
        : signal?.reason,
    );
  };
  const onSecure = (): void => {
    if (!options.insecure && !socket.authorized) {
      const code = String(socket.authorizationError);
      const failure = Object.assign(new Error(code), { code });
      const validity = peerValidity(socket);
      const reason = describeTlsFailure(failure, {
        name,
        ...(validity === undefined ? {} : { validity }),
      }) ?? `certificate verify failed: ${code}`;
      stop(new TlsHandshakeFailure(reason, { cause: failure }));
      return;
    }
    socket.off("connect", onConnect);
    socket.off("error", onError);
    signal?.removeEventListener("abort", onAbort);
    socket.setNoDelay(true); // a typed line goes out at once
    resolve(
      new NodeSocketConn(socket, {
        transport: "tcp",
        hostname: socket.remoteAddress ?? target.host,
        port: socket.remotePort ?? target.port,
      }),
    );
  };
  socket.once("connect", onConnect);
  socket.once("secureConnect", onSecure);
  socket.once("error", onError);
  signal?.addEventListener("abort", onAbort, { once: true });
  return promise;
}

/**
 * The certificate and trusted CAs for node:tls. Its `ca` option replaces the
 * built-in roots, and reading those (`rootCertificates`) needs
 * `--allow-sys`; so the `--ca` certificates are added to a secure context
 * that starts from the built-in roots, as Node's own extra-CA support does.
 * Where that is missing, `ca` is used: only `--ca` is then trusted (stricter,
 * never looser).
 */
function nodeTrust(options: TlsClientOptions): ConnectionOptions {
  const keyPair = options.keyPair === undefined
    ? {}
    : { cert: options.keyPair.cert, key: options.keyPair.key };
  if (options.ca === undefined) return keyPair;
  const secureContext = createSecureContext(keyPair);
  const native = (secureContext as { context?: { addCACert?: unknown } }).context;
  const addCACert = native?.addCACert;
  if (typeof addCACert !== "function") return { ...keyPair, ca: options.ca };
  for (const block of pemCertificates(options.ca)) {
    addCACert.call(native, block);
  }
  return { secureContext };
}

/** The server certificate's validity dates, when node:tls shows them. */
function peerValidity(socket: TLSSocket): { validFrom: Date; validTo: Date } | undefined {
  const peer = socket.getPeerCertificate();
  if (peer === null || typeof peer !== "object" || !peer.valid_from || !peer.valid_to) {
    return undefined;
  }
  const validFrom = new Date(peer.valid_from);
  const validTo = new Date(peer.valid_to);
  if (Number.isNaN(validFrom.getTime()) || Number.isNaN(validTo.getTime())) return undefined;
  return { validFrom, validTo };
}

/**
 * A `Deno.TlsConn` as a {@linkcode StreamConn} whose reads end, rather than
 * fail, when the server closes without a TLS close_notify: servers often do
 * (node:tls's `destroy`, the linehub server among them), node:tls takes it
 * as the end too, and the line protocol has its own way to show a cut line
 * (the server reports it as partial; with `--ack`, it is not acknowledged).
 */
class DenoTlsConn implements StreamConn {
  readonly remoteAddr: Deno.NetAddr;
  readonly #conn: Deno.TlsConn;

  constructor(conn: Deno.TlsConn) {
    this.#conn = conn;
    this.remoteAddr = conn.remoteAddr;
  }

  async read(buffer: Uint8Array): Promise<number | null> {
    try {
      return await this.#conn.read(buffer);
    } catch (error) {
      if (error instanceof Deno.errors.UnexpectedEof) return null;
      throw error;
    }
  }

  write(data: Uint8Array): Promise<number> {
    return this.#conn.write(data);
  }

  closeWrite(): Promise<void> {
    return this.#conn.closeWrite();
  }

  close(): void {
    this.#conn.close();
  }
}

/** What {@linkcode describeTlsFailure} may be told besides the error. */
export interface TlsFailureContext {
  /** The name the certificate was checked against, for node:tls's
   * name mismatch, which does not say it. */
  name?: string;
  /** The server certificate's validity, when known: node:tls in Deno
   * reports an expired certificate as an unknown issuer, and these dates
   * tell them apart. */
  validity?: { validFrom: Date; validTo: Date };
  /** The time the certificate was checked at.
   * @default {new Date()} */
  now?: Date;
}

const VERIFY_FAILED = "certificate verify failed";
/** Why a handshake failed when the server answered it in plain text: it
 * does not speak TLS (a linehub server on a plain port says so at once). */
export const SERVER_NOT_TLS = "the server does not speak TLS (it answered in plain text; " +
  "connect without --tls?)";

/** node:tls (OpenSSL-style) verification codes that mean "no trusted issuer". */
const UNKNOWN_ISSUER_CODES = new Set([
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
]);

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
 * import { describeTlsFailure } from "./tls_connect.ts";
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
  if (UNKNOWN_ISSUER_CODES.has(code)) {
    // node:tls in Deno says this of an expired certificate too.
    const now = context.now ?? new Date();
    const validity = context.validity;
    if (validity !== undefined && validity.validTo < now) {
      return `${VERIFY_FAILED}: certificate expired`;
    }
    if (validity !== undefined && validity.validFrom > now) {
      return `${VERIFY_FAILED}: certificate not yet valid`;
    }
    // Not "self-signed" even when the code says so: node:tls in Deno says
    // it of certificates that are not.
    return `${VERIFY_FAILED}: unknown issuer`;
  }
  switch (code) {
    case "CERT_HAS_EXPIRED":
      return `${VERIFY_FAILED}: certificate expired`;
    case "CERT_NOT_YET_VALID":
      return `${VERIFY_FAILED}: certificate not yet valid`;
    case "CERT_REVOKED":
      return `${VERIFY_FAILED}: certificate revoked`;
    case "CERT_SIGNATURE_FAILURE":
      return `${VERIFY_FAILED}: bad signature`;
    case "INVALID_PURPOSE":
    case "CERT_UNTRUSTED":
    case "CERT_REJECTED":
      return `${VERIFY_FAILED}: certificate not usable for a TLS server`;
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
    if (/^UnknownIssuer/.test(peer)) return `${VERIFY_FAILED}: unknown issuer`;
    if (/^(certificate expired|Expired)/.test(peer)) {
      return `${VERIFY_FAILED}: certificate expired`;
    }
    if (/^(certificate not valid yet|NotValidYet)/.test(peer)) {
      return `${VERIFY_FAILED}: certificate not yet valid`;
    }
    const wrongName = /^certificate not valid for name "([^"]*)"/.exec(peer);
    if (wrongName !== null) {
      return `${VERIFY_FAILED}: not valid for name ${JSON.stringify(wrongName[1])}`;
    }
    if (/^NotValidForName/.test(peer)) {
      return `${VERIFY_FAILED}: not valid for name ${JSON.stringify(context.name ?? "")}`;
    }
    if (/^Revoked/.test(peer)) return `${VERIFY_FAILED}: certificate revoked`;
    if (/^BadSignature/.test(peer)) return `${VERIFY_FAILED}: bad signature`;
    if (/^(InvalidPurpose|certificate does not allow extended key usage)/.test(peer)) {
      return `${VERIFY_FAILED}: certificate not usable for a TLS server`;
    }
    return `${VERIFY_FAILED}: ${firstLine(peer)}`;
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
    return `TLS handshake failed: ${firstLine(message).toLowerCase()}`;
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

/** Node network error codes, as the words `describeError` uses for Deno's. */
const NODE_CODES: Readonly<Record<string, string>> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset by peer",
  ECONNABORTED: "connection aborted",
  EPIPE: "broken pipe",
  ETIMEDOUT: "timed out",
  ENOTFOUND: "unknown host",
  EAI_AGAIN: "unknown host",
  EAI_NONAME: "unknown host",
  EHOSTUNREACH: "no route to host",
  ENETUNREACH: "network unreachable",
  EADDRNOTAVAIL: "address not available",
};

/**
 * Describes a connection's error in a few words, whatever made it: Deno's
 * TCP or TLS, or node:tls. For one-line messages like `Cannot connect to
 * HOST:PORT: REASON`.
 */
export function describeConnError(error: unknown, context: TlsFailureContext = {}): string {
  const tls = describeTlsFailure(error, context);
  if (tls !== null) return tls;
  const code = error instanceof Error ? (error as { code?: unknown }).code : undefined;
  if (typeof code === "string" && code in NODE_CODES) return NODE_CODES[code] as string;
  return describeError(error);
}

/** Settles like `promise`, or rejects with the abort reason as soon as
 * `signal` is aborted, after calling `onAbort` to clean up what `promise`
 * will still bring. */
function untilAborted<T>(
  promise: Promise<T>,
  signal: AbortSignal | undefined,
  onAbort: () => void,
): Promise<T> {
  if (signal === undefined) return promise;
  return abortable(promise, signal).catch((error) => {
    if (signal.aborted && error === signal.reason) onAbort();
    throw error;
  });
}

function firstLine(text: string): string {
  return (text.split("\n")[0] ?? "").replace(/\s*\(SSL routines:[^)]*\)/, "").trim();
}
