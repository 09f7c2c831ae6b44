/**
 * The server's output formats, as pure functions over bytes and records.
 *
 * - `text`: `[client N] message`, one line per message, terminal-safe; the
 *   label says `truncated` or `partial` when the line was cut at `--max-line`
 *   or ended without a newline, and may start with the server's node
 *   (`[web-3/client N]`). Connection events go to stderr.
 * - `json`: one JSON object per line (JSON Lines) for every message and every
 *   connection event, in one stream, so a pipeline sees them in order.
 * - `raw`: the message bytes as received and a newline, like `nc -lk`; its
 *   lines come from a framer with `keepCr`, so a CRLF line keeps its CR.
 *
 * Every string a peer controls (the message, its certificate name, the name
 * it gave itself, its address, the detail of an error) goes through
 * lib/text/safe_text.ts: the `text` format and stderr events escape as
 * `safeString` does, JSON as `jsonString` does, so no control, bidi or
 * invisible character reaches either raw; `raw` alone passes the message
 * through.
 *
 * A message is written with one {@linkcode LineWriter.writeLine} call (the
 * batched writer's fast path; a JSON record is a `write` of its head, then
 * one `writeLine`), an event with one `write`; a sink that buffers each call
 * synchronously keeps every output line whole. The server keeps one
 * {@linkcode MessageFormatter} per connection, so what is the same for every
 * line of a client is encoded once.
 *
 * JSON records are for pipelines (jq, Vector): each names its server's node
 * and run (`node`, `run`) and a message its number among its client's lines
 * (`seq`), the length of a line that was cut, and, for a line that is not
 * UTF-8, its bytes in base64; `start` and `stop` records frame a run.
 *
 * @module
 */

import { formatHostPort } from "../net/mod.ts";
import { type LineFlags, PARTIAL, TRUNCATED } from "../wire/mod.ts";
import type { ChunkSink, LineWriter } from "../io/mod.ts";
import {
  ANY_BYTE,
  type ByteSink,
  type LineLabeller,
  lineLabeller,
  PLAIN_JSON_ASCII,
  PRINTABLE_ASCII,
} from "./_line_labeller.ts";
import {
  isPlainJsonUtf8,
  isPrintableUtf8,
  isWellFormedUtf8,
  jsonString,
  jsonText,
  safeString,
  safeText,
} from "../text/mod.ts";

/** Whether the lines of `format` keep the CR of a CRLF (a framer's
 * `keepCr`): only `raw`, which shows the bytes as they came. */
export function keepsCr(format: OutputFormat): boolean {
  return format === "raw";
}

/** The names accepted by `--format`. */
export const OUTPUT_FORMATS = ["text", "json", "raw"] as const;

/** One of {@linkcode OUTPUT_FORMATS}. */
export type OutputFormat = typeof OUTPUT_FORMATS[number];

/** Who sent a line: fixed for the life of a connection, but for the name
 * and session a linehub client may give in its first line. */
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
  /** The name the client chose (`linehub-client --name`), from its hello. */
  readonly name?: string;
  /** The client program's session id, the same on every connection it
   * makes (from its hello): with `seq`, what identifies one of its lines. */
  readonly session?: string;
}

/** The names accepted by `--label`: what a `text` line's label names. */
export const LABEL_STYLES = ["number", "address", "both"] as const;

/** One of {@linkcode LABEL_STYLES}. */
export type LabelStyle = typeof LABEL_STYLES[number];

/** What a `text` label names unless told otherwise: the client's number. */
export const DEFAULT_LABEL: LabelStyle = "number";

