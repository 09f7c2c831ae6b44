/**
 * The server's side of the PROXY protocol (`--proxy-protocol`). A load
 * balancer in TCP mode (HAProxy's `send-proxy` and `send-proxy-v2`, an AWS
 * NLB, nginx's `proxy_protocol`) starts every connection it relays with a
 * header naming the client it relays; {@linkcode ProxyIntake} reads that
 * header from the connection's first bytes (`parseProxyHeader`, lib/wire)
 * and says what the connection is: a client, at the address the header
 * gives; the balancer's own health check (v2 `LOCAL`), which is no client;
 * or a peer to refuse, and why. It also says which peers may send a header
 * at all (`--proxy-from`).
 *
 * What a peer can make it hold is bounded: the header's bytes by the
 * parser's caps (107 bytes for v1, `maxV2Length` for v2), and the time by
 * one timer per connection, cleared however the read ends. Bytes that came
 * after the header in the same read are the client's (its first lines, or
 * its TLS ClientHello): they are handed on with the connection, which
 * gives them back first (`PrefixedConn`).
 *
 * @module
 */

import { PrefixedConn, type StreamConn } from "../io/mod.ts";
import { AccessList, unmapIPv4 } from "../net/mod.ts";
import { describeError } from "../text/mod.ts";
import { DEFAULT_MAX_PROXY_V2_LENGTH, MAX_PROXY_V1_LENGTH, parseProxyHeader } from "../wire/mod.ts";
import { DEFAULT_PROXY_HEADER_TIMEOUT, type ProxyProtocolOptions } from "./server_options.ts";

/** First read buffer for a header: a v1 header always fits, and so does
 * the v2 header of a balancer that sends no large TLVs. */
const FIRST_READ_BYTES = 256;
/** How much the buffer grows when a v2 header needs more, up to its cap. */
const READ_GROWTH = 4;

/** What a connection's header makes of it. */
export type ProxyIntakeResult =
  /** A client. `conn` gives back first what followed the header; `peer` is
   * the client's address as the header gives it (what the access list
   * judges), or the connection's own when the header names no IP address. */
  | {
    readonly kind: "client";
    readonly conn: StreamConn;
    readonly peer: string;
    readonly port: number;
  }
  /** A v2 `LOCAL` header: the balancer's own connection (a health check). */
  | { readonly kind: "local" }
  /** Not a client: `detail` says why, in a few words. */
  | { readonly kind: "refused"; readonly detail: string };

/** Reads the PROXY protocol headers of one server's connections. */
export class ProxyIntake {
  /** The peers that may send a header; null for any peer. */
  readonly #from: AccessList | null;
  readonly #timeout: number;
  readonly #maxV2Length: number;
  /** Most bytes a header can take, v1 or v2. */
  readonly #cap: number;

