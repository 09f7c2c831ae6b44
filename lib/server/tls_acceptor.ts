/**
 * TLS for the server: {@linkcode TlsAcceptor} turns each accepted TCP
 * connection into a TLS one, and with a client CA (`--tls-client-ca`) asks
 * the client for a certificate and verifies it (mutual TLS).
 *
 * Deno's own `Deno.listenTls` cannot ask for client certificates, so this
 * runs `node:tls` over the `Deno.TcpConn` the server accepted: the server
 * keeps its own listener (port sharing, backlog, pausing) and checks
 * `--allow`/`--deny` before any handshake work is done. Nothing of node:tls
 * is made before a client's first byte, handshakes in progress are capped
 * (`--max-handshakes`), each has a deadline, and a failed one (a plaintext
 * client, a refused certificate, one past the cap) is reported through
 * {@linkcode SecureConn.handshake} for that connection only. The
 * certificate, key and client CA can be replaced while the server runs
 * ({@linkcode TlsAcceptor.reload}, on SIGHUP): handshakes that start after
 * use the new ones, connections made before keep theirs.
 *
 * @module
 */

import { createServer, type TLSSocket } from "node:tls";
import { Duplex } from "node:stream";
import { closeQuietly, NodeSocketConn, type StreamConn, writeAll } from "../io/mod.ts";
import { describeError } from "../text/mod.ts";
import { formatNotice, startsTlsHandshake } from "../wire/mod.ts";
import {
  type CertificateProblem,
  certificateProblem,
  certificateValidity,
  type KeyPair,
  tlsErrorLine,
  type Validity,
} from "../net/mod.ts";

/** Seconds a client gets to finish its TLS handshake unless told otherwise. */
export const DEFAULT_HANDSHAKE_TIMEOUT = 10;
/**
 * Handshakes in progress at once unless told otherwise. One costs the server
 * about 70 KB (bench/tls_handshake_memory.ts), so these hold some 70 MB at
 * most. That is more handshakes than one thread completes in a second (a few
 * hundred to a thousand), so clients that finish theirs promptly are refused
 * only in a burst the server could not keep up with anyway.
 */
export const DEFAULT_MAX_HANDSHAKES = 1024;
/** Longest a refused client's connection is kept to tell it why. */
const TURN_AWAY_MS = 1000;
/** Bytes of a connection's first read. Until the client sends something,
 * this buffer is all its TLS costs; a ClientHello often fits, and what does
 * not is read next, by node:tls. */
const FIRST_READ_BYTES = 512;
const CLOSED_DURING_HANDSHAKE = "closed during the TLS handshake";
const NOT_A_TLS_CLIENT = "not a TLS client (plaintext on the TLS port?)";
/** What a plaintext client on the TLS port is told, in plaintext. */
const PLAIN_ON_TLS_PORT = new TextEncoder().encode(
  formatNotice("refused", "plain-on-tls-port", "this port speaks TLS, not plain TCP"),
);

/** What the server proves itself with and checks clients against: what
 * the TLS files hold, replaceable while it runs ({@linkcode TlsAcceptor.reload}). */
export interface TlsCredentials {
  /** The server's certificate (chain) and key, PEM. */
  keyPair: KeyPair;
  /** CA certificates (PEM) that client certificates must be signed by; given,
   * every client must present one (mutual TLS).
   * @default {undefined: no client certificate asked for} */
  clientCa?: string;
}

/** Options for {@linkcode TlsAcceptor}. */
export interface TlsAcceptorOptions extends TlsCredentials {
  /** Seconds a client gets to complete the handshake, from its connect.
   * @default {10} */
  handshakeTimeout?: number;
  /** Most handshakes in progress at once, each from the client's first byte
   * to the handshake's end; the client whose first byte would pass it is
   * refused ("too many TLS handshakes in progress") and closed. A client that
   * has sent nothing yet costs little more than a plain connection, and is
   * not counted. 0 for no limit.
   * @default {1024} */
  maxHandshakes?: number;
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
  /** The credentials handshakes start with now; each connection looks here
   * when its handshake starts, so a reload reaches every later one. */
  readonly #credentials: { current: TlsCredentials };
  readonly #slots: HandshakeSlots;

  /** Throws `RangeError` when `maxHandshakes` is not a whole number from 0. */
  constructor(options: TlsAcceptorOptions) {
    const limit = options.maxHandshakes ?? DEFAULT_MAX_HANDSHAKES;
    if (!Number.isSafeInteger(limit) || limit < 0) {
      throw new RangeError(`Invalid maxHandshakes "${limit}": must be an integer from 0`);
    }
    this.#options = options;
    this.#credentials = { current: credentialsOf(options) };
    this.#slots = new HandshakeSlots(limit);
  }

