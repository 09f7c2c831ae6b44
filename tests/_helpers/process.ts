/**
 * Test fixture: runs `server.ts` and `client.ts` as real processes, with the
 * same narrow permissions as `deno task server` / `deno task client`, and
 * collects their output. Servers listen on loopback, port 0; the port is read
 * back from the start-up line on stderr.
 *
 * @module
 */

import { fileURLToPath } from "node:url";

/** The deno binary running the tests, used to start the programs. */
export const DENO = Deno.execPath();

/** The project root, as a path. */
export const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** Flags that `deno task server` uses; tests start the server the same way.
 * Read access is for the TLS files and the Workers' module; the server
 * revokes it once those are loaded. */
export const SERVER_PERMISSIONS = ["--allow-net", "--allow-write", "--allow-read"];
/** Flags that `deno task client` uses (read access for the TLS files, revoked
 * once they are loaded). */
export const CLIENT_PERMISSIONS = ["--allow-net", "--allow-read"];

/** What a finished process left behind. */
export interface ProcessResult {
  code: number;
  signal: Deno.Signal | null;
  stdout: string;
  stderr: string;
  /** stdout as bytes, for raw-format checks. */
  stdoutBytes: Uint8Array;
}

/** A server process that is listening. */
export interface ServerProcess {
  /** The port it listens on. */
  port: number;
  /** The host it listens on, as given. */
  host: string;
  process: Deno.ChildProcess;
  /** stderr so far (it keeps growing while the server runs). */
  stderrSoFar(): string;
  /** Sends `signal` (SIGTERM unless given) and waits for the process to end. */
  stop(signal?: Deno.Signal): Promise<ProcessResult>;
  /** Waits for the process to end by itself. */
  finished(): Promise<ProcessResult>;
  /** Writes to its stdin (started with `stdin: "piped"`: the operator console). */
  write(text: string): Promise<void>;
}

const LISTENING = /listening on (?:\[[^\]]+\]|[^\s:]+):(\d+)/;
const STARTUP_TIMEOUT_MS = 20_000;
/** A program run to completion is killed after this long, so a hang fails
 * one test instead of stalling the suite. */
export const RUN_TIMEOUT_MS = 30_000;

async function collect(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/**
 * Starts `server.ts` with `args` (plus `--host 127.0.0.1 --port 0` unless the
 * args choose a host or port) and waits until it says it is listening.
 * Rejects with the server's stderr if it exits first.
 */
export async function startServer(
  args: string[] = [],
  /** A command to run deno under, e.g. `["prlimit", "--nofile=64"]`. */
  wrapper: string[] = [],
  /** The server's stdin: none, or a pipe the test writes to (see `write`). */
  stdin: "null" | "piped" = "null",
): Promise<ServerProcess> {
  const full = [...args];
  const given = (flag: string): boolean =>
    full.some((arg) => arg === flag || arg.startsWith(`${flag}=`));
  if (!given("--host")) full.push("--host", "127.0.0.1");
  if (!given("--port") && !given("-p")) full.push("--port", "0");
  const hostAt = full.findIndex((arg) => arg === "--host" || arg.startsWith("--host="));
  const hostArg = full[hostAt] ?? "";
  const host = hostArg.startsWith("--host=")
    ? hostArg.slice("--host=".length)
    : full[hostAt + 1] ?? "127.0.0.1";
  const [command, ...prefix] = [...wrapper, DENO];
  const process = new Deno.Command(command as string, {
    args: [...prefix, "run", ...SERVER_PERMISSIONS, `${ROOT}server.ts`, ...full],
    stdin,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdoutDone = collect(process.stdout);
  let stderrText = "";
  const decoder = new TextDecoder();
  const port = Promise.withResolvers<number>();
  const stderrDone = (async () => {
    for await (const chunk of process.stderr) {
      stderrText += decoder.decode(chunk, { stream: true });
      const match = LISTENING.exec(stderrText);
      if (match !== null) port.resolve(Number(match[1]));
    }
    port.reject(new Error(`server exited before listening; stderr:\n${stderrText}`));
  })();
  const status = process.status;
  const writer = stdin === "piped" ? process.stdin.getWriter() : null;
  const finished = async (): Promise<ProcessResult> => {
    const [bytes, , s] = await Promise.all([stdoutDone, stderrDone, status]);
    await writer?.close().catch(() => {});
    return {
      code: s.code,
      signal: s.signal,
      stdout: decoder.decode(bytes),
      stderr: stderrText,
      stdoutBytes: bytes,
    };
  };
  const timer = setTimeout(
    () => port.reject(new Error(`server did not start in ${STARTUP_TIMEOUT_MS} ms`)),
    STARTUP_TIMEOUT_MS,
  );
  try {
    const listeningPort = await port.promise;
    return {
      port: listeningPort,
      host,
      process,
      stderrSoFar: () => stderrText,
      write: async (text: string) => {
        if (writer === null) throw new Error("the server was started without a stdin pipe");
        await writer.write(new TextEncoder().encode(text));
      },
      stop: (signal: Deno.Signal = "SIGTERM") => {
        try {
          process.kill(signal);
        } catch {
          // Already gone.
        }
        return finished();
      },
      finished,
    };
  } catch (error) {
    try {
      process.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    await finished();
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/** Runs a program (`server.ts`, `client.ts` or any command) to completion,
 * feeding `stdin` if given; kills it after {@linkcode RUN_TIMEOUT_MS}. */
export async function runProgram(
  command: string,
  args: string[],
  stdin?: string | Uint8Array,
): Promise<ProcessResult> {
  const process = new Deno.Command(command, {
    args,
    stdin: stdin === undefined ? "null" : "piped",
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
  const feeding = (async () => {
    if (stdin === undefined) return;
    const writer = process.stdin.getWriter();
    try {
      await writer.write(typeof stdin === "string" ? new TextEncoder().encode(stdin) : stdin);
      await writer.close();
    } catch {
      // The program exited without reading all its input; its status says why.
    }
  })();
  const [stdoutBytes, stderrBytes, status] = await Promise.all([
    collect(process.stdout),
    collect(process.stderr),
    process.status,
    feeding,
  ]).finally(() => clearTimeout(timer));
  const decoder = new TextDecoder();
  return {
    code: status.code,
    signal: status.signal,
    stdout: decoder.decode(stdoutBytes),
    stderr: decoder.decode(stderrBytes),
    stdoutBytes,
  };
}

/** Runs `client.ts` with `args`, feeding `stdin` if given. */
export function runClientProcess(
  args: string[],
  stdin?: string | Uint8Array,
): Promise<ProcessResult> {
  return runProgram(DENO, ["run", ...CLIENT_PERMISSIONS, `${ROOT}client.ts`, ...args], stdin);
}

/** Runs `server.ts` to completion (for flags that exit at once). */
export function runServerProcess(args: string[]): Promise<ProcessResult> {
  return runProgram(DENO, ["run", ...SERVER_PERMISSIONS, `${ROOT}server.ts`, ...args]);
}

/** Whether an external program is on PATH, for tests that need real peers. */
export async function hasCommand(name: string): Promise<boolean> {
  try {
    const { code } = await new Deno.Command("sh", {
      args: ["-c", `command -v ${name}`],
      stdout: "null",
      stderr: "null",
    }).output();
    return code === 0;
  } catch {
    return false;
  }
}
