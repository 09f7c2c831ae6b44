/**
 * The server's access list: `--allow CIDR` and `--deny CIDR` rules, parsed
 * once at start-up and checked for every accepted peer. Deny wins; when any
 * allow rule exists a peer must match one, otherwise every peer not denied is
 * let in. An IPv4-mapped IPv6 peer (`::ffff:10.0.0.1`, what a dual-stack `::`
 * listener sees for IPv4 clients) is matched against the IPv4 rules only, as
 * nginx's access module does, and an IPv6 rule inside `::ffff:0:0/96` with a
 * prefix of 96 or more is turned into the IPv4 rule it stands for, so either
 * spelling of a rule catches either spelling of a peer. The module does no I/O:
 * refusing and logging a peer is the server's job.
 *
 * @module
 */

import { UsageError } from "../text/mod.ts";
import { formatIPv4, formatIPv6, ipv4Octets, ipv6Groups } from "../wire/mod.ts";

/** An IPv4 or IPv6 network: an address with its host bits clear and a prefix length. */
export interface Cidr {
  /** 4 or 6. A rule written as IPv4-mapped IPv6 with a prefix of 96 or more is 4. */
  readonly family: 4 | 6;
  /** The network address as an unsigned 32-bit (IPv4) or 128-bit (IPv6) integer. */
  readonly network: bigint;
  /** The prefix length: 0 to 32 for IPv4, 0 to 128 for IPv6. */
  readonly prefix: number;
  /** The canonical form for messages: `10.0.0.0/8`, `2001:db8::/32`, `::1/128`. */
  readonly text: string;
}

/** An IP address as a family and an unsigned integer. */
interface IpAddress {
  readonly family: 4 | 6;
  readonly value: bigint;
}

const IPV4_BITS = 32;
const IPV6_BITS = 128;
const MAPPED_PREFIX = 96;
/** The upper 96 bits of every IPv4-mapped IPv6 address (`::ffff:0:0/96`). */
const MAPPED_HIGH = 0xffffn;
/** The low 32 bits of an IPv6 address: the IPv4 address of a mapped one. */
const LOW_32_BITS = 0xffff_ffffn;

const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;

/**
 * Parses an `--allow` or `--deny` value: `a.b.c.d/n`, `a.b.c.d` (a /32),
 * `x:y::z/n`, a bare IPv6 address (a /128), optionally bracketed (`[::1]`,
 * `[::1]/128`). `flag` is the flag's name without dashes, as `parseInteger`
 * in `flag_values.ts` takes it; every error names the flag and the value.
 *
 * A value with host bits set below its prefix (`10.1.2.3/8`) is refused rather
 * than masked: an access rule that silently means 16 million addresses when
 * the operator may have meant one host (or mistyped the prefix) is the kind of
 * surprise a firewall rule should not spring, so the error says which network
 * the value would have meant and lets the operator choose.
 *
 * Octets with leading zeros (`010.0.0.1`, octal to `inet_aton`) and zone ids
 * (`fe80::1%eth0`, meaningless in a rule) are refused too.
 *
 * @example
 * ```ts
 * import { parseCidr } from "./access_list.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(parseCidr("10.0.0.0/8", "allow").text, "10.0.0.0/8");
 * assert.equal(parseCidr("2001:DB8:0::/32", "allow").text, "2001:db8::/32");
 * assert.equal(parseCidr("[::1]", "allow").text, "::1/128");
 * assert.equal(parseCidr("::ffff:10.0.0.0/104", "deny").text, "10.0.0.0/8");
 * assert.throws(
 *   () => parseCidr("10.1.2.3/8", "allow"),
 *   /^UsageError: Invalid --allow "10\.1\.2\.3\/8": host bits set; did you mean 10\.0\.0\.0\/8\?$/,
 * );
 * ```
 */
export function parseCidr(text: string, flag: string): Cidr {
  const invalid = (reason: string): UsageError =>
    new UsageError(`Invalid --${flag} "${text}": ${reason}`);
  const slash = text.indexOf("/");
  let body = slash < 0 ? text : text.slice(0, slash);
  const bracketed = body.startsWith("[") && body.endsWith("]");
  if (bracketed) body = body.slice(1, -1);
  if (body.includes("%")) throw invalid("zone ids are not supported");
  const address = parseIp(body);
  if (address === null) throw invalid("not an IPv4 or IPv6 address or CIDR");
  if (bracketed && address.family === 4) throw invalid("brackets are for IPv6 addresses");
  const bits = address.family === 4 ? IPV4_BITS : IPV6_BITS;
  const prefix = slash < 0 ? bits : parsePrefix(text.slice(slash + 1), bits);
  if (prefix < 0) throw invalid(`prefix length must be an integer from 0 to ${bits}`);
  const network = address.value & prefixMask(bits, prefix);
  if (network !== address.value) {
    const meant = `${formatIp(address.family, network)}/${prefix}`;
    throw invalid(`host bits set; did you mean ${meant}?`);
  }
  return cidr(address.family, network, prefix);
}

