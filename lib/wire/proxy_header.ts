/**
 * The PROXY protocol header a load balancer (HAProxy, an AWS NLB, nginx's
 * `proxy_protocol`) puts before a connection's data to say whom it relays:
 * version 1, one line of text, or version 2, binary. This module reads it
 * from the bytes a connection has sent so far, as a pure function a server
 * calls again with more bytes until it says "done" or "invalid"; what
 * follows the header is the client's data. Written from HAProxy's
 * specification, "The PROXY protocol, Versions 1 & 2" (doc/proxy-protocol.txt).
 *
 * It decides as early as the bytes allow, so that a server can drop a peer
 * that sent no header without waiting for a timeout: the first byte of a
 * line of text (`hello`) is already invalid, as is the first byte of a v1
 * field that no ending could make valid. A header cut short anywhere is
 * "incomplete", never "invalid" nor "done". Nothing is held from one call to
 * the next, and the bytes given are never changed.
 *
 * Caps: a v1 line ends with CRLF within its first 107 bytes, as the spec
 * says. A v2 header may be up to 65,551 bytes by its length field; linehub
 * takes at most {@linkcode DEFAULT_MAX_PROXY_V2_LENGTH} (4 KiB) unless told
 * otherwise: eight times the 536 bytes the spec designed headers to fit,
 * room for HAProxy's TLS TLVs and a client certificate of common size, and
 * all a peer can make the server hold before it is refused. So "incomplete"
 * is only ever said about fewer bytes than the cap.
 *
 * Refused: anything that does not begin with a signature; in v1, a field
 * not exactly as the grammar says (one space between fields, IPv4 without
 * leading zeros, IPv6 that `inet_pton` would not take, ports from 0 to 65535
 * without leading zeros, an address of the other family, a missing or extra
 * field), a lone CR or LF, no CRLF within 107 bytes; in v2, a version other
 * than 2, a command other than LOCAL and PROXY, a family or protocol the
 * spec does not define, an address block too short for its family, TLVs
 * that do not exactly fill the rest, a CRC32C that does not match, and the
 * named TLVs below when malformed or given twice. Accepted and reported
 * with no addresses (family "unknown", for the server to use the
 * connection's own): v1 `UNKNOWN`, whatever follows it on the line; v2
 * AF_UNSPEC and UDP (linehub relays TCP; the spec says to fall back to
 * UNSPEC for what a receiver does not support); v2 LOCAL (a health check),
 * whose address block and TLVs are skipped unread, as the spec says.
 *
 * @module
 */

import { crc32c } from "./_crc32c.ts";
import {
  formatIPv4,
  formatIPv6,
  ipv4Bytes,
  ipv6Bytes,
  mayStartIPv4,
  mayStartIPv6,
} from "./ip_text.ts";

/** Longest v1 header, CRLF included (`PROXY UNKNOWN` with two full IPv6 addresses and ports). */
export const MAX_PROXY_V1_LENGTH = 107;
/** Longest v2 header linehub takes unless told otherwise; see the module's doc. */
export const DEFAULT_MAX_PROXY_V2_LENGTH = 4096;

/** The v2 TLV types the spec registers (`PP2_TYPE_*`). */
export const PP2_TYPE = {
  ALPN: 0x01,
  AUTHORITY: 0x02,
  CRC32C: 0x03,
  NOOP: 0x04,
  UNIQUE_ID: 0x05,
  SSL: 0x20,
  NETNS: 0x30,
} as const;

/** The types of the TLVs inside a `PP2_TYPE.SSL` TLV (`PP2_SUBTYPE_SSL_*`). */
export const PP2_SUBTYPE_SSL = {
  VERSION: 0x21,
  CN: 0x22,
  CIPHER: 0x23,
  SIG_ALG: 0x24,
  KEY_ALG: 0x25,
  GROUP: 0x26,
  SIG_SCHEME: 0x27,
  CLIENT_CERT: 0x28,
} as const;

/** How to read a header. */
export interface ProxyHeaderOptions {
  /** Longest v2 header taken, its 16 fixed bytes included: from 232 (room
   * for the largest address block, two AF_UNIX paths) to 65551 (all its
   * length field can say). A header whose length field says more is invalid
   * as soon as that field arrives.
   * @default {4096} */
  readonly maxV2Length?: number;
}

