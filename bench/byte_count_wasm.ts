/**
 * bench/byte_count.wat, assembled: made by `deno task wasm` (tools/build_wasm.ts);
 * do not edit.
 *
 * @module
 */

/** The WebAssembly module of bench/byte_count.wat, base64-encoded. */
export const BYTE_COUNT_WASM: string = [
  "AGFzbQEAAAABBwFgAn9/AX8DAgEABQMBAAIHEgIGbWVtb3J5AgAFY291bnQAAApXAVUCA38BeyAB",
  "/Q8hBQJAA0AgAiAATw0BIAL9AAQAIAX9I/1kIQQgACACa0EQSQRAIARBASAAIAJrdEEBa3EhBAsg",
  "AyAEaWohAyACQRBqIQIMAAsLIAML",
].join("");
