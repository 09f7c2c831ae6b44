/**
 * Programs run as processes by the tests: `server.ts` and `client.ts` with
 * the permissions of `deno task server` and `deno task client`, the compiled
 * binaries, peers nobody here wrote (ncat, socat, nc, openssl, script) and
 * the README's shell commands. There is one way to start a program and watch
 * it as it runs ({@linkcode spawnProgram}), one to run a program to its end
 * ({@linkcode runProgram}) and one to start a server and read its port back
 * from its start-up line ({@linkcode startServerCommand}); the rest are
 * those three with linehub's arguments filled in.
 *
 * A program that outlives its deadline is killed and its result says
 * `killed`, so a hang fails one test instead of stalling the suite.
 *
 * @module
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { concatBytes } from "../../lib/io/concat_bytes.ts";
import { WAIT_TIMEOUT_MS, waitFor } from "./wait.ts";

/** The deno binary running the tests, used to start the programs. */
export const DENO = Deno.execPath();

/** The project root, as a path. */
export const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** Flags that `deno task server` uses; tests start the server the same way.
 * Read access is for the TLS files and the Workers' module; the server
 * revokes it once those are loaded. The host name is the default `--node`. */
const SERVER_PERMISSIONS = [
  "--allow-net",
  "--allow-write",
  "--allow-read",
  "--allow-sys=hostname",
];
/** Flags that `deno task client` uses (read access for the TLS files, revoked
 * once they are loaded). */
const CLIENT_PERMISSIONS = ["--allow-net", "--allow-read"];

/** How long a program may run before it is killed, unless told. */
export const RUN_TIMEOUT_MS = 30_000;
/** How long a server may take to say it is listening, unless told. */
const STARTUP_TIMEOUT_MS = 20_000;

/** What a finished process left behind. */
export interface ProcessResult {
  code: number;
  signal: Deno.Signal | null;
  stdout: string;
  stderr: string;
  /** stdout as bytes, for raw-format checks. */
  stdoutBytes: Uint8Array;
  /** Whether the tests killed it (at its deadline, or by `stop`) rather than
   * it exiting by itself or on a signal a test chose. */
  killed: boolean;
}

/** What a person sees of a finished command: its status and what it
 * printed, for tests that compare it whole. */
export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Only what a person sees of `result`. */
export function commandResult({ code, stdout, stderr }: ProcessResult): CommandResult {
  return { code, stdout, stderr };
}

/** How to start a program. */
export interface SpawnOptions {
  /** Its stdin: none, or a pipe the test writes to.
   * @default {"null"} */
  stdin?: "null" | "piped";
  /** Kill it this long after it starts; `Infinity`: never.
   * @default {RUN_TIMEOUT_MS} */
  timeoutMs?: number;
  /** The folder it runs in.
   * @default {the tests' own} */
  cwd?: string;
  /** Variables added to its environment.
   * @default {none} */
  env?: Record<string, string>;
}

/** A running program whose stdout and stderr are being collected; disposing
 * of it stops it. */
export interface RunningProgram extends AsyncDisposable {
  readonly process: Deno.ChildProcess;
  /** Writes to its stdin (started with `stdin: "piped"`); ignores a closed
   * pipe, since the program's result tells why it stopped reading. */
  write(data: string | Uint8Array): Promise<void>;
  /** Closes its stdin, if piped (the end of input); safe to call twice. */
  closeStdin(): Promise<void>;
  /** Closes the read end of its stdout, as `| head` does when done; its
   * result's stdout is then empty. */
  closeStdout(): Promise<void>;
  /** stdout so far. */
  stdoutSoFar(): string;
  /** stderr so far. */
  stderrSoFar(): string;
  /** Waits until its stdout so far shows `pattern`; fails at once if stdout
   * ends without it, and after `timeoutMs` (the usual wait bound unless
   * given). */
  waitForStdout(pattern: string | RegExp, timeoutMs?: number): Promise<void>;
  /** Waits until its stderr so far shows `pattern`, as `waitForStdout`. */
  waitForStderr(pattern: string | RegExp, timeoutMs?: number): Promise<void>;
  /** Sends `signal`; throws if it has exited. */
  kill(signal: Deno.Signal): void;
  /** Waits for it to exit (or be killed at its deadline). */
  finished(): Promise<ProcessResult>;
  /** Sends `signal` (SIGKILL unless given) if it still runs, and waits;
   * safe to call any number of times, e.g. in a test's `finally`. */
  stop(signal?: Deno.Signal): Promise<ProcessResult>;
}

