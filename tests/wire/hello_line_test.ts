/**
 * Unit tests for the hello line a linehub client may send first: what it
 * encodes, that exactly that form is recognised and anything else is data,
 * and the rules for a client's name.
 */

import assert from "node:assert/strict";
import {
  encodeHelloLine,
  type HelloLine,
  MAX_NAME_LENGTH,
  nameProblem,
  parseHelloLine,
} from "../../lib/wire/hello_line.ts";
import { randomId } from "../../lib/net/random_id.ts";

const encoder = new TextEncoder();
const SESSION = "0123456789abcdef";

/** A line as the framer hands it on: without its `\n`. */
function line(text: string): Uint8Array {
  return encoder.encode(text);
}

Deno.test("encodeHelloLine writes one line starting with a NUL byte, that parseHelloLine reads back", () => {
  const hellos: HelloLine[] = [
    { session: SESSION, seq: 1 },
    { session: SESSION, seq: 1, name: "web1" },
    { session: randomId(), seq: Number.MAX_SAFE_INTEGER, name: "app/worker:3" },
    { session: SESSION, seq: 42, name: "n".repeat(MAX_NAME_LENGTH) },
  ];
  for (const hello of hellos) {
    const bytes = encodeHelloLine(hello);
    assert.equal(bytes[0], 0);
    assert.equal(bytes.indexOf(10), bytes.length - 1, "one line");
    assert.deepEqual(parseHelloLine(bytes.subarray(0, -1)), hello);
  }
  assert.equal(
    new TextDecoder().decode(encodeHelloLine({ session: SESSION, seq: 7, name: "db-2" })),
    "\0linehub-hello session=0123456789abcdef seq=7 name=db-2\n",
  );
});

Deno.test("parseHelloLine takes only the exact form: every near miss is data", () => {
  const good = `\0linehub-hello session=${SESSION} seq=1 name=web1`;
  assert.notEqual(parseHelloLine(line(good)), null);
  const nearMisses = [
    `linehub-hello session=${SESSION} seq=1 name=web1`, // no NUL: what a person could type
    ` \0linehub-hello session=${SESSION} seq=1`,
    `\0linehub-hello session=${SESSION} seq=1 name=web1\r`, // a CR: not what the client sends
    `\0linehub-hello session=${SESSION} seq=1 name=web1 `,
    `\0linehub-hello session=${SESSION} seq=1 name=`,
    `\0linehub-hello session=${SESSION} seq=1  name=web1`,
    `\0linehub-hello session=${SESSION.toUpperCase()} seq=1`,
    `\0linehub-hello session=${SESSION}0 seq=1`,
    `\0linehub-hello session=${SESSION} seq=0`,
    `\0linehub-hello session=${SESSION} seq=01`,
    `\0linehub-hello session=${SESSION} seq=-1`,
    `\0linehub-hello session=${SESSION} seq=99999999999999999`, // past 2^53
    `\0linehub-hello session=${SESSION}`,
    `\0linehub-hello seq=1 session=${SESSION}`,
    `\0linehub-hello session=${SESSION} seq=1 name=two words`,
    `\0linehub-hello session=${SESSION} seq=1 name=truncated`,
    `\0linehub-hello session=${SESSION} seq=1 name=${"n".repeat(MAX_NAME_LENGTH + 1)}`,
    `\0linehub-hello session=${SESSION} seq=1 name=caf\u00e9`,
    `\0linehub-hello session=${SESSION} seq=1 name=a\x1b[2J`,
    `\0linehub-hello session=${SESSION} seq=1 name=web1 extra=1`,
    `\0LINEHUB-HELLO session=${SESSION} seq=1`,
    "\0",
    "",
  ];
  for (const text of nearMisses) {
    assert.equal(parseHelloLine(line(text)), null, JSON.stringify(text));
  }
  assert.equal(parseHelloLine(Uint8Array.of(0, 0xff, 0xfe)), null);
});

Deno.test("nameProblem allows names that read as one word in a label, and says why it refuses others", () => {
  for (const name of ["web1", "db-2.eu", "app/worker:3", "svc@host", "A_B", "n".repeat(64)]) {
    assert.equal(nameProblem(name), null, name);
  }
  const charset = "must be 1 to 64 ASCII letters, digits or . _ - : @ /";
  for (const name of ["", "two words", "caf\u00e9", "tab\there", "x[1]", '"q"', "n".repeat(65)]) {
    assert.equal(nameProblem(name), charset, JSON.stringify(name));
  }
  for (const name of ["truncated", "partial"]) {
    assert.equal(
      nameProblem(name),
      "is a word the text label uses for its flags (truncated, partial)",
    );
  }
});

Deno.test("encodeHelloLine refuses a field out of its form, naming it", () => {
  assert.throws(() => encodeHelloLine({ session: "xyz", seq: 1 }), {
    name: "RangeError",
    message: 'Invalid session "xyz": must be 16 lowercase hex digits',
  });
  assert.throws(() => encodeHelloLine({ session: SESSION, seq: 0 }), {
    name: "RangeError",
    message: 'Invalid seq "0": must be an integer from 1',
  });
  assert.throws(() => encodeHelloLine({ session: SESSION, seq: 1, name: "a b" }), {
    name: "RangeError",
    message: 'Invalid name "a b": must be 1 to 64 ASCII letters, digits or . _ - : @ /',
  });
});
