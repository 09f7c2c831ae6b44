/**
 * Reading a soak connection's answers with a deadline: the acknowledgments
 * of its lines, and the rest until the server closes. Every fault
 * connection and short connection that waits for the server goes through
 * these, so that none can hang the soak.
 *
 * @module
 */

import type { AckParser } from "../../lib/wire/ack_protocol.ts";
import { within } from "./_common.ts";

/** Reads acknowledgments until `count` lines are acknowledged, the peer
 * closes, or the time runs out; returns the count acknowledged. Reads
 * nothing more once the count is reached. */
export async function readAcks(
  conn: Deno.Conn,
  parser: AckParser,
  count: number,
  timeoutMs: number,
): Promise<number> {
  const buffer = new Uint8Array(256);
  const deadline = Date.now() + timeoutMs;
  while (parser.acknowledged < count) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    const n = await within<number | null | "timeout">(conn.read(buffer), left, "timeout");
    if (n === null || n === "timeout") break;
    parser.push(buffer.subarray(0, n), () => {}, () => {});
  }
  return parser.acknowledged;
}

/** Reads until the server closes, feeding acknowledgments to `parser` if
 * given; false if it did not close within `timeoutMs`. */
export async function readToEnd(
  conn: Deno.Conn,
  timeoutMs: number,
  parser?: AckParser,
): Promise<boolean> {
  const buffer = new Uint8Array(4096);
  const deadline = Date.now() + timeoutMs;
  while (true) {
    const left = deadline - Date.now();
    if (left <= 0) return false;
    const n = await within<number | null | "timeout">(conn.read(buffer), left, "timeout");
    if (n === "timeout") return false;
    if (n === null) return true;
    parser?.push(buffer.subarray(0, n), () => {}, () => {});
  }
}

/** Like {@linkcode readToEnd}, but a reset counts as the close: for a
 * connection that has sent everything, a server that resets it has still
 * ended it. */
export async function readToClose(
  conn: Deno.Conn,
  timeoutMs: number,
  parser?: AckParser,
): Promise<boolean> {
  try {
    return await readToEnd(conn, timeoutMs, parser);
  } catch (error) {
    if (error instanceof Deno.errors.ConnectionReset) return true;
    throw error;
  }
}
