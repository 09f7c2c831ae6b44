/**
 * Unit tests for the `--allow` / `--deny` access list: every form of rule an
 * operator may type and an error naming the value for every one they may get
 * wrong, then which peers a list lets in, at the edges of each range and
 * across the IPv4 / IPv4-mapped IPv6 divide.
 */

import assert from "node:assert/strict";
import { AccessList, type Cidr, parseCidr, parseIp } from "../../lib/net/access_list.ts";
import { UsageError } from "../../lib/text/usage_error.ts";

/** Asserts that `fn` throws a UsageError with exactly `message`. */
function throwsUsage(fn: () => unknown, message: string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof UsageError, `expected a UsageError, got ${error}`);
    assert.equal(error.message, message);
    return true;
  });
}

/** An access list from rule texts. */
function list(allow: readonly string[], deny: readonly string[] = []): AccessList {
  return new AccessList(
    allow.map((text) => parseCidr(text, "allow")),
    deny.map((text) => parseCidr(text, "deny")),
  );
}

/** Asserts which of `peers` the list permits and which it refuses. */
function assertPeers(
  acl: AccessList,
  peers: { readonly permitted: readonly string[]; readonly refused: readonly string[] },
): void {
  for (const peer of peers.permitted) assert.ok(acl.permits(peer), `${peer} should be permitted`);
  for (const peer of peers.refused) assert.ok(!acl.permits(peer), `${peer} should be refused`);
}

Deno.test("parseCidr reads an IPv4 CIDR and a bare IPv4 address as a /32", () => {
  assert.deepEqual(parseCidr("10.0.0.0/8", "allow"), {
    family: 4,
    network: 0x0a000000n,
    prefix: 8,
    text: "10.0.0.0/8",
  });
  assert.deepEqual(parseCidr("192.168.1.7", "allow"), {
    family: 4,
    network: 0xc0a80107n,
    prefix: 32,
    text: "192.168.1.7/32",
  });
  assert.deepEqual(parseCidr("0.0.0.0/0", "deny"), {
    family: 4,
    network: 0n,
    prefix: 0,
    text: "0.0.0.0/0",
  });
  assert.equal(parseCidr("255.255.255.255/32", "deny").network, 0xffffffffn);
});

Deno.test("parseCidr reads IPv6 CIDRs in every form and prints them canonically", () => {
  const cases: [string, bigint, number, string][] = [
    ["::/0", 0n, 0, "::/0"],
    ["::", 0n, 128, "::/128"],
    ["::1", 1n, 128, "::1/128"],
    ["2001:db8::/32", 0x20010db8n << 96n, 32, "2001:db8::/32"],
    ["2001:0DB8:0000:0000::/32", 0x20010db8n << 96n, 32, "2001:db8::/32"],
    [
      "2001:db8:0:0:1:0:0:1",
      0x20010db8000000000001000000000001n,
      128,
      "2001:db8::1:0:0:1/128",
    ],
    ["FE80::/10", 0xfe80n << 112n, 10, "fe80::/10"],
    ["1:2:3:4:5:6:7:8/128", 0x00010002000300040005000600070008n, 128, "1:2:3:4:5:6:7:8/128"],
    ["2001:db8:0:1:1:1:1:1", 0x20010db8000000010001000100010001n, 128, "2001:db8:0:1:1:1:1:1/128"],
    ["1:0:0:2::/64", 0x0001000000000002n << 64n, 64, "1:0:0:2::/64"],
    ["64:ff9b::1.2.3.4", 0x0064ff9b000000000000000001020304n, 128, "64:ff9b::102:304/128"],
    ["64:ff9b::/96", 0x0064ff9bn << 96n, 96, "64:ff9b::/96"],
    ["[::1]", 1n, 128, "::1/128"],
    ["[2001:db8::]/48", 0x20010db8n << 96n, 48, "2001:db8::/48"],
  ];
  for (const [text, network, prefix, canonical] of cases) {
    assert.deepEqual(parseCidr(text, "allow"), { family: 6, network, prefix, text: canonical });
  }
});

