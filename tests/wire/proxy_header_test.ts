/**
 * Unit and property tests of the PROXY protocol header parser, over bytes
 * alone: v1 and v2 vectors built by hand from the spec's layout, every
 * truncation of every valid header, what the spec forbids, how early a
 * peer without a header is told apart, and seeded random input, which must
 * never throw and never change its answer once given.
 */

import assert from "node:assert/strict";
import {
  DEFAULT_MAX_PROXY_V2_LENGTH,
  MAX_PROXY_V1_LENGTH,
  parseProxyHeader,
  PP2_SUBTYPE_SSL,
  PP2_TYPE,
  type ProxyHeader,
  type ProxyHeaderOptions,
  type ProxyParse,
} from "../../lib/wire/proxy_header.ts";
import { crc32c } from "../../lib/wire/_crc32c.ts";
import { randomInt, seededRandom } from "../_helpers/mod.ts";

const encoder = new TextEncoder();
const ascii = (text: string): Uint8Array => encoder.encode(text);

/** The 12-byte v2 signature, as the spec writes it. */
const SIGNATURE = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];
const PROXY = 0x21; // version 2, command PROXY
const LOCAL = 0x20; // version 2, command LOCAL

/** A v2 header: signature, version and command, family and protocol, length, then `body`. */
function v2(versionCommand: number, familyProtocol: number, body: number[]): Uint8Array {
  return Uint8Array.from([
    ...SIGNATURE,
    versionCommand,
    familyProtocol,
    body.length >> 8,
    body.length & 0xff,
    ...body,
  ]);
}

/** A TLV: type, two length bytes, value. */
function tlv(type: number, value: number[] | Uint8Array): number[] {
  return [type, value.length >> 8, value.length & 0xff, ...value];
}