  /** True when clients must present a certificate. */
  get mutual(): boolean {
    return this.#credentials.current.clientCa !== undefined;
  }

  /** Serves `credentials` from now on: every handshake that starts after
   * this call uses them; connections already made, or with their handshake
   * under way, keep what they started with. Checking them first is the
   * caller's (see lib/net/tls_files.ts): node:tls takes any text, and
   * fails only at a handshake. */
  reload(credentials: TlsCredentials): void {
    this.#credentials.current = credentialsOf(credentials);
  }

  /** Handshakes in progress now (see `maxHandshakes`). */
  get handshaking(): number {
    return this.#slots.taken;
  }

  /** Starts a TLS handshake on `conn` (as accepted, or after a PROXY
   * header); the returned connection owns it. */
  upgrade(conn: StreamConn): SecureConn {
    return new ServerTlsConn(conn, this.#options, this.#credentials, this.#slots);
  }
}

/** Only the credentials of `options`, so that nothing else is kept with them. */
function credentialsOf({ keyPair, clientCa }: TlsCredentials): TlsCredentials {
  return clientCa === undefined ? { keyPair } : { keyPair, clientCa };
}

/** The count of handshakes in progress, against its limit (0: none). */
class HandshakeSlots {
  readonly limit: number;
  taken = 0;

  constructor(limit: number) {
    this.limit = limit;
  }

  /** Counts one more handshake; false, counting nothing, at the limit. */
  take(): boolean {
    if (this.limit > 0 && this.taken >= this.limit) return false;
    this.taken++;
    return true;
  }

  release(): void {
    this.taken--;
  }
}

interface Handshaken {
  conn: NodeSocketConn;
  identity: string | null;
}

/**
 * One client's TLS. Nothing of node:tls is made until the client's first
 * bytes arrive: a node:tls server and socket cost some 45 KB however little
 * is sent, and a client that connects and says nothing should cost about
 * what a plain one does. The handshake's deadline runs from the connect.
 */
class ServerTlsConn implements SecureConn {
  readonly remoteAddr: Deno.NetAddr;
  readonly #tcp: StreamConn;
  readonly #options: TlsAcceptorOptions;
  readonly #credentials: { readonly current: TlsCredentials };
  readonly #slots: HandshakeSlots;
  readonly #handshake = Promise.withResolvers<Handshaken>();
  readonly #deadline: ReturnType<typeof setTimeout>;
  /** The stream node:tls runs over, made with the first bytes. */
  #duplex: Duplex | null = null;
  #socket: TLSSocket | null = null;
  /** Set once the handshake has succeeded or failed. */
  #settled = false;
  /** Set while this connection counts as a handshake in progress. */
  #holdsSlot = false;
  #closed = false;
  /** Set while a refused client is told why; it then closes by itself. */
  #turningAway = false;

  constructor(
    tcp: StreamConn,
    options: TlsAcceptorOptions,
    credentials: { readonly current: TlsCredentials },
    slots: HandshakeSlots,
  ) {
    this.remoteAddr = tcp.remoteAddr;
    this.#tcp = tcp;
    this.#options = options;
    this.#credentials = credentials;
    this.#slots = slots;
    // A failure before anyone awaits it is still reported by handshake().
    this.#handshake.promise.catch(() => {});
    const timeout = options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT;
    this.#deadline = setTimeout(
      () => this.#fail(`no TLS handshake within ${timeout} s`),
      timeout * 1000,
    );
    const first = new Uint8Array(FIRST_READ_BYTES);
    tcp.read(first).then(
      (n) => n === null ? this.#fail(CLOSED_DURING_HANDSHAKE) : this.#start(first.subarray(0, n)),
      () => this.#fail(CLOSED_DURING_HANDSHAKE),
    ).catch((error) => {
      // node:tls failing to start: this client's failure, not the server's.
      this.#fail(`TLS handshake failed: ${describeError(error)}`);
    });
  }

