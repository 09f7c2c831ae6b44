/**
 * One client's data path, from the bytes it sends to the output: each read
 * goes to a framer, each message from it to the client's
 * {@linkcode MessageFormatter}, and the formatted message to the output,
 * every step handing on and none calling back up. The framer is what
 * `--framing` says (lib/wire/framer_for.ts): lines ending in `\n`, RFC 6587
 * octet counting, or either as the first byte says. Runs of plain lines
 * framed by `\n` go to the output in bulk through the WebAssembly fast path
 * (`MessageFormatter.writeRun`), unless something must see each line (a
 * {@linkcode LineTap}: the server's two-way modes); octet-counted messages
 * go one by one, since a message may hold any byte, `\n` included. Both
 * choices are made once, when the pipeline is built, and hold for the
 * client's life. A {@linkcode LineSampler} (the live page's tail) is the
 * one exception, by design a sample: the reads it asks for go line by
 * line, the rest keep the fast path.
 *
 * A linehub client's first line may be its hello (lib/wire/hello_line.ts):
 * that line is not a message, but names the client and numbers the lines
 * after it. The pipeline counts the lines it writes and those its framer
 * cut, so its owner reads the counts rather than keeping its own.
 *
 * @module
 */

import type { LineWriter } from "../io/mod.ts";
import {
  type Framer,
  framerFor,
  type FramingChoice,
  type LineFlags,
  type LineRun,
  type LineSink,
  parseHelloLine,
} from "../wire/mod.ts";
import {
  type ClientInfo,
  keepsCr,
  type LabelStyle,
  MessageFormatter,
  type OutputFormat,
} from "./message_formatter.ts";

const CR = 13;

/** Told of each line a pipeline writes, as the framer gave it (for `raw`,
 * without the CR of a CRLF all the same); `line` is valid only during the
 * call. */
export type LineTap = (line: Uint8Array, flags: LineFlags) => void;

/**
 * Shown some of the lines pipelines write, while it asks for them: a live
 * view's sample, not a record. Asked once per read, so that a read whose
 * lines it does not want keeps the fast path, and one it wants goes line
 * by line as with a tap; while it wants nothing it costs one call a read.
 */
export interface LineSampler {
  /** Whether the lines of the next read of client number `id` are wanted. */
  wants(id: number): boolean;
  /** One line of `client`, as a tap gets it; `line` is valid only during
   * the call. */
  line(client: ClientInfo, line: Uint8Array, flags: LineFlags): void;
}

/** How a server writes its clients' lines: the same for all of them. */
export interface PipelineSettings {
  /** The output format. */
  readonly format: OutputFormat;
  /** The run's id, in every JSON record. */
  readonly run: string;
  /** The server's node name, in every JSON record; none leaves the field out. */
  readonly node?: string;
  /** What a `text` label names. */
  readonly label: LabelStyle;
  /** Whether a `text` label starts with the node (`[web-3/client 3]`). */
  readonly labelNode: boolean;
  /** Whether a `text` line starts with its time. */
  readonly timestamp: boolean;
  /** Longest line, in bytes; longer ones are cut. */
  readonly maxLine: number;
  /** How each client's stream is cut into messages (`--framing`). */
  readonly framing: FramingChoice;
}

/** Told, once, that a client's octet-counted stream broke the framing and
 * is read as lines ending in `\n` from here on: `error` quotes the bad
 * header (see `OctetFramer.framingError`). Called before any of those lines
 * is written. */
export type FramingErrorHandler = (error: string) => void;

/** Who else sees one client's lines, beside the output. */
export interface PipelineObservers {
  /** Told of each line; with one, lines go one by one, not by the fast path.
   * @default {none} */
  readonly tap?: LineTap | null;
  /** Shown the lines of the reads it wants (the live page's tail).
   * @default {none} */
  readonly sampler?: LineSampler | null;
  /** Told when an octet-counted stream breaks its framing (`--framing
   * octet` or `auto`).
   * @default {none} */
  readonly onFramingError?: FramingErrorHandler | null;
}

/**
 * Bytes in, labelled messages out, for one client.
 *
 * @example
 * ```ts
 * import { ConnectionPipeline } from "./connection_pipeline.ts";
 * import { lineWriterOver } from "./message_formatter.ts";
 * import assert from "node:assert/strict";
 *
 * let out = "";
 * const output = lineWriterOver({
 *   write: (c: string | Uint8Array) => out += typeof c === "string" ? c : new TextDecoder().decode(c),
 * });
 * const settings = {
 *   format: "text",
 *   run: "r",
 *   label: "number",
 *   labelNode: false,
 *   timestamp: false,
 *   maxLine: 100,
 *   framing: "lf",
 * } as const;
 * const pipeline = new ConnectionPipeline(output, { id: 3, address: "127.0.0.1", port: 4000 }, settings);
 * pipeline.push(new TextEncoder().encode("hello\nwor"), 0);
 * pipeline.end(0);
 * assert.equal(out, "[client 3] hello\n[client 3 partial] wor\n");
 * assert.equal(pipeline.lines, 2);
 * ```
 */