const port = (n: number): number[] => [n >> 8, n & 0xff];
/** 192.0.2.1:56324 to 10.0.0.1:8888, the IPv4 address block. */
const IPV4_BLOCK = [192, 0, 2, 1, 10, 0, 0, 1, ...port(56324), ...port(8888)];
/** 2001:db8::1:56324 to ::ffff:10.0.0.1:8888, the IPv6 address block. */
const IPV6_BLOCK = [
  ...[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
  ...[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1],
  ...port(56324),
  ...port(8888),
];

/** A 108-byte sun_path holding `path`, NUL-padded. */
function sunPath(path: number[]): number[] {
  return [...path, ...new Array<number>(108 - path.length).fill(0)];
}

/** Fills in the CRC32C TLV of a v2 header (its value zero), as a sender does. */
function withCrc(header: Uint8Array): Uint8Array {
  const at = header.length - 4; // the tests put the CRC32C TLV last
  const filled = header.slice();
  new DataView(filled.buffer).setUint32(at, crc32c(header));
  return filled;
}

function done(parse: ProxyParse): { header: ProxyHeader; length: number } {
  assert.equal(parse.status, "done", JSON.stringify(parse));
  return parse as { header: ProxyHeader; length: number };
}

function invalid(parse: ProxyParse): string {
  assert.equal(parse.status, "invalid", JSON.stringify(parse));
  return (parse as { reason: string }).reason;
}

/** How many bytes the parser needed before it stopped saying "incomplete". */
function decidedAt(bytes: Uint8Array, options?: ProxyHeaderOptions): number {
  for (let n = 0; n <= bytes.length; n++) {
    if (parseProxyHeader(bytes.subarray(0, n), options).status !== "incomplete") return n;
  }
  return Infinity;
}

const NO_TLVS = { tlvs: [], authority: null, uniqueId: null, ssl: null };

// ---- v1 ------------------------------------------------------------------

Deno.test("parseProxyHeader reads the spec's v1 TCP4 example and leaves the request after it as data", () => {
  const line = "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n";
  const input = ascii(line + "GET / HTTP/1.1\r\n");
  const { header, length } = done(parseProxyHeader(input));
  assert.equal(length, line.length);
  assert.deepEqual(header, {
    version: 1,
    command: "proxy",
    family: "tcp4",
    source: { address: "192.168.0.1", port: 56324 },
    destination: { address: "192.168.0.11", port: 443 },
    ...NO_TLVS,
  });
  assert.equal(new TextDecoder().decode(input.subarray(length)), "GET / HTTP/1.1\r\n");
});

Deno.test("parseProxyHeader shows v1 TCP6 addresses as Deno shows peers: RFC 5952, mapped IPv4 dotted", () => {
  const shown: [string, string][] = [
    ["2001:DB8:0:0:0:0:0:1", "2001:db8::1"],
    ["2001:0db8:0000:0000:0000:ff00:0042:8329", "2001:db8::ff00:42:8329"],
    ["0:0:0:0:0:0:0:0", "::"],
    ["::", "::"],
    ["::1", "::1"],
    ["1::", "1::"],
    ["1:0:2:0:3:0:4:0", "1:0:2:0:3:0:4:0"], // a lone zero group stays
    ["1:0:0:2:3:0:0:4", "1::2:3:0:0:4"], // the first of two equal runs
    ["1:0:0:2:0:0:0:3", "1:0:0:2::3"], // the longest run
    ["::ffff:192.0.2.1", "::ffff:192.0.2.1"],
    ["::FFFF:C000:0201", "::ffff:192.0.2.1"],
    ["1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304"],
    ["1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"],
    ["ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"],
  ];
  for (const [text, expected] of shown) {
    const { header } = done(parseProxyHeader(ascii(`PROXY TCP6 ${text} ::1 1 65535\r\n`)));
    assert.deepEqual(header.source, { address: expected, port: 1 }, text);
    assert.deepEqual(header.destination, { address: "::1", port: 65535 }, text);
    assert.equal(header.family, "tcp6");
  }
});

Deno.test("parseProxyHeader takes v1 UNKNOWN, short or with fields it ignores, as a header without addresses", () => {
  for (
    const line of [
      "PROXY UNKNOWN\r\n",
      "PROXY UNKNOWN 192.168.0.1 192.168.0.11 56324 443\r\n",
      "PROXY UNKNOWN whatever \x00\xff  follows\r\n",
    ]
  ) {
    const input = Uint8Array.from([...line].map((char) => char.charCodeAt(0)));
    const { header, length } = done(parseProxyHeader(input));
    assert.equal(length, line.length);
    assert.deepEqual(header, {
      version: 1,
      command: "proxy",
      family: "unknown",
      source: null,
      destination: null,
      ...NO_TLVS,
    });
  }
});

Deno.test("parseProxyHeader takes a v1 line of exactly 107 bytes and refuses one byte more", () => {
  const full = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
  const longest = `PROXY UNKNOWN ${full} ${full} 65535 65535\r\n`;
  assert.equal(longest.length, MAX_PROXY_V1_LENGTH);
  assert.equal(done(parseProxyHeader(ascii(longest))).length, 107);
  const tooLong = ascii(`PROXY UNKNOWN ${full} ${full} 65535 655350\r\n`);
  assert.match(invalid(parseProxyHeader(tooLong)), /no CRLF within its first 107 bytes/);
  // Decided once 106 bytes hold no CR: its LF could not be the 107th byte.
  assert.equal(decidedAt(tooLong), 106);
});

Deno.test("parseProxyHeader refuses v1 lines the spec forbids, naming the field and quoting it", () => {
  const refused: [string, RegExp][] = [
    ["PROXY TCP4 192.168.0.01 10.0.0.1 1 2\r\n", /source address "192\.168\.0\.01" is not an IPv4/],
    ["PROXY TCP4 1.2.3.4 1.2.3.256 1 2\r\n", /destination address "1\.2\.3\.256" is not an IPv4/],
    ["PROXY TCP4 1.2.3 1.2.3.4 1 2\r\n", /source address "1\.2\.3" is not an IPv4/],
    ["PROXY TCP4 1.2.3.4.5 1.2.3.4 1 2\r\n", /source address "1\.2\.3\.4\.5" is not an IPv4/],
    ["PROXY TCP4 ::1 1.2.3.4 1 2\r\n", /source address "::1" is not an IPv4/],
    ["PROXY TCP6 1.2.3.4 ::1 1 2\r\n", /source address "1\.2\.3\.4" is not an IPv6/],
    [
      "PROXY TCP6 1:2:3:4:5:6:7:8:9 ::1 1 2\r\n",
      /source address "1:2:3:4:5:6:7:8:9" is not an IPv6/,
    ],
    ["PROXY TCP6 1::2::3 ::1 1 2\r\n", /source address "1::2::3" is not an IPv6/],
    ["PROXY TCP6 :::1 ::1 1 2\r\n", /source address ":::1" is not an IPv6/],
    ["PROXY TCP6 12345:: ::1 1 2\r\n", /source address "12345::" is not an IPv6/],
    ["PROXY TCP6 1:2:3:4:5:6:7::8 ::1 1 2\r\n", /source address "1:2:3:4:5:6:7::8" is not/],
    ["PROXY TCP6 1:2:3:4:5:6:7 ::1 1 2\r\n", /source address "1:2:3:4:5:6:7" is not an IPv6/],
    ["PROXY TCP6 ::ffff:1.2.3.04 ::1 1 2\r\n", /source address "::ffff:1\.2\.3\.04" is not/],
    ["PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n", /source address "fe80::1%eth0" is not an IPv6/],
    ["PROXY TCP4 1.2.3.4 1.2.3.4 0443 2\r\n", /source port "0443" is not a port/],
    ["PROXY TCP4 1.2.3.4 1.2.3.4 1 65536\r\n", /destination port "65536" is not a port/],
    ["PROXY TCP4 1.2.3.4 1.2.3.4 -1 2\r\n", /source port "-1" is not a port/],
    ["PROXY  TCP4 1.2.3.4 1.2.3.4 1 2\r\n", /unknown protocol ""/],
    ["PROXY TCP4 1.2.3.4  1.2.3.4 1 2\r\n", /no destination address: fields are one space apart/],
    ["PROXY TCP4 1.2.3.4 1.2.3.4 1 2 \r\n", /a field after the destination port: ""/],
    ["PROXY TCP4 1.2.3.4 1.2.3.4 1 2 3\r\n", /a field after the destination port: "3"/],
    ["PROXY TCP4 1.2.3.4 1.2.3.4 1\r\n", /no destination port/],
    ["PROXY TCP4\r\n", /no source address/],
    ["PROXY TCP4 1.2.3.4\t1.2.3.4 1 2\r\n", /source address "1\.2\.3\.4\\x091\.2\.3\.4" is not/],
    ["PROXY tcp4 1.2.3.4 1.2.3.4 1 2\r\n", /unknown protocol "tcp4": TCP4, TCP6 or UNKNOWN/],
    ["PROXY TCP5 1.2.3.4 1.2.3.4 1 2\r\n", /unknown protocol "TCP5"/],
    ["PROXY UNKNOWNS\r\n", /unknown protocol "UNKNOWNS"/],
    ["PROXY TCP4 1.2.3.4 1.2.3.4 1 2\n", /a line feed without a carriage return/],
    ["PROXY UNKNOWN \n\r\n", /a line feed without a carriage return/],
    ["PROXY TCP4 1.2.3.4 1.2.3.4 1 2\rX", /a carriage return without a line feed/],
    ["PROXY TCP4 1.2.3.4 1.2.3.4 1 2\r\r\n", /a carriage return without a line feed/],
  ];
  for (const [line, reason] of refused) {
    assert.match(invalid(parseProxyHeader(ascii(line))), reason, JSON.stringify(line));
    assert.match(invalid(parseProxyHeader(ascii(line))), /^Invalid PROXY v1 header: /);
  }
});

Deno.test("parseProxyHeader refuses a bad v1 field at the byte that makes it bad, before any CRLF", () => {
  const cases: [string, string][] = [
    ["PROXY TCP4 1.2.3.256 1.2.3.4 1 2\r\n", "PROXY TCP4 1.2.3.256"],
    ["PROXY TCP4 01.2.3.4 1.2.3.4 1 2\r\n", "PROXY TCP4 01"],
    ["PROXY TCP6 ::1:: ::1 1 2\r\n", "PROXY TCP6 ::1::"],
    ["PROXY TCP6 1:2:3:4:5:6:7:8: ::1 1 2\r\n", "PROXY TCP6 1:2:3:4:5:6:7:8:"],
    ["PROXY TCP6 1:2:3:4:5:1.2.3.4 ::1 1 2\r\n", "PROXY TCP6 1:2:3:4:5:1."],
    ["PROXY TCP4 1.2.3.4 1.2.3.4 70000 2\r\n", "PROXY TCP4 1.2.3.4 1.2.3.4 70000"],
    ["PROXY TCP4 1.2.3.4 1.2.3.4 00 2\r\n", "PROXY TCP4 1.2.3.4 1.2.3.4 00"],
    ["PROXY TCP3 1.2.3.4 1.2.3.4 1 2\r\n", "PROXY TCP3"],
    ["PROXY TCP4 1.2.3.4 1.2.3.4 1 2 \r\n", "PROXY TCP4 1.2.3.4 1.2.3.4 1 2 "],
  ];
  for (const [line, badFrom] of cases) {
    assert.equal(decidedAt(ascii(line)), badFrom.length, line);
    assert.equal(parseProxyHeader(ascii(line)).status, "invalid", line);
  }
});

// ---- a peer without a header ----------------------------------------------

Deno.test("parseProxyHeader refuses a peer that sends no header at its first byte, quoting what it sent", () => {
  const firstBytes: Uint8Array[] = [
    ascii("hello\n"),
    ascii("GET / HTTP/1.1\r\n"),
    Uint8Array.of(0x16, 0x03, 0x01, 0x02, 0x00), // a TLS ClientHello
    Uint8Array.of(0x00, 0x0d),
    ascii("\n"),
  ];
  for (const bytes of firstBytes) {
    assert.equal(decidedAt(bytes), 1, JSON.stringify([...bytes]));
    assert.match(
      invalid(parseProxyHeader(bytes)),
      /^Not a PROXY protocol header: the connection starts "/,
    );
  }
  assert.equal(
    invalid(parseProxyHeader(ascii("hello\n"))),
    'Not a PROXY protocol header: the connection starts "hello\\n"',
  );
  // What looks like a header for a few bytes is refused where it stops looking so.
  assert.equal(decidedAt(ascii("POST / HTTP/1.1\r\n")), 2);
  assert.equal(decidedAt(ascii("PROXYv2 hi\r\n")), 6);
  assert.equal(decidedAt(ascii("\r\n\r\nhello\r\n")), 5);
  assert.equal(decidedAt(ascii("\r\n")), Infinity); // could still be v2: wait for more
});

Deno.test("parseProxyHeader quotes at most 24 bytes of what a peer sent, control bytes escaped", () => {
  const reason = invalid(
    parseProxyHeader(ascii("\x1b[2J\x1b]0;owned\x07 and then a great deal more")),
  );
  assert.equal(
    reason,
    'Not a PROXY protocol header: the connection starts "\\x1b[2J\\x1b]0;owned\\x07 and then ..."',
  );
});

// ---- v2 ------------------------------------------------------------------

Deno.test("parseProxyHeader reads v2 TCP over IPv4 and IPv6, leaving what follows as data", () => {
  const four = v2(PROXY, 0x11, IPV4_BLOCK);
  const input = Uint8Array.from([...four, ...ascii("hello\n")]);
  const { header, length } = done(parseProxyHeader(input));
  assert.equal(length, 28);
  assert.deepEqual(header, {
    version: 2,
    command: "proxy",
    family: "tcp4",
    source: { address: "192.0.2.1", port: 56324 },
    destination: { address: "10.0.0.1", port: 8888 },
    ...NO_TLVS,
  });
  const six = done(parseProxyHeader(v2(PROXY, 0x21, IPV6_BLOCK)));
  assert.equal(six.length, 52);
  assert.equal(six.header.family, "tcp6");
  assert.deepEqual(six.header.source, { address: "2001:db8::1", port: 56324 });
  assert.deepEqual(six.header.destination, { address: "::ffff:10.0.0.1", port: 8888 });
});

Deno.test("parseProxyHeader reads v2 AF_UNIX paths, abstract ones as @name", () => {
  const source = sunPath([...ascii("/run/lb.sock")]);
  const destination = sunPath([0, ...ascii("linehub")]);
  const { header, length } = done(parseProxyHeader(v2(PROXY, 0x31, [...source, ...destination])));
  assert.equal(length, 16 + 216);
  assert.equal(header.family, "unix");
  assert.deepEqual(header.source, { address: "/run/lb.sock", port: null });
  assert.deepEqual(header.destination, { address: "@linehub", port: null });
});

Deno.test("parseProxyHeader takes v2 LOCAL with any family as a health check, its body skipped unread", () => {
  const local = {
    version: 2,
    command: "local",
    family: "unknown",
    source: null,
    destination: null,
  };
  for (
    const [familyProtocol, body] of [
      [0x00, []],
      [0x11, IPV4_BLOCK],
      [0x11, []], // the spec: never assume the length from the command or family
      [0x10, [1, 2]], // a pair PROXY may not use: LOCAL ignores it
      [0x00, [0xff]], // not even a TLV: skipped unread
    ] as [number, number[]][]
  ) {
    const { header, length } = done(parseProxyHeader(v2(LOCAL, familyProtocol, body)));
    assert.deepEqual(header, { ...local, ...NO_TLVS }, `family ${familyProtocol}`);
    assert.equal(length, 16 + body.length);
  }
});

Deno.test("parseProxyHeader reports v2 AF_UNSPEC and UDP without addresses, still reading their TLVs", () => {
  const authority = tlv(PP2_TYPE.AUTHORITY, [...ascii("example.com")]);
  for (
    const [familyProtocol, block] of [
      [0x00, []],
      [0x12, IPV4_BLOCK],
      [0x22, IPV6_BLOCK],
      [0x32, new Array<number>(216).fill(0)],
    ] as [number, number[]][]
  ) {
    const bytes = v2(PROXY, familyProtocol, [...block, ...authority]);
    const { header, length } = done(parseProxyHeader(bytes));
    assert.equal(length, bytes.length);
    assert.equal(header.family, "unknown");
    assert.equal(header.command, "proxy");
    assert.equal(header.source, null);
    assert.equal(header.authority, "example.com", `family ${familyProtocol}`);
  }
});

Deno.test("parseProxyHeader lists v2 TLVs in order and names authority, unique ID and SSL", () => {
  const ssl = [
    0x07, // PP2_CLIENT_SSL | PP2_CLIENT_CERT_CONN | PP2_CLIENT_CERT_SESS
    0,
    0,
    0,
    0, // verify: 0, the certificate verified
    ...tlv(PP2_SUBTYPE_SSL.VERSION, [...ascii("TLSv1.3")]),
    ...tlv(PP2_SUBTYPE_SSL.CN, [...ascii("caf\u00e9.example")]),
    ...tlv(PP2_SUBTYPE_SSL.CIPHER, [...ascii("TLS_AES_128_GCM_SHA256")]),
    ...tlv(PP2_SUBTYPE_SSL.SIG_ALG, [...ascii("RSA-SHA256")]),
  ];
  const body = [
    ...IPV4_BLOCK,
    ...tlv(PP2_TYPE.ALPN, [...ascii("h2")]),
    ...tlv(PP2_TYPE.AUTHORITY, [...ascii("example.com")]),
    ...tlv(PP2_TYPE.NOOP, []),
    ...tlv(PP2_TYPE.UNIQUE_ID, [1, 2, 3, 4]),
    ...tlv(PP2_TYPE.SSL, ssl),
    ...tlv(0xe0, [0xde, 0xad]), // application-specific
  ];
  const { header } = done(parseProxyHeader(v2(PROXY, 0x11, body)));
  assert.deepEqual(header.tlvs.map(({ type }) => type), [0x01, 0x02, 0x04, 0x05, 0x20, 0xe0]);
  assert.deepEqual(header.tlvs[5]?.value, Uint8Array.of(0xde, 0xad));
  assert.equal(header.authority, "example.com");
  assert.deepEqual(header.uniqueId, Uint8Array.of(1, 2, 3, 4));
  assert.deepEqual(header.ssl && { ...header.ssl, tlvs: header.ssl.tlvs.length }, {
    tls: true,
    certificateOnConnection: true,
    certificateInSession: true,
    certificateVerified: true,
    version: "TLSv1.3",
    commonName: "caf\u00e9.example",
    cipher: "TLS_AES_128_GCM_SHA256",
    tlvs: 4,
  });
  const plain = done(
    parseProxyHeader(v2(PROXY, 0x11, [...IPV4_BLOCK, ...tlv(PP2_TYPE.SSL, [0, 0, 0, 0, 1])])),
  );
  assert.deepEqual(plain.header.ssl, {
    tls: false,
    certificateOnConnection: false,
    certificateInSession: false,
    certificateVerified: false,
    version: null,
    commonName: null,
    cipher: null,
    tlvs: [],
  });
});

Deno.test("parseProxyHeader's TLV values are copies: the caller may reuse its read buffer", () => {
  const bytes = v2(PROXY, 0x11, [...IPV4_BLOCK, ...tlv(PP2_TYPE.UNIQUE_ID, [7, 7])]);
  const { header } = done(parseProxyHeader(bytes));
  bytes.fill(0);
  assert.deepEqual(header.uniqueId, Uint8Array.of(7, 7));
  assert.deepEqual(header.tlvs[0]?.value, Uint8Array.of(7, 7));
});

Deno.test("crc32c gives RFC 3720's check values", () => {
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
  assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
  assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e);
  assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c);
  assert.equal(crc32c(ascii("123456789")), 0xe3069283);
});

