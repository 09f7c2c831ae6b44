/**
 * Unit tests for the node name rule (`--node`): which names a server may
 * give itself, and how a host name that is not one is made one.
 */

import assert from "node:assert/strict";
import {
  checkNodeName,
  MAX_NODE_NAME_LENGTH,
  nodeNameFromHost,
  nodeNameProblem,
} from "../../lib/server/node_name.ts";

const RULE = "must be 1 to 64 ASCII letters, digits or . _ -";

Deno.test("a node name is 1 to 64 ASCII letters, digits, dots, dashes and underscores", () => {
  for (const name of ["a", "web-3", "web-3.eu.example.net", "WIN_BOX01", "0", "n".repeat(64)]) {
    assert.equal(nodeNameProblem(name), null, name);
    assert.equal(checkNodeName(name), name);
  }
  assert.equal(MAX_NODE_NAME_LENGTH, 64);
});

Deno.test("a node name with a slash, a space, a colon, non-ASCII or over 64 characters is refused", () => {
  // A slash or a space would blur where `[web-3/client 12]` parts; the rest
  // would need escaping somewhere.
  for (const name of ["", "web/3", "web 3", "web:3", "caf\u00e9", "x\x1b", "n".repeat(65)]) {
    assert.equal(nodeNameProblem(name), RULE, JSON.stringify(name));
    assert.throws(() => checkNodeName(name), {
      name: "RangeError",
      message: `Invalid node ${JSON.stringify(name)}: ${RULE}`,
    });
  }
});

Deno.test("a host name that is a node name is used as it is", () => {
  for (const host of ["vm", "web-3.eu.example.net", "DESKTOP-4F2K_1"]) {
    assert.equal(nodeNameFromHost(host), host);
  }
});

Deno.test("a host name with other characters has each run of them replaced by one dash", () => {
  assert.equal(nodeNameFromHost("Jo's MacBook Pro"), "Jo-s-MacBook-Pro");
  assert.equal(nodeNameFromHost("caf\u00e9 \u00fcber"), "caf-ber");
  assert.equal(nodeNameFromHost(" "), "-");
});

Deno.test("a host name over 64 characters becomes its first label, else its first 64 characters", () => {
  const domain = `.${"d".repeat(60)}.example.net`;
  assert.equal(nodeNameFromHost(`web-3${domain}`), "web-3");
  assert.equal(nodeNameFromHost("h".repeat(70) + domain), "h".repeat(64));
  assert.equal(nodeNameFromHost(`.${"h".repeat(70)}`), `.${"h".repeat(63)}`);
});

Deno.test("an empty host name gives no node name", () => {
  assert.equal(nodeNameFromHost(""), null);
});
