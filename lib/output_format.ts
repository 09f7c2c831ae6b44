/**
 * The server's output formats, as pure functions over bytes and records.
 *
 * - `text`: `[client N] message`, one line per message, terminal-safe; the
 *   label says `truncated` or `partial` when the line was cut at `--max-line`
 *   or ended without a newline. Connection events go to stderr.
 * - `json`: one JSON object per line (JSON Lines) for every message and every
 *   connection event, in one stream, so a pipeline sees them in order.
 * - `raw`: the message bytes as received and a newline, like `nc -lk`.
 *
 * Every string a peer controls (the message, its certificate name, its
 * address, the detail of an error) goes through lib/safe_text.ts: the
 * `text` format and stderr events escape as `safeString` does, JSON as
 * `jsonString` does, so no control, bidi or invisible character reaches
 * either raw; `raw` alone passes the message through.
 *
 * A message is written with one {@linkcode LineSink.writeLine} call (the
 * batched writer's fast path), an event with one `write`; a sink that buffers
 * each call synchronously keeps every output line whole. The server keeps one
 * {@linkcode MessageFormatter} per connection, so what is the same for every
 * line of a client is encoded once.
 *
 * @module
 */

import { formatHostPort } from "./address.ts";
import {
  ANY_BUT_CR,
  type ByteSink,
  type LineCheck,
  lineLabeller,
  PLAIN_JSON_ASCII,
  PRINTABLE_ASCII,
} from "./line_labeller.ts";
import {
  isPlainJsonUtf8,
  isPrintableUtf8,
  jsonString,
  jsonText,
  safeString,
  safeText,
} from "./safe_text.ts";

/** The names accepted by `--format`. */
export const OUTPUT_FORMATS = ["text", "json", "raw"] as const;

/** One of {@linkcode OUTPUT_FORMATS}. */
export type OutputFormat = typeof OUTPUT_FORMATS[number];

/** Where formatted output goes: strings are written as UTF-8. */
export interface ChunkSink {
  write(chunk: string | Uint8Array): void;
}

/** A sink that can also take a whole line in one call (the fast path). */
export interface LineSink extends ChunkSink {
  /** Writes `prefix`, `body`, `suffix` if given, and a newline. */
  writeLine(prefix: Uint8Array, body: Uint8Array, suffix?: Uint8Array | null): void;
}

/** Who sent a line: fixed for the life of a connection. */
export interface ClientInfo {
  /** Client number, from 0 in order of connection. */
  readonly id: number;
  /** Peer address as shown to users (IPv4-mapped IPv6 shown as IPv4). */
  readonly address: string;
  /** Peer port. */
  readonly port: number;
  /** With mutual TLS, the name on the client's verified certificate (its
   * subject CN, else its first subject alternative name). */
  readonly identity?: string;
}

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
 * rule, `--max-clients`, `--max-per-ip`, or a failed TLS handshake (which
 * includes a client certificate refused under mutual TLS). */
export type RefusalReason = "denied" | "full" | "per-ip" | "tls";

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
    /** For `tls`, what went wrong in a few words. */
    readonly detail?: string;
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

const NEWLINE = new Uint8Array([10]);

/** `1 line`, `2 lines`: a count with its noun, for messages people read. */
export function countOf(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

function textLabel(client: ClientInfo, truncated: boolean, partial: boolean): string {
  if (!truncated && !partial) return `[client ${client.id}] `;
  const flags = [truncated ? "truncated" : "", partial ? "partial" : ""].filter(Boolean);
  return `[client ${client.id} ${flags.join(" ")}] `;
}

const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);
/** Ends a plain JSON message: closing quote and brace (the newline is added). */
const JSON_END = encoder.encode(`"}`);

/**
 * Formats the messages of one client. What is the same for every line (the
 * text label, the JSON fields before the time and before the text) is
 * encoded once per connection; a line of plain ASCII is then copied as
 * bytes, with no decoding or string building. The ISO time string is reused
 * while the time (one per read) stays the same.
 */