Deno.test("parseProxyHeader verifies a v2 CRC32C and refuses a header it does not match", () => {
  const body = [...IPV4_BLOCK, ...tlv(PP2_TYPE.AUTHORITY, [...ascii("a.example")])];
  const signed = withCrc(v2(PROXY, 0x11, [...body, ...tlv(PP2_TYPE.CRC32C, [0, 0, 0, 0])]));
  const { header } = done(parseProxyHeader(signed));
  assert.deepEqual(header.tlvs.map(({ type }) => type), [PP2_TYPE.AUTHORITY, PP2_TYPE.CRC32C]);
  for (const at of [17, 33, signed.length - 1]) {
    const flipped = signed.slice();
    flipped[at] = (flipped[at] as number) ^ 0x01;
    assert.match(
      invalid(parseProxyHeader(flipped)),
      /^Invalid PROXY v2 header: its CRC32C is 0x[0-9a-f]{8}, not the 0x[0-9a-f]{8} it carries$/,
    );
  }
  // A LOCAL header's body is not read, so its checksum is not either.
  const local = v2(LOCAL, 0x00, tlv(PP2_TYPE.CRC32C, [1, 2, 3, 4]));
  assert.equal(done(parseProxyHeader(local)).header.command, "local");
});

Deno.test("parseProxyHeader refuses v2 headers the spec forbids, and malformed named TLVs", () => {
  const refused: [Uint8Array, RegExp][] = [
    [v2(0x11, 0x11, IPV4_BLOCK), /version 1 \(byte 13 is 0x11\): only 2 is defined/],
    [v2(0x31, 0x11, IPV4_BLOCK), /version 3/],
    [v2(0x22, 0x11, IPV4_BLOCK), /command 0x02: only LOCAL \(0x0\) and PROXY \(0x1\)/],
    [v2(PROXY, 0x41, IPV4_BLOCK), /address family and protocol 0x41: not one the spec defines/],
    [v2(PROXY, 0x13, IPV4_BLOCK), /address family and protocol 0x13/],
    [v2(PROXY, 0x10, IPV4_BLOCK), /address family and protocol 0x10/],
    [v2(PROXY, 0x01, []), /address family and protocol 0x01/],
    [v2(LOCAL, 0x14, []), /address family and protocol 0x14/],
    [v2(PROXY, 0x11, IPV4_BLOCK.slice(0, 11)), /an address block of 11 bytes, 12 for family 0x11/],
    [v2(PROXY, 0x21, IPV4_BLOCK), /an address block of 12 bytes, 36 for family 0x21/],
    [v2(PROXY, 0x31, IPV6_BLOCK), /an address block of 36 bytes, 216 for family 0x31/],
    [v2(PROXY, 0x11, [...IPV4_BLOCK, 0x04, 0x00]), /2 bytes after the last TLV, too few/],
    [
      v2(PROXY, 0x11, [...IPV4_BLOCK, 0x04, 0x00, 0x02, 0]),
      /a TLV of type 0x04 that runs past the end/,
    ],
    [v2(PROXY, 0x11, [...IPV4_BLOCK, ...tlv(3, [0, 0, 0])]), /a CRC32C TLV of 3 bytes, not 4/],
    [
      v2(PROXY, 0x11, [...IPV4_BLOCK, ...tlv(2, [0x61]), ...tlv(2, [0x62])]),
      /two TLVs of type 0x02/,
    ],
    [
      v2(PROXY, 0x11, [...IPV4_BLOCK, ...tlv(2, [0xc0, 0x80])]),
      /an authority TLV that is not UTF-8/,
    ],
    [
      v2(PROXY, 0x11, [...IPV4_BLOCK, ...tlv(5, new Array<number>(129).fill(1))]),
      /a unique ID TLV of 129 bytes, over the 128 allowed/,
    ],
    [
      v2(PROXY, 0x11, [...IPV4_BLOCK, ...tlv(0x20, [1, 0, 0, 0])]),
      /an SSL TLV of 4 bytes, under its 5-byte head/,
    ],
    [
      v2(PROXY, 0x11, [...IPV4_BLOCK, ...tlv(0x20, [1, 0, 0, 0, 0, 0x21, 0, 9, 0x54])]),
      /an SSL sub-TLV of type 0x21 that runs past the end/,
    ],
    [
      v2(PROXY, 0x11, [...IPV4_BLOCK, ...tlv(0x20, [1, 0, 0, 0, 0, ...tlv(0x22, [0xff])])]),
      /an SSL sub-TLV of type 0x22 that is not UTF-8/,
    ],
  ];
  for (const [bytes, reason] of refused) {
    const said = invalid(parseProxyHeader(bytes));
    assert.match(said, reason, said);
    assert.match(said, /^Invalid PROXY v2 header: /);
  }
});

