/**
 * `deno task soak`: a bounded reliability run that mixes every fault the
 * server and the client are meant to survive, under a steady load, and ends
 * with one verdict line. It starts `server.ts` as a real process (JSON Lines
 * to a file, `--ack`, `--idle-timeout 2`, `--max-line 4096`) and N real
 * `client.ts --ack --retry forever` processes fed numbered lines on stdin at
 * a steady pace. Meanwhile, on a schedule drawn from a seeded PRNG, it kills
 * the server with SIGKILL and restarts it on the same port, stops it once
 * with SIGTERM mid-stream (long runs) and restarts it, rotates the output
 * (rename, SIGHUP), and opens raw connections that reset mid-line,
 * half-close and hold, stay silent until `--idle-timeout` closes them, flood
 * the listener with hundreds of connects, or send hostile bytes (random
 * binary, ESC/CSI/OSC, NUL, invalid UTF-8, lone CR, lines at and over
 * `--max-line`). When the load ends it closes the clients' stdin and waits
 * for them to exit. Then, with the server idle, come the short connections
 * (churn.ts): bursts of connects reset while the server is
 * stopped, so that each dies in its accept queue, each followed by an
 * ordinary client whose line is timed to the output; and two rounds of
 * thousands of one-line connections, half ending gracefully and half with a
 * reset, with the server's heap read after a full collection before, between
 * and after them (heap_gauge.ts, over the inspector the server runs
 * with). Last, it stops the server with SIGTERM while a few clients are
 * mid-stream, and judges (verdict.ts): every steady line in the
 * output at least once, every output line a whole JSON record with no raw
 * control byte, every fault and churned connection shown exactly as the
 * framing rules say, every client exiting 0, every server ending only as the
 * soak ended it, no internal error or stack trace on the server's stderr, the
 * server's RSS under a bound during the load, a line after a burst of resets
 * in the output within a second, and no heap kept for connections that
 * ended.
 *
 * Progress goes to stderr; the table of counts and the verdict line
 * (`soak: PASS (...)` or `soak: FAIL: ...`) go to stdout; exit status 0 or 1
 * (2 on bad usage). Every wait is bounded and every child is killed on the
 * way out. Run with `--allow-all`: it starts processes, writes a temporary
 * directory and reads the server's memory in `/proc`, which Deno allows only
 * with that flag.
 *
 * The parts, in the order a run uses them: options.ts (the flags),
 * server_control.ts and server_process.ts (start, kill, restart, rotate),
 * steady_sender.ts, plan.ts (the schedule), fault_probes.ts with probe.ts
 * and hostile_bytes.ts (the fault connections), early_reset_phase.ts,
 * churn_phase.ts, churn.ts and heap_gauge.ts (the short connections),
 * drain_and_stop.ts, read_output.ts, verdict.ts and report.ts;
 * run_soak.ts runs them in turn, and this module is the command.
 *
 * @module
 */

import { UsageError } from "../../lib/text/usage_error.ts";
import { killAll } from "./_children.ts";
import { parseOptions, USAGE } from "./options.ts";
import { runSoak } from "./run_soak.ts";

/** Beyond the duration, the time the soak may take before it is cut short. */
const OVERRUN_MS = 150_000;

/** `deno task soak`: arguments in, exit status out. */
async function main(args: string[]): Promise<number> {
  let options;
  try {
    options = parseOptions(args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`soak: ${error.message}\n\n${USAGE.trimEnd()}`);
    return 2;
  }
  if (options === "help") {
    console.log(USAGE.trimEnd());
    return 0;
  }
  // A soak that hangs is a failure too, and must not leave processes behind.
  const limit = options.duration * 1000 + OVERRUN_MS;
  const watchdog = setTimeout(() => {
    killAll();
    console.log(`soak: FAIL: the soak did not finish within ${limit / 1000} s`);
    Deno.exit(1);
  }, limit);
  const onInterrupt = (): void => {
    killAll();
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", onInterrupt);
  Deno.addSignalListener("SIGTERM", onInterrupt);
  try {
    return await runSoak(options);
  } finally {
    clearTimeout(watchdog);
    Deno.removeSignalListener("SIGINT", onInterrupt);
    Deno.removeSignalListener("SIGTERM", onInterrupt);
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
