/**
 * What a server has done since it started, as counts: {@linkcode ServerStats},
 * the totals of a server that has served nobody, their sum over a pool's
 * Workers, and the words the shutdown summary and the console's `/stats`
 * put them in. A single server and a pool report the same totals, so these
 * live with the server, not with either command.
 *
 * @module
 */

import { countOf } from "../text/mod.ts";
import type { DisconnectReason } from "./events.ts";

/** Clients disconnected so far, by the reason of their disconnect event. */
export type DisconnectCounts = Record<DisconnectReason, number>;

/** Totals since the server started. Every field is a count (`throttledMs`
 * of milliseconds), or (for `disconnects`) counts by reason. */
export interface ServerStats {
  /** Clients accepted. */
  clients: number;
  /** Clients connected now. */
  connected: number;
  /** Lines written to the output. */
  lines: number;
  /** Bytes received from clients. */
  bytes: number;
  /** Lines cut at the line limit. */
  truncated: number;
  /** Last lines without a newline, written when their connection ended. */
  partial: number;
  /** Clients still connected when the drain timeout ran out. */
  cutOff: number;
  /** Bytes received from those clients (all of it written out). */
  cutOffBytes: number;
  /** Connections refused by `--allow`/`--deny`. */
  refusedDenied: number;
  /** Connections refused at `--max-clients`. */
  refusedFull: number;
  /** Connections refused at `--max-per-ip`. */
  refusedPerIp: number;
  /** Connections whose TLS handshake failed (with mutual TLS: whose client
   * certificate was missing or refused). */
  refusedTls: number;
  /** Connections without a valid PROXY header, or from a peer not allowed
   * to send one (`--proxy-protocol`). */
  refusedProxy: number;
  /** Clients disconnected because their send queue was full (not reading). */
  dropped: number;
  /** Clients closed by the operator (`/kick`). */
  kicked: number;
  /** Connections that failed before they could be accepted (reset or
   * aborted in the listen queue); not clients, not refusals. */
  abortedBeforeAccept: number;
  /** Clients disconnected, by reason: one count per disconnect event. */
  disconnects: DisconnectCounts;
  /** Clients held back at least once for being over `--rate-limit`. */
  throttled: number;
  /** Milliseconds clients were held back, added up over all of them. */
  throttledMs: number;
  /** Octet-counted streams that broke their framing (`--framing octet` or
   * `auto`): each break is reported once, and the stream is read on as
   * lines ending in LF. */
  framingErrors: number;
}

/** One connected client as a view of the server shows it: plain data, so
 * a pool's Worker can send it. What the peer controls (`identity`, `name`,
 * `address` once a proxy may name it) is as received: escape it to show it. */
export interface ClientStats {
  /** Its number. */
  readonly id: number;
  readonly address: string;
  readonly port: number;
  /** The name on its client certificate (mutual TLS). */
  readonly identity?: string;
  /** The name it gave itself (`linehub-client --name`). */
  readonly name?: string;
  /** When it connected, in ms since the epoch. */
  readonly connectedAt: number;
  /** Lines received from it so far. */
  readonly lines: number;
  /** Bytes received from it so far. */
  readonly bytes: number;
}

/** The totals of a server that has served nobody: a new object each time,
 * for its owner to count up. */
export function emptyStats(): ServerStats {
  return {
    clients: 0,
    connected: 0,
    lines: 0,
    bytes: 0,
    truncated: 0,
    partial: 0,
    cutOff: 0,
    cutOffBytes: 0,
    refusedDenied: 0,
    refusedFull: 0,
    refusedPerIp: 0,
    refusedTls: 0,
    refusedProxy: 0,
    dropped: 0,
    kicked: 0,
    abortedBeforeAccept: 0,
    throttled: 0,
    throttledMs: 0,
    framingErrors: 0,
    disconnects: {
      "eof": 0,
      "reset": 0,
      "drain-timeout": 0,
      "idle-timeout": 0,
      "line-timeout": 0,
      "kicked": 0,
      "send-queue-full": 0,
      "tls-on-plain-port": 0,
      "error": 0,
    },
  };
}

/**
 * Field-by-field sum of several servers' totals (a pool's Workers).
 *
 * @example
 * ```ts
 * import { emptyStats, sumStats } from "./stats.ts";
 * import assert from "node:assert/strict";
 *
 * const one = { ...emptyStats(), clients: 2, lines: 10 };
 * const two = { ...emptyStats(), clients: 1, lines: 5 };
 * assert.deepEqual(sumStats([one, two]), { ...emptyStats(), clients: 3, lines: 15 });
 * ```
 */
export function sumStats(all: readonly ServerStats[]): ServerStats {
  const total = emptyStats();
  for (const stats of all) {
    for (const key of Object.keys(total) as Array<keyof ServerStats>) {
      if (key !== "disconnects") total[key] += stats[key];
    }
    for (const reason of Object.keys(total.disconnects) as DisconnectReason[]) {
      total.disconnects[reason] += stats.disconnects[reason];
    }
  }
  return total;
}

/** The one-line summary printed at shutdown. */
export function summaryText(stats: ServerStats): string {
  const cutOff = stats.cutOff > 0
    ? `; ${countOf(stats.cutOff, "client")} cut off at the drain timeout, ` +
      `after sending ${countOf(stats.cutOffBytes, "byte")}`
    : "";
  return `shut down: ${totalsText(stats)}${cutOff}`;
}

/**
 * Clients, lines, bytes and every refusal and disconnection the server
 * chose: the summary, and the console's `/stats`.
 *
 * @example
 * ```ts
 * import { emptyStats, totalsText } from "./stats.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(
 *   totalsText({ ...emptyStats(), clients: 1, lines: 2, bytes: 12, refusedFull: 3 }),
 *   "1 client served, 2 lines, 12 bytes, 0 truncated; 3 refused (3 server full)",
 * );
 * ```
 */
export function totalsText(stats: ServerStats): string {
  const refusals = [
    [stats.refusedDenied, "denied"],
    [stats.refusedFull, "server full"],
    [stats.refusedPerIp, "per address"],
    [stats.refusedTls, "TLS"],
    [stats.refusedProxy, "PROXY header"],
  ] as const;
  const refusedTotal = refusals.reduce((sum, [count]) => sum + count, 0);
  const refused = refusedTotal > 0
    ? `; ${refusedTotal} refused (${
      refusals.filter(([count]) => count !== 0).map(([count, why]) => `${count} ${why}`).join(", ")
    })`
    : "";
  const dropped = stats.dropped > 0
    ? `; ${countOf(stats.dropped, "client")} dropped for a full send queue`
    : "";
  const kicked = stats.kicked > 0 ? `; ${stats.kicked} kicked` : "";
  const aborted = stats.abortedBeforeAccept > 0
    ? `; ${countOf(stats.abortedBeforeAccept, "connection")} gone before accept`
    : "";
  const throttled = stats.throttled > 0
    ? `; ${countOf(stats.throttled, "client")} held back by --rate-limit, ` +
      `${(stats.throttledMs / 1000).toFixed(1)} s in all`
    : "";
  const framing = stats.framingErrors > 0
    ? `; ${countOf(stats.framingErrors, "framing error")}`
    : "";
  return `${countOf(stats.clients, "client")} served, ` +
    `${countOf(stats.lines, "line")}, ${countOf(stats.bytes, "byte")}, ` +
    `${stats.truncated} truncated${refused}${dropped}${kicked}${aborted}${throttled}${framing}`;
}