/** One end of the relayed connection. */
export interface ProxyEndpoint {
  /** IPv4 as `a.b.c.d`; IPv6 as Deno shows a peer (`2001:db8::1`,
   * `::ffff:10.0.0.1`); a unix socket's path, or `@name` for an abstract one. */
  readonly address: string;
  /** The TCP port; null for a unix socket. */
  readonly port: number | null;
}

/** A v2 type-length-value field: `value` is a copy, safe to keep. */
export interface ProxyTlv {
  readonly type: number;
  readonly value: Uint8Array;
}

/** What a `PP2_TYPE.SSL` TLV says about the client's side of the proxy. */
export interface ProxySsl {
  /** The client connected over SSL/TLS (`PP2_CLIENT_SSL`). */
  readonly tls: boolean;
  /** It presented a certificate on this connection (`PP2_CLIENT_CERT_CONN`). */
  readonly certificateOnConnection: boolean;
  /** It presented one at least once in this TLS session (`PP2_CLIENT_CERT_SESS`). */
  readonly certificateInSession: boolean;
  /** `verify` was 0: it presented a certificate and the proxy verified it. */
  readonly certificateVerified: boolean;
  /** `PP2_SUBTYPE_SSL_VERSION`, e.g. `TLSv1.3`. */
  readonly version: string | null;
  /** `PP2_SUBTYPE_SSL_CN`: the client certificate's Common Name. */
  readonly commonName: string | null;
  /** `PP2_SUBTYPE_SSL_CIPHER`, e.g. `ECDHE-RSA-AES128-GCM-SHA256`. */
  readonly cipher: string | null;
  /** Every sub-TLV in order, named above or not. */
  readonly tlvs: readonly ProxyTlv[];
}

/** What a PROXY header says. Addresses are given exactly when the family is known. */
export type ProxyHeader =
  & {
    readonly version: 1 | 2;
    /** "local": a connection the proxy made itself (a v2 health check):
     * count and label it by the connection's own addresses. */
    readonly command: "proxy" | "local";
    /** v2 TLVs in order, including the CRC32C and NOOP ones; v1 has none. */
    readonly tlvs: readonly ProxyTlv[];
    /** `PP2_TYPE.AUTHORITY`: the host name the client asked for (TLS SNI). */
    readonly authority: string | null;
    /** `PP2_TYPE.UNIQUE_ID`: the proxy's id for the connection, up to 128 bytes. */
    readonly uniqueId: Uint8Array | null;
    readonly ssl: ProxySsl | null;
  }
  & (
    | {
      readonly family: "tcp4" | "tcp6" | "unix";
      /** The client, whose address replaces the proxy's. */
      readonly source: ProxyEndpoint;
      /** Where the client connected to, on the proxy. */
      readonly destination: ProxyEndpoint;
    }
    | {
      /** v1 UNKNOWN; v2 AF_UNSPEC, UDP, or any LOCAL. */
      readonly family: "unknown";
      readonly source: null;
      readonly destination: null;
    }
  );

/** The answer for the bytes a connection has sent so far. */
export type ProxyParse =
  | { readonly status: "incomplete" }
  | {
    readonly status: "done";
    readonly header: ProxyHeader;
    /** Bytes the header took: what follows is the client's data. */
    readonly length: number;
  }
  | { readonly status: "invalid"; readonly reason: string };

const INCOMPLETE: ProxyParse = { status: "incomplete" };
const CR = 0x0d;
const LF = 0x0a;
/** Bytes of an invalid input quoted in a reason, at most. */
const QUOTE_LIMIT = 24;