Deno.test("parseCidr turns an IPv4-mapped IPv6 rule of /96 or longer into the IPv4 rule", () => {
  const cases: [string, bigint, number, string][] = [
    ["::ffff:10.0.0.0/104", 0x0a000000n, 8, "10.0.0.0/8"],
    ["::FFFF:10.1.2.3", 0x0a010203n, 32, "10.1.2.3/32"],
    ["::ffff:a01:203/128", 0x0a010203n, 32, "10.1.2.3/32"],
    ["[::ffff:192.168.0.0]/112", 0xc0a80000n, 16, "192.168.0.0/16"],
    ["::ffff:0:0/96", 0n, 0, "0.0.0.0/0"],
  ];
  for (const [text, network, prefix, canonical] of cases) {
    assert.deepEqual(parseCidr(text, "deny"), { family: 4, network, prefix, text: canonical });
  }
});

Deno.test("parseCidr keeps a rule shorter than /96 that holds mapped addresses as IPv6", () => {
  assert.deepEqual(parseCidr("::fffe:0:0/95", "deny"), {
    family: 6,
    network: 0xfffen << 32n,
    prefix: 95,
    text: "::fffe:0:0/95",
  });
  assert.deepEqual(parseCidr("::/80", "deny"), {
    family: 6,
    network: 0n,
    prefix: 80,
    text: "::/80",
  });
});

Deno.test("parseCidr refuses host bits below the prefix, suggesting the network", () => {
  const cases: [string, string][] = [
    ["10.1.2.3/8", "10.0.0.0/8"],
    ["192.168.1.1/24", "192.168.1.0/24"],
    ["0.0.0.1/0", "0.0.0.0/0"],
    ["10.0.0.1/31", "10.0.0.0/31"],
    ["2001:db8::1/32", "2001:db8::/32"],
    ["::1/0", "::/0"],
    ["[fe80::1]/10", "fe80::/10"],
    ["::ffff:10.1.2.3/104", "::ffff:10.0.0.0/104"],
  ];
  for (const [text, meant] of cases) {
    throwsUsage(
      () => parseCidr(text, "allow"),
      `Invalid --allow "${text}": host bits set; did you mean ${meant}?`,
    );
  }
});

Deno.test("parseCidr rejects anything but an address or CIDR, naming the value", () => {
  for (
    const text of [
      "",
      "/8",
      "localhost",
      "10",
      "10.0.0",
      "10.0.0/8",
      "10.0.0.0.0",
      "300.1.1.1",
      "256.0.0.0/8",
      "010.0.0.1",
      "10.00.0.1",
      "1.2.3.4.",
      ".1.2.3.4",
      "1..2.3",
      "0x0a.0.0.1",
      " 10.0.0.0/8",
      "10.0.0.0 /8",
      ":",
      ":::",
      "::1::",
      "1::2::3",
      ":1::",
      "1:2:3:4:5:6:7",
      "1:2:3:4:5:6:7:8:9",
      "1:2:3:4:5:6:7::8",
      "1:2:3:4:5:6:7:8::",
      "12345::",
      "g::",
      "::1:",
      "1.2.3.4::",
      "::1.2.3",
      "::1.2.3.4:5",
      "::256.0.0.0",
      "1:2:3:4:5:6:7:1.2.3.4",
      "[::1",
      "::1]",
      "[::1/128]",
      "[]",
      "[[::1]]",
      "\u0661.2.3.4",
    ]
  ) {
    throwsUsage(
      () => parseCidr(text, "deny"),
      `Invalid --deny "${text}": not an IPv4 or IPv6 address or CIDR`,
    );
  }
});

