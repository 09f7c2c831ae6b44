/**
 * How messages are written to the output: `text`, `json` or `raw`, one
 * `MessageFormatter` per client, with runs of plain lines labelled in one
 * WebAssembly SIMD call (the private `_line_labeller.ts`), and each
 * client's whole data path from bytes to output, `ConnectionPipeline`.
 *
 * @module
 */

export * from "./connection_pipeline.ts";
export * from "./message_formatter.ts";
