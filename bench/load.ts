/**
 * The bench's load: what each fan-in client sends. Shared by bench/run.ts and
 * the fan-in's load Worker (bench/load_worker.ts).
 *
 * @module
 */

/** Bytes per input line, its `\n` included. */
export const LINE_BYTES = 100;

/** `#`: the byte of every client's last line, found nowhere else in the
 * input or in any server's labels. */
export const HASH = 35;

/** Builds one client's input: L-1 lines of `x` payload, then a `#` line. */
export function clientPayload(client: number, lines: number): Uint8Array {
  const out = new Uint8Array(lines * LINE_BYTES).fill(120); // 'x'
  for (let i = 0; i < lines - 1; i++) {
    // ASCII only, so one char code is one byte (no encoder: 10^6 lines).
    const head = `c${client} l${i} `;
    const base = i * LINE_BYTES;
    for (let k = 0; k < head.length; k++) out[base + k] = head.charCodeAt(k);
    out[base + LINE_BYTES - 1] = 10;
  }
  const last = (lines - 1) * LINE_BYTES;
  out.fill(HASH, last, last + LINE_BYTES - 1);
  out[last + LINE_BYTES - 1] = 10;
  return out;
}