/** One character per byte, so that every byte gets through to the checks. */
const latin1 = new TextDecoder("latin1");
/** For the TLVs the spec says are UTF-8 (or US-ASCII, a part of it). */
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const lenientUtf8 = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * Reads a PROXY header (v1 or v2) from the first bytes of a connection.
 * Call it again with all the bytes so far while it says "incomplete"; on
 * "done", `length` bytes were the header and the rest is data; on
 * "invalid", the connection should be closed, and `reason` says why,
 * quoting at most a short, escaped prefix of what was sent.
 *
 * @example
 * ```ts
 * import { parseProxyHeader } from "./proxy_header.ts";
 * import assert from "node:assert/strict";
 *
 * const v1 = new TextEncoder().encode("PROXY TCP6 2001:DB8:0:0::1 ::1 56324 8888\r\nhello\n");
 * const one = parseProxyHeader(v1);
 * assert.equal(one.status, "done");
 * assert.equal(one.status === "done" && one.length, 43);
 * assert.deepEqual(one.status === "done" && one.header.source, { address: "2001:db8::1", port: 56324 });
 *
 * const v2 = Uint8Array.of(
 *   0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a, // signature
 *   0x21, 0x11, 0x00, 0x0c, // v2 PROXY, TCP over IPv4, 12 address bytes
 *   192, 0, 2, 1, 10, 0, 0, 1, 0xdc, 0x04, 0x22, 0xb8, // 192.0.2.1:56324 to 10.0.0.1:8888
 * );
 * const two = parseProxyHeader(v2);
 * assert.deepEqual(two.status === "done" && two.header.source, { address: "192.0.2.1", port: 56324 });
 * assert.equal(parseProxyHeader(v2.subarray(0, 27)).status, "incomplete");
 * assert.equal(parseProxyHeader(new TextEncoder().encode("h")).status, "invalid");
 * ```
 */
export function parseProxyHeader(bytes: Uint8Array, options: ProxyHeaderOptions = {}): ProxyParse {
  const maxV2Length = options.maxV2Length ?? DEFAULT_MAX_PROXY_V2_LENGTH;
  if (
    !Number.isInteger(maxV2Length) || maxV2Length < SMALLEST_V2_CAP ||
    maxV2Length > LONGEST_V2_HEADER
  ) {
    throw new RangeError(
      `Invalid maxV2Length ${maxV2Length}: must be an integer from ${SMALLEST_V2_CAP} to ${LONGEST_V2_HEADER}`,
    );
  }
  if (bytes.length === 0) return INCOMPLETE;
  if (bytes[0] === V1_SIGNATURE[0]) return parseV1(bytes);
  if (bytes[0] === V2_SIGNATURE[0]) return parseV2(bytes, maxV2Length);
  return notAHeader(bytes);
}

// ---- version 1 ----------------------------------------------------------

/** "PROXY" and its one space. */
const V1_SIGNATURE = new TextEncoder().encode("PROXY ");
const V1_PROTOCOLS = ["TCP4", "TCP6", "UNKNOWN"];
const V1_FIELDS = ["source address", "destination address", "source port", "destination port"];
/** A port: 0 to 65535 in decimal, without leading zeros (checked for size apart). */
const PORT_PATTERN = /^(0|[1-9][0-9]{0,4})$/;

function parseV1(bytes: Uint8Array): ProxyParse {
  const signatureSeen = Math.min(bytes.length, V1_SIGNATURE.length);
  for (let i = 0; i < signatureSeen; i++) {
    if (bytes[i] !== V1_SIGNATURE[i]) return notAHeader(bytes);
  }
  // The CR must come by the 106th byte for its LF to be the 107th.
  const crLimit = Math.min(bytes.length, MAX_PROXY_V1_LENGTH - 1);
  let cr = -1;
  for (let i = signatureSeen; i < crLimit && cr < 0; i++) {
    if (bytes[i] === LF) return invalidV1("a line feed without a carriage return before it");
    if (bytes[i] === CR) cr = i;
  }
  const fieldsEnd = cr >= 0 ? cr : Math.min(bytes.length, crLimit);
  const fields = latin1.decode(bytes.subarray(signatureSeen, fieldsEnd));
  const header = readV1Fields(fields, cr >= 0);
  if (typeof header === "string") return invalidV1(header);
  if (header === null) {
    // No CR yet, and the fields so far could begin a header.
    if (bytes.length < MAX_PROXY_V1_LENGTH - 1) return INCOMPLETE;
    return invalidV1(`no CRLF within its first ${MAX_PROXY_V1_LENGTH} bytes`);
  }
  if (cr + 1 === bytes.length) return INCOMPLETE;
  if (bytes[cr + 1] !== LF) return invalidV1("a carriage return without a line feed after it");
  return { status: "done", header, length: cr + 2 };
}

/**
 * Checks the fields after `PROXY `: the header when `complete` (the CR was
 * seen), null when the fields so far could still begin a valid header,
 * else what is wrong with them.
 */
