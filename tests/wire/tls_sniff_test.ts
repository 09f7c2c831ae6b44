/** Unit tests of telling a TLS handshake from text by its first bytes. */

import assert from "node:assert/strict";
import { startsTlsHandshake } from "../../lib/wire/tls_sniff.ts";
import { clientHello } from "../_helpers/mod.ts";

Deno.test("startsTlsHandshake knows a real ClientHello, whole or cut after one or two bytes", async () => {
  const hello = await clientHello();
  assert.equal(startsTlsHandshake(hello), true);
  assert.equal(startsTlsHandshake(hello.subarray(0, 2)), true);
  assert.equal(startsTlsHandshake(hello.subarray(0, 1)), true);
});

Deno.test("startsTlsHandshake takes text, HTTP and other control bytes for what they are", () => {
  for (
    const first of [
      new TextEncoder().encode("hello\n"),
      new TextEncoder().encode("GET / HTTP/1.1\r\n"),
      new Uint8Array([0x16, 0x41]),
      new Uint8Array([0x15, 0x03, 0x03]), // an alert record: no client starts with one
      new Uint8Array([0x03]),
      new Uint8Array(0),
    ]
  ) {
    assert.equal(startsTlsHandshake(first), false, String([...first]));
  }
});
