/**
 * {@linkcode PrefixedConn}: a connection whose first reads give back bytes
 * already read from it. Whoever reads a connection's first bytes to decide
 * what it is (the server reading a PROXY protocol header) may read more than
 * it needed: what follows belongs to the next reader (the client's lines, or
 * its TLS ClientHello), which then reads the connection as if nothing had
 * been taken from it.
 *
 * @module
 */

import type { StreamConn } from "./stream_conn.ts";

/**
 * `conn`, with `prefix` read before anything more comes from it. Writes,
 * `closeWrite` and `close` go straight to `conn`, and so does
 * `remoteAddr`.
 *
 * @example
 * ```ts
 * import { PrefixedConn } from "./prefixed_conn.ts";
 * import assert from "node:assert/strict";
 *
 * const later = [new TextEncoder().encode("lo")];
 * const conn = {
 *   remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 5000 } as const,
 *   read: (buffer: Uint8Array) => {
 *     const next = later.shift() ?? null;
 *     if (next !== null) buffer.set(next);
 *     return Promise.resolve(next?.length ?? null);
 *   },
 *   write: (data: Uint8Array) => Promise.resolve(data.length),
 *   closeWrite: () => Promise.resolve(),
 *   close: () => {},
 * };
 * const prefixed = new PrefixedConn(conn, new TextEncoder().encode("hel"));
 * const buffer = new Uint8Array(2);
 * const reads: string[] = [];
 * for (let n; (n = await prefixed.read(buffer)) !== null;) {
 *   reads.push(new TextDecoder().decode(buffer.subarray(0, n)));
 * }
 * // The prefix ends a read of its own; then the connection's bytes follow.
 * assert.deepEqual(reads, ["he", "l", "lo"]);
 * ```
 */
export class PrefixedConn implements StreamConn {
  readonly #conn: StreamConn;
  /** What is left of the prefix; null once it is all read. */
  #prefix: Uint8Array | null;

  /** `prefix` is kept as given, not copied: the caller must not change it. */
  constructor(conn: StreamConn, prefix: Uint8Array) {
    this.#conn = conn;
    this.#prefix = prefix.length > 0 ? prefix : null;
  }

  get remoteAddr(): Deno.NetAddr {
    return this.#conn.remoteAddr;
  }

  /** Reads what is left of the prefix (never joined with bytes of the
   * connection in one read), then from the connection. */
  read(buffer: Uint8Array): Promise<number | null> {
    const prefix = this.#prefix;
    if (prefix === null || buffer.length === 0) return this.#conn.read(buffer);
    const n = Math.min(buffer.length, prefix.length);
    buffer.set(prefix.subarray(0, n));
    this.#prefix = n === prefix.length ? null : prefix.subarray(n);
    return Promise.resolve(n);
  }

  write(data: Uint8Array): Promise<number> {
    return this.#conn.write(data);
  }

  closeWrite(): Promise<void> {
    return this.#conn.closeWrite();
  }

  /** Closes the connection; what is left of the prefix is dropped. */
  close(): void {
    this.#prefix = null;
    this.#conn.close();
  }
}
