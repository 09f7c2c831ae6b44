/**
 * CRC32C (Castagnoli), the checksum a PROXY v2 header may carry in its
 * `PP2_TYPE_CRC32C` TLV. The spec points to RFC 4960, Appendix B: the
 * reflected polynomial 0x82F63B78, an initial value and a final XOR of all
 * ones. One byte per step through a 256-entry table: headers are at most a
 * few KiB, so a faster scheme would buy nothing here.
 *
 * @module
 */

/** The Castagnoli polynomial, bit-reflected. */
const POLYNOMIAL = 0x82f63b78;

/** The CRC of each byte value, built once. */
const TABLE: Uint32Array = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let crc = n;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ POLYNOMIAL : crc >>> 1;
    table[n] = crc;
  }
  return table;
})();

/** The CRC32C of `bytes`, as an unsigned 32-bit number. */
export function crc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = (TABLE[(crc ^ byte) & 0xff] as number) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
