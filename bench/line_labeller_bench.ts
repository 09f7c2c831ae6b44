/**
 * Micro-benchmarks of the fast path: `deno bench bench/line_labeller_bench.ts`.
 * One 64 KiB read of 655 lines of 100 bytes goes through a framer and a
 * formatter into a buffer, as in the server, but with no output: the
 * general path (the framer's `indexOf` per line, then
 * `MessageFormatter.write`) is the baseline of each format's group, against
 * the same framer with `MessageFormatter.writeRun` (lib/format/_line_labeller.ts).
 *
 * @module
 */

import { LineFramer, type LineSink } from "../lib/wire/line_framer.ts";
import { MessageFormatter, OUTPUT_FORMATS } from "../lib/format/message_formatter.ts";

const LINE = 100;
const LINES = 655;
const read = new Uint8Array(LINE * LINES);
const encoder = new TextEncoder();
for (let i = 0; i < LINES; i++) {
  read.fill(120, i * LINE, (i + 1) * LINE - 1);
  read.set(encoder.encode(`c7 l${i} `), i * LINE);
  read[(i + 1) * LINE - 1] = 10;
}

const client = { id: 42, address: "127.0.0.1", port: 51234 };
const now = Date.now();
const MAX_LINE = 65536;

/** Copies what it gets into one 1 MiB buffer, over and over, as a batched
 * writer copies into its chunk, without the writing. */
class Discard {
  readonly #buffer = new Uint8Array(1 << 20);
  #used = 0;

  write(bytes: Uint8Array): void {
    if (this.#used + bytes.length > this.#buffer.length) this.#used = 0;
    this.#buffer.set(bytes, this.#used);
    this.#used += bytes.length;
  }

  writeLine(prefix: Uint8Array, body: Uint8Array, suffix: Uint8Array | null = null): void {
    this.write(prefix);
    this.write(body);
    if (suffix !== null) this.write(suffix);
    this.write(NEWLINE);
  }
}

const NEWLINE = new Uint8Array([10]);
const writer = new Discard();

for (const format of OUTPUT_FORMATS) {
  const formatter = new MessageFormatter(format, client);
  const framer = new LineFramer({ maxLine: MAX_LINE });
  const sink: LineSink = (line, flags, length) => formatter.write(writer, line, flags, now, length);
  const run = (chunk: Uint8Array, from: number, fresh: boolean): number =>
    formatter.writeRun(writer, chunk, from, fresh, MAX_LINE, now).next;
  Deno.bench({
    group: `${format}: 64 KiB read of 100-byte lines`,
    name: "general path, line by line",
    baseline: true,
    fn: () => framer.push(read, sink),
  });
  Deno.bench({
    group: `${format}: 64 KiB read of 100-byte lines`,
    name: "fast path, writeRun (WebAssembly)",
    fn: () => framer.push(read, sink, run),
  });
}