Deno.test("parseProxyHeader refuses a bad v2 header at the byte that shows it, not when the rest arrives", () => {
  const padding = new Array<number>(200).fill(0);
  const cases: [Uint8Array, number][] = [
    [v2(0x31, 0x11, IPV4_BLOCK), 13],
    [v2(PROXY, 0x41, IPV4_BLOCK), 14],
    [v2(PROXY, 0x21, IPV4_BLOCK), 16], // 12 bytes cannot hold two IPv6 addresses
    [v2(PROXY, 0x11, [...IPV4_BLOCK, ...tlv(4, [1]), 0x04, 0x01, 0x00, ...padding]), 28 + 4 + 3],
    [
      v2(PROXY, 0x11, [...IPV4_BLOCK, ...tlv(5, new Array<number>(129).fill(1)), ...padding]),
      28 + 3 + 129,
    ],
  ];
  for (const [bytes, at] of cases) assert.equal(decidedAt(bytes), at);
});

Deno.test("parseProxyHeader caps a v2 header at 4 KiB unless told, deciding from its length field", () => {
  const fits = v2(PROXY, 0x11, [
    ...IPV4_BLOCK,
    ...tlv(0xe0, new Array<number>(4096 - 16 - 12 - 3).fill(0)),
  ]);
  assert.equal(fits.length, DEFAULT_MAX_PROXY_V2_LENGTH);
  assert.equal(done(parseProxyHeader(fits)).length, 4096);
  const over = v2(PROXY, 0x11, [
    ...IPV4_BLOCK,
    ...tlv(0xe0, new Array<number>(4096 - 16 - 12 - 2).fill(0)),
  ]);
  assert.match(invalid(parseProxyHeader(over)), /4097 bytes long, over the limit of 4096/);
  assert.equal(decidedAt(over), 16);
  // A LOCAL header is held to the cap too.
  assert.equal(decidedAt(v2(LOCAL, 0x00, new Array<number>(5000).fill(0))), 16);
  assert.equal(done(parseProxyHeader(over, { maxV2Length: 65551 })).length, 4097);
  const largest = v2(LOCAL, 0x00, new Array<number>(0xffff).fill(0));
  assert.equal(done(parseProxyHeader(largest, { maxV2Length: 65551 })).length, 65551);
  assert.equal(decidedAt(over, { maxV2Length: 232 }), 16);
});

