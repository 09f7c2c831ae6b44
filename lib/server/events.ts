/**
 * The server's connection events (a client connects, is refused, breaks
 * its octet-counted framing, leaves)
 * and the records that frame a run (`start`, `stop`), with their two forms:
 * a line of text for stderr, a JSON record for the output. Every string a
 * peer controls is escaped as the message formats escape it.
 *
 * @module
 */

import { countOf, jsonString, safeString } from "../text/mod.ts";
import {
  type ClientInfo,
  jsonClientFields,
  jsonOrigin,
  type RecordOrigin,
  shownHostPort,
} from "../format/mod.ts";

export type { ClientInfo, RecordOrigin };

/** Why a connection ended, as shown in disconnect events. */
export type DisconnectReason =
  | "eof"
  | "reset"
  | "drain-timeout"
  | "idle-timeout"
  | "line-timeout"
  | "kicked"
  | "send-queue-full"
  | "tls-on-plain-port"
  | "error";

/** Why a connection was closed before it became a client: an `--allow`/`--deny`
 * rule, `--max-clients`, `--max-per-ip`, a failed TLS handshake (which
 * includes a client certificate refused under mutual TLS), or, with
 * `--proxy-protocol`, no valid PROXY header from a peer allowed to send one. */
export type RefusalReason = "denied" | "full" | "per-ip" | "tls" | "proxy";

/** Connection events, reported once each. */
export type ConnectionEvent =
  | { readonly type: "connect"; readonly client: ClientInfo; readonly time: number }
  | {
    readonly type: "refused";
    /** The peer, as shown to users (IPv4-mapped IPv6 shown as IPv4). */
    readonly address: string;
    readonly port: number;
    readonly time: number;
    readonly reason: RefusalReason;
    /** The limit that was reached, for `full` and `per-ip`; 0 otherwise. */
    readonly limit: number;
    /** For `tls` and `proxy`, what went wrong in a few words. */
    readonly detail?: string;
  }
  | {
    /** An octet-counted stream (`--framing octet` or `auto`) met a header
     * it could not read; the rest of it is read as lines ending in `\n`. */
    readonly type: "framing-error";
    readonly client: ClientInfo;
    readonly time: number;
    /** What was wrong, quoting the header (see `OctetFramer.framingError`). */
    readonly detail: string;
  }
  | {
    readonly type: "disconnect";
    readonly client: ClientInfo;
    readonly time: number;
    readonly reason: DisconnectReason;
    /** Detail for `error` (the system's message), empty otherwise. */
    readonly detail: string;
    readonly lines: number;
    readonly bytes: number;
    readonly truncated: number;
    readonly durationMs: number;
  };

/** What a refusal says, in the text event and to the refused peer. */
export function refusalText(
  refusal: {
    readonly reason: RefusalReason;
    readonly limit: number;
    readonly address: string;
    readonly detail?: string;
  },
): string {
  switch (refusal.reason) {
    case "denied":
      return "denied by --allow/--deny";
    case "full":
      return `server full (${countOf(refusal.limit, "client")})`;
    case "per-ip":
      return `too many connections from ${safeString(refusal.address)} (limit ${refusal.limit})`;
    case "tls":
      return `TLS: ${
        refusal.detail === undefined ? "handshake failed" : safeString(refusal.detail)
      }`;
    case "proxy":
      // Each detail names the PROXY header already.
      return refusal.detail === undefined ? "no valid PROXY header" : safeString(refusal.detail);
  }
}

/** Formats a connection event as one line of text for stderr. With `node`,
 * a client is named as a label with the node names it (`web-3/client 12`);
 * a refused peer, which has no number to tell apart, is named as before. */