function shows(text: string, pattern: string | RegExp): boolean {
  return typeof pattern === "string" ? text.includes(pattern) : pattern.test(text);
}

/** A stream read to its end in the background, kept as bytes and text. */
class Collected {
  readonly done: Promise<void>;
  #parts: Uint8Array[] = [];
  #text = "";
  #ended = false;
  #cancelled = false;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;

  constructor(stream: ReadableStream<Uint8Array>) {
    const reader = stream.getReader();
    this.#reader = reader;
    const decoder = new TextDecoder();
    this.done = (async () => {
      try {
        while (true) {
          const { done, value } = await reader.read();
          if (done) break;
          this.#parts.push(value);
          this.#text += decoder.decode(value, { stream: true });
        }
      } catch {
        // Cancelled: what came before stays.
      } finally {
        this.#ended = true;
      }
    })();
  }

  get ended(): boolean {
    return this.#ended;
  }

  text(): string {
    return this.#text;
  }

  bytes(): Uint8Array {
    return this.#cancelled ? new Uint8Array(0) : concatBytes(this.#parts);
  }

  async cancel(): Promise<void> {
    this.#cancelled = true;
    await this.#reader.cancel();
    await this.done;
  }
}

/** Starts `command` with `args`, stdout and stderr piped and collected. */
export function spawnProgram(
  command: string,
  args: string[],
  options: SpawnOptions = {},
): RunningProgram {
  const piped = options.stdin === "piped";
  const process = new Deno.Command(command, {
    args,
    stdin: piped ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    ...(options.env === undefined ? {} : { env: options.env }),
  }).spawn();
  let exited = false;
  let killed = false;
  const status = process.status.then((s) => {
    exited = true;
    return s;
  });
  const stdout = new Collected(process.stdout);
  const stderr = new Collected(process.stderr);
  const writer = piped ? process.stdin.getWriter() : null;
  let stdinOpen = piped;

  const stop = (signal: Deno.Signal = "SIGKILL"): Promise<ProcessResult> => {
    if (!exited) {
      try {
        process.kill(signal);
        if (signal === "SIGKILL") killed = true;
      } catch {
        // It exited in the meantime.
      }
    }
    return finished();
  };
  const deadlineMs = options.timeoutMs ?? RUN_TIMEOUT_MS;
  const deadline = Number.isFinite(deadlineMs) ? setTimeout(() => void stop(), deadlineMs) : null;

  const closeStdin = async (): Promise<void> => {
    if (writer === null || !stdinOpen) return;
    stdinOpen = false;
    try {
      await writer.close();
    } catch {
      // The program exited and the pipe is gone; its result tells the story.
    }
  };
  let result: Promise<ProcessResult> | null = null;
  const finished = (): Promise<ProcessResult> => {
    result ??= (async () => {
      try {
        const [s] = await Promise.all([status, stdout.done, stderr.done]);
        await closeStdin();
        const stdoutBytes = stdout.bytes();
        return {
          code: s.code,
          signal: s.signal,
          stdout: new TextDecoder().decode(stdoutBytes),
          stderr: stderr.text(),
          stdoutBytes,
          killed,
        };
      } finally {
        if (deadline !== null) clearTimeout(deadline);
      }
    })();
    return result;
  };
  const waitForOutput = (
    name: string,
    stream: Collected,
    pattern: string | RegExp,
    timeoutMs = WAIT_TIMEOUT_MS,
  ): Promise<void> =>
    waitFor(
      `${command} to show ${pattern} on ${name}`,
      () => {
        if (shows(stream.text(), pattern)) return true;
        if (stream.ended) {
          throw new Error(
            `${command}'s ${name} ended without ${pattern}; it was:\n${stream.text().slice(-2000)}`,
          );
        }
        return false;
      },
      () => `${name} so far:\n${stream.text().slice(-2000)}`,
      timeoutMs,
    );

  return {
    process,
    async write(data): Promise<void> {
      if (writer === null || !stdinOpen) throw new Error(`Cannot write to ${command}: no stdin`);
      try {
        await writer.write(typeof data === "string" ? new TextEncoder().encode(data) : data);
      } catch {
        // As in closeStdin.
      }
    },
    closeStdin,
    closeStdout: () => stdout.cancel(),
    stdoutSoFar: () => stdout.text(),
    stderrSoFar: () => stderr.text(),
    waitForStdout: (pattern, timeoutMs) => waitForOutput("stdout", stdout, pattern, timeoutMs),
    waitForStderr: (pattern, timeoutMs) => waitForOutput("stderr", stderr, pattern, timeoutMs),
    kill(signal): void {
      process.kill(signal);
    },
    finished,
    stop,
    async [Symbol.asyncDispose](): Promise<void> {
      await stop();
    },
  };
}

