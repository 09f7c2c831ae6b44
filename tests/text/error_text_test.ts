/**
 * Unit tests for {@linkcode describeError}: the few lower-case words users see
 * after "Cannot listen on ...:" or "Connection to ... lost:" instead of a stack
 * trace or Rust-flavoured error text.
 */

import assert from "node:assert/strict";
import { describeError, isSpecialFileRefusal } from "../../lib/text/error_text.ts";

Deno.test("describeError gives a short phrase for each common system error", () => {
  const cases: Array<[Error, string]> = [
    [new Deno.errors.AddrInUse("Address already in use (os error 98)"), "address already in use"],
    [
      new Deno.errors.AddrNotAvailable("Cannot assign requested address (os error 99)"),
      "address not available",
    ],
    [new Deno.errors.ConnectionRefused("Connection refused (os error 111)"), "connection refused"],
    [
      new Deno.errors.ConnectionReset("Connection reset by peer (os error 104)"),
      "connection reset by peer",
    ],
    [
      new Deno.errors.ConnectionAborted("Software caused connection abort (os error 103)"),
      "connection aborted",
    ],
    [new Deno.errors.BrokenPipe("Broken pipe (os error 32)"), "broken pipe"],
    [new Deno.errors.TimedOut("Connection timed out (os error 110)"), "timed out"],
    [
      new Deno.errors.NotFound("No such file or directory (os error 2): open '/x/y'"),
      "no such file or directory",
    ],
    [new Deno.errors.IsADirectory("Is a directory (os error 21): open '/'"), "is a directory"],
    [
      new Deno.errors.NotConnected("Transport endpoint is not connected (os error 107)"),
      "not connected",
    ],
  ];
  for (const [error, expected] of cases) assert.equal(describeError(error), expected, error.name);
});

Deno.test("describeError says permission denied for the system's refusals", () => {
  assert.equal(
    describeError(
      new Deno.errors.PermissionDenied("Permission denied (os error 13): open '/root/x'"),
    ),
    "permission denied",
  );
  assert.equal(
    describeError(new Deno.errors.NotCapable("Operation not permitted")),
    "permission denied",
  );
});

Deno.test("describeError keeps Deno's message naming a missing permission flag", () => {
  assert.equal(
    describeError(
      new Deno.errors.NotCapable(
        'Requires net access to "0.0.0.0:80", run again with the --allow-net flag',
      ),
    ),
    'requires net access to "0.0.0.0:80", run again with the --allow-net flag',
  );
  assert.equal(
    describeError(new Deno.errors.PermissionDenied('Requires write access to "out.log".\nhint')),
    'requires write access to "out.log"',
  );
});

Deno.test("describeError names a device Deno opens only with --allow-all, never that flag", () => {
  const error = new Deno.errors.NotCapable(
    'Requires all access to "/dev/stdout", run again with the --allow-all flag',
  );
  assert.equal(describeError(error), "a device or system file, which this program may not open");
  assert.ok(isSpecialFileRefusal(error));
  assert.ok(!isSpecialFileRefusal(new Deno.errors.NotCapable('Requires write access to "x"')));
  assert.ok(!isSpecialFileRefusal(new Error('Requires all access to "/dev/tty"')));
});

Deno.test("describeError says unknown host for a failed name lookup", () => {
  for (
    const message of [
      "failed to lookup address information: Name or service not known",
      "failed to lookup address information: No address associated with hostname",
      "failed to lookup address information: nodename nor servname provided, or not known",
      "failed to lookup address information: Temporary failure in name resolution",
      "Name or service not known (os error -2)",
    ]
  ) {
    assert.equal(describeError(new Error(message)), "unknown host", message);
  }
});

Deno.test("describeError names unreachable networks and hosts", () => {
  assert.equal(
    describeError(new Error("Network is unreachable (os error 101)")),
    "network unreachable",
  );
  assert.equal(describeError(new Error("No route to host (os error 113)")), "no route to host");
});

Deno.test("describeError removes the (os error N) suffix", () => {
  assert.equal(
    describeError(new Error("Too many open files (os error 24)")),
    "too many open files",
  );
  assert.equal(
    describeError(new Deno.errors.WriteZero("Write zero (os error 0)  ")),
    "write zero",
  );
});

Deno.test("describeError removes (os error N) and Deno's operation detail after it", () => {
  // The caller already says what it was doing and to which file.
  assert.equal(
    describeError(new Deno.errors.NotADirectory("Not a directory (os error 20): open '/etc/x/y'")),
    "not a directory",
  );
  assert.equal(
    describeError(new Deno.errors.AlreadyExists("File exists (os error 17): mkdir 'dir'")),
    "file exists",
  );
});

Deno.test("describeError lower-cases the start and drops a trailing period", () => {
  assert.equal(describeError(new Error("Something Went Wrong.")), "something Went Wrong");
  assert.equal(describeError(new TypeError("Bad resource ID")), "bad resource ID");
});

Deno.test("describeError keeps only the first line of a message", () => {
  assert.equal(describeError(new Error("First line\n    at stack (file.ts:1:1)")), "first line");
});

Deno.test("describeError says unknown error for an empty message", () => {
  assert.equal(describeError(new Error("")), "unknown error");
  assert.equal(describeError(new Error("  (os error 5)")), "unknown error");
});

Deno.test("describeError turns values that are not errors into text", () => {
  assert.equal(describeError("plain text"), "plain text");
  assert.equal(describeError(42), "42");
  assert.equal(describeError(undefined), "undefined");
  assert.equal(describeError(null), "null");
  assert.equal(describeError({ code: 1 }), "[object Object]");
});

Deno.test("describeError copes with a value that cannot be turned into a string", () => {
  assert.equal(describeError(Object.create(null)), "unknown error");
  assert.equal(describeError("plain text"), "plain text");
});
