/**
 * Tells a TLS handshake from plain text by a connection's first bytes, so
 * that each kind of server can turn away a client that speaks the other.
 *
 * Every TLS connection starts with a handshake record: the content type 22
 * (0x16), then the major version 3 (0x03) of the record's protocol version.
 * No line of text starts so: 0x16 is the control character SYN. A first read
 * of a single byte is judged on that byte alone, since a TLS client sends its
 * whole ClientHello at once and waiting for a second byte would mean holding
 * a plain client's first read.
 *
 * @module
 */

/** First byte of a TLS handshake record. */
const HANDSHAKE_RECORD = 0x16;
/** Major version of every TLS (and SSL 3) record. */
const TLS_MAJOR_VERSION = 0x03;

/**
 * Whether `first`, the first bytes a peer sent, begin a TLS handshake.
 *
 * @example
 * ```ts
 * import { startsTlsHandshake } from "./tls_sniff.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(startsTlsHandshake(new Uint8Array([0x16, 0x03, 0x01, 0x02, 0x00])), true);
 * assert.equal(startsTlsHandshake(new TextEncoder().encode("hello\n")), false);
 * ```
 */
export function startsTlsHandshake(first: Uint8Array): boolean {
  if (first[0] !== HANDSHAKE_RECORD) return false;
  return first.length === 1 || first[1] === TLS_MAJOR_VERSION;
}
