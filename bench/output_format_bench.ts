/**
 * Micro-benchmarks of the output formats: `deno bench bench/output_format_bench.ts`.
 * Each group formats the same 100-byte line into a batched writer whose
 * output goes nowhere, with one formatter per client as the server keeps
 * them; the baseline is raw (copy the bytes, add a newline), the least any
 * format does.
 *
 * @module
 */

import { BatchWriter } from "../lib/io/batch_writer.ts";
import { MessageFormatter } from "../lib/format/message_formatter.ts";

const client = { id: 42, address: "127.0.0.1", port: 51234 };
const encoder = new TextEncoder();
const lines = {
  "ascii line": encoder.encode("c7 l12345 " + "x".repeat(89)),
  "utf-8 line": encoder.encode("c7 l12345 h\u00e9llo w\u00f6rld " + "x".repeat(75)),
  "escapes": encoder.encode("\x1b[2J\x1b]0;pwned\x07 " + "x".repeat(85)),
};
const now = Date.now();

// The bench measures formatting and buffering, not a system call.
const writer = new BatchWriter({ write: (bytes) => Promise.resolve(bytes.length) });
const formatters = {
  raw: new MessageFormatter("raw", client),
  text: new MessageFormatter("text", client),
  json: new MessageFormatter("json", client),
};

for (const [group, line] of Object.entries(lines)) {
  for (const [name, formatter] of Object.entries(formatters)) {
    Deno.bench({
      group,
      name,
      baseline: name === "raw",
      fn: () => formatter.write(writer, line, 0, now),
    });
  }
}