Deno.test("parseCidr rejects a prefix length out of range or not a plain number", () => {
  for (
    const text of [
      "10.0.0.0/33",
      "10.0.0.0/",
      "10.0.0.0/-1",
      "10.0.0.0/+8",
      "0.0.0.0/0x0",
      "10.0.0.0/3 ",
      "1.0.0.0/1.",
    ]
  ) {
    throwsUsage(
      () => parseCidr(text, "allow"),
      `Invalid --allow "${text}": prefix length must be an integer from 0 to 32`,
    );
  }
  for (const text of ["::/129", "::/1000", "::/ 8", "[::1]/", "::/8/8"]) {
    throwsUsage(
      () => parseCidr(text, "allow"),
      `Invalid --allow "${text}": prefix length must be an integer from 0 to 128`,
    );
  }
});

Deno.test("parseCidr rejects zone ids, naming the value", () => {
  for (const text of ["fe80::1%eth0", "fe80::%eth0/64", "[fe80::1%1]", "fe80::1%"]) {
    throwsUsage(
      () => parseCidr(text, "allow"),
      `Invalid --allow "${text}": zone ids are not supported`,
    );
  }
});

Deno.test("parseCidr rejects brackets around an IPv4 address", () => {
  for (const text of ["[10.0.0.1]", "[10.0.0.0]/8"]) {
    throwsUsage(
      () => parseCidr(text, "deny"),
      `Invalid --deny "${text}": brackets are for IPv6 addresses`,
    );
  }
});

Deno.test("parseIp reads IPv4 and IPv6 addresses as integers", () => {
  assert.deepEqual(parseIp("0.0.0.0"), { family: 4, value: 0n });
  assert.deepEqual(parseIp("127.0.0.1"), { family: 4, value: 0x7f000001n });
  assert.deepEqual(parseIp("255.255.255.255"), { family: 4, value: 0xffffffffn });
  assert.deepEqual(parseIp("::"), { family: 6, value: 0n });
  assert.deepEqual(parseIp("::1"), { family: 6, value: 1n });
  assert.deepEqual(parseIp("1::"), { family: 6, value: 1n << 112n });
  assert.deepEqual(parseIp("FFFF:ffff:FFFF:ffff:FFFF:ffff:FFFF:ffff"), {
    family: 6,
    value: (1n << 128n) - 1n,
  });
  assert.deepEqual(parseIp("::ffff:127.0.0.1"), { family: 6, value: 0xffff7f000001n });
  assert.deepEqual(parseIp("0:0:0:0:0:ffff:7f00:0001"), { family: 6, value: 0xffff7f000001n });
});

Deno.test("parseIp returns null for anything but a plain address", () => {
  for (
    const text of ["", "localhost", "1.2.3", "01.2.3.4", "[::1]", "fe80::1%eth0", "::1/128", "1:"]
  ) {
    assert.equal(parseIp(text), null, text);
  }
});

Deno.test("AccessList without rules permits every peer, even one it cannot parse", () => {
  const acl = list([]);
  assert.equal(acl.restricted, false);
  assertPeers(acl, {
    permitted: ["10.0.0.1", "::1", "::ffff:10.0.0.1", "not an address"],
    refused: [],
  });
});

Deno.test("AccessList is restricted by any allow or deny rule", () => {
  assert.equal(list(["10.0.0.0/8"]).restricted, true);
  assert.equal(list([], ["::1"]).restricted, true);
});

Deno.test("AccessList with an IPv4 allow rule permits only peers inside it", () => {
  assertPeers(list(["10.0.0.0/8"]), {
    permitted: ["10.0.0.0", "10.1.2.3", "10.255.255.255"],
    refused: ["9.255.255.255", "11.0.0.0", "192.168.0.1", "127.0.0.1"],
  });
});

