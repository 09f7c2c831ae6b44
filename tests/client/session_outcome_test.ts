/**
 * Tests of what a client session's end means (lib/client/session_outcome.ts):
 * a server's notice as a failure and whether to retry, and the hint a silent
 * TLS close gets.
 *
 * @module
 */

import assert from "node:assert/strict";
import { noticeOutcome, tlsCloseHint } from "../../lib/client/session_outcome.ts";

Deno.test("noticeOutcome retries a refusal for now and a cut-off, not a refusal for good or a kick", () => {
  const where = "127.0.0.1:8888";
  assert.deepEqual(
    noticeOutcome({ kind: "refused", reason: "per-ip", text: "too many" }, where),
    {
      kind: "busy",
      message: "Server 127.0.0.1:8888 refused the connection: too many",
      retry: true,
    },
  );
  assert.deepEqual(
    noticeOutcome({ kind: "refused", reason: "denied", text: "not allowed" }, where),
    {
      kind: "refused",
      message: "Server 127.0.0.1:8888 refused the connection: not allowed",
      retry: false,
    },
  );
  assert.deepEqual(
    noticeOutcome({ kind: "closing", reason: "idle-timeout", text: "idle for 5 s" }, where),
    {
      kind: "lost",
      message: "Server 127.0.0.1:8888 closed the connection: idle for 5 s",
      retry: true,
    },
  );
  assert.equal(
    noticeOutcome({ kind: "closing", reason: "kicked", text: "kicked" }, where).retry,
    false,
  );
});

Deno.test("noticeOutcome shows the server's words escaped, as any peer's text", () => {
  const outcome = noticeOutcome({ kind: "refused", reason: "full", text: "full\x1b[2J" }, "h:1");
  assert.equal(outcome.message, "Server h:1 refused the connection: full\\x1b[2J");
});

Deno.test("tlsCloseHint asks about the client certificate only for a TLS server silent from the start", () => {
  const tls = { insecure: false };
  const withCert = { insecure: false, keyPair: { cert: "C", key: "K" } };
  assert.equal(
    tlsCloseHint(tls, false, 1000, 1500),
    " (with --tls: was a client certificate needed?)",
  );
  assert.equal(
    tlsCloseHint(withCert, false, 1000, 1500),
    " (with --tls: was the client certificate refused?)",
  );
  assert.equal(tlsCloseHint(undefined, false, 1000, 1500), "", "not over TLS");
  assert.equal(tlsCloseHint(tls, true, 1000, 1500), "", "the server said something");
  assert.equal(tlsCloseHint(tls, false, 1000, 60_000), "", "long after connecting");
});