/** Runs `command` to its end, feeding it `stdin` if given (none otherwise);
 * kills it after `options.timeoutMs`. */
export async function runProgram(
  command: string,
  args: string[],
  stdin?: string | Uint8Array,
  options: Omit<SpawnOptions, "stdin"> = {},
): Promise<ProcessResult> {
  const program = spawnProgram(command, args, {
    ...options,
    stdin: stdin === undefined ? "null" : "piped",
  });
  try {
    // Fed alongside the wait, so that a program that never reads cannot
    // hold the test past its deadline.
    const feeding = stdin === undefined
      ? Promise.resolve()
      : program.write(stdin).then(() => program.closeStdin());
    const [result] = await Promise.all([program.finished(), feeding]);
    return result;
  } finally {
    await program.stop();
  }
}

/** A server process that is listening. */
export interface ServerProcess extends Omit<RunningProgram, "stop"> {
  /** The port it listens on, from its start-up line. */
  readonly port: number;
  /** The host it listens on, as given. */
  readonly host: string;
  /** Sends `signal` (SIGTERM unless given: a shutdown, not a kill) and
   * waits for the process to end; disposing of it does the same. */
  stop(signal?: Deno.Signal): Promise<ProcessResult>;
}

/** How to start a server. */
export interface ServerOptions extends Omit<SpawnOptions, "timeoutMs"> {
  /** How long it may take to say it is listening.
   * @default {20000} */
  startupTimeoutMs?: number;
}

const LISTENING = /listening on (?:\[[^\]]+\]|[^\s:]+):(\d+)/;

/** The value of `--host` in `args`, either spelling, or `fallback`. */
function hostOf(args: string[], fallback: string): string {
  const at = args.findIndex((arg) => arg === "--host" || arg.startsWith("--host="));
  const arg = args[at] ?? "";
  return arg.startsWith("--host=") ? arg.slice("--host=".length) : args[at + 1] ?? fallback;
}

/**
 * Starts a linehub server program given as a command (a compiled binary, a
 * README command through `sh`; `startServer` runs `server.ts`) and waits
 * until it says it is listening. It runs until stopped: a server's test
 * decides how long it lives. Rejects with its stderr if it exits or stays
 * silent first.
 */
export async function startServerCommand(
  command: string,
  args: string[],
  options: ServerOptions = {},
): Promise<ServerProcess> {
  const { startupTimeoutMs = STARTUP_TIMEOUT_MS, ...spawn } = options;
  const program = spawnProgram(command, args, { ...spawn, timeoutMs: Infinity });
  try {
    await program.waitForStderr(LISTENING, startupTimeoutMs);
  } catch (error) {
    await program.stop();
    throw error;
  }
  const port = Number(LISTENING.exec(program.stderrSoFar())?.[1]);
  const stop = (signal: Deno.Signal = "SIGTERM"): Promise<ProcessResult> => program.stop(signal);
  return {
    ...program,
    port,
    host: hostOf(args, ""),
    stop,
    async [Symbol.asyncDispose](): Promise<void> {
      await stop();
    },
  };
}

/** The `deno run` arguments that run `server.ts` as `deno task server` does. */
export function serverScriptArgs(args: string[]): string[] {
  return ["run", ...SERVER_PERMISSIONS, `${ROOT}server.ts`, ...args];
}

