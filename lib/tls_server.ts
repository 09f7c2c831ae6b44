/**
 * TLS for the server: {@linkcode TlsAcceptor} turns each accepted TCP
 * connection into a TLS one, and with a client CA (`--tls-client-ca`) asks
 * the client for a certificate and verifies it (mutual TLS).
 *
 * Deno's own `Deno.listenTls` cannot ask for client certificates, so this
 * runs `node:tls` over the `Deno.TcpConn` the server accepted: the server
 * keeps its own listener (port sharing, backlog, pausing) and checks
 * `--allow`/`--deny` before any handshake work is done. Each handshake has a
 * deadline, and a failed one (a plaintext client, a refused certificate) is
 * reported through {@linkcode SecureConn.handshake} for that connection only.
 *
 * @module
 */

import { createServer, type TLSSocket } from "node:tls";
import { Duplex } from "node:stream";
import { writeAll } from "./batch_writer.ts";
import { closeQuietly } from "./close_quietly.ts";
import { NodeSocketConn } from "./node_socket_conn.ts";
import type { StreamConn } from "./stream_conn.ts";
import type { KeyPair } from "./tls_files.ts";

/** Seconds a client gets to finish its TLS handshake unless told otherwise. */
export const DEFAULT_HANDSHAKE_TIMEOUT = 10;
/** Longest a refused client's connection is kept to tell it why. */
const TURN_AWAY_MS = 1000;

/** Options for {@linkcode TlsAcceptor}. */
export interface TlsAcceptorOptions {
  /** The server's certificate (chain) and key, PEM. */
  keyPair: KeyPair;
  /** CA certificates (PEM) that client certificates must be signed by; given,
   * every client must present one (mutual TLS).
   * @default {undefined: no client certificate asked for} */
  clientCa?: string;
  /** Seconds a client gets to complete the handshake.
   * @default {10} */
  handshakeTimeout?: number;
}

/** Why a TLS handshake failed, in words for the server's refusal event. */
export class TlsHandshakeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TlsHandshakeError";
  }
}

/** A connection whose reads and writes go through TLS once
 * {@linkcode SecureConn.handshake} has succeeded. */
export interface SecureConn extends StreamConn {
  /**
   * Completes the handshake. Resolves with the verified client identity
   * (certificate subject CN, else its first subject alternative name) with
   * mutual TLS, null without; rejects with {@linkcode TlsHandshakeError}.
   */
  handshake(): Promise<string | null>;
}

/** Makes server-side TLS connections from accepted TCP ones. */
export class TlsAcceptor {
  readonly #options: TlsAcceptorOptions;

  constructor(options: TlsAcceptorOptions) {
    this.#options = options;
  }

  /** True when clients must present a certificate. */
  get mutual(): boolean {
    return this.#options.clientCa !== undefined;
  }

  /** Starts a TLS handshake on `conn`; the returned connection owns it. */
  upgrade(conn: Deno.TcpConn): SecureConn {
    return new ServerTlsConn(conn, this.#options);
  }
}

class ServerTlsConn implements SecureConn {
  readonly remoteAddr: Deno.NetAddr;
  readonly #duplex: Duplex;
  readonly #handshake: Promise<{ conn: NodeSocketConn; identity: string | null }>;
  #socket: TLSSocket | null = null;
  #closed = false;
  /** Set while a refused client is told why; it then closes by itself. */
  #turningAway = false;