export class MessageFormatter {
  readonly #format: OutputFormat;
  readonly #client: ClientInfo;
  /** `[client N] ` encoded, made on the first text line (idle clients never need it). */
  #label: Uint8Array | null = null;
  readonly #jsonFields: string;
  #time = Number.NaN;
  /** `{"time":"...","type":"message",...,"text":"`: all before a plain text. */
  #jsonHead: Uint8Array = EMPTY;

  constructor(format: OutputFormat, client: ClientInfo) {
    this.#format = format;
    this.#client = client;
    // Only the format in use is prepared: an idle client of a text server
    // holds no JSON text, and the reverse.
    this.#jsonFields = format !== "json" ? "" : `","type":"message","client":${client.id},` +
      `"address":${jsonString(client.address)},"port":${client.port}${
        jsonIdentity(client)
      },"text":`;
  }

  /** Writes one message, in consecutive calls to `sink`. */
  write(
    sink: LineSink,
    line: Uint8Array,
    truncated: boolean,
    partial: boolean,
    time: number,
  ): void {
    switch (this.#format) {
      case "raw":
        sink.writeLine(EMPTY, line);
        return;
      case "text": {
        const label = truncated || partial
          ? encoder.encode(textLabel(this.#client, truncated, partial))
          : this.#plainLabel();
        if (isPrintableUtf8(line)) sink.writeLine(label, line);
        else sink.writeLine(label, encoder.encode(safeText(line)));
        return;
      }
      case "json": {
        const head = this.#headFor(time);
        if (!truncated && !partial && isPlainJsonUtf8(line)) {
          sink.writeLine(head, line, JSON_END);
          return;
        }
        // The head ends with the opening quote of a plain text; jsonText
        // brings its own quotes.
        sink.writeLine(
          head.subarray(0, -1),
          encoder.encode(jsonText(line)),
          encoder.encode(
            (truncated ? `,"truncated":true` : "") + (partial ? `,"partial":true` : "") + "}",
          ),
        );
        return;
      }
    }
  }

  /** Lines written by the last {@linkcode MessageFormatter.writeRun}. */
  get runLines(): number {
    return lineLabeller()?.lines ?? 0;
  }

  /**
   * Writes, in bulk, the run of whole lines from `from` on in `chunk` that
   * need no escaping, exactly as {@linkcode MessageFormatter.write} would one
   * by one, and returns the offset of the first line it left to `write`
   * (`from` itself where the runtime has no WebAssembly SIMD); see
   * lib/line_labeller.ts. With `maxLine` and `time` bound it is a framer's
   * `LineRun`; {@linkcode MessageFormatter.runLines} counts what it wrote.
   */
  writeRun(
    sink: ByteSink,
    chunk: Uint8Array,
    from: number,
    fresh: boolean,
    maxLine: number,
    time: number,
  ): number {
    const labeller = lineLabeller();
    if (labeller === null) return from;
    let prefix: Uint8Array;
    let suffix = EMPTY;
    let check: LineCheck;
    switch (this.#format) {
      case "raw":
        prefix = EMPTY;
        check = ANY_BUT_CR;
        break;
      case "text":
        prefix = this.#plainLabel();
        check = PRINTABLE_ASCII;
        break;
      case "json":
        prefix = this.#headFor(time);
        suffix = JSON_END;
        check = PLAIN_JSON_ASCII;
        break;
    }
    return labeller.label(chunk, from, fresh, prefix, suffix, check, maxLine, sink);
  }

  /** `[client N] `, encoded once, on the first line that needs it. */
  #plainLabel(): Uint8Array {
    return this.#label ??= encoder.encode(textLabel(this.#client, false, false));
  }

  /** The JSON record up to a plain text's opening quote, for lines read at `time`. */
  #headFor(time: number): Uint8Array {
    if (time !== this.#time) {
      this.#time = time;
      this.#jsonHead = encoder.encode(
        `{"time":"${new Date(time).toISOString()}${this.#jsonFields}"`,
      );
    }
    return this.#jsonHead;
  }
}