/** The `deno run` arguments that run `client.ts` as `deno task client` does. */
export function clientScriptArgs(args: string[]): string[] {
  return ["run", ...CLIENT_PERMISSIONS, `${ROOT}client.ts`, ...args];
}

/**
 * Starts `server.ts` with `args` (plus `--host 127.0.0.1 --port 0` unless the
 * args choose a host or port) and waits until it says it is listening.
 */
export function startServer(
  args: string[] = [],
  options: ServerOptions & {
    /** A command to run deno under, e.g. `["prlimit", "--nofile=64"]`. */
    wrapper?: string[];
  } = {},
): Promise<ServerProcess> {
  const { wrapper = [], ...rest } = options;
  const full = [...args];
  const given = (flag: string): boolean =>
    full.some((arg) => arg === flag || arg.startsWith(`${flag}=`));
  if (!given("--host")) full.push("--host", "127.0.0.1");
  if (!given("--port") && !given("-p")) full.push("--port", "0");
  const [command, ...prefix] = [...wrapper, DENO];
  return startServerCommand(command as string, [...prefix, ...serverScriptArgs(full)], rest);
}

/** Starts `client.ts` with `args` and its stdin piped, to watch it as it runs. */
export function spawnClient(args: string[], options: SpawnOptions = {}): RunningProgram {
  return spawnProgram(DENO, clientScriptArgs(args), { stdin: "piped", ...options });
}

/** Runs `client.ts` with `args` to its end, feeding `stdin` if given. */
export function runClientProcess(
  args: string[],
  stdin?: string | Uint8Array,
  options: Omit<SpawnOptions, "stdin"> = {},
): Promise<ProcessResult> {
  return runProgram(DENO, clientScriptArgs(args), stdin, options);
}

let hostNameRead: Promise<string> | null = null;

/** This machine's host name as the server reads it (`Deno.hostname()`), for
 * its default `--node`. Read by a `deno eval`, which has every permission:
 * the tests themselves may not read it. */
export function hostName(): Promise<string> {
  return hostNameRead ??= runProgram(DENO, ["eval", "console.log(Deno.hostname())"]).then(
    (result) => {
      assert.equal(result.code, 0, result.stderr);
      return result.stdout.trimEnd();
    },
  );
}

/** Runs `server.ts` to its end (for flags that exit at once). */
export function runServerProcess(args: string[]): Promise<ProcessResult> {
  return runProgram(DENO, serverScriptArgs(args));
}

/** `word` quoted for `sh`. */
export function shellQuote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** Runs the shell command `command` in a pseudo-terminal of its own, through
 * util-linux `script`, as in a user's terminal: what the test writes to it
 * is typed there, and all it prints comes out on stdout.
 *
 * `script` runs the command with `$SHELL -c`, so the shell is named here:
 * bash and dash differ in how they take a Ctrl-C typed while they wait (bash
 * waits for its child, dash dies at once), and CI runs with no `SHELL` at
 * all. The shell stays in the terminal's foreground group, which a user's
 * interactive shell is not: a test that types Ctrl-C should `exec` its
 * program, so that only the program gets it. */
export function spawnInTerminal(command: string): RunningProgram {
  return spawnProgram("script", ["-qfec", command, "/dev/null"], {
    stdin: "piped",
    env: { SHELL: "/bin/sh" },
  });
}

/** Whether an external program is on PATH, for tests that need real peers. */
export async function hasCommand(name: string): Promise<boolean> {
  try {
    return (await runProgram("sh", ["-c", `command -v ${name}`])).code === 0;
  } catch {
    return false;
  }
}

/** Fails if `stderr` shows a stack trace or an uncaught error, which users
 * should never see. */
export function assertNoCrash(stderr: string): void {
  if (/^\s+at /m.test(stderr) || stderr.includes("error: Uncaught")) {
    throw new Error(`stderr shows a crash:\n${stderr}`);
  }
}

/** Checks a finished run: status, stdout and stderr exactly, and no crash. */
export function assertRun(result: ProcessResult, expected: CommandResult): void {
  assertNoCrash(result.stderr);
  assert.deepEqual(commandResult(result), expected);
}