Deno.test("parseProxyHeader refuses a v2 cap that would not hold every address block or the length field", () => {
  for (const maxV2Length of [231, 65552, 1000.5, NaN]) {
    assert.throws(
      () => parseProxyHeader(new Uint8Array(0), { maxV2Length }),
      (error: unknown) =>
        error instanceof RangeError &&
        error.message ===
          `Invalid maxV2Length ${maxV2Length}: must be an integer from 232 to 65551`,
    );
  }
});

// ---- properties ----------------------------------------------------------

/** Valid headers of every kind, v1 and v2. */
const VALID: Uint8Array[] = [
  ascii("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"),
  ascii("PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n"),
  ascii("PROXY TCP6 2001:db8::1 ::ffff:192.0.2.1 56324 8888\r\n"),
  ascii("PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff :: 65535 0\r\n"),
  ascii("PROXY TCP6 1:2:3:4:5:6:255.255.255.255 1:2:3:4:5:6:7:8 1 2\r\n"),
  ascii("PROXY UNKNOWN\r\n"),
  ascii(`PROXY UNKNOWN ${"f".repeat(91)}\r\n`), // 107 bytes,
  v2(PROXY, 0x11, IPV4_BLOCK),
  v2(PROXY, 0x21, IPV6_BLOCK),
  v2(PROXY, 0x31, [...sunPath([...ascii("/a")]), ...sunPath([0, 0x62])]),
  v2(PROXY, 0x00, []),
  v2(PROXY, 0x12, [...IPV4_BLOCK, ...tlv(2, [0x61])]),
  v2(LOCAL, 0x00, []),
  v2(LOCAL, 0x11, IPV4_BLOCK),
  v2(PROXY, 0x11, [
    ...IPV4_BLOCK,
    ...tlv(PP2_TYPE.AUTHORITY, [...ascii("example.com")]),
    ...tlv(PP2_TYPE.SSL, [1, 0, 0, 0, 0, ...tlv(0x21, [...ascii("TLSv1.2")]), ...tlv(0x28, [])]),
    ...tlv(PP2_TYPE.NOOP, [0, 0, 0]),
  ]),
  withCrc(v2(PROXY, 0x21, [...IPV6_BLOCK, ...tlv(5, [9]), ...tlv(PP2_TYPE.CRC32C, [0, 0, 0, 0])])),
];