/**
 * Parses an IPv4 address (`a.b.c.d`, no leading zeros) or an IPv6 address
 * (`::` compression, 1 to 4 hex digits a group in either case, an optional
 * dotted-quad tail). Returns `null` for anything else, including zone ids and
 * brackets. IPv4-mapped addresses stay family 6 here. Uses no regular
 * expressions: it runs for every peer the server accepts.
 *
 * @example
 * ```ts
 * import { parseIp } from "./access_list.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(parseIp("10.0.0.1"), { family: 4, value: 0x0a000001n });
 * assert.deepEqual(parseIp("::ffff:10.0.0.1"), { family: 6, value: 0xffff0a000001n });
 * assert.equal(parseIp("example.org"), null);
 * ```
 */
export function parseIp(text: string): { family: 4 | 6; value: bigint } | null {
  if (text.includes(":")) {
    const groups = ipv6Groups(text);
    return groups === null ? null : { family: 6, value: valueOf(groups, 16) };
  }
  const octets = ipv4Octets(text);
  return octets === null ? null : { family: 4, value: valueOf(octets, 8) };
}

/** Parts of `bits` bits each, most significant first, as one unsigned
 * integer: joined 32 bits at a time in plain numbers, then as bigints. */
function valueOf(parts: readonly number[], bits: 8 | 16): bigint {
  const perWord = 32 / bits;
  let value = 0n;
  for (let at = 0; at < parts.length; at += perWord) {
    let word = 0;
    for (let k = 0; k < perWord; k++) word = word * 2 ** bits + (parts[at + k] ?? 0);
    value = (value << 32n) | BigInt(word);
  }
  return value;
}

/** An unsigned integer as `length` bytes in network order. */
function bytesOf(value: bigint, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = length - 1; i >= 0; i--, value >>= 8n) bytes[i] = Number(value & 0xffn);
  return bytes;
}

/** A rule ready for matching: `address & mask === network`. */
interface Rule {
  readonly network: bigint;
  readonly mask: bigint;
}

/** The rules of one address family. */
interface FamilyRules {
  readonly allow: readonly Rule[];
  readonly deny: readonly Rule[];
}

/**
 * Decides which peers may connect, from `--allow` and `--deny` rules.
 *
 * Deny wins. If there is any allow rule (of either family), a peer must match
 * one; otherwise every peer not denied is permitted. IPv4-mapped IPv6 peers
 * are matched as IPv4, and a `%zone` suffix on a peer is ignored. A peer
 * address that cannot be parsed is refused whenever the list has any rule:
 * the list fails closed, since a peer it cannot place can be neither shown to
 * match an allow rule nor shown to miss every deny rule.
 *
 * @example
 * ```ts
 * import { AccessList, parseCidr } from "./access_list.ts";
 * import assert from "node:assert/strict";
 *
 * const list = new AccessList(
 *   [parseCidr("10.0.0.0/8", "allow")],
 *   [parseCidr("10.0.0.13", "deny")],
 * );
 * assert.ok(list.permits("10.1.2.3"));
 * assert.ok(list.permits("::ffff:10.1.2.3"));
 * assert.ok(!list.permits("10.0.0.13"));
 * assert.ok(!list.permits("192.168.0.1"));
 * assert.ok(!list.permits("::1"));
 * assert.ok(new AccessList([], []).permits("::1"));
 * ```
 */
export class AccessList {
  readonly #v4: FamilyRules;
  readonly #v6: FamilyRules;
  readonly #hasAllow: boolean;
  readonly #restricted: boolean;

