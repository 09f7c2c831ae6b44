/**
 * The live page's `state` event: the connected clients and the totals, as
 * JSON, every string a peer controls escaped as the `text` output shows it
 * (the page sets `textContent` as well). The table is capped at
 * {@linkcode MAX_TABLE_CLIENTS} rows, so that a server with 10,000 clients
 * does not send each page a megabyte a second; `more` says how many are
 * left out.
 *
 * @module
 */

import { formatHostPort } from "../net/mod.ts";
import type { ClientStats, ServerStats } from "../server/mod.ts";
import { safeString } from "../text/mod.ts";
import type { Health } from "./health_check.ts";

/** Most clients in one state event; the page says how many more there are. */
export const MAX_TABLE_CLIENTS = 500;

/** What a state event is made from. */
export interface LiveStateInput {
  readonly time: number;
  readonly node: string;
  readonly version: string;
  /** Whether the page can follow lines (not with `--workers`). */
  readonly tail: boolean;
  readonly stats: ServerStats;
  readonly clients: readonly ClientStats[];
  readonly health: Health;
}

/** The state event's data: one line of JSON. */
export function liveStateJson(input: LiveStateInput): string {
  const { stats, clients } = input;
  const rows = clients.slice(0, MAX_TABLE_CLIENTS).map((client) => ({
    id: client.id,
    address: formatHostPort(safeString(client.address), client.port),
    ...(client.identity === undefined ? {} : { identity: safeString(client.identity) }),
    ...(client.name === undefined ? {} : { name: safeString(client.name) }),
    connectedAt: client.connectedAt,
    lines: client.lines,
    bytes: client.bytes,
  }));
  return JSON.stringify({
    time: input.time,
    node: safeString(input.node),
    version: input.version,
    tail: input.tail,
    health: input.health.healthy ? "ok" : input.health.problem,
    connected: stats.connected,
    served: stats.clients,
    lines: stats.lines,
    bytes: stats.bytes,
    clients: rows,
    more: Math.max(0, clients.length - rows.length),
  });
}