Deno.test("every truncation of a valid header is incomplete, never invalid nor done early", () => {
  for (const header of VALID) {
    for (let n = 0; n < header.length; n++) {
      const parse = parseProxyHeader(header.subarray(0, n));
      assert.equal(
        parse.status,
        "incomplete",
        `${n} of ${JSON.stringify([...header])}: ${JSON.stringify(parse)}`,
      );
    }
    assert.equal(done(parseProxyHeader(header)).length, header.length);
  }
});

Deno.test("bytes after a valid header are data: the answer and its length do not depend on them", () => {
  const random = seededRandom(14);
  for (const header of VALID) {
    const alone = done(parseProxyHeader(header));
    for (let round = 0; round < 20; round++) {
      const after = Uint8Array.from(
        { length: randomInt(random, 1, 300) },
        () => randomInt(random, 0, 255),
      );
      const followed = done(parseProxyHeader(Uint8Array.from([...header, ...after])));
      assert.deepEqual(followed, alone);
    }
  }
});

/** Pieces that take a parser deep into both versions, and off the road. */
const PIECES: readonly Uint8Array[] = [
  ascii("PROXY "),
  ascii("TCP4 "),
  ascii("TCP6 "),
  ascii("UNKNOWN"),
  ascii(" "),
  ascii("\r\n"),
  ascii("\r"),
  ascii("\n"),
  ascii("192.168.0.1"),
  ascii("255.255.255.255"),
  ascii("01"),
  ascii("::"),
  ascii(":"),
  ascii("ffff"),
  ascii("1.2.3.4"),
  ascii("65535"),
  ascii("65536"),
  ascii("0"),
  Uint8Array.from(SIGNATURE),
  Uint8Array.of(PROXY),
  Uint8Array.of(LOCAL),
  Uint8Array.of(0x11),
  Uint8Array.of(0x21),
  Uint8Array.of(0x31),
  Uint8Array.of(0x00, 0x0c),
  Uint8Array.of(0x00, 0x24),
  Uint8Array.of(0xff, 0xff),
  Uint8Array.of(0x00),
  Uint8Array.from(tlv(PP2_TYPE.CRC32C, [0, 0, 0, 0])),
  Uint8Array.from(tlv(PP2_TYPE.SSL, [1, 0, 0, 0, 0])),
  Uint8Array.from(tlv(PP2_TYPE.AUTHORITY, [0xc3])),
  Uint8Array.of(0x20, 0x00, 0x09),
  Uint8Array.of(0xc0, 0x80, 0xff, 0x1b),
  ...VALID,
];

