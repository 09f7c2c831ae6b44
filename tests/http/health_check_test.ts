/**
 * Tests of `/healthz`'s judgment: out while draining, while the accept loop
 * is stopped by the output, never for a backlog that is still being
 * written.
 *
 * @module
 */

import assert from "node:assert/strict";
import { HealthCheck, type HealthInputs } from "../../lib/http/health_check.ts";

const fine: HealthInputs = {
  draining: false,
  paused: false,
  outputStalled: false,
  outputBacklogged: false,
  outputWritten: 0,
};

Deno.test("HealthCheck is healthy while accepting, and out while draining", () => {
  const check = new HealthCheck();
  assert.deepEqual(check.judge(fine, 0), { healthy: true });
  assert.deepEqual(check.judge({ ...fine, draining: true }, 0), {
    healthy: false,
    problem: "draining",
  });
});

Deno.test("HealthCheck is out while the output failed and the server stopped accepting (a full disk)", () => {
  const check = new HealthCheck();
  assert.deepEqual(check.judge({ ...fine, paused: true, outputStalled: true }, 0), {
    healthy: false,
    problem: "not-accepting",
  });
  assert.deepEqual(check.judge({ ...fine, outputStalled: true }, 0), {
    healthy: false,
    problem: "output-stalled",
  });
});

Deno.test("HealthCheck takes out a backlogged output only once it has written nothing for the stall time", () => {
  const check = new HealthCheck({ stallSeconds: 2 });
  const backlogged = { ...fine, outputBacklogged: true, outputWritten: 100 };
  assert.deepEqual(check.judge(backlogged, 0), { healthy: true });
  assert.deepEqual(check.judge(backlogged, 1999), { healthy: true });
  assert.deepEqual(check.judge(backlogged, 2000), {
    healthy: false,
    problem: "output-backlogged",
  });
  // Writing again, however backlogged: load, not a fault.
  assert.deepEqual(check.judge({ ...backlogged, outputWritten: 200 }, 5000), { healthy: true });
  assert.deepEqual(check.judge({ ...backlogged, outputWritten: 200 }, 6000), { healthy: true });
  assert.deepEqual(check.judge({ ...fine, outputWritten: 200 }, 9000), { healthy: true });
});

Deno.test("HealthCheck refuses a stall time that is not a number of seconds", () => {
  assert.throws(() => new HealthCheck({ stallSeconds: -1 }), /Invalid stallSeconds "-1"/);
});
