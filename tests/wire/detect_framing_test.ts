/** Unit tests of choosing a connection's framing from its first byte
 * (`--framing auto`). */

import assert from "node:assert/strict";
import { detectFraming } from "../../lib/wire/detect_framing.ts";

const encoder = new TextEncoder();

Deno.test("detectFraming takes a stream starting with a digit from 1 to 9 as octet-counted", () => {
  for (const digit of "123456789") {
    assert.equal(detectFraming(digit.charCodeAt(0)), "octet", digit);
  }
  // What rsyslog's omfwd and syslog-ng's syslog() send: a length, a space, the message.
  const message = "<13>1 2024-05-01T12:00:00Z host app - - - hello";
  const rsyslog = encoder.encode(`${message.length} ${message}`);
  assert.equal(detectFraming(rsyslog[0] as number), "octet");
});

Deno.test("detectFraming takes every other first byte, 0 included, as LF framing", () => {
  for (let byte = 0; byte <= 0xff; byte++) {
    if (byte >= 0x31 && byte <= 0x39) continue;
    assert.equal(detectFraming(byte), "lf", `byte ${byte}`);
  }
  // A syslog message framed by LF starts with the `<` of its PRI.
  assert.equal(detectFraming(encoder.encode("<13>1 2024-05-01 host app\n")[0] as number), "lf");
});

Deno.test("detectFraming rejects what is not a byte with a RangeError naming it", () => {
  for (const value of [-1, 256, 1.5, NaN, undefined as unknown as number]) {
    assert.throws(() => detectFraming(value), {
      name: "RangeError",
      message: `Invalid first byte "${value}": must be an integer from 0 to 255`,
    });
  }
});