function readV1Fields(text: string, complete: boolean): ProxyHeader | null | string {
  const fields = text.split(" ");
  const growing = (k: number): boolean => !complete && k === fields.length - 1;
  const protocol = fields[0] ?? "";
  if (growing(0)) {
    return V1_PROTOCOLS.some((known) => known.startsWith(protocol))
      ? null
      : `unknown protocol ${quote(protocol)}: TCP4, TCP6 or UNKNOWN`;
  }
  // The spec has the receiver ignore whatever follows UNKNOWN on the line.
  if (protocol === "UNKNOWN") return complete ? unknownHeader(1, "proxy") : null;
  if (protocol !== "TCP4" && protocol !== "TCP6") {
    return `unknown protocol ${quote(protocol)}: TCP4, TCP6 or UNKNOWN`;
  }
  const addresses: string[] = [];
  const ports: number[] = [];
  for (let k = 1; k <= 4; k++) {
    const name = V1_FIELDS[k - 1] as string;
    const field = fields[k];
    if (field === undefined) return complete ? `no ${name}` : null;
    const isAddress = k <= 2;
    if (growing(k)) {
      const ok = isAddress ? mayStartAddress(field, protocol === "TCP4") : mayStartPort(field);
      return ok
        ? null
        : `${name} ${quote(field)} ${isAddress ? `is not ${ADDRESS_RULE[protocol]}` : PORT_RULE}`;
    }
    if (field === "") return `no ${name}: fields are one space apart`;
    if (isAddress) {
      const shown = showAddress(field, protocol === "TCP4");
      if (shown === null) return `${name} ${quote(field)} is not ${ADDRESS_RULE[protocol]}`;
      addresses.push(shown);
    } else {
      const port = portOf(field);
      if (port === null) return `${name} ${quote(field)} ${PORT_RULE}`;
      ports.push(port);
    }
  }
  if (fields.length > 5) return `a field after the destination port: ${quote(fields[5] ?? "")}`;
  if (!complete) return null;
  const [source = "", destination = ""] = addresses;
  const [sourcePort = 0, destinationPort = 0] = ports;
  return {
    version: 1,
    command: "proxy",
    family: protocol === "TCP4" ? "tcp4" : "tcp6",
    source: { address: source, port: sourcePort },
    destination: { address: destination, port: destinationPort },
    ...NO_TLVS,
  };
}

const ADDRESS_RULE = {
  TCP4: "an IPv4 address (a.b.c.d, no leading zeros)",
  TCP6: "an IPv6 address",
};
const PORT_RULE = "is not a port (0 to 65535, no leading zeros)";

/** Whether `text` could begin an address of the family. */
function mayStartAddress(text: string, ipv4: boolean): boolean {
  return ipv4 ? mayStartIPv4(text) : mayStartIPv6(text);
}

/** An address as linehub shows it, or null if it is not one of the family. */
function showAddress(text: string, ipv4: boolean): string | null {
  if (ipv4) return ipv4Bytes(text) === null ? null : text;
  const bytes = ipv6Bytes(text);
  return bytes === null ? null : formatIPv6(bytes);
}

/** Whether `text` could begin a port. */
function mayStartPort(text: string): boolean {
  return text === "" || portOf(text) !== null;
}

/** The port `text` says, or null. */
function portOf(text: string): number | null {
  return PORT_PATTERN.test(text) && Number(text) <= 65535 ? Number(text) : null;
}

function invalidV1(problem: string): ProxyParse {
  return { status: "invalid", reason: `Invalid PROXY v1 header: ${problem}` };
}

// ---- version 2 ----------------------------------------------------------