  async handshake(): Promise<string | null> {
    return (await this.#handshake.promise).identity;
  }

  async read(buffer: Uint8Array): Promise<number | null> {
    return await (await this.#handshake.promise).conn.read(buffer);
  }

  async write(data: Uint8Array): Promise<number> {
    return await (await this.#handshake.promise).conn.write(data);
  }

  async closeWrite(): Promise<void> {
    await (await this.#handshake.promise).conn.closeWrite();
  }

  close(): void {
    if (this.#closed) throw new Deno.errors.BadResource("Connection already closed");
    this.#closed = true;
    if (this.#turningAway) return;
    this.#socket?.destroy();
    this.#fail(CLOSED_DURING_HANDSHAKE);
    this.#closeTcp();
  }

  /** Runs node:tls over the connection, starting with the client's first
   * bytes, if a handshake may start now. */
  #start(first: Uint8Array): void {
    if (this.#settled) return;
    if (!this.#slots.take()) {
      this.#fail(`too many TLS handshakes in progress (limit ${this.#slots.limit})`);
      return;
    }
    this.#holdsSlot = true;
    if (!startsTlsHandshake(first)) {
      this.#turnAwayPlain();
      return;
    }
    const options = this.#options;
    // Those in use as the handshake starts, reloaded or not.
    const { keyPair, clientCa } = this.#credentials.current;
    const mutual = clientCa !== undefined;
    // One node:tls server per connection: its events then belong to this
    // connection alone. It holds no socket of its own.
    const server = createServer({
      cert: keyPair.cert,
      key: keyPair.key,
      ...(mutual ? { ca: clientCa, requestCert: true } : {}),
      // Checked below, so that a refusal can say why.
      rejectUnauthorized: false,
    });
    const duplex = duplexOver(this.#tcp, first);
    this.#duplex = duplex;
    // Once the handshake is done these do nothing.
    const closed = (): void => this.#fail(CLOSED_DURING_HANDSHAKE);
    duplex.once("end", closed);
    duplex.once("close", closed);
    duplex.on("error", () => {}); // reported through the TLS socket or the close
    server.once("tlsClientError", (error: Error) => {
      const timeout = options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT;
      this.#fail(handshakeFailureText(error, timeout));
    });
    server.once("secureConnection", (socket: TLSSocket) => {
      this.#socket = socket;
      if (this.#settled) {
        // Closed, or past the deadline, meanwhile.
        socket.destroy();
        return;
      }
      if (mutual && !socket.authorized) {
        const refusal = clientCertificateRefusal(socket);
        // The slot is kept until the client is gone (#turnAway).
        this.#turnAway(socket, refusal);
        this.#settle();
        this.#handshake.reject(new TlsHandshakeError(refusal));
        return;
      }
      const conn = new NodeSocketConn(socket, this.remoteAddr, { onClose: () => this.#closeTcp() });
      this.#settle();
      this.#handshake.resolve({ conn, identity: mutual ? clientIdentity(socket) : null });
    });
    server.emit("connection", duplex);
  }

  /** Ends the handshake with `reason` and closes the connection; does
   * nothing once the handshake has ended. */
  #fail(reason: string): void {
    if (this.#settled) return;
    this.#settle();
    this.#handshake.reject(new TlsHandshakeError(reason));
    this.#closeTcp();
  }

  /** Stops the deadline and frees the handshake's slot, except while a
   * refused client is being told why. */
  #settle(): void {
    this.#settled = true;
    clearTimeout(this.#deadline);
    if (!this.#turningAway) this.#releaseSlot();
  }

  #releaseSlot(): void {
    if (!this.#holdsSlot) return;
    this.#holdsSlot = false;
    this.#slots.release();
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
      this.#releaseSlot();
    };
    // Closed when the client has read the line and closed too, or after a
    // while; closing at once could drop the line on its way out.
    const timer = setTimeout(close, TURN_AWAY_MS);
    socket.on("error", close);
    socket.on("end", close);
    socket.on("close", close);
    socket.on("data", () => {}); // what the client sends meanwhile is dropped
    socket.end(formatNotice("refused", "tls", `TLS: ${refusal}`));
  }

  /**
   * Closes a client that sent plaintext, telling it why in plaintext, which
   * it can read (node:tls would close it without a word). Like a refused
   * certificate, it keeps its handshake slot until it is gone, so a flood
   * of such clients is bounded by `maxHandshakes`; what it sends meanwhile
   * is read and dropped, so that the close is not a reset that could
   * destroy the line first.
   */
  #turnAwayPlain(): void {
    this.#turningAway = true;
    this.#settle();
    this.#handshake.reject(new TlsHandshakeError(NOT_A_TLS_CLIENT));
    const tcp = this.#tcp;
    const timer = setTimeout(() => closeQuietly(tcp), TURN_AWAY_MS);
    (async () => {
      await writeAll(tcp, PLAIN_ON_TLS_PORT);
      await tcp.closeWrite();
      const dropped = new Uint8Array(FIRST_READ_BYTES);
      while (await tcp.read(dropped) !== null) { /* not a client: dropped */ }
    })().catch(() => {}).finally(() => {
      clearTimeout(timer);
      closeQuietly(tcp);
      this.#releaseSlot();
    });
  }

  #closeTcp(): void {
    // Destroying the stream closes the connection (see duplexOver), which
    // also ends a read in progress; a second call does nothing.
    if (this.#duplex !== null) this.#duplex.destroy();
    else closeQuietly(this.#tcp);
  }
}

/** What a `tlsClientError` means, in a few words. */
export function handshakeFailureText(error: Error, timeout: number): string {
  const message = error.message;
  if (/handshake timeout/i.test(message)) {
    return `no TLS handshake within ${timeout} s`;
  }
  if (/InvalidContentType|wrong version number|http request|not a tls/i.test(message)) {
    return NOT_A_TLS_CLIENT;
  }
  if (/reset|ECONNRESET|closed|EOF/i.test(message)) return "closed during the TLS handshake";
  const text = tlsErrorLine(message);
  return `TLS handshake failed: ${text === "" ? "unknown error" : text}`;
}

/** Why a client's certificate was not accepted, from what node:tls says. */
function clientCertificateRefusal(socket: TLSSocket): string {
  const peer = socket.getPeerCertificate();
  if (peer === undefined || peer === null || Object.keys(peer).length === 0) {
    return "no client certificate";
  }
  const validity = certificateValidity(peer);
  return `client certificate refused: ${
    verifyErrorText(String(socket.authorizationError), validity)
  }`;
}

/** The one code node:tls in Deno 2.9.6 gives for every client certificate
 * it does not accept. */
const ANY_FAILURE = "UNABLE_TO_VERIFY_LEAF_SIGNATURE";

/** A client certificate's problem, in the server's words. The problems
 * missing here are named by their code's own words, as they always were. */
const PROBLEM_WORDS: Readonly<Partial<Record<CertificateProblem, string>>> = {
  "unknown-issuer": "unknown issuer",
  "expired": "expired",
  "not-yet-valid": "not yet valid",
  "revoked": "revoked",
  "wrong-purpose": "not for client use",
};

/**
 * Why a client certificate failed verification, in a few words, from the
 * OpenSSL-style code node:tls gives and the certificate's own dates.
 *
 * node:tls in Deno 2.9.6 gives one code, `UNABLE_TO_VERIFY_LEAF_SIGNATURE`,
 * for every failure: an unknown issuer, an expired certificate, one made for
 * servers only. For that code the dates, when known, tell an expired (or
 * not yet valid) certificate apart; otherwise the words name what is left
 * rather than guess. Codes that do say the reason are taken at their word.
 *
 * @param code `authorizationError` of the TLS socket
 * @param validity the certificate's dates, if they could be read
 * @param now the time of the check
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { verifyErrorText } from "./tls_acceptor.ts";
 *
 * const in2020 = { validFrom: new Date("2020-01-01"), validTo: new Date("2021-01-01") };
 * assert.equal(verifyErrorText("UNABLE_TO_VERIFY_LEAF_SIGNATURE", in2020), "expired");
 * assert.equal(verifyErrorText("UNABLE_TO_VERIFY_LEAF_SIGNATURE"), "not valid (expired or untrusted)");
 * assert.equal(verifyErrorText("CERT_REVOKED"), "revoked");
 * ```
 */
export function verifyErrorText(code: string, validity?: Validity, now: Date = new Date()): string {
  const anyFailure = code === ANY_FAILURE;
  if (anyFailure && validity === undefined) return "not valid (expired or untrusted)";
  // Only for that code do the dates speak; the others are taken at their word.
  const problem = certificateProblem(code, anyFailure ? validity : undefined, now);
  if (anyFailure && problem === "unknown-issuer") {
    return "untrusted (unknown issuer, or not for client use)";
  }
  return (problem === null ? undefined : PROBLEM_WORDS[problem]) ??
    code.toLowerCase().replaceAll("_", " ");
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

/** First read buffer of the stream under node:tls: small, since a pending
 * read holds its buffer, and the handshake's messages and idle clients'
 * lines are short. */
const TLS_MIN_READ = 1024;
/** How much that buffer grows when a read fills it. */
const TLS_READ_GROWTH = 4;
/** Largest read buffer: one TLS record, the most node:tls can use at once. */
const TLS_MAX_READ = 16384;

/**
 * The accepted TCP connection as the stream node:tls runs over, starting
 * with `first`, the bytes already read from it. Half-open,
 * as TCP is: the end of what the client sends does not end what the server
 * sends back (acknowledgments, echoes), which `Duplex.fromWeb` over the
 * connection's streams does. Reads and writes go straight to the
 * connection, so closing it also ends a read in progress.
 */
function duplexOver(tcp: StreamConn, first: Uint8Array): Duplex {
  let unread: Uint8Array | null = first;
  let size = TLS_MIN_READ;
  return new Duplex({
    allowHalfOpen: true,
    read(): void {
      if (unread !== null) {
        this.push(unread);
        unread = null;
        return;
      }
      // A new buffer for each read: node:tls keeps the chunk pushed.
      const buffer = new Uint8Array(size);
      tcp.read(buffer).then(
        (n) => {
          if (n === size) size = Math.min(size * TLS_READ_GROWTH, TLS_MAX_READ);
          this.push(n === null ? null : buffer.subarray(0, n));
        },
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
