/**
 * IPv4 and IPv6 addresses as text, the one parser and formatter of them:
 * the addresses of a PROXY v1 line, whole or still arriving (so it can say
 * whether text cut short could still become an address), the `--allow` and
 * `--deny` rules and peers of the access list (`lib/net/access_list.ts`,
 * which works on the bytes as numbers), and an address shown as linehub
 * shows its peers. No regular expressions: it runs for every peer.
 *
 * An IPv4 address is four decimal numbers from 0 to 255 without leading
 * zeros, as the PROXY spec asks. An IPv6 address is what `inet_pton` takes:
 * up to eight groups of 1 to 4 hex digits, one `::` standing for one or more
 * zero groups, and optionally a dotted IPv4 address in place of the last
 * two groups (what `inet_ntop`, which senders use, writes for `::ffff:a.b.c.d`).
 * Zone ids (`%eth0`) and brackets are not part of an address here: callers
 * that take them strip them first.
 *
 * @module
 */

const DOT = 0x2e;
const COLON = 0x3a;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
/** Groups in an IPv6 address. */
const IPV6_GROUPS = 8;
/** Most hex digits in one IPv6 group. */
const GROUP_DIGITS = 4;

/** The value of a hex digit's char code, or -1. */
function hexDigit(code: number): number {
  if (code >= DIGIT_0 && code <= DIGIT_9) return code - DIGIT_0;
  const lower = code | 0x20; // ASCII letters: upper case to lower case
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : -1;
}

/**
 * The octets of IPv4 text. When `complete` is false the text may be cut
 * short: the result is then the octets so far, or null if no ending could
 * make an address of it.
 */
function scanIPv4(text: string, complete: boolean): number[] | null {
  const octets: number[] = [];
  let value = 0;
  let digits = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === DOT) {
      if (digits === 0 || octets.length === 3) return null; // an empty octet, or a fifth
      octets.push(value);
      value = 0;
      digits = 0;
    } else if (code >= DIGIT_0 && code <= DIGIT_9) {
      if (digits === 1 && value === 0) return null; // a leading zero
      value = value * 10 + code - DIGIT_0;
      digits++;
      if (value > 255) return null;
    } else {
      return null;
    }
  }
  if (digits > 0) octets.push(value);
  else if (complete) return null;
  return !complete || octets.length === 4 ? octets : null;
}

/**
 * The eight groups of IPv6 text, or null. When `complete` is false the text
 * may be cut short: the result is then the groups written so far, or null if
 * no ending could make an address of it.
 */
function scanIPv6(text: string, complete: boolean): number[] | null {
  const end = text.length;
  const groups: number[] = [];
  let gap = -1; // where "::" stands among the groups, if anywhere
  let i = 0;
  if (end > 0 && text.charCodeAt(0) === COLON) {
    if (end === 1) return complete ? null : groups;
    if (text.charCodeAt(1) !== COLON) return null;
    gap = 0;
    i = 2;
  }
  while (i < end) {
    let j = i;
    let group = 0;
    while (j < end && j - i <= GROUP_DIGITS) {
      const digit = hexDigit(text.charCodeAt(j));
      if (digit < 0) break;
      group = group * 16 + digit;
      j++;
    }
    if (j < end && text.charCodeAt(j) === DOT) {
      // A dotted quad takes the last two groups and ends the address.
      const room = (gap >= 0 ? IPV6_GROUPS - 1 : IPV6_GROUPS) - groups.length;
      if (gap >= 0 ? room < 2 : room !== 2) return null;
      const octets = scanIPv4(text.slice(i), complete);
      if (octets === null) return null;
      if (!complete) return groups;
      const [a = 0, b = 0, c = 0, d = 0] = octets;
      groups.push(a << 8 | b, c << 8 | d);
      return expand(groups, gap);
    }
    if (j === i || j - i > GROUP_DIGITS) return null;
    if (groups.push(group) > (gap >= 0 ? IPV6_GROUPS - 1 : IPV6_GROUPS)) return null;
    if (j === end) break;
    if (text.charCodeAt(j) !== COLON) return null;
    i = j + 1;
    if (i < end && text.charCodeAt(i) === COLON) {
      if (gap >= 0 || groups.length === IPV6_GROUPS) return null;
      gap = groups.length;
      i++;
    }
  }
  const danglingColon = text.endsWith(":") && !text.endsWith("::");
  if (!complete) {
    // After a single colon another group must fit (or, without a gap yet, "::").
    const most = gap >= 0 ? IPV6_GROUPS - 1 : IPV6_GROUPS;
    return danglingColon && groups.length >= most ? null : groups;
  }
  if (danglingColon || end === 0) return null;
  return gap >= 0 || groups.length === IPV6_GROUPS ? expand(groups, gap) : null;
}

/** All eight groups, the zero groups `::` stands for put in at `gap`. */
function expand(groups: number[], gap: number): number[] | null {
  if (gap < 0) return groups.length === IPV6_GROUPS ? groups : null;
  const all = new Array<number>(IPV6_GROUPS).fill(0);
  const after = groups.length - gap;
  for (let k = 0; k < gap; k++) all[k] = groups[k] ?? 0;
  for (let k = 0; k < after; k++) all[IPV6_GROUPS - after + k] = groups[gap + k] ?? 0;
  return all;
}

