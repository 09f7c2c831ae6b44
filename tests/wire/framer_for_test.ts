/**
 * Unit tests for {@linkcode framerFor}: each `--framing` choice gives the
 * framer it names, with the options that apply to it, and anything else is
 * refused naming the value.
 */

import assert from "node:assert/strict";
import { AutoFramer } from "../../lib/wire/auto_framer.ts";
import {
  DEFAULT_FRAMING,
  framerFor,
  FRAMING_CHOICES,
  type FramingChoice,
} from "../../lib/wire/framer_for.ts";
import { LineFramer } from "../../lib/wire/line_framer.ts";
import { OctetFramer } from "../../lib/wire/octet_framer.ts";

const encoder = new TextEncoder();

Deno.test("framerFor gives lf a LineFramer, octet an OctetFramer and auto an AutoFramer", () => {
  assert.deepEqual(FRAMING_CHOICES, ["lf", "octet", "auto"]);
  assert.equal(DEFAULT_FRAMING, "lf");
  assert.ok(framerFor("lf") instanceof LineFramer);
  assert.ok(framerFor("octet") instanceof OctetFramer);
  assert.ok(framerFor("auto") instanceof AutoFramer);
});

Deno.test("framerFor passes maxLine, keepCr and onFramingError to the framer", () => {
  const errors: string[] = [];
  const options = { maxLine: 3, keepCr: true, onFramingError: (e: string) => errors.push(e) };
  for (const choice of FRAMING_CHOICES) {
    const framer = framerFor(choice, options);
    assert.equal(framer.maxLine, 3, choice);
    const got: string[] = [];
    framer.push(encoder.encode("<1>\r\n"), (line) => got.push(new TextDecoder().decode(line)));
    assert.deepEqual(got, ["<1>\r"], choice);
  }
  // Only the octet framer met a header it could not read.
  assert.deepEqual(errors, [
    'Invalid octet-counting header "<": a frame must start with its length, a digit from 1 to 9',
  ]);
});

Deno.test("framerFor refuses a framing it does not know, naming it and the choices", () => {
  for (const choice of ["", "LF", "octet-counted", "crlf"]) {
    assert.throws(() => framerFor(choice as FramingChoice), {
      name: "RangeError",
      message: `Invalid framing "${choice}": must be one of lf, octet, auto`,
    });
  }
});
