/**
 * Unit tests for host and port parsing and printing: every form of target a
 * user may type, and an error naming the value for every form they may get
 * wrong.
 */

import assert from "node:assert/strict";
import {
  DEFAULT_PORT,
  formatHostPort,
  parsePort,
  parseTarget,
  unmapIPv4,
} from "../../lib/net/address.ts";
import { UsageError } from "../../lib/text/usage_error.ts";

/** Asserts that `fn` throws a UsageError with exactly `message`. */
function throwsUsage(fn: () => unknown, message: string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof UsageError, `expected a UsageError, got ${error}`);
    assert.equal(error.message, message);
    return true;
  });
}

Deno.test("DEFAULT_PORT is 8888", () => {
  assert.equal(DEFAULT_PORT, 8888);
});

Deno.test("parsePort accepts 0 to 65535", () => {
  assert.equal(parsePort("0"), 0);
  assert.equal(parsePort("1"), 1);
  assert.equal(parsePort("80"), 80);
  assert.equal(parsePort("8888"), 8888);
  assert.equal(parsePort("65535"), 65535);
});

Deno.test("parsePort rejects anything but a plain decimal port, naming the value", () => {
  for (
    const text of [
      "",
      "-1",
      "65536",
      "99999",
      "123456",
      "1e3",
      " 80",
      "80 ",
      "0x50",
      "8.0",
      "+80",
      "port",
      "\u0668\u0660",
    ]
  ) {
    throwsUsage(
      () => parsePort(text),
      `Invalid port "${text}": must be an integer from 0 to 65535`,
    );
  }
});

Deno.test("parsePort names what it parses in the error", () => {
  throwsUsage(
    () => parsePort("x", "--port"),
    'Invalid --port "x": must be an integer from 0 to 65535',
  );
});

Deno.test("parseTarget takes a bare host with the default port", () => {
  assert.deepEqual(parseTarget("localhost"), { host: "localhost", port: 8888 });
  assert.deepEqual(parseTarget("127.0.0.1"), { host: "127.0.0.1", port: 8888 });
  assert.deepEqual(parseTarget("example.org"), { host: "example.org", port: 8888 });
  assert.deepEqual(parseTarget("my-host.local."), { host: "my-host.local.", port: 8888 });
});

Deno.test("parseTarget takes host:port", () => {
  assert.deepEqual(parseTarget("localhost:9000"), { host: "localhost", port: 9000 });
  assert.deepEqual(parseTarget("10.0.0.1:0"), { host: "10.0.0.1", port: 0 });
  assert.deepEqual(parseTarget("example.org:65535"), { host: "example.org", port: 65535 });
});

Deno.test("parseTarget takes a bracketed IPv6 address with or without a port", () => {
  assert.deepEqual(parseTarget("[::1]:9000"), { host: "::1", port: 9000 });
  assert.deepEqual(parseTarget("[::1]"), { host: "::1", port: 8888 });
  assert.deepEqual(parseTarget("[fe80::1%eth0]:7"), { host: "fe80::1%eth0", port: 7 });
  assert.deepEqual(parseTarget("[::ffff:127.0.0.1]:80"), { host: "::ffff:127.0.0.1", port: 80 });
});

Deno.test("parseTarget reads a bare IPv6 address as a host without a port", () => {
  assert.deepEqual(parseTarget("::1"), { host: "::1", port: 8888 });
  assert.deepEqual(parseTarget("fe80::1"), { host: "fe80::1", port: 8888 });
  assert.deepEqual(parseTarget("2001:db8::8:800:200c:417a"), {
    host: "2001:db8::8:800:200c:417a",
    port: 8888,
  });
  assert.deepEqual(parseTarget("::"), { host: "::", port: 8888 });
});

Deno.test("parseTarget takes the port from a separate PORT argument", () => {
  assert.deepEqual(parseTarget("example.org", "7"), { host: "example.org", port: 7 });
  assert.deepEqual(parseTarget("::1", "9000"), { host: "::1", port: 9000 });
  assert.deepEqual(parseTarget("[::1]", "9000"), { host: "::1", port: 9000 });
});

Deno.test("parseTarget rejects a port given twice", () => {
  throwsUsage(
    () => parseTarget("localhost:9000", "9001"),
    'Port given twice: "localhost:9000" and "9001"',
  );
  throwsUsage(() => parseTarget("[::1]:9000", "9000"), 'Port given twice: "[::1]:9000" and "9000"');
});

Deno.test("parseTarget rejects a bad port, naming it", () => {
  const message = (port: string): string =>
    `Invalid port "${port}": must be an integer from 0 to 65535`;
  throwsUsage(() => parseTarget("localhost:99999"), message("99999"));
  throwsUsage(() => parseTarget("localhost:"), message(""));
  throwsUsage(() => parseTarget("localhost:http"), message("http"));
  throwsUsage(() => parseTarget("[::1]:"), message(""));
  throwsUsage(() => parseTarget("[::1]:80:90"), message("80:90"));
  throwsUsage(() => parseTarget("localhost", "-1"), message("-1"));
  throwsUsage(() => parseTarget("localhost", ""), message(""));
});

Deno.test("parseTarget rejects an empty host", () => {
  throwsUsage(() => parseTarget(""), 'Invalid host "": empty host');
  throwsUsage(() => parseTarget(":8888"), 'Invalid host ":8888": empty host');
});

Deno.test("parseTarget rejects unbalanced brackets", () => {
  for (const target of ["[::1", "::1]", "[::1:80", "[::1]x", "a]b", "[[::1]]"]) {
    throwsUsage(() => parseTarget(target), `Invalid host "${target}": unbalanced brackets`);
  }
});

Deno.test("parseTarget rejects brackets around anything but IPv6", () => {
  for (const target of ["[127.0.0.1]", "[localhost]:80", "[]", "[]:80"]) {
    throwsUsage(
      () => parseTarget(target),
      `Invalid host "${target}": brackets are for IPv6 addresses`,
    );
  }
});

Deno.test("parseTarget rejects a host containing white space", () => {
  throwsUsage(() => parseTarget("my host"), 'Invalid host "my host": contains white space');
  throwsUsage(
    () => parseTarget(" localhost:80"),
    'Invalid host " localhost:80": contains white space',
  );
});

Deno.test("formatHostPort joins host and port, bracketing IPv6", () => {
  assert.equal(formatHostPort("127.0.0.1", 8888), "127.0.0.1:8888");
  assert.equal(formatHostPort("example.org", 0), "example.org:0");
  assert.equal(formatHostPort("::1", 5000), "[::1]:5000");
  assert.equal(formatHostPort("fe80::1%eth0", 7), "[fe80::1%eth0]:7");
});

Deno.test("formatHostPort output parses back to the same host and port", () => {
  for (const [host, port] of [["::1", 1], ["10.1.2.3", 65535], ["localhost", 80]] as const) {
    assert.deepEqual(parseTarget(formatHostPort(host, port)), { host, port });
  }
});

Deno.test("unmapIPv4 shows an IPv4-mapped IPv6 address as IPv4", () => {
  assert.equal(unmapIPv4("::ffff:127.0.0.1"), "127.0.0.1");
  assert.equal(unmapIPv4("::FFFF:10.0.0.1"), "10.0.0.1");
});

Deno.test("unmapIPv4 leaves other addresses untouched", () => {
  for (
    const address of [
      "::1",
      "fe80::1",
      "127.0.0.1",
      "::ffff:7f00:1",
      "64:ff9b::127.0.0.1",
      "::ffff:1.2.3",
    ]
  ) {
    assert.equal(unmapIPv4(address), address);
  }
});
