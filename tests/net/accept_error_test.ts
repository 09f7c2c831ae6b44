import assert from "node:assert/strict";
import { acceptErrorKind } from "../../lib/net/accept_error.ts";

/** An error as Deno's ops give it: a message and an errno name in `code`. */
function osError(code: string, message = code): Error {
  return Object.assign(new Error(message), { code });
}

Deno.test("acceptErrorKind: a connection gone before accept concerns that connection only", () => {
  for (const code of ["ECONNABORTED", "ECONNRESET", "ENOTCONN", "EPROTO", "EPERM", "ETIMEDOUT"]) {
    assert.equal(acceptErrorKind(osError(code)), "connection", code);
  }
  // Deno's own classes, as accept() on Linux throws them.
  assert.equal(acceptErrorKind(new Deno.errors.NotConnected("not connected")), "connection");
  assert.equal(acceptErrorKind(new Deno.errors.ConnectionAborted("aborted")), "connection");
  assert.equal(acceptErrorKind(new Deno.errors.ConnectionReset("reset")), "connection");
});

Deno.test("acceptErrorKind: running out of descriptors or memory is the process's state", () => {
  for (const code of ["EMFILE", "ENFILE", "ENOBUFS", "ENOMEM"]) {
    assert.equal(acceptErrorKind(osError(code)), "exhausted", code);
  }
});

Deno.test("acceptErrorKind: an unknown error is treated as exhaustion, so it cannot spin", () => {
  assert.equal(acceptErrorKind(new Error("something new")), "exhausted");
  assert.equal(acceptErrorKind(osError("EWHATEVER")), "exhausted");
  assert.equal(acceptErrorKind("not even an Error"), "exhausted");
  assert.equal(acceptErrorKind(null), "exhausted");
});