  /** @throws {RangeError} when `headerTimeout` is not a number of seconds
   * above 0, or `maxV2Length` is out of its range */
  constructor(options: ProxyProtocolOptions) {
    const from = options.from ?? [];
    this.#from = from.length > 0 ? new AccessList(from, []) : null;
    this.#timeout = options.headerTimeout ?? DEFAULT_PROXY_HEADER_TIMEOUT;
    if (!Number.isFinite(this.#timeout) || this.#timeout <= 0) {
      throw new RangeError(
        `Invalid proxy headerTimeout "${this.#timeout}": must be a number of seconds > 0`,
      );
    }
    this.#maxV2Length = options.maxV2Length ?? DEFAULT_MAX_PROXY_V2_LENGTH;
    // The parser checks its cap before it looks at any byte.
    parseProxyHeader(new Uint8Array(0), { maxV2Length: this.#maxV2Length });
    this.#cap = Math.max(MAX_PROXY_V1_LENGTH, this.#maxV2Length);
  }

  /** Why a peer (its address as accepted) may not send a header, or null
   * when it may. */
  untrusted(peer: string): string | null {
    if (this.#from === null || this.#from.permits(peer)) return null;
    return `${unmapIPv4(peer)} is not in --proxy-from`;
  }

  /**
   * Reads the header at the start of `conn`. Never rejects. The connection
   * is the caller's to close (a refused one is told why first). A caller
   * that closes it while the header is awaited, once `stopped` has aborted
   * (the server's drain deadline), gets it refused as cut off by the
   * shutdown. `stopped` is only looked at, never listened to: Deno's
   * EventTarget adds and removes a listener in time proportional to those
   * it holds, so one listener for each connection awaiting its header made
   * a burst quadratic (22,000 connections from 200 at a time: 9.7 s, and
   * 5,172 refused for a header "late" only because the server was; without
   * the listeners, 2.0 s and none, as without `--proxy-protocol`).
   */
  async read(conn: StreamConn, stopped: AbortSignal): Promise<ProxyIntakeResult> {
    if (stopped.aborted) return refused(SHUT_DOWN);
    let buffer = new Uint8Array(FIRST_READ_BYTES);
    let filled = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<"expired">((resolve) => {
      timer = setTimeout(() => resolve("expired"), this.#timeout * 1000);
    });
    try {
      while (true) {
        if (filled === buffer.length) {
          // The parser says "incomplete" only below its caps, so this is
          // never reached; it keeps the loop from reading into no room.
          if (filled >= this.#cap) return refused(`PROXY header over ${this.#cap} bytes`);
          const grown = new Uint8Array(Math.min(buffer.length * READ_GROWTH, this.#cap));
          grown.set(buffer);
          buffer = grown;
        }
        const reading = conn.read(buffer.subarray(filled));
        // Left unread past the deadline: the refusal's close settles it.
        reading.catch(() => {});
        let n: number | null | "expired";
        try {
          n = await Promise.race([reading, expired]);
        } catch (error) {
          if (stopped.aborted) return refused(SHUT_DOWN);
          const when = filled === 0 ? BEFORE : DURING;
          return refused(
            error instanceof Deno.errors.ConnectionReset
              ? `reset ${when}`
              : `failed ${when}: ${describeError(error)}`,
          );
        }
        if (n === "expired") {
          return refused(
            filled === 0
              ? `no PROXY header within ${this.#timeout} s`
              : `PROXY header incomplete after ${this.#timeout} s (${filled} bytes)`,
          );
        }
        if (n === null) return refused(`closed ${filled === 0 ? BEFORE : DURING}`);
        // A read that completed as the deadline closed the connection.
        if (stopped.aborted) return refused(SHUT_DOWN);
        filled += n;
        const parse = parseProxyHeader(buffer.subarray(0, filled), {
          maxV2Length: this.#maxV2Length,
        });
        if (parse.status === "incomplete") continue;
        if (parse.status === "invalid") return refused(lowerFirst(parse.reason));
        const { header, length } = parse;
        if (header.command === "local") return { kind: "local" };
        // Copied, so that the header's buffer is not kept with it.
        const rest = buffer.slice(length, filled);
        const client = rest.length === 0 ? conn : new PrefixedConn(conn, rest);
        if (header.family === "tcp4" || header.family === "tcp6") {
          return {
            kind: "client",
            conn: client,
            peer: header.source.address,
            port: header.source.port ?? 0,
          };
        }
        // v1 UNKNOWN; v2 with no address family, UDP, or unix sockets: no IP
        // address to go by, and the spec has the receiver use the
        // connection's own.
        return {
          kind: "client",
          conn: client,
          peer: conn.remoteAddr.hostname,
          port: conn.remoteAddr.port,
        };
      }
    } finally {
      clearTimeout(timer);
    }
  }
}

const SHUT_DOWN = "the server shut down before the PROXY header";
const BEFORE = "before sending a PROXY header";
const DURING = "in the middle of its PROXY header";

function refused(detail: string): ProxyIntakeResult {
  return { kind: "refused", detail };
}

/** The parser's reasons are sentences; in an event they follow a colon. */
function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}