/** A random input: pieces, random bytes, or a valid header with a byte changed, cut or added. */
function hostileInput(random: () => number): Uint8Array {
  const kind = randomInt(random, 0, 2);
  if (kind === 0) {
    const header = (VALID[randomInt(random, 0, VALID.length - 1)] as Uint8Array).slice();
    const at = randomInt(random, 0, header.length - 1);
    const byte = randomInt(random, 0, 255);
    const mutated = [...header];
    const change = randomInt(random, 0, 2);
    if (change === 0) mutated[at] = byte;
    else if (change === 1) mutated.splice(at, 1);
    else mutated.splice(at, 0, byte);
    return Uint8Array.from(mutated);
  }
  const parts: number[] = [];
  const count = randomInt(random, 1, 12);
  for (let k = 0; k < count; k++) {
    if (kind === 1) parts.push(...(PIECES[randomInt(random, 0, PIECES.length - 1)] as Uint8Array));
    else parts.push(randomInt(random, 0, 255));
  }
  return Uint8Array.from(parts);
}

Deno.test("on hostile input parseProxyHeader never throws, stays within its caps, and never changes its answer", () => {
  const random = seededRandom(0x9e3779b9);
  const seen = { incomplete: 0, done: 0, invalid: 0 };
  for (let round = 0; round < 4000; round++) {
    const input = hostileInput(random);
    let decided: ProxyParse | null = null;
    for (let n = 0; n <= input.length; n++) {
      // Past the decision, a few longer prefixes and the whole input stand for all of them.
      if (decided !== null && n < input.length && random() > 8 / input.length) continue;
      const parse = parseProxyHeader(input.subarray(0, n));
      const where = `${n} bytes of ${JSON.stringify([...input])}`;
      if (decided !== null) {
        // Once done or invalid, more bytes change nothing (a reason may quote more of them).
        assert.equal(parse.status, decided.status, where);
        if (decided.status === "done") assert.deepEqual(parse, decided, where);
        continue;
      }
      if (parse.status === "incomplete") {
        const cap = input[0] === 0x50 ? MAX_PROXY_V1_LENGTH : DEFAULT_MAX_PROXY_V2_LENGTH;
        assert.ok(n < cap, where);
        continue;
      }
      decided = parse;
      if (parse.status === "done") {
        assert.equal(parse.length, n, `done exactly when its last byte arrives: ${where}`);
        assert.ok(parse.header.family === "unknown" || parse.header.source !== null);
      } else {
        assert.match(parse.reason, /^(Invalid PROXY v[12] header|Not a PROXY protocol header): /);
        assert.ok(parse.reason.length < 200, where);
      }
    }
    seen[(decided ?? { status: "incomplete" as const }).status]++;
  }
  // The input reached every answer, so the checks above were exercised.
  assert.ok(seen.incomplete > 50 && seen.done > 50 && seen.invalid > 50, JSON.stringify(seen));
});