/** Options for {@linkcode MessageFormatter}. */
export interface MessageFormatOptions {
  /** The server run's id, in every JSON record (`"run"`), so records of
   * different runs, whose client numbers start again at 0, stay apart.
   * @default {none: no "run" field} */
  run?: string;
  /** The server's node name, in every JSON record (`"node"`, after `run`),
   * so records of different servers, whose client numbers both start at 0,
   * stay apart.
   * @default {none: no "node" field} */
  node?: string;
  /** Start each `text` label with the node name and a slash
   * (`[web-3/client 3]`); nothing without a `node`.
   * @default {false} */
  labelNode?: boolean;
  /** What the `text` label names: the client's number (`[client 3]`), its
   * address (`[127.0.0.1:5000]`) or both (`[client 3 127.0.0.1:5000]`).
   * @default {DEFAULT_LABEL: "number"} */
  label?: LabelStyle;
  /** Start each `text` line with the time it was read, in RFC 3339 UTC with
   * milliseconds (`2026-11-24T07:10:02.114Z [client 3] hello`).
   * @default {false} */
  timestamp?: boolean;
  /** The JSON `seq` of the client's first line; each line after it counts
   * one up. A linehub client's hello says where its numbering stands.
   * @default {1} */
  firstSeq?: number;
}

/** What {@linkcode MessageFormatter.writeRun} did. */
export interface WrittenRun {
  /** Offset in the chunk of the first line left to
   * {@linkcode MessageFormatter.write}, or the chunk's length. */
  readonly next: number;
  /** Lines written. */
  readonly lines: number;
}

const NEWLINE = new Uint8Array([10]);

/** `[web-3/client 3 web1 127.0.0.1:5000 truncated] `: the node, if shown,
 * what `style` names, the client's name if it gave one, and the flags. */
function textLabel(
  client: ClientInfo,
  style: LabelStyle,
  flags: LineFlags,
  node: string | null,
): string {
  const parts: string[] = [];
  if (style !== "address") parts.push(`client ${client.id}`);
  if (client.name !== undefined) parts.push(safeString(client.name));
  if (style !== "number") parts.push(shownHostPort(client.address, client.port));
  if (flags & TRUNCATED) parts.push("truncated");
  if (flags & PARTIAL) parts.push("partial");
  return `[${node === null ? "" : `${node}/`}${parts.join(" ")}] `;
}

const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);
/** Ends a plain JSON message: closing quote and brace (the newline is added). */
const JSON_END = encoder.encode(`"}`);
/** Between a JSON message's `seq` and its text's opening quote. */
const JSON_TEXT = encoder.encode(`,"text":"`);

/**
 * Formats the messages of one client. What is the same for every line (the
 * text label, the JSON fields before the time and before the text) is
 * encoded once per connection; a line of plain ASCII is then copied as
 * bytes, with no decoding or string building. What depends on the time
 * (JSON's `time`, text's `--timestamp`) is encoded again only when the
 * time, one per read, changes. The formatter counts the client's lines for
 * JSON's `seq`, whichever path writes them.
 */
export class MessageFormatter {
  readonly #format: OutputFormat;
  readonly #client: ClientInfo;
  readonly #style: LabelStyle;
  /** The node a `text` label starts with, or null. */
  readonly #labelNode: string | null;
  readonly #timestamp: boolean;
  /** The JSON `seq` of the next line. */
  #seq: number;
  /** `[client N] ` encoded, made on the first text line (idle clients never
   * need it); with `--timestamp`, the time and the label, for `#time`. */
  #label: Uint8Array | null = null;
  /** Everything of a JSON record between the time and the `seq` number. */
  readonly #jsonFields: string;
  #time = Number.NaN;
  /** `{"time":"...","type":"message",...,"seq":`: all before the number. */
  #jsonHead: Uint8Array = EMPTY;

