/**
 * Micro-benchmarks of the framer: `deno bench bench/line_framer_bench.ts`.
 * The baseline in each group is the cheapest thing that finds the same
 * newlines (a bare `indexOf` scan), so the ratio shows what framing adds.
 *
 * @module
 */

import { LineFramer } from "../lib/wire/line_framer.ts";

const LINE = 100;
const LINES = 655; // one 64 KiB read holds 655 lines of 100 bytes
const chunk = new Uint8Array(LINE * LINES).fill(120);
for (let i = LINE - 1; i < chunk.length; i += LINE) chunk[i] = 10;
const crlf = chunk.slice();
for (let i = LINE - 2; i < crlf.length; i += LINE) crlf[i] = 13;
const long = new Uint8Array(1 << 20).fill(120);

let sinkCount = 0;
const sink = (line: Uint8Array): void => {
  sinkCount += line.length;
};

Deno.bench({
  group: "64 KiB of 100-byte lines",
  name: "indexOf scan only",
  baseline: true,
  fn(): void {
    let at = chunk.indexOf(10);
    while (at >= 0) {
      sinkCount++;
      at = chunk.indexOf(10, at + 1);
    }
  },
});

Deno.bench({
  group: "64 KiB of 100-byte lines",
  name: "LineFramer.push, whole lines",
  fn(): void {
    new LineFramer().push(chunk, sink);
  },
});

Deno.bench({
  group: "64 KiB of 100-byte lines",
  name: "LineFramer.push, CRLF lines",
  fn(): void {
    new LineFramer().push(crlf, sink);
  },
});

Deno.bench({
  group: "64 KiB of 100-byte lines",
  name: "LineFramer.push, in 1,000-byte reads (lines span reads)",
  fn(): void {
    const framer = new LineFramer();
    for (let at = 0; at < chunk.length; at += 1000) {
      framer.push(chunk.subarray(at, at + 1000), sink);
    }
  },
});

Deno.bench({
  group: "1 MiB without a newline",
  name: "LineFramer.push, cut at 64 KiB and dropped",
  baseline: true,
  fn(): void {
    const framer = new LineFramer();
    for (let at = 0; at < long.length; at += 65536) {
      framer.push(long.subarray(at, at + 65536), sink);
    }
  },
});