const V2_SIGNATURE = Uint8Array.of(
  0x0d,
  0x0a,
  0x0d,
  0x0a,
  0x00,
  0x0d,
  0x0a,
  0x51,
  0x55,
  0x49,
  0x54,
  0x0a,
);
/** The signature, the version and command byte, the family byte, the length. */
const V2_FIXED_LENGTH = 16;
const COMMAND_LOCAL = 0x0;
const COMMAND_PROXY = 0x1;
/** Address block bytes by family: AF_UNSPEC, AF_INET, AF_INET6, AF_UNIX. */
const ADDRESS_BLOCK = [0, 12, 36, 216];
/** The family and protocol bytes the spec lists, and what linehub reports for each. */
const V2_FAMILIES = new Map<number, ProxyHeader["family"]>([
  [0x00, "unknown"], // AF_UNSPEC
  [0x11, "tcp4"],
  [0x12, "unknown"], // UDP over IPv4
  [0x21, "tcp6"],
  [0x22, "unknown"], // UDP over IPv6
  [0x31, "unix"], // stream
  [0x32, "unknown"], // datagram
]);
/** Bytes of one TLV's type and length. */
const TLV_HEAD = 3;
/** Bytes before the sub-TLVs of an SSL TLV: `client` and `verify`. */
const SSL_HEAD = 5;
const PP2_CLIENT_SSL = 0x01;
const PP2_CLIENT_CERT_CONN = 0x02;
const PP2_CLIENT_CERT_SESS = 0x04;
/** The spec's limit on PP2_TYPE_UNIQUE_ID. */
const MAX_UNIQUE_ID = 128;
/** Bytes of a unix socket path in the address block. */
const UNIX_PATH = 108;
/** The smallest cap a caller may set: room for the largest address block. */
const SMALLEST_V2_CAP = V2_FIXED_LENGTH + 2 * UNIX_PATH;
/** The most a v2 length field can say, with the 16 fixed bytes. */
const LONGEST_V2_HEADER = V2_FIXED_LENGTH + 0xffff;

function parseV2(bytes: Uint8Array, maxLength: number): ProxyParse {
  const signatureSeen = Math.min(bytes.length, V2_SIGNATURE.length);
  for (let i = 0; i < signatureSeen; i++) {
    if (bytes[i] !== V2_SIGNATURE[i]) return notAHeader(bytes);
  }
  if (bytes.length <= V2_SIGNATURE.length) return INCOMPLETE;
  const versionCommand = bytes[12] as number;
  if (versionCommand >> 4 !== 2) {
    return invalidV2(
      `version ${versionCommand >> 4} (byte 13 is ${hex(versionCommand)}): only 2 is defined`,
    );
  }
  const command = versionCommand & 0x0f;
  if (command !== COMMAND_LOCAL && command !== COMMAND_PROXY) {
    return invalidV2(`command ${hex(command)}: only LOCAL (0x0) and PROXY (0x1) are defined`);
  }
  if (bytes.length < 14) return INCOMPLETE;
  const familyProtocol = bytes[13] as number;
  const family = V2_FAMILIES.get(familyProtocol);
  // LOCAL ignores the family, but the spec still has receivers reject undefined values.
  const defined = familyProtocol >> 4 <= 3 && (familyProtocol & 0x0f) <= 2;
  if (command === COMMAND_PROXY ? family === undefined : !defined) {
    return invalidV2(
      `address family and protocol ${hex(familyProtocol)}: not one the spec defines`,
    );
  }
  if (bytes.length < V2_FIXED_LENGTH) return INCOMPLETE;
  const length = V2_FIXED_LENGTH + ((bytes[14] as number) << 8 | (bytes[15] as number));
  if (length > maxLength) {
    return invalidV2(`${length} bytes long, over the limit of ${maxLength}`);
  }
  // A health check: the spec has the receiver discard the rest, family and all.
  // (Only a LOCAL command gets here with a family not in the map.)
  if (command === COMMAND_LOCAL || family === undefined) {
    return bytes.length < length
      ? INCOMPLETE
      : { status: "done", header: unknownHeader(2, "local"), length };
  }
  const block = ADDRESS_BLOCK[familyProtocol >> 4] as number;
  if (length - V2_FIXED_LENGTH < block) {
    return invalidV2(
      `an address block of ${length - V2_FIXED_LENGTH} bytes, ${block} for family ${
        hex(familyProtocol)
      }`,
    );
  }
  const tlvs = readTlvs(bytes, V2_FIXED_LENGTH + block, length);
  if (typeof tlvs === "string") return invalidV2(tlvs);
  if (bytes.length < length) return INCOMPLETE;
  if (tlvs.crcAt >= 0) {
    const zeroed = bytes.slice(0, length);
    const view = new DataView(zeroed.buffer);
    const sent = view.getUint32(tlvs.crcAt);
    view.setUint32(tlvs.crcAt, 0);
    const computed = crc32c(zeroed);
    if (computed !== sent) {
      return invalidV2(`its CRC32C is ${hex(computed, 8)}, not the ${hex(sent, 8)} it carries`);
    }
  }
  const named = {
    tlvs: tlvs.tlvs,
    authority: tlvs.authority,
    uniqueId: tlvs.uniqueId,
    ssl: tlvs.ssl,
  };
  if (family === "unknown") {
    return { status: "done", header: { ...unknownHeader(2, "proxy"), ...named }, length };
  }
  const [source, destination] = endpoints(bytes, family);
  return {
    status: "done",
    header: { version: 2, command: "proxy", family, source, destination, ...named },
    length,
  };
}

