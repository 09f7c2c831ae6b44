/**
 * What a linehub server is built from: {@linkcode ServerOptions}, which
 * every server takes, one `LineServer` or each Worker of a `WorkerPool`
 * alike; {@linkcode LineServerOptions}, which only a server in one thread
 * can take; and their defaults as named constants, which the server and the
 * command line's flags both use, so that each default is written once.
 *
 * Every time in these options is in seconds, as the flags give it (a
 * fraction for less than one: `0.5`), and named without a unit, like TLS's
 * `handshakeTimeout`; constants in milliseconds say so with `_MS`.
 *
 * @module
 */

import type { LabelStyle, LineSampler, OutputFormat } from "../format/mod.ts";
import type { FramingChoice } from "../wire/mod.ts";
import type { StreamConn } from "../io/mod.ts";
import type { Cidr } from "../net/mod.ts";
import type { ClientObserver } from "./client_handle.ts";
import type { ClientLimits } from "./client_limits.ts";

/** Where a server listens unless told otherwise: every IPv4 address. */
export const DEFAULT_HOST = "0.0.0.0";
/** The output format unless told otherwise. */
export const DEFAULT_FORMAT: OutputFormat = "text";
/** Seconds connected clients get to finish once a shutdown starts. */
export const DEFAULT_DRAIN_TIMEOUT = 5;
/** Seconds a client may stay silent: 0, for ever. */
export const DEFAULT_IDLE_TIMEOUT = 0;
/** Seconds a line may stay unfinished: 0, for ever. */
export const DEFAULT_LINE_TIMEOUT = 0;
/** Listen queue length unless told otherwise: room for a burst of connects. */
export const DEFAULT_BACKLOG = 4096;
/** Seconds a PROXY protocol header gets to arrive whole, from the accept:
 * the least the protocol's specification recommends ("at least 3 seconds to
 * cover a TCP retransmit"), since a balancer sends it at once. */
export const DEFAULT_PROXY_HEADER_TIMEOUT = 3;

/** Options for any linehub server; each Worker of a pool takes the same. */
export interface ServerOptions {
  /** Address to listen on; `::` listens on IPv6 and, where the OS allows, IPv4.
   * @default {DEFAULT_HOST: "0.0.0.0"} */
  host?: string;
  /** TCP port; 0 picks a free one (which `listen` returns).
   * @default {DEFAULT_PORT (lib/net/address.ts): 8888} */
  port?: number;
  /** Output format for messages (and, for `json`, events).
   * @default {DEFAULT_FORMAT: "text"} */
  format?: OutputFormat;
  /** The run's id, in every JSON record (`"run"`): several servers that
   * share one output (Workers) share one run.
   * @default {a new random id (lib/net/random_id.ts)} */
  run?: string;
  /** This server's node name (`node_name.ts`), in every JSON record
   * (`"node"`): client numbers are unique only within a server, so servers
   * that feed one pipeline each need their own. Workers share their pool's.
   * The command line always gives one, by default the host name.
   * @default {none: records carry no "node"} */
  node?: string;
  /** What a `text` line's label names: the client's number, its address,
   * or both.
   * @default {DEFAULT_LABEL (lib/format): "number"} */
  label?: LabelStyle;
  /** Start each `text` label, and name each client in the text events, with
   * the node name and a slash (`[web-3/client 12]`); nothing without `node`.
   * @default {false} */
  labelNode?: boolean;
  /** Start each `text` line with the time it was read (RFC 3339, UTC).
   * @default {false} */
  timestamp?: boolean;
  /** Longest line in bytes; longer lines are cut and flagged.
   * @default {DEFAULT_MAX_LINE (lib/wire): 65536} */
  maxLine?: number;
  /** How each client's stream is cut into messages: `lf`, lines ending in
   * `\n`; `octet`, RFC 6587 octet counting (`LEN SP MSG`, as rsyslog and
   * syslog-ng send), each message capped at `maxLine` like a line; `auto`,
   * either, as each connection's first byte says (lib/wire/framer_for.ts).
   * An octet-counted stream whose header breaks the framing is read as
   * lines from there on, and a `framing-error` event says so.
   * @default {DEFAULT_FRAMING (lib/wire): "lf"} */
  framing?: FramingChoice;
  /** Seconds that connected clients get to finish after a shutdown starts.
   * @default {DEFAULT_DRAIN_TIMEOUT: 5} */
  drainTimeout?: number;
  /** Seconds a connection may stay silent before it is closed; 0 for never.
   * Each connection is judged on its own, by the time of its last read.
   * @default {DEFAULT_IDLE_TIMEOUT: 0} */
  idleTimeout?: number;
  /** Seconds a line may take from its first byte to its newline before the
   * connection is closed (`line-timeout`; what came of the line is written,
   * flagged partial); 0 for no limit. Against peers that keep a connection
   * busy a byte at a time, which `idleTimeout` never catches.
   * @default {DEFAULT_LINE_TIMEOUT: 0} */
  lineTimeout?: number;
  /** Listen queue length, for bursts of connects; the kernel caps it (on
   * Linux at net.core.somaxconn). A full queue makes connecting clients wait
   * a second or more for a retry.
   * @default {DEFAULT_BACKLOG: 4096} */
  backlog?: number;
  /** Acknowledge lines to their sender once the output has written them
   * (see `ack_protocol.ts`); off, the server sends clients nothing.
   * @default {false} */
  ack?: boolean;
  /** Most bytes waiting to be sent to one client; a client whose queue would
   * pass it is disconnected (`send-queue-full`).
   * @default {DEFAULT_SEND_QUEUE_BYTES (lib/io): 1048576} */
  sendQueue?: number;
  /** Every connection starts with a PROXY protocol header (v1 or v2) from a
   * load balancer, and the client it names replaces the balancer as the
   * peer: in events and records, for the access list and the per-address
   * limit. Given, a connection without a valid header is refused (`proxy`).
   * @default {undefined: no header expected; the peer is who connected} */
  proxy?: ProxyProtocolOptions;
  /** Read each client at most this fast (`--rate-limit`): a client past its
   * rate is not read until it has earned more, so TCP holds it back and none
   * of its lines is dropped; the others are read as ever.
   * @default {none: every client is read as fast as it sends} */
  rateLimit?: RateLimit;
}