  constructor(tcp: Deno.TcpConn, options: TlsAcceptorOptions) {
    this.remoteAddr = tcp.remoteAddr;
    const timeout = options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT;
    const mutual = options.clientCa !== undefined;
    // One node:tls server per connection: its events then belong to this
    // connection alone. It holds no socket of its own and costs well under
    // a millisecond.
    const server = createServer({
      cert: options.keyPair.cert,
      key: options.keyPair.key,
      ...(mutual ? { ca: options.clientCa, requestCert: true } : {}),
      // Checked below, so that a refusal can say why.
      rejectUnauthorized: false,
      handshakeTimeout: timeout * 1000,
    });
    const duplex = duplexOver(tcp);
    this.#duplex = duplex;
    const { promise, resolve, reject } = Promise.withResolvers<
      { conn: NodeSocketConn; identity: string | null }
    >();
    this.#handshake = promise;
    // A failure before anyone awaits it is still reported by handshake().
    promise.catch(() => {});
    // Once the handshake is done these settle nothing.
    const closed = (): void => reject(new TlsHandshakeError("closed during the TLS handshake"));
    duplex.once("end", closed);
    duplex.once("close", closed);
    duplex.on("error", () => {}); // reported through the TLS socket or the close
    server.once("tlsClientError", (error: Error) => {
      reject(new TlsHandshakeError(handshakeFailureText(error, timeout)));
      this.#closeTcp();
    });
    server.once("secureConnection", (socket: TLSSocket) => {
      this.#socket = socket;
      if (this.#closed) {
        socket.destroy();
        reject(new TlsHandshakeError("closed during the TLS handshake"));
        return;
      }
      if (mutual && !socket.authorized) {
        const refusal = clientCertificateRefusal(socket);
        reject(new TlsHandshakeError(refusal));
        this.#turnAway(socket, refusal);
        return;
      }
      const conn = new NodeSocketConn(socket, this.remoteAddr, { onClose: () => this.#closeTcp() });
      resolve({ conn, identity: mutual ? clientIdentity(socket) : null });
    });
    server.emit("connection", duplex);
  }

  async handshake(): Promise<string | null> {
    return (await this.#handshake).identity;
  }

  async read(buffer: Uint8Array): Promise<number | null> {
    return await (await this.#handshake).conn.read(buffer);
  }

  async write(data: Uint8Array): Promise<number> {
    return await (await this.#handshake).conn.write(data);
  }

  async closeWrite(): Promise<void> {
    await (await this.#handshake).conn.closeWrite();
  }

  close(): void {
    if (this.#closed) throw new Deno.errors.BadResource("Connection already closed");
    this.#closed = true;
    if (this.#turningAway) return;
    this.#socket?.destroy();
    this.#closeTcp();
  }

  /**
   * Closes a client whose certificate was refused, telling it why in one
   * line first: with TLS 1.3 its side of the handshake has already
   * succeeded, and node:tls here sends no alert, so without the line a
   * client would see only a close.
   */
  #turnAway(socket: TLSSocket, refusal: string): void {
    this.#turningAway = true;
    let done = false;
    const close = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      this.#closeTcp();
    };
    // Closed when the client has read the line and closed too, or after a
    // while; closing at once could drop the line on its way out.
    const timer = setTimeout(close, TURN_AWAY_MS);
    socket.on("error", close);
    socket.on("end", close);
    socket.on("close", close);
    socket.on("data", () => {}); // what the client sends meanwhile is dropped
    socket.end(`linehub-server: TLS: ${refusal}\n`);
  }

  #closeTcp(): void {
    // Destroying the stream closes the connection (see duplexOver), which
    // also ends a read in progress; a second call does nothing.
    this.#duplex.destroy();
  }
}

/** What a `tlsClientError` means, in a few words. */
export function handshakeFailureText(error: Error, timeout: number): string {
  const message = error.message;
  if (/handshake timeout/i.test(message)) {
    return `no TLS handshake within ${timeout} s`;
  }
  if (/InvalidContentType|wrong version number|http request|not a tls/i.test(message)) {
    return "not a TLS client (plaintext on the TLS port?)";
  }
  if (/reset|ECONNRESET|closed|EOF/i.test(message)) return "closed during the TLS handshake";
  const text = message.split("\n")[0]?.replace(/\s*\(SSL routines:[^)]*\)/, "").trim() ?? "";
  return `TLS handshake failed: ${text === "" ? "unknown error" : text}`;
}

/** Why a client's certificate was not accepted, from what node:tls says. */
function clientCertificateRefusal(socket: TLSSocket): string {
  const peer = socket.getPeerCertificate();
  if (peer === undefined || peer === null || Object.keys(peer).length === 0) {
    return "no client certificate";
  }
  return `client certificate refused: ${verifyErrorText(String(socket.authorizationError))}`;
}

/** OpenSSL-style verification codes, as words. */
export function verifyErrorText(code: string): string {
  switch (code) {
    case "UNABLE_TO_GET_ISSUER_CERT":
    case "UNABLE_TO_GET_ISSUER_CERT_LOCALLY":
    case "UNABLE_TO_VERIFY_LEAF_SIGNATURE":
    case "SELF_SIGNED_CERT_IN_CHAIN":
    case "DEPTH_ZERO_SELF_SIGNED_CERT":
      return "unknown issuer";
    case "CERT_HAS_EXPIRED":
      return "certificate expired";
    case "CERT_NOT_YET_VALID":
      return "certificate not yet valid";
    case "CERT_REVOKED":
      return "certificate revoked";
    default:
      return code.toLowerCase().replaceAll("_", " ");
  }
}

/** The verified client's name: subject CN, else the first subject
 * alternative name (`DNS:`, `email:` and such prefixes dropped). */
function clientIdentity(socket: TLSSocket): string {
  const peer = socket.getPeerCertificate();
  const cn = peer?.subject?.CN;
  const commonName = Array.isArray(cn) ? cn[0] : cn;
  if (typeof commonName === "string" && commonName !== "") return commonName;
  const san = peer?.subjectaltname?.split(",")[0]?.trim() ?? "";
  const name = san.replace(/^[A-Za-z ]+:/, "");
  return name === "" ? "unnamed certificate" : name;
}

/** Bytes a TLS connection reads from its socket at a time. */
const TLS_READ_BUFFER = 16384;

/**
 * The accepted TCP connection as the stream node:tls runs over. Half-open,
 * as TCP is: the end of what the client sends does not end what the server
 * sends back (acknowledgments, echoes), which `Duplex.fromWeb` over the
 * connection's streams does. Reads and writes go straight to the
 * connection, so closing it also ends a read in progress.
 */
function duplexOver(tcp: Deno.TcpConn): Duplex {
  return new Duplex({
    allowHalfOpen: true,
    read(): void {
      const buffer = new Uint8Array(TLS_READ_BUFFER);
      tcp.read(buffer).then(
        (n) => this.push(n === null ? null : buffer.subarray(0, n)),
        (error) => this.destroy(error),
      );
    },
    write(chunk: Uint8Array, _encoding, callback): void {
      writeAll(tcp, chunk).then(() => callback(), callback);
    },
    final(callback): void {
      tcp.closeWrite().then(() => callback(), () => callback());
    },
    destroy(error, callback): void {
      closeQuietly(tcp);
      callback(error);
    },
  });
}