/** The two ends in a v2 address block (16 bytes in) of a known family. */
function endpoints(
  bytes: Uint8Array,
  family: "tcp4" | "tcp6" | "unix",
): [ProxyEndpoint, ProxyEndpoint] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const at = V2_FIXED_LENGTH;
  if (family === "unix") {
    return [
      { address: unixPath(bytes.subarray(at, at + UNIX_PATH)), port: null },
      { address: unixPath(bytes.subarray(at + UNIX_PATH, at + 2 * UNIX_PATH)), port: null },
    ];
  }
  const size = family === "tcp4" ? 4 : 16;
  const show = family === "tcp4" ? formatIPv4 : formatIPv6;
  return [
    { address: show(bytes.subarray(at, at + size)), port: view.getUint16(at + 2 * size) },
    {
      address: show(bytes.subarray(at + size, at + 2 * size)),
      port: view.getUint16(at + 2 * size + 2),
    },
  ];
}

/**
 * A `sun_path`: the bytes before the first NUL, or for an abstract socket
 * (a NUL first) `@` and its name without the NUL padding, as `ss` shows it.
 * Not checked: the events that show it escape what needs escaping.
 */
function unixPath(path: Uint8Array): string {
  if (path[0] === 0) {
    let end = path.length;
    while (end > 1 && path[end - 1] === 0) end--;
    return "@" + lenientUtf8.decode(path.subarray(1, end));
  }
  const nul = path.indexOf(0);
  return lenientUtf8.decode(path.subarray(0, nul < 0 ? path.length : nul));
}

/** The TLVs read so far, and where the CRC32C value stands if there is one. */
interface TlvsRead {
  tlvs: ProxyTlv[];
  authority: string | null;
  uniqueId: Uint8Array | null;
  ssl: ProxySsl | null;
  crcAt: number;
}

/**
 * Reads the TLVs from `start` to `end` (the header's end), as far as the
 * bytes go: each whole one is checked at once, so a bad one is reported
 * before the rest of the header arrives. Returns what is wrong, if anything.
 */
function readTlvs(bytes: Uint8Array, start: number, end: number): TlvsRead | string {
  const read: TlvsRead = { tlvs: [], authority: null, uniqueId: null, ssl: null, crcAt: -1 };
  return walkTlvs(bytes, start, end, "TLV", (type, at, value) => {
    read.tlvs.push({ type, value });
    const twice = `two TLVs of type ${hex(type)}`;
    switch (type) {
      case PP2_TYPE.CRC32C:
        if (value.length !== 4) return `a CRC32C TLV of ${value.length} bytes, not 4`;
        if (read.crcAt >= 0) return twice;
        read.crcAt = at;
        break;
      case PP2_TYPE.AUTHORITY:
        if (read.authority !== null) return twice;
        read.authority = decodeUtf8(value);
        if (read.authority === null) return "an authority TLV that is not UTF-8";
        break;
      case PP2_TYPE.UNIQUE_ID:
        if (value.length > MAX_UNIQUE_ID) {
          return `a unique ID TLV of ${value.length} bytes, over the ${MAX_UNIQUE_ID} allowed`;
        }
        if (read.uniqueId !== null) return twice;
        read.uniqueId = value;
        break;
      case PP2_TYPE.SSL: {
        if (read.ssl !== null) return twice;
        const ssl = readSsl(value);
        if (typeof ssl === "string") return ssl;
        read.ssl = ssl;
        break;
      }
    }
    return null;
  }) ?? read;
}

