/**
 * Tests of the one IP text parser and formatter (lib/wire/ip_text.ts), which
 * the PROXY header and the access list share: what it takes, what it
 * refuses, text cut short, and addresses shown as Deno shows peers.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  formatIPv4,
  formatIPv6,
  ipv4Bytes,
  ipv4Octets,
  ipv6Bytes,
  ipv6Groups,
  mayStartIPv4,
  mayStartIPv6,
} from "../../lib/wire/ip_text.ts";

Deno.test("ipv4Bytes takes four decimal octets and refuses leading zeros, big octets and extra dots", () => {
  assert.deepEqual(ipv4Bytes("192.0.2.255"), Uint8Array.of(192, 0, 2, 255));
  assert.deepEqual(ipv4Bytes("0.0.0.0"), Uint8Array.of(0, 0, 0, 0));
  for (
    const text of [
      "010.0.0.1",
      "256.0.0.1",
      "1.2.3",
      "1.2.3.4.",
      "1.2.3.4.5",
      "",
      "1..2.3",
      "a.b.c.d",
    ]
  ) {
    assert.equal(ipv4Bytes(text), null, text);
  }
});

Deno.test("ipv6Bytes takes inet_pton's forms: ::, a dotted tail, upper case; and refuses the rest", () => {
  const bytes = (...groups: number[]): Uint8Array =>
    Uint8Array.from(groups.flatMap((group) => [group >> 8, group & 0xff]));
  assert.deepEqual(ipv6Bytes("::"), bytes(0, 0, 0, 0, 0, 0, 0, 0));
  assert.deepEqual(ipv6Bytes("2001:DB8::1"), bytes(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1));
  assert.deepEqual(ipv6Bytes("::ffff:192.0.2.1"), bytes(0, 0, 0, 0, 0, 0xffff, 0xc000, 0x201));
  assert.deepEqual(ipv6Bytes("1:2:3:4:5:6:7::"), bytes(1, 2, 3, 4, 5, 6, 7, 0));
  for (
    const text of [
      ":",
      ":::",
      "1::2::3",
      "1:2:3:4:5:6:7:8:9",
      "12345::",
      "1:2:3:4:5:6:7:1.2.3.4",
      "::1.2.3",
      "1:",
      "fe80::1%eth0",
      "[::1]",
    ]
  ) {
    assert.equal(ipv6Bytes(text), null, text);
  }
});

Deno.test("ipv4Octets and ipv6Groups give the same address as numbers, and refuse what the bytes refuse", () => {
  assert.deepEqual(ipv4Octets("192.0.2.255"), [192, 0, 2, 255]);
  assert.deepEqual(ipv6Groups("2001:db8::ffff:1.2.3.4"), [
    0x2001,
    0xdb8,
    0,
    0,
    0,
    0xffff,
    0x102,
    0x304,
  ]);
  assert.deepEqual(ipv6Groups("::1"), [0, 0, 0, 0, 0, 0, 0, 1]);
  assert.deepEqual(ipv6Groups("1::"), [1, 0, 0, 0, 0, 0, 0, 0]);
  assert.equal(ipv4Octets("1.2.3.04"), null);
  assert.equal(ipv6Groups("1::2::3"), null);
});

Deno.test("mayStartIPv4 and mayStartIPv6 say whether text cut short can still become an address", () => {
  assert.ok(mayStartIPv4(""));
  assert.ok(mayStartIPv4("192.0."));
  assert.ok(!mayStartIPv4("192.0.2.256"));
  assert.ok(!mayStartIPv4("01"));
  assert.ok(mayStartIPv6("2001:db8:"));
  assert.ok(mayStartIPv6("::ffff:192.0"));
  assert.ok(!mayStartIPv6("1::2::"));
  assert.ok(!mayStartIPv6("12345"));
});

Deno.test("formatIPv4 and formatIPv6 show addresses as Deno shows peers (RFC 5952, mapped as IPv4)", () => {
  assert.equal(formatIPv4(Uint8Array.of(10, 0, 0, 1)), "10.0.0.1");
  const show = (text: string): string => formatIPv6(ipv6Bytes(text) as Uint8Array);
  assert.equal(show("2001:0DB8:0:0:1:0:0:1"), "2001:db8::1:0:0:1", "the first of equal runs");
  assert.equal(show("0:0:0:0:0:0:0:1"), "::1");
  assert.equal(show("1:0:2:3:4:5:6:7"), "1:0:2:3:4:5:6:7", "one zero group stays");
  assert.equal(show("::ffff:c000:201"), "::ffff:192.0.2.1");
});