export class ConnectionPipeline {
  readonly #output: LineWriter;
  readonly #settings: PipelineSettings;
  readonly #framer: Framer;
  readonly #tap: LineTap | null;
  readonly #sampler: LineSampler | null;
  /** Whether the read being pushed goes to the sampler too. */
  #sampling = false;
  readonly #keepCr: boolean;
  #client: ClientInfo;
  #formatter: MessageFormatter;
  #lines = 0;
  /** Until the first line is in: it may be a hello. */
  #first = true;
  /** The time of the read being pushed, which is each of its lines' time. */
  #time = 0;
  /** Where the framer hands each line that the fast path leaves. */
  readonly #sink: LineSink = (line, flags, length) => {
    if (this.#first) {
      this.#first = false;
      if (flags === 0 && this.#greeted(line)) return;
    }
    this.#lines++;
    this.#formatter.write(this.#output, line, flags, this.#time, length);
    if (this.#tap === null && !this.#sampling) return;
    // What is passed on is the line without its CRLF's CR, whatever the format.
    const crlf = this.#keepCr && flags === 0 && line.at(-1) === CR;
    const passed = crlf ? line.subarray(0, -1) : line;
    this.#tap?.(passed, flags);
    if (this.#sampling) this.#sampler?.line(this.#client, passed, flags);
  };
  /** The fast path, or none when a tap must see each line. */
  readonly #run: LineRun | undefined;

  /**
   * @param output where the messages go
   * @param client who sends the lines, as known before its hello
   * @param settings how lines are written, as for every client
   * @param observers who else sees the lines and framing breaks
   */
  constructor(
    output: LineWriter,
    client: ClientInfo,
    settings: PipelineSettings,
    observers: PipelineObservers = {},
  ) {
    const { tap = null, sampler = null, onFramingError = null } = observers;
    this.#output = output;
    this.#settings = settings;
    this.#client = client;
    this.#tap = tap;
    this.#sampler = sampler;
    this.#keepCr = keepsCr(settings.format);
    this.#formatter = this.#formatterFor(client, undefined);
    this.#framer = framerFor(settings.framing, {
      maxLine: settings.maxLine,
      keepCr: this.#keepCr,
      ...(onFramingError === null ? {} : { onFramingError }),
    });
    this.#run = tap !== null ? undefined : (chunk, from, fresh) => {
      // The first line goes to the sink, in case it is a hello.
      if (this.#first) return from;
      const { next, lines } = this.#formatter.writeRun(
        this.#output,
        chunk,
        from,
        fresh,
        settings.maxLine,
        this.#time,
      );
      this.#lines += lines;
      return next;
    };
  }

  /** Who sends the lines: after a hello, with its name and session. */
  get client(): ClientInfo {
    return this.#client;
  }

  /** Messages written so far (a hello is none). */
  get lines(): number {
    return this.#lines;
  }

  /** Lines cut at `maxLine` so far. */
  get truncatedLines(): number {
    return this.#framer.truncatedLines;
  }

  /** Whether a line has begun and not yet ended. */
  get midLine(): boolean {
    return this.#framer.midLine;
  }

  /** Writes every line `chunk` completes, each with the time `time` (ms
   * since the epoch): that of the read that completed it. */
  push(chunk: Uint8Array, time: number): void {
    this.#time = time;
    this.#sampling = this.#sampler?.wants(this.#client.id) ?? false;
    this.#framer.push(chunk, this.#sink, this.#sampling ? undefined : this.#run);
  }

  /** The client is gone: writes what came of an unfinished last line, flagged
   * partial, at `time`. */
  end(time: number): void {
    this.#time = time;
    this.#sampling = this.#sampler?.wants(this.#client.id) ?? false;
    this.#framer.end(this.#sink);
  }

  /** Whether the first line is a hello; if so, it names the client and
   * numbers its lines from here on. */
  #greeted(line: Uint8Array): boolean {
    const hello = parseHelloLine(line);
    if (hello === null) return false;
    this.#client = {
      ...this.#client,
      session: hello.session,
      ...(hello.name === undefined ? {} : { name: hello.name }),
    };
    this.#formatter = this.#formatterFor(this.#client, hello.seq);
    return true;
  }

  #formatterFor(client: ClientInfo, firstSeq: number | undefined): MessageFormatter {
    const { format, run, node, label, labelNode, timestamp } = this.#settings;
    return new MessageFormatter(format, client, {
      run,
      ...(node === undefined ? {} : { node }),
      label,
      labelNode,
      timestamp,
      ...(firstSeq === undefined ? {} : { firstSeq }),
    });
  }
}