/** Reads the value of an SSL TLV: its `client` flags, `verify`, and sub-TLVs. */
function readSsl(value: Uint8Array): ProxySsl | string {
  if (value.length < SSL_HEAD) {
    return `an SSL TLV of ${value.length} bytes, under its ${SSL_HEAD}-byte head`;
  }
  const client = value[0] as number;
  const verify = new DataView(value.buffer, value.byteOffset).getUint32(1);
  const tlvs: ProxyTlv[] = [];
  const strings = new Map<number, string>();
  const problem = walkTlvs(value, SSL_HEAD, value.length, "SSL sub-TLV", (type, _, sub) => {
    tlvs.push({ type, value: sub });
    if (
      type !== PP2_SUBTYPE_SSL.VERSION && type !== PP2_SUBTYPE_SSL.CN &&
      type !== PP2_SUBTYPE_SSL.CIPHER
    ) {
      return null;
    }
    if (strings.has(type)) return `two SSL sub-TLVs of type ${hex(type)}`;
    const text = decodeUtf8(sub);
    if (text === null) return `an SSL sub-TLV of type ${hex(type)} that is not UTF-8`;
    strings.set(type, text);
    return null;
  });
  if (problem !== null) return problem;
  return {
    tls: (client & PP2_CLIENT_SSL) !== 0,
    certificateOnConnection: (client & PP2_CLIENT_CERT_CONN) !== 0,
    certificateInSession: (client & PP2_CLIENT_CERT_SESS) !== 0,
    certificateVerified: verify === 0,
    version: strings.get(PP2_SUBTYPE_SSL.VERSION) ?? null,
    commonName: strings.get(PP2_SUBTYPE_SSL.CN) ?? null,
    cipher: strings.get(PP2_SUBTYPE_SSL.CIPHER) ?? null,
    tlvs,
  };
}

/**
 * Walks the TLVs from `start` to `end` that lie whole within `bytes`,
 * giving each to `visit` with a copy of its value and where that value
 * starts. Returns the first problem: a TLV running past `end`, bytes left
 * too few for a TLV, or what `visit` says.
 */
function walkTlvs(
  bytes: Uint8Array,
  start: number,
  end: number,
  what: "TLV" | "SSL sub-TLV",
  visit: (type: number, at: number, value: Uint8Array) => string | null,
): string | null {
  const available = Math.min(bytes.length, end);
  for (let at = start; at < end;) {
    if (end - at < TLV_HEAD) return `${end - at} bytes after the last ${what}, too few for another`;
    if (at + TLV_HEAD > available) return null;
    const type = bytes[at] as number;
    const valueEnd = at + TLV_HEAD + ((bytes[at + 1] as number) << 8 | (bytes[at + 2] as number));
    if (valueEnd > end) {
      return `${what === "TLV" ? "a" : "an"} ${what} of type ${hex(type)} that runs past the end`;
    }
    if (valueEnd > available) return null;
    const problem = visit(type, at + TLV_HEAD, bytes.slice(at + TLV_HEAD, valueEnd));
    if (problem !== null) return problem;
    at = valueEnd;
  }
  return null;
}

function invalidV2(problem: string): ProxyParse {
  return { status: "invalid", reason: `Invalid PROXY v2 header: ${problem}` };
}

// ---- both ---------------------------------------------------------------

const NO_TLVS = { tlvs: [], authority: null, uniqueId: null, ssl: null } as const;

function unknownHeader(version: 1 | 2, command: "proxy" | "local"): ProxyHeader {
  return { version, command, family: "unknown", source: null, destination: null, ...NO_TLVS };
}

function notAHeader(bytes: Uint8Array): ProxyParse {
  const start = latin1.decode(bytes.subarray(0, QUOTE_LIMIT + 1));
  return {
    status: "invalid",
    reason: `Not a PROXY protocol header: the connection starts ${quote(start)}`,
  };
}

function decodeUtf8(bytes: Uint8Array): string | null {
  try {
    return utf8.decode(bytes);
  } catch {
    return null;
  }
}

/** `0x` and the hex digits of `n`, at least `digits` of them. */
function hex(n: number, digits = 2): string {
  return "0x" + n.toString(16).padStart(digits, "0");
}

/**
 * `text` (one character per byte) in double quotes, at most QUOTE_LIMIT
 * characters of it, with everything but printable ASCII escaped, so that a
 * reason is safe to log and to show.
 */
function quote(text: string): string {
  let shown = "";
  for (const char of text.slice(0, QUOTE_LIMIT)) {
    const code = char.charCodeAt(0);
    if (char === '"' || char === "\\") shown += "\\" + char;
    else if (char === "\r") shown += "\\r";
    else if (char === "\n") shown += "\\n";
    else if (code >= 0x20 && code < 0x7f) shown += char;
    else shown += "\\x" + code.toString(16).padStart(2, "0");
  }
  return `"${shown}${text.length > QUOTE_LIMIT ? "..." : ""}"`;
}