Deno.test("AccessList with an IPv6 allow rule permits only peers inside it", () => {
  assertPeers(list(["2001:db8::/32"]), {
    permitted: ["2001:db8::", "2001:db8::1", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"],
    refused: ["2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", "2001:db9::", "::1"],
  });
});

Deno.test("AccessList with only deny rules permits every other peer", () => {
  assertPeers(list([], ["192.168.0.0/16", "fd00::/8"]), {
    permitted: ["10.0.0.1", "192.169.0.0", "::1", "fe00::1", "2001:db8::1"],
    refused: ["192.168.0.1", "192.168.255.255", "fd00::", "fdff::1"],
  });
});

Deno.test("AccessList lets a deny rule win over an allow rule that also matches", () => {
  assertPeers(list(["10.0.0.0/8", "2001:db8::/32"], ["10.9.0.0/16", "2001:db8:9::/48"]), {
    permitted: ["10.8.255.255", "10.10.0.0", "2001:db8:8::1"],
    refused: ["10.9.0.0", "10.9.1.2", "10.9.255.255", "2001:db8:9::1"],
  });
  assertPeers(list(["10.0.0.1"], ["10.0.0.1"]), { permitted: [], refused: ["10.0.0.1"] });
  assertPeers(list(["10.1.0.0/16"], ["10.0.0.0/8"]), { permitted: [], refused: ["10.1.2.3"] });
});

Deno.test("AccessList with allow rules of one family refuses every peer of the other", () => {
  assertPeers(list(["10.0.0.0/8"]), { permitted: ["10.0.0.1"], refused: ["::1", "2001:db8::1"] });
  assertPeers(list(["::1"]), { permitted: ["::1"], refused: ["127.0.0.1", "10.0.0.1"] });
});

Deno.test("AccessList matches an IPv4-mapped IPv6 peer against IPv4 rules", () => {
  assertPeers(list(["10.0.0.0/8"]), {
    permitted: ["::ffff:10.1.2.3", "::FFFF:10.0.0.0", "::ffff:a01:203", "0:0:0:0:0:ffff:a00:1"],
    refused: ["::ffff:11.0.0.0", "::ffff:9.255.255.255"],
  });
  assertPeers(list([], ["10.0.0.0/8"]), {
    permitted: ["::ffff:192.168.0.1"],
    refused: ["::ffff:10.1.2.3", "::ffff:a01:203"],
  });
});

Deno.test("AccessList matches an IPv4 peer against a rule written as IPv4-mapped IPv6", () => {
  assertPeers(list(["::ffff:10.0.0.0/104"]), {
    permitted: ["10.1.2.3", "::ffff:10.1.2.3"],
    refused: ["11.0.0.0", "::1"],
  });
  assertPeers(list([], ["::ffff:10.1.2.3"]), {
    permitted: ["10.1.2.4"],
    refused: ["10.1.2.3", "::ffff:10.1.2.3"],
  });
});

Deno.test("AccessList does not match IPv4 peers against IPv6 rules, as nginx does not", () => {
  // `::/0` is every IPv6 peer; IPv4 peers, mapped or not, answer to IPv4 rules only.
  assertPeers(list([], ["::/0"]), {
    permitted: ["10.0.0.1", "::ffff:10.0.0.1"],
    refused: ["::", "::1", "2001:db8::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"],
  });
  // A translated (NAT64) prefix is not a mapped one.
  assertPeers(list(["64:ff9b::/96"]), {
    permitted: ["64:ff9b::1.2.3.4"],
    refused: ["1.2.3.4", "::ffff:1.2.3.4"],
  });
});

Deno.test("AccessList treats /0 rules as every address of their family", () => {
  assertPeers(list(["0.0.0.0/0"]), {
    permitted: ["0.0.0.0", "10.0.0.1", "255.255.255.255", "::ffff:1.2.3.4"],
    refused: ["::1", "2001:db8::1"],
  });
  assertPeers(list(["::/0"]), {
    permitted: ["::", "::1", "2001:db8::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"],
    refused: ["10.0.0.1", "::ffff:10.0.0.1"],
  });
  assertPeers(list(["0.0.0.0/0", "::/0"], ["0.0.0.0/0"]), {
    permitted: ["::1"],
    refused: ["10.0.0.1", "255.255.255.255", "::ffff:10.0.0.1"],
  });
});

Deno.test("AccessList treats /32 and /128 rules as exactly one address", () => {
  assertPeers(list(["10.0.0.1/32", "2001:db8::1"]), {
    permitted: ["10.0.0.1", "::ffff:10.0.0.1", "2001:db8::1", "2001:DB8:0:0:0:0:0:0001"],
    refused: ["10.0.0.0", "10.0.0.2", "10.0.1.1", "2001:db8::", "2001:db8::2", "2001:db8::1:1"],
  });
  assertPeers(
    list(["255.255.255.255", "0.0.0.0", "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"]),
    {
      permitted: ["255.255.255.255", "0.0.0.0", "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"],
      refused: ["255.255.255.254", "0.0.0.1", "::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe"],
    },
  );
});

Deno.test("AccessList permits the first and last address of a range and refuses its neighbours", () => {
  assertPeers(list(["192.168.4.0/22"]), {
    permitted: ["192.168.4.0", "192.168.5.17", "192.168.7.255"],
    refused: ["192.168.3.255", "192.168.8.0"],
  });
  assertPeers(list(["10.0.0.2/31"]), {
    permitted: ["10.0.0.2", "10.0.0.3"],
    refused: ["10.0.0.1", "10.0.0.4"],
  });
  assertPeers(list(["2001:db8:a::/48"]), {
    permitted: ["2001:db8:a::", "2001:db8:a:ffff:ffff:ffff:ffff:ffff"],
    refused: ["2001:db8:9:ffff:ffff:ffff:ffff:ffff", "2001:db8:b::"],
  });
  assertPeers(list(["2001:db8::4/127"]), {
    permitted: ["2001:db8::4", "2001:db8::5"],
    refused: ["2001:db8::3", "2001:db8::6"],
  });
  assertPeers(list(["::ffff:10.0.0.0/127"]), {
    permitted: ["10.0.0.0", "10.0.0.1"],
    refused: ["9.255.255.255", "10.0.0.2"],
  });
});

Deno.test("AccessList reads every form of IPv6 peer address", () => {
  assertPeers(list(["fe80::/10", "::/128", "::1", "2001:db8::/32", "64:ff9b::/96"]), {
    permitted: [
      "::",
      "::1",
      "fe80::1%eth0",
      "fe80::1%2",
      "FEBF::1",
      "2001:0db8:0000:0000:0000:0000:0000:0001",
      "2001:DB8::ABCD",
      "64:ff9b::192.0.2.1",
    ],
    refused: ["fec0::1%eth0", "::2", "2001:db9::1", "64:ff9c::192.0.2.1"],
  });
});

Deno.test("AccessList refuses a peer it cannot parse whenever it has a rule", () => {
  const garbage = ["", "localhost", "10.0.0.1%eth0", "fe80::1%", "[::1]", "::1::", "999.0.0.1"];
  assertPeers(list(["0.0.0.0/0", "::/0"]), { permitted: [], refused: garbage });
  assertPeers(list([], ["192.0.2.0/24"]), { permitted: ["10.0.0.1"], refused: garbage });
});

Deno.test("AccessList clears host bits and unmaps rules it did not get from parseCidr", () => {
  const sloppy: Cidr = { family: 4, network: 0x0a010203n, prefix: 8, text: "10.1.2.3/8" };
  assertPeers(new AccessList([sloppy], []), { permitted: ["10.9.9.9"], refused: ["11.0.0.0"] });
  assertPeers(new AccessList([], [sloppy]), { permitted: ["11.0.0.0"], refused: ["10.9.9.9"] });
  const mapped: Cidr = { family: 6, network: 0xffff0a000000n, prefix: 104, text: "mapped" };
  assertPeers(new AccessList([mapped], []), { permitted: ["10.9.9.9"], refused: ["11.0.0.0"] });
});

Deno.test("AccessList rejects a rule with a prefix out of range for its family", () => {
  for (
    const rule of [
      { family: 4, network: 0n, prefix: 33, text: "0.0.0.0/33" },
      { family: 6, network: 0n, prefix: -1, text: "::/-1" },
      { family: 6, network: 0n, prefix: 1.5, text: "::/1.5" },
      { family: 5 as 4, network: 0n, prefix: 0, text: "v5" },
    ] satisfies Cidr[]
  ) {
    assert.throws(() => new AccessList([rule], []), RangeError, rule.text);
  }
});
