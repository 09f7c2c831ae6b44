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
 * The words for a failed handshake are lib/net's ({@linkcode describeTlsFailure}).
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
} from "node:tls";
import { abortable, closeQuietly, NodeSocketConn, type StreamConn } from "../io/mod.ts";
import {
  certificateValidity,
  describeConnError,
  describeTlsFailure,
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
      const validity = certificateValidity(socket.getPeerCertificate());
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