/**
 * Writes one message in `format`.
 *
 * @example
 * ```ts
 * import { formatMessage } from "./output_format.ts";
 * import assert from "node:assert/strict";
 *
 * let out = "";
 * const sink = {
 *   write: (c: string | Uint8Array) => out += typeof c === "string" ? c : new TextDecoder().decode(c),
 * };
 * const client = { id: 3, address: "127.0.0.1", port: 40000 };
 * formatMessage(sink, "text", client, new TextEncoder().encode("hi\x07"), false, false, 0);
 * assert.deepEqual(out, "[client 3] hi\\x07\n");
 * ```
 */
export function formatMessage(
  sink: ChunkSink | LineSink,
  format: OutputFormat,
  client: ClientInfo,
  line: Uint8Array,
  truncated: boolean,
  partial: boolean,
  time: number,
): void {
  const lines = "writeLine" in sink ? sink : lineSinkOver(sink);
  new MessageFormatter(format, client).write(lines, line, truncated, partial, time);
}

/** Lets a plain {@linkcode ChunkSink} take whole lines, one chunk per part. */
export function lineSinkOver(sink: ChunkSink): LineSink {
  return {
    write: (chunk) => sink.write(chunk),
    writeLine(prefix, body, suffix = null): void {
      sink.write(prefix);
      sink.write(body);
      if (suffix !== null) sink.write(suffix);
      sink.write(NEWLINE);
    },
  };
}

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
  }
}

/** `host:port` as a terminal may show it: an address a peer could choose
 * (a proxy's header, say) is escaped like every peer string. */
function shownHostPort(address: string, port: number): string {
  return formatHostPort(safeString(address), port);
}

/** Formats a connection event as one line of text for stderr. */
export function formatTextEvent(event: ConnectionEvent): string {
  if (event.type === "refused") {
    return `refused ${shownHostPort(event.address, event.port)}: ${refusalText(event)}\n`;
  }
  const { client } = event;
  const who = `client ${client.id}`;
  const from = shownHostPort(client.address, client.port);
  if (event.type === "connect") {
    const as = client.identity === undefined ? "" : ` as ${safeString(client.identity)}`;
    return `${who} connected from ${from}${as}\n`;
  }
  const detail = safeString(event.detail);
  const reason = detail === "" ? event.reason : `${event.reason}: ${detail}`;
  const seconds = (event.durationMs / 1000).toFixed(1);
  const truncated = event.truncated > 0 ? `, ${event.truncated} truncated` : "";
  return `${who} disconnected from ${from} (${reason}): ` +
    `${countOf(event.lines, "line")}, ${countOf(event.bytes, "byte")}${truncated}, ${seconds} s\n`;
}

/** Formats a connection event as one JSON line. */
export function formatJsonEvent(event: ConnectionEvent): string {
  const time = `{"time":"${new Date(event.time).toISOString()}","type":"${event.type}",`;
  if (event.type === "refused") {
    const limit = event.reason === "full" || event.reason === "per-ip"
      ? `,"limit":${event.limit}`
      : "";
    const detail = event.detail === undefined ? "" : `,"detail":${jsonString(event.detail)}`;
    return time + `"address":${jsonString(event.address)},"port":${event.port},` +
      `"reason":"${event.reason}"${limit}${detail}}\n`;
  }
  const { client } = event;
  const head = time +
    `"client":${client.id},"address":${jsonString(client.address)},"port":${client.port}` +
    jsonIdentity(client);
  if (event.type === "connect") return head + "}\n";
  const detail = event.detail === "" ? "" : `,"detail":${jsonString(event.detail)}`;
  return head + `,"reason":"${event.reason}"${detail},"lines":${event.lines},` +
    `"bytes":${event.bytes},"truncated":${event.truncated},"duration_ms":${event.durationMs}}\n`;
}

/** `,"identity":"..."` for a client known by its certificate, else "". */
function jsonIdentity(client: ClientInfo): string {
  return client.identity === undefined ? "" : `,"identity":${jsonString(client.identity)}`;
}