  /**
   * Precomputes the masks of `allow` and `deny`. Throws `RangeError` for a
   * `Cidr` not made by {@linkcode parseCidr} whose family or prefix is out of
   * range; host bits in such a `Cidr` are cleared.
   */
  constructor(allow: readonly Cidr[], deny: readonly Cidr[]) {
    const allowRules = allow.map(toRule);
    const denyRules = deny.map(toRule);
    const of = (rules: readonly [4 | 6, Rule][], family: 4 | 6): Rule[] =>
      rules.filter(([f]) => f === family).map(([, rule]) => rule);
    this.#v4 = { allow: of(allowRules, 4), deny: of(denyRules, 4) };
    this.#v6 = { allow: of(allowRules, 6), deny: of(denyRules, 6) };
    this.#hasAllow = allow.length > 0;
    this.#restricted = allow.length > 0 || deny.length > 0;
  }

  /** Whether there is any rule at all; without one, every peer is permitted unparsed. */
  get restricted(): boolean {
    return this.#restricted;
  }

  /**
   * Whether the peer at `address` (as Deno reports it: `127.0.0.1`, `::1`,
   * `::ffff:127.0.0.1`, `fe80::1%eth0`) may connect.
   */
  permits(address: string): boolean {
    if (!this.#restricted) return true;
    const peer = parsePeer(address);
    if (peer === null) return false;
    const rules = peer.family === 4 ? this.#v4 : this.#v6;
    if (matchesAny(rules.deny, peer.value)) return false;
    return !this.#hasAllow || matchesAny(rules.allow, peer.value);
  }
}

/** Whether `value` lies in any of `rules`. */
function matchesAny(rules: readonly Rule[], value: bigint): boolean {
  for (const rule of rules) {
    if ((value & rule.mask) === rule.network) return true;
  }
  return false;
}

/** A peer address without its zone, IPv4-mapped IPv6 turned into IPv4; null if unparsable. */
function parsePeer(address: string): IpAddress | null {
  const percent = address.indexOf("%");
  const ip = parseIp(percent < 0 ? address : address.slice(0, percent));
  if (ip === null) return null;
  // Only IPv6 addresses have zones, and a zone is never empty.
  if (percent >= 0 && (ip.family === 4 || percent === address.length - 1)) return null;
  if (ip.family === 6 && ip.value >> BigInt(IPV4_BITS) === MAPPED_HIGH) {
    return { family: 4, value: ip.value & LOW_32_BITS };
  }
  return ip;
}

/** Checks a `Cidr` and turns it into its family and a masked rule. */
function toRule(rule: Cidr): [4 | 6, Rule] {
  const bits = familyBits(rule.family);
  if (bits === 0 || !Number.isInteger(rule.prefix) || rule.prefix < 0 || rule.prefix > bits) {
    throw new RangeError(`Invalid access rule "${rule.text}": bad family or prefix length`);
  }
  const { family, network, prefix } = cidr(
    rule.family,
    rule.network & prefixMask(bits, rule.prefix),
    rule.prefix,
  );
  return [family, { network, mask: prefixMask(familyBits(family), prefix) }];
}

/** The address width of `family` in bits; 0 for a family that does not exist. */
function familyBits(family: number): number {
  return family === 4 ? IPV4_BITS : family === 6 ? IPV6_BITS : 0;
}

/**
 * Builds a `Cidr` with its canonical text, turning an IPv6 network inside
 * `::ffff:0:0/96` with a prefix of 96 or more into the IPv4 network it maps.
 */
function cidr(family: 4 | 6, network: bigint, prefix: number): Cidr {
  if (family === 6 && prefix >= MAPPED_PREFIX && network >> BigInt(IPV4_BITS) === MAPPED_HIGH) {
    return cidr(4, network & LOW_32_BITS, prefix - MAPPED_PREFIX);
  }
  return { family, network, prefix, text: `${formatIp(family, network)}/${prefix}` };
}

/** The mask keeping the top `prefix` bits of a `bits`-bit address. */
function prefixMask(bits: number, prefix: number): bigint {
  return ((1n << BigInt(bits)) - 1n) ^ ((1n << BigInt(bits - prefix)) - 1n);
}

/** A prefix length of 1 to 3 ASCII digits, at most `bits`; -1 otherwise. */
function parsePrefix(text: string, bits: number): number {
  if (text.length === 0 || text.length > 3) return -1;
  let value = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < DIGIT_0 || code > DIGIT_9) return -1;
    value = value * 10 + code - DIGIT_0;
  }
  return value <= bits ? value : -1;
}

/** Formats an address: dotted quad, or RFC 5952 IPv6 (mapped addresses as `::ffff:a.b.c.d`). */
function formatIp(family: 4 | 6, value: bigint): string {
  return family === 4 ? formatIPv4(bytesOf(value, 4)) : formatIPv6(bytesOf(value, 16));
}