/** How a server reads the PROXY protocol header of its connections. Plain
 * data, so that a pool's Workers get it as it is. */
export interface ProxyProtocolOptions {
  /** The balancers: peers that may send a header. A connection from anyone
   * else is refused before a byte of it is read. Empty: any peer, which can
   * then claim to relay any address.
   * @default {[]: any peer} */
  readonly from?: readonly Cidr[];
  /** Seconds from the accept for the header to arrive whole; then the
   * connection is refused.
   * @default {DEFAULT_PROXY_HEADER_TIMEOUT: 3} */
  readonly headerTimeout?: number;
  /** Longest v2 header taken, in bytes (see `proxy_header.ts`): 232 to 65551.
   * @default {DEFAULT_MAX_PROXY_V2_LENGTH (lib/wire): 4096} */
  readonly maxV2Length?: number;
}

/** A per-client rate limit in lines (`--rate-limit LINES/s:BURST`). */
export interface RateLimit {
  /** Lines a second, a whole number from 1. */
  readonly lines: number;
  /** Lines a client that has been quiet may send at once, a whole number
   * from 1.
   * @default {lines: one second's worth} */
  readonly burst?: number;
}

/** Most clients at once unless told otherwise: 0, no limit. */
export const DEFAULT_MAX_CLIENTS = 0;
/** Most clients at once from one address unless told otherwise: 0, no limit. */
export const DEFAULT_MAX_PER_IP = 0;

/** Decides which peers may connect (see `access_list.ts`). */
export interface PeerFilter {
  permits(address: string): boolean;
}

/** Turns an accepted TCP connection into a TLS one (see `tls_acceptor.ts`):
 * the connection as accepted, or what is left of it after a PROXY header. */
export interface ConnUpgrader {
  upgrade(conn: StreamConn): StreamConn & {
    /** Resolves with the client's certificate identity (mutual TLS) or
     * null; rejects, with a message saying why, when the handshake fails. */
    handshake(): Promise<string | null>;
  };
}

/** Options for a `LineServer`: those of any server, and those that only a
 * server in one thread can have (objects with methods, limits counted over
 * all its clients). */
export interface LineServerOptions extends ServerOptions {
  /** Share the port with other listeners that set it too (Linux `SO_REUSEPORT`;
   * needs `--unstable-net`), so several Workers can each accept on it.
   * @default {false} */
  reusePort?: boolean;
  /** Peers that may connect; others are closed at once and logged.
   * @default {every peer} */
  accessList?: PeerFilter;
  /** Most clients connected at once; the next gets one line saying the
   * server is full and is closed. 0 for no limit.
   * @default {DEFAULT_MAX_CLIENTS: 0} */
  maxClients?: number;
  /** Most clients connected at once from one address; 0 for no limit.
   * @default {DEFAULT_MAX_PER_IP: 0} */
  maxPerIp?: number;
  /** Hands out client numbers; several servers sharing one keep numbers unique.
   * @default {a counter from 0, private to this server} */
  nextClientId?: () => number;
  /** Counts clients against the limits; several servers sharing one (a
   * pool's Workers) hold `--max-clients` and `--max-per-ip` together, and
   * `maxClients` and `maxPerIp` then only say what the counts were made for.
   * @default {counts private to this server, for maxClients and maxPerIp} */
  limits?: ClientLimits;
  /** Serve TLS: each accepted connection is upgraded, after the
   * `accessList` check; a failed handshake is a `tls` refusal.
   * @default {plain TCP} */
  tls?: ConnUpgrader;
  /** Told of every client's join, lines and leave, with a handle to send to
   * the client or close it (the modes of `--mode`, the operator console).
   * @default {none: the server sends clients nothing but acknowledgments} */
  observer?: ClientObserver;
  /** Shown the lines of the reads it asks for (the live page's tail, see
   * `LineSampler` in lib/format); the other reads keep the fast path.
   * @default {none} */
  sampler?: LineSampler;
}