/**
 * The 4 octets of an IPv4 address written `a.b.c.d` (no leading zeros),
 * as numbers, or null: for a caller that works on numbers, without the
 * cost of a typed array (about 1 us each in V8, many times the parse).
 *
 * @example
 * ```ts
 * import { ipv4Octets } from "./ip_text.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(ipv4Octets("10.0.0.1"), [10, 0, 0, 1]);
 * assert.equal(ipv4Octets("010.0.0.1"), null);
 * ```
 */
export function ipv4Octets(text: string): number[] | null {
  return scanIPv4(text, true);
}

/**
 * The 4 bytes of an IPv4 address written `a.b.c.d` (no leading zeros), or null.
 *
 * @example
 * ```ts
 * import { ipv4Bytes } from "./ip_text.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(ipv4Bytes("10.0.0.1"), Uint8Array.of(10, 0, 0, 1));
 * assert.equal(ipv4Bytes("10.0.0"), null);
 * ```
 */
export function ipv4Bytes(text: string): Uint8Array | null {
  const octets = scanIPv4(text, true);
  return octets === null ? null : new Uint8Array(octets);
}

/**
 * Whether `text` could be the start of an IPv4 address (the empty text can).
 *
 * @example
 * ```ts
 * import { mayStartIPv4 } from "./ip_text.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(mayStartIPv4("192.168."), true);
 * assert.equal(mayStartIPv4("256."), false);
 * ```
 */
export function mayStartIPv4(text: string): boolean {
  return scanIPv4(text, false) !== null;
}

/**
 * The 8 groups of an IPv6 address in text, as 16-bit numbers, or null
 * (see {@linkcode ipv4Octets} for why numbers).
 *
 * @example
 * ```ts
 * import { ipv6Groups } from "./ip_text.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(ipv6Groups("2001:db8::1"), [0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]);
 * assert.equal(ipv6Groups("1::2::3"), null);
 * ```
 */
export function ipv6Groups(text: string): number[] | null {
  return scanIPv6(text, true);
}

/**
 * The 16 bytes of an IPv6 address in text, or null.
 *
 * @example
 * ```ts
 * import { ipv6Bytes } from "./ip_text.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(ipv6Bytes("::FFFF:10.0.0.1")?.subarray(10), Uint8Array.of(255, 255, 10, 0, 0, 1));
 * assert.equal(ipv6Bytes("fe80::1%eth0"), null);
 * ```
 */
export function ipv6Bytes(text: string): Uint8Array | null {
  const groups = scanIPv6(text, true);
  if (groups === null) return null;
  const bytes = new Uint8Array(16);
  for (let k = 0; k < IPV6_GROUPS; k++) {
    const group = groups[k] ?? 0;
    bytes[2 * k] = group >> 8;
    bytes[2 * k + 1] = group & 0xff;
  }
  return bytes;
}

/**
 * Whether `text` could be the start of an IPv6 address (the empty text can).
 *
 * @example
 * ```ts
 * import { mayStartIPv6 } from "./ip_text.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(mayStartIPv6("2001:db8:"), true);
 * assert.equal(mayStartIPv6("2001:db8::1::"), false);
 * ```
 */
export function mayStartIPv6(text: string): boolean {
  return scanIPv6(text, false) !== null;
}

/**
 * Shows 4 bytes as a dotted quad.
 *
 * @example
 * ```ts
 * import { formatIPv4 } from "./ip_text.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(formatIPv4(Uint8Array.of(192, 0, 2, 1)), "192.0.2.1");
 * ```
 */
export function formatIPv4(bytes: Uint8Array): string {
  return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
}

/**
 * Shows 16 bytes as Deno shows an IPv6 peer (`Deno.NetAddr.hostname`):
 * RFC 5952's form, lower case with the longest run of two or more zero
 * groups (the first of equals) as `::`, and an IPv4-mapped address as
 * `::ffff:a.b.c.d`.
 *
 * @example
 * ```ts
 * import { formatIPv6, ipv6Bytes } from "./ip_text.ts";
 * import assert from "node:assert/strict";
 *
 * const show = (text: string) => formatIPv6(ipv6Bytes(text) ?? new Uint8Array(16));
 * assert.equal(show("2001:DB8:0:0:1:0:0:1"), "2001:db8::1:0:0:1");
 * assert.equal(show("::ffff:a00:1"), "::ffff:10.0.0.1");
 * ```
 */
export function formatIPv6(bytes: Uint8Array): string {
  const groups: number[] = [];
  for (let k = 0; k < IPV6_GROUPS; k++) {
    groups.push((bytes[2 * k] ?? 0) << 8 | (bytes[2 * k + 1] ?? 0));
  }
  if (groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff) {
    return `::ffff:${formatIPv4(bytes.subarray(12, 16))}`;
  }
  let bestStart = -1;
  let bestLength = 1;
  for (let start = 0; start < IPV6_GROUPS; start++) {
    let length = 0;
    while (groups[start + length] === 0) length++;
    if (length > bestLength) {
      bestStart = start;
      bestLength = length;
    }
    start += length;
  }
  const hex = groups.map((group) => group.toString(16));
  if (bestStart < 0) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLength).join(":")}`;
}