export function formatTextEvent(event: ConnectionEvent, node?: string): string {
  if (event.type === "refused") {
    return `refused ${shownHostPort(event.address, event.port)}: ${refusalText(event)}\n`;
  }
  const { client } = event;
  const who = `${node === undefined ? "" : `${safeString(node)}/`}client ${client.id}` +
    (client.name === undefined ? "" : ` (${safeString(client.name)})`);
  const from = shownHostPort(client.address, client.port);
  if (event.type === "connect") {
    const as = client.identity === undefined ? "" : ` as ${safeString(client.identity)}`;
    return `${who} connected from ${from}${as}\n`;
  }
  if (event.type === "framing-error") {
    return `${who} framing error from ${from}: ${safeString(event.detail)}; ` +
      `the rest is read as lines ending in LF\n`;
  }
  const detail = safeString(event.detail);
  const reason = detail === "" ? event.reason : `${event.reason}: ${detail}`;
  const seconds = (event.durationMs / 1000).toFixed(1);
  const truncated = event.truncated > 0 ? `, ${event.truncated} truncated` : "";
  return `${who} disconnected from ${from} (${reason}): ` +
    `${countOf(event.lines, "line")}, ${countOf(event.bytes, "byte")}${truncated}, ${seconds} s\n`;
}

/** Formats a connection event as one JSON line; the record names the run
 * and the node of `origin`, as messages do. */
export function formatJsonEvent(event: ConnectionEvent, origin: RecordOrigin = {}): string {
  const head = `{"time":"${new Date(event.time).toISOString()}","type":"${event.type}"` +
    jsonOrigin(origin);
  if (event.type === "refused") {
    const limit = event.reason === "full" || event.reason === "per-ip"
      ? `,"limit":${event.limit}`
      : "";
    const detail = event.detail === undefined ? "" : `,"detail":${jsonString(event.detail)}`;
    return head + `,"address":${jsonString(event.address)},"port":${event.port},` +
      `"reason":"${event.reason}"${limit}${detail}}\n`;
  }
  const client = `${head},${jsonClientFields(event.client)}`;
  if (event.type === "connect") return client + "}\n";
  if (event.type === "framing-error") return client + `,"detail":${jsonString(event.detail)}}\n`;
  const detail = event.detail === "" ? "" : `,"detail":${jsonString(event.detail)}`;
  return client + `,"reason":"${event.reason}"${detail},"lines":${event.lines},` +
    `"bytes":${event.bytes},"truncated":${event.truncated},"duration_ms":${event.durationMs}}\n`;
}

/** What the `start` record says: the first record a server writes. */
export interface RunStart {
  readonly time: number;
  /** The run's id, in every record of the run. */
  readonly run: string;
  /** The server's node name, in every record of the run; none leaves the
   * field out. */
  readonly node?: string;
  /** The server's version. */
  readonly version: string;
  /** The address it listens on, as `host:port`. */
  readonly listen: string;
}

/** The `start` record, written once the server listens, before any client. */
export function formatJsonStart(start: RunStart): string {
  return `{"time":"${new Date(start.time).toISOString()}","type":"start"${jsonOrigin(start)},` +
    `"version":${jsonString(start.version)},"listen":${jsonString(start.listen)}}\n`;
}

/** What the `stop` record says: the totals of the summary. */
export interface RunStop {
  readonly time: number;
  readonly run: string;
  readonly node?: string;
  readonly clients: number;
  readonly lines: number;
  readonly bytes: number;
  readonly truncated: number;
  /** Connections refused, for any reason. */
  readonly refused: number;
  /** Clients still connected when the drain timeout ran out. */
  readonly cutOff: number;
  /** Clients dropped for a full send queue. */
  readonly dropped: number;
  readonly kicked: number;
  /** Clients held back at least once by `--rate-limit`. */
  readonly throttled: number;
  /** How long they were held back, added up over all of them. */
  readonly throttledMs: number;
  /** Octet-counted streams that broke their framing. */
  readonly framingErrors: number;
  /** Since the server started listening. */
  readonly durationMs: number;
}

/** The `stop` record, written after every client's last record at a clean
 * shutdown: its absence says the server did not get to finish. */
export function formatJsonStop(stop: RunStop): string {
  return `{"time":"${new Date(stop.time).toISOString()}","type":"stop"${jsonOrigin(stop)},` +
    `"clients":${stop.clients},"lines":${stop.lines},"bytes":${stop.bytes},` +
    `"truncated":${stop.truncated},"refused":${stop.refused},"cut_off":${stop.cutOff},` +
    `"dropped":${stop.dropped},"kicked":${stop.kicked},"throttled":${stop.throttled},` +
    `"throttled_ms":${stop.throttledMs},"framing_errors":${stop.framingErrors},` +
    `"duration_ms":${stop.durationMs}}\n`;
}