  constructor(format: OutputFormat, client: ClientInfo, options: MessageFormatOptions = {}) {
    this.#format = format;
    this.#client = client;
    this.#style = options.label ?? DEFAULT_LABEL;
    // Escaped like every name in a label, though a server's is checked.
    this.#labelNode = options.labelNode === true && options.node !== undefined
      ? safeString(options.node)
      : null;
    this.#timestamp = options.timestamp ?? false;
    this.#seq = options.firstSeq ?? 1;
    if (!Number.isSafeInteger(this.#seq) || this.#seq < 0) {
      throw new RangeError(`Invalid firstSeq "${options.firstSeq}": must be an integer >= 0`);
    }
    // Only the format in use is prepared: an idle client of a text server
    // holds no JSON text, and the reverse.
    this.#jsonFields = format !== "json"
      ? ""
      : `","type":"message"${jsonOrigin(options)},${jsonClientFields(client)},"seq":`;
  }

  /** The JSON `seq` the next line gets. */
  get nextSeq(): number {
    return this.#seq;
  }

  /** Writes one message, in consecutive calls to `sink`. `flags` holds
   * {@linkcode TRUNCATED} and {@linkcode PARTIAL}, as a framer gives them;
   * `length` is the length the line had before a cut (JSON's `length` of a
   * truncated line). */
  write(
    sink: LineWriter,
    line: Uint8Array,
    flags: LineFlags,
    time: number,
    length: number = line.length,
  ): void {
    switch (this.#format) {
      case "raw":
        sink.writeLine(EMPTY, line);
        return;
      case "text": {
        const label = flags !== 0 ? this.#flaggedLabel(flags, time) : this.#plainLabel(time);
        if (isPrintableUtf8(line)) sink.writeLine(label, line);
        else sink.writeLine(label, encoder.encode(safeText(line)));
        return;
      }
      case "json": {
        const head = this.#headFor(time);
        const seq = this.#seq++;
        if (flags === 0 && isPlainJsonUtf8(line)) {
          sink.write(head);
          sink.writeLine(encoder.encode(`${seq},"text":"`), line, JSON_END);
          return;
        }
        // jsonText brings its own quotes.
        const fields = (flags & TRUNCATED ? `,"truncated":true,"length":${length}` : "") +
          (flags & PARTIAL ? `,"partial":true` : "") +
          (isWellFormedUtf8(line) ? "" : `,"invalid_utf8":true,"bytes":"${base64(line)}"`);
        sink.write(head);
        sink.writeLine(
          encoder.encode(`${seq},"text":`),
          encoder.encode(jsonText(line)),
          encoder.encode(fields + "}"),
        );
        return;
      }
    }
  }

  /**
   * Writes, in bulk, the run of whole lines from `from` on in `chunk` that
   * need no escaping, exactly as {@linkcode MessageFormatter.write} would one
   * by one, and says where it stopped and how many lines it wrote: `next` is
   * the offset of the first line it left to `write` (`from` itself where the
   * runtime has no WebAssembly SIMD); see lib/format/_line_labeller.ts. With
   * `maxLine` and `time` bound, its `next` is what a framer's `LineRun`
   * returns (for `raw`, of a framer with `keepCr`). `labeller` is this
   * thread's unless a test gives its own, with smaller areas.
   */
  writeRun(
    sink: ByteSink,
    chunk: Uint8Array,
    from: number,
    fresh: boolean,
    maxLine: number,
    time: number,
    labeller: LineLabeller | null = lineLabeller(),
  ): WrittenRun {
    if (labeller === null) return { next: from, lines: 0 };
    let next: number;
    switch (this.#format) {
      case "raw":
        next = labeller.label(chunk, from, fresh, EMPTY, EMPTY, ANY_BYTE, maxLine, sink);
        break;
      case "text":
        next = labeller.label(
          chunk,
          from,
          fresh,
          this.#plainLabel(time),
          EMPTY,
          PRINTABLE_ASCII,
          maxLine,
          sink,
        );
        break;
      case "json":
        next = labeller.label(
          chunk,
          from,
          fresh,
          this.#headFor(time),
          JSON_END,
          PLAIN_JSON_ASCII,
          maxLine,
          sink,
          { first: this.#seq, middle: JSON_TEXT },
        );
        this.#seq += labeller.lines;
        break;
    }
    return { next, lines: labeller.lines };
  }

  /** `[client N] ` (after the time, with `--timestamp`), encoded once, on
   * the first line that needs it, and again when the time changes. */
  #plainLabel(time: number): Uint8Array {
    if (!this.#timestamp) {
      return this.#label ??= encoder.encode(
        textLabel(this.#client, this.#style, 0, this.#labelNode),
      );
    }
    if (time !== this.#time || this.#label === null) {
      this.#time = time;
      this.#label = encoder.encode(
        `${new Date(time).toISOString()} ${
          textLabel(this.#client, this.#style, 0, this.#labelNode)
        }`,
      );
    }
    return this.#label;
  }

