/**
 * Who may become a client, and how a peer that may not is turned away. The
 * server asks {@linkcode Admission} about each accepted connection, before
 * any TLS work: `--allow`/`--deny`, then `--max-clients` and `--max-per-ip`
 * (counted by a {@linkcode ClientLimits}). A refused peer is told why in
 * one notice line and closed; how many refused connections may stay open
 * meanwhile is capped, so a flood of refused connects cannot hold
 * descriptors. Counting the refusals and reporting them is the server's.
 *
 * @module
 */

import { closeQuietly, type StreamConn, writeAll } from "../io/mod.ts";
import { formatNotice } from "../wire/mod.ts";
import { type ClientLimits, LocalLimits } from "./client_limits.ts";
import { type RefusalReason, refusalText } from "./events.ts";
import type { PeerFilter } from "./server_options.ts";

/** How long a peer refused for a limit gets to read the line saying why
 * before its connection is closed. */
const REFUSAL_LINGER_MS = 1000;
/** Refused connections kept open at once for that; beyond, the line is
 * written and the connection closed at once (see
 * {@linkcode Admission.turnAway}). */
const MAX_LINGERING = 64;
/** Where refused peers' bytes are read to and dropped: shared, since no one
 * ever looks at them. */
const DISCARDED = new Uint8Array(1024);

/** Why a connection may not become a client, and the limit it met (0 for
 * `denied`, `tls` and `proxy`). */
export interface Refusal {
  readonly reason: RefusalReason;
  readonly limit: number;
  /** For `tls` and `proxy`, what went wrong in a few words. */
  readonly detail?: string;
}

/** Options for {@linkcode Admission}. */
export interface AdmissionOptions {
  /** Peers that may connect.
   * @default {every peer} */
  accessList?: PeerFilter;
  /** Most connections admitted at once; 0 for no limit.
   * @default {0} */
  maxClients?: number;
  /** Most connections admitted at once from one address; 0 for no limit.
   * @default {0} */
  maxPerIp?: number;
  /** Where the connections admitted are counted against the limits:
   * counts shared with other servers (a pool's Workers), which then hold
   * the limits, `maxClients` and `maxPerIp` unused.
   * @default {this server's own counts, for maxClients and maxPerIp} */
  limits?: ClientLimits;
  /** Whether connections are TLS, so that a line to a refused peer would
   * first take a handshake.
   * @default {false} */
  tls?: boolean;
}

/** The admission decisions of one server, and the connections it has
 * admitted and not yet released. */
export class Admission {
  readonly #accessList: PeerFilter | null;
  readonly #limits: ClientLimits;
  readonly #tls: boolean;
  #lingering = 0;

  constructor(options: AdmissionOptions = {}) {
    this.#accessList = options.accessList ?? null;
    this.#limits = options.limits ??
      new LocalLimits(options.maxClients ?? 0, options.maxPerIp ?? 0);
    this.#tls = options.tls ?? false;
  }

  /**
   * Why a new connection may not become a client, or null when it may, and
   * it is then counted against the limits until {@linkcode Admission.release}:
   * from its accept, so that a flood of handshakes is bounded by them too.
   *
   * @param peer the address as accepted, which the access list judges
   * @param address the address as shown (IPv4-mapped IPv6 as IPv4), which
   * the per-address limit counts
   */
  admit(peer: string, address: string): Refusal | null {
    if (this.#accessList !== null && !this.#accessList.permits(peer)) {
      return { reason: "denied", limit: 0 };
    }
    return this.#limits.admit(address);
  }

  /** An admitted connection from `address` has ended. */
  release(address: string): void {
    this.#limits.release(address);
  }

  /**
   * Tells a refused peer why, in one notice line (see `server_notice.ts`),
   * which `linehub-client` recognises and a person with `nc` can read, and
   * closes its connection. One refused for a limit gets the line, then a
   * half-close, and what it sent meanwhile is read and dropped, so that
   * closing does not reset the connection and destroy that line before the
   * peer reads it.
   *
   * At most {@linkcode MAX_LINGERING} refused connections linger so at once.
   * Beyond, a plain TCP peer still gets the line, written before an
   * immediate close: it reads it unless it had already sent data, which makes
   * the close a reset that may destroy the line first. A TLS peer beyond the
   * cap is closed with no line, since the line would have to wait for its
   * handshake. A denied peer gets the line the same way, never lingering,
   * and on a TLS port nothing: telling it would take the handshake that
   * denying spares.
   *
   * A peer refused for its PROXY header (`conn` is then the TCP connection,
   * before any TLS) lingers as one refused for a limit does, since it may
   * well have sent more than was read; on a TLS port it is told nothing,
   * since what it expects there is TLS.
   */
  turnAway(conn: StreamConn, address: string, refusal: Refusal): void {
    const denied = refusal.reason === "denied";
    const forNow = refusal.reason === "full" || refusal.reason === "per-ip";
    const text = refusalText({ ...refusal, address }) + (forNow ? "; try again later" : "");
    const line = new TextEncoder().encode(formatNotice("refused", refusal.reason, text));
    if (refusal.reason === "proxy" && this.#tls) {
      closeQuietly(conn);
      return;
    }
    if (denied || this.#lingering >= MAX_LINGERING) {
      if (this.#tls) closeQuietly(conn);
      // A line this short fits the socket's send buffer: one write, no wait.
      else conn.write(line).catch(() => {}).finally(() => closeQuietly(conn));
      return;
    }
    this.#lingering++;
    const timer = setTimeout(() => closeQuietly(conn), REFUSAL_LINGER_MS);
    (async () => {
      await writeAll(conn, line);
      await conn.closeWrite();
      while (await conn.read(DISCARDED) !== null) { /* dropped: this peer is not a client */ }
    })().catch(() => {}).finally(() => {
      clearTimeout(timer);
      closeQuietly(conn);
      this.#lingering--;
    });
  }
}
