/**
 * Test fixture: `client.ts` as a running process the test talks to while it
 * runs: write to its stdin, watch its stderr and stdout grow, send it a
 * signal, close the read end of its stdout. Started with the same
 * permissions as `deno task client`; killed at a deadline so a hang fails
 * one test instead of stalling the suite.
 *
 * @module
 */

import { CLIENT_PERMISSIONS, DENO, type ProcessResult, ROOT, RUN_TIMEOUT_MS } from "./process.ts";
import { concat, waitFor } from "./net.ts";

/** A running client process. */
export interface ClientProcess {
  readonly process: Deno.ChildProcess;
  /** Writes to its stdin; ignores a closed pipe (the result tells why). */
  write(text: string): Promise<void>;
  /** Closes its stdin (the end of input); safe to call twice. */
  closeStdin(): Promise<void>;
  /** Closes the read end of its stdout, as `| head` does when done. */
  closeStdout(): Promise<void>;
  /** stderr so far. */
  stderr(): string;
  /** Waits until stderr so far matches `pattern`. */
  waitForStderr(pattern: RegExp): Promise<void>;
  /** Sends `signal`. */
  kill(signal: Deno.Signal): void;
  /** Waits for it to exit (stdout is "" once closed by the test). */
  finished(): Promise<ProcessResult>;
  /** Kills it if it still runs, and waits; for a test's `finally`. */
  stop(): Promise<ProcessResult>;
}

/** Starts `client.ts` with `args`, stdin, stdout and stderr piped. */
export function spawnClient(args: string[]): ClientProcess {
  const process = new Deno.Command(DENO, {
    args: ["run", ...CLIENT_PERMISSIONS, `${ROOT}client.ts`, ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => {
    try {
      process.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  }, RUN_TIMEOUT_MS);
  const writer = process.stdin.getWriter();
  let stdinOpen = true;
  const decoder = new TextDecoder();
  let stderrText = "";
  const stderrDone = (async () => {
    for await (const chunk of process.stderr) {
      stderrText += decoder.decode(chunk, { stream: true });
    }
  })();
  const stdoutReader = process.stdout.getReader();
  const stdoutParts: Uint8Array[] = [];
  let stdoutClosed = false;
  const stdoutDone = (async () => {
    try {
      while (true) {
        const { done, value } = await stdoutReader.read();
        if (done) return;
        stdoutParts.push(value);
      }
    } catch {
      // Cancelled by closeStdout.
    }
  })();
  const closeStdin = async (): Promise<void> => {
    if (!stdinOpen) return;
    stdinOpen = false;
    try {
      await writer.close();
    } catch {
      // The client exited and the pipe is gone.
    }
  };
  let exited = false;
  process.status.then(() => exited = true);
  let result: Promise<ProcessResult> | null = null;
  const finished = (): Promise<ProcessResult> => {
    result ??= (async () => {
      try {
        const [status] = await Promise.all([process.status, stderrDone, stdoutDone]);
        await closeStdin();
        const stdoutBytes = stdoutClosed ? new Uint8Array(0) : concat(stdoutParts);
        return {
          code: status.code,
          signal: status.signal,
          stdout: decoder.decode(stdoutBytes),
          stderr: stderrText,
          stdoutBytes,
        };
      } finally {
        clearTimeout(timer);
      }
    })();
    return result;
  };
  return {
    process,
    async write(text: string): Promise<void> {
      try {
        await writer.write(new TextEncoder().encode(text));
      } catch {
        // As in closeStdin.
      }
    },
    closeStdin,
    async closeStdout(): Promise<void> {
      stdoutClosed = true;
      await stdoutReader.cancel();
      await stdoutDone;
    },
    stderr: () => stderrText,
    waitForStderr(pattern: RegExp): Promise<void> {
      return waitFor(
        `client stderr to match ${pattern}`,
        () => pattern.test(stderrText),
        () => `stderr so far:\n${stderrText}`,
      );
    },
    kill(signal: Deno.Signal): void {
      process.kill(signal);
    },
    finished,
    stop(): Promise<ProcessResult> {
      if (!exited) {
        try {
          process.kill("SIGKILL");
        } catch {
          // It exited in the meantime.
        }
      }
      return finished();
    },
  };
}