  /** The label of a truncated or partial line: rare, so made each time. */
  #flaggedLabel(flags: LineFlags, time: number): Uint8Array {
    const label = textLabel(this.#client, this.#style, flags, this.#labelNode);
    return encoder.encode(this.#timestamp ? `${new Date(time).toISOString()} ${label}` : label);
  }

  /** The JSON record up to its `seq` number, for lines read at `time`. */
  #headFor(time: number): Uint8Array {
    if (time !== this.#time) {
      this.#time = time;
      this.#jsonHead = encoder.encode(
        `{"time":"${new Date(time).toISOString()}${this.#jsonFields}`,
      );
    }
    return this.#jsonHead;
  }
}

/** `bytes` in base64, for the JSON `bytes` of a line that is not UTF-8. */
function base64(bytes: Uint8Array): string {
  return bytes.toBase64();
}

/**
 * Writes one message in `format`.
 *
 * @example
 * ```ts
 * import { formatMessage } from "./message_formatter.ts";
 * import assert from "node:assert/strict";
 *
 * let out = "";
 * const sink = {
 *   write: (c: string | Uint8Array) => out += typeof c === "string" ? c : new TextDecoder().decode(c),
 * };
 * const client = { id: 3, address: "127.0.0.1", port: 40000 };
 * formatMessage(sink, "text", client, new TextEncoder().encode("hi\x07"), 0, 0);
 * assert.deepEqual(out, "[client 3] hi\\x07\n");
 * ```
 */
export function formatMessage(
  sink: ChunkSink | LineWriter,
  format: OutputFormat,
  client: ClientInfo,
  line: Uint8Array,
  flags: LineFlags,
  time: number,
  options: MessageFormatOptions & {
    /** The line's length before a cut.
     * @default {line.length} */
    length?: number;
  } = {},
): void {
  const lines = "writeLine" in sink ? sink : lineWriterOver(sink);
  const { length = line.length, ...formatOptions } = options;
  new MessageFormatter(format, client, formatOptions).write(lines, line, flags, time, length);
}

/** Lets a plain {@linkcode ChunkSink} take whole lines, one chunk per part. */
export function lineWriterOver(sink: ChunkSink): LineWriter {
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

/** Which server run, on which node, wrote a record. */
export interface RecordOrigin {
  /** The run's id. @default {none: no "run" field} */
  readonly run?: string;
  /** The server's node name. @default {none: no "node" field} */
  readonly node?: string;
}

/** `,"run":"...","node":"..."`, each field only when known. In every
 * record of a run, so that `node`, `run` and `client` name one connection
 * whichever record a pipeline looks at. */
export function jsonOrigin({ run, node }: RecordOrigin): string {
  return (run === undefined ? "" : `,"run":${jsonString(run)}`) +
    (node === undefined ? "" : `,"node":${jsonString(node)}`);
}

/** `"client":N,"address":...,"port":N` and, for a client that has them,
 * its certificate's `identity`, its chosen `name` and its `session`. */
export function jsonClientFields(client: ClientInfo): string {
  return `"client":${client.id},"address":${jsonString(client.address)},"port":${client.port}` +
    (client.identity === undefined ? "" : `,"identity":${jsonString(client.identity)}`) +
    (client.name === undefined ? "" : `,"name":${jsonString(client.name)}`) +
    (client.session === undefined ? "" : `,"session":${jsonString(client.session)}`);
}

/** `host:port` as a terminal may show it: an address a peer could choose
 * (a proxy's header, say) is escaped like every peer string. */
export function shownHostPort(address: string, port: number): string {
  return formatHostPort(safeString(address), port);
}