/** What the WHATWG URL parser makes of `[text]`: its host, or null if it refuses it. */
function urlHost(text: string): string | null {
  try {
    return new URL(`http://[${text}]/`).hostname.slice(1, -1);
  } catch {
    return null;
  }
}

Deno.test("v1 IPv6 addresses are read as the URL parser reads them, and shown as it shows them", () => {
  const random = seededRandom(6);
  const valid = ["0", "1", "ffff", "FFFF", "abcd", "db8", "1.2.3.4", "0.0.0.0"];
  const invalid = ["12345", "", "01", "g", "1.2.3", "1.2.3.04"];
  const group = (): string =>
    (random() < 0.9 ? valid[randomInt(random, 0, 7)] : invalid[randomInt(random, 0, 5)]) ?? "";
  let accepted = 0;
  for (let round = 0; round < 20000; round++) {
    // Groups joined by colons, with a "::" or two put in now and then.
    const parts: string[] = [];
    const count = randomInt(random, 1, 9);
    for (let k = 0; k < count; k++) {
      parts.push(group());
      if (k < count - 1) parts.push(random() < 0.15 ? "::" : ":");
    }
    if (random() < 0.3) parts.splice(2 * randomInt(random, 0, count - 1), 0, "::");
    const text = parts.join("");
    const parse = parseProxyHeader(ascii(`PROXY TCP6 ${text} ::1 1 2\r\n`));
    const host = urlHost(text);
    // The one difference: WHATWG lets "::" stand for no group at all; inet_pton does not.
    const explicitGroups = text.split(/:+/).filter((group) => group !== "").length +
      (text.includes(".") ? 1 : 0);
    if (host !== null && text.includes("::") && explicitGroups >= 8) {
      assert.equal(parse.status, "invalid", text);
      continue;
    }
    assert.equal(parse.status, host === null ? "invalid" : "done", text);
    if (parse.status !== "done") continue;
    accepted++;
    const shown = parse.header.source?.address ?? "";
    if (shown.startsWith("::ffff:") && shown.includes(".")) {
      assert.equal(urlHost(shown), host, text); // mapped: the same address, dotted
    } else {
      assert.equal(shown, host, text);
    }
  }
  assert.ok(accepted > 1000, `only ${accepted} valid addresses drawn`);
});
