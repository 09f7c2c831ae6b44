/**
 * Test helpers for running linehub against programs nobody here wrote (ncat,
 * socat, OpenBSD netcat) and against the compiled binaries: processes with a
 * deadline, free loopback ports, waiting for a one-shot listener without
 * connecting to it, and waiting for the server to report its clients.
 *
 * Every wait is bounded; a process that outlives its deadline is killed and
 * its result says `killed`, so a hung peer fails a test instead of hanging
 * the suite.
 *
 * @module
 */

import { CLIENT_PERMISSIONS, type ProcessResult, ROOT, type ServerProcess } from "./process.ts";
import { concat } from "./net.ts";
export { canListenOn } from "./net.ts";

/** How long a peer or a client may run before it is killed. */
export const PROCESS_TIMEOUT_MS = 15_000;
/** How long to wait for a listener or a server event. */
const WAIT_TIMEOUT_MS = 10_000;
/** Pause between two looks at a condition being waited for. */
const POLL_MS = 20;

/** What a finished peer left behind. */
export interface PeerResult extends ProcessResult {
  /** Whether it was killed at its deadline (or by `stop`) rather than exiting. */
  killed: boolean;
}

/** A running program whose output is being collected. */
export interface Peer {
  readonly process: Deno.ChildProcess;
  /** Writes to its stdin (started with `stdin: "piped"`); ignores a closed pipe. */
  write(bytes: string | Uint8Array): Promise<void>;
  /** Closes its stdin, if piped; safe to call twice. */
  closeStdin(): Promise<void>;
  /** Waits until its stdout so far includes `text`; throws if it does not
   * within the wait bound, or the peer's stdout ends first. */
  waitForStdout(text: string): Promise<void>;
  /** Waits for it to exit; kills it after `timeoutMs`. */
  finished(timeoutMs?: number): Promise<PeerResult>;
  /** Kills it if it still runs and waits; safe to call any number of times. */
  stop(): Promise<PeerResult>;
}

async function collect(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Starts `command` with piped stdout and stderr, and stdin piped or null. */
export function spawnPeer(
  command: string,
  args: string[],
  options: { stdin?: "piped" | "null" } = {},
): Peer {
  const piped = options.stdin === "piped";
  const process = new Deno.Command(command, {
    args,
    stdin: piped ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = piped ? process.stdin.getWriter() : null;
  let stdinOpen = piped;
  let exited = false;
  let killed = false;
  const status = process.status.then((s) => {
    exited = true;
    return s;
  });
  const stdoutChunks: Uint8Array[] = [];
  let stdoutText = "";
  let stdoutEnded = false;
  const stdoutDecoder = new TextDecoder();
  const stdoutDone = (async () => {
    for await (const chunk of process.stdout) {
      stdoutChunks.push(chunk);
      stdoutText += stdoutDecoder.decode(chunk, { stream: true });
    }
    stdoutEnded = true;
    return concat(stdoutChunks);
  })();
  const outputs = Promise.all([stdoutDone, collect(process.stderr)]);
  const kill = (): void => {
    if (exited) return;
    killed = true;
    try {
      process.kill("SIGKILL");
    } catch {
      // It exited in the meantime.
    }
  };
  const closeStdin = async (): Promise<void> => {
    if (writer === null || !stdinOpen) return;
    stdinOpen = false;
    try {
      await writer.close();
    } catch {
      // The peer exited and the pipe is gone; its result tells the story.
    }
  };
  let result: Promise<PeerResult> | null = null;
  const finish = (): Promise<PeerResult> => {
    result ??= (async () => {
      const [s, [stdoutBytes, stderrBytes]] = await Promise.all([status, outputs]);
      await closeStdin();
      const decoder = new TextDecoder();
      return {
        code: s.code,
        signal: s.signal,
        stdout: decoder.decode(stdoutBytes),
        stderr: decoder.decode(stderrBytes),
        stdoutBytes,
        killed,
      };
    })();
    return result;
  };
  return {
    process,
    async write(bytes): Promise<void> {
      if (writer === null || !stdinOpen) throw new Error(`Cannot write to ${command}: no stdin`);
      try {
        await writer.write(typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes);
      } catch {
        // As in closeStdin: a peer that stopped reading shows in its result.
      }
    },
    closeStdin,
    async waitForStdout(text): Promise<void> {
      const deadline = Date.now() + WAIT_TIMEOUT_MS;
      while (!stdoutText.includes(text)) {
        if (stdoutEnded || Date.now() > deadline) {
          throw new Error(
            `${command} did not print ${JSON.stringify(text)}; stdout so far: ` +
              JSON.stringify(stdoutText.slice(-200)),
          );
        }
        await sleep(POLL_MS);
      }
    },
    async finished(timeoutMs = PROCESS_TIMEOUT_MS): Promise<PeerResult> {
      const timer = setTimeout(kill, timeoutMs);
      try {
        return await finish();
      } finally {
        clearTimeout(timer);
      }
    },
    stop(): Promise<PeerResult> {
      kill();
      return finish();
    },
  };
}

/** Runs `command` to completion with `stdin` (none when undefined), killing it
 * after `timeoutMs`. */
export async function runBounded(
  command: string,
  args: string[],
  stdin?: string | Uint8Array,
  timeoutMs = PROCESS_TIMEOUT_MS,
): Promise<PeerResult> {
  const peer = spawnPeer(command, args, { stdin: stdin === undefined ? "null" : "piped" });
  try {
    if (stdin !== undefined) {
      // Fed concurrently with the wait, so a peer that never reads cannot
      // block the deadline.
      const feeding = peer.write(stdin).then(() => peer.closeStdin());
      const [result] = await Promise.all([peer.finished(timeoutMs), feeding]);
      return result;
    }
    return await peer.finished(timeoutMs);
  } finally {
    await peer.stop();
  }
}

/** The `deno run` arguments that run `client.ts` as `deno task client` does. */
export function clientScriptArgs(args: string[]): string[] {
  return ["run", ...CLIENT_PERMISSIONS, `${ROOT}client.ts`, ...args];
}

/** A loopback port that was free a moment ago (bound, read, released). */
export function freePort(hostname = "127.0.0.1"): number {
  const listener = Deno.listen({ hostname, port: 0, transport: "tcp" });
  const { port } = listener.addr;
  listener.close();
  return port;
}

/** The OpenBSD netcat command (`nc.openbsd`, or `nc` when it is that one),
 * or null when there is none. */
export async function findOpenbsdNetcat(): Promise<string | null> {
  for (const name of ["nc.openbsd", "nc"]) {
    try {
      // OpenBSD nc prints its name with -h (on stderr, exiting 1).
      const { stdout, stderr } = await new Deno.Command(name, {
        args: ["-h"],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
      if (text.includes("OpenBSD netcat")) return name;
    } catch {
      // Not installed.
    }
  }
  return null;
}

/** Whether the kernel's socket table shows a TCP listener on `port`; null
 * when the table cannot be read (not Linux). */
async function listeningInProcTable(port: number): Promise<boolean | null> {
  const portHex = port.toString(16).toUpperCase().padStart(4, "0");
  let seen = false;
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = await Deno.readTextFile(table);
    } catch {
      continue;
    }
    seen = true;
    for (const line of text.split("\n").slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      // State 0A is LISTEN.
      if (local?.endsWith(`:${portHex}`) && state === "0A") return true;
    }
  }
  return seen ? false : null;
}

/** Whether a TCP connect to `port` on `hostname` succeeds (the connection is
 * closed at once). */
async function connects(hostname: string, port: number): Promise<boolean> {
  try {
    (await Deno.connect({ hostname, port, transport: "tcp" })).close();
    return true;
  } catch {
    return false;
  }
}

/**
 * Waits until something listens on `port`. A probe connection would be the
 * one client of a one-shot peer like `nc -l`, so this reads the kernel's
 * socket table where there is one (Linux) and never connects. Where there is
 * none it connects to `probe.hostname` if `probe` is given (for peers that
 * serve many clients: `socat ...,fork`, `ncat -lk`), and otherwise returns
 * false: the caller should then retry its client on "connection refused".
 * Throws when the listener does not appear in time or `peer` exits first.
 */
export async function waitForListener(
  port: number,
  peer: Peer,
  probe?: { hostname: string },
): Promise<boolean> {
  let exited = false;
  peer.process.status.then(() => exited = true);
  const deadline = Date.now() + WAIT_TIMEOUT_MS;
  while (Date.now() < deadline) {
    let listening = await listeningInProcTable(port);
    if (listening === null) {
      if (probe === undefined) return false;
      listening = await connects(probe.hostname, port);
    }
    if (listening) return true;
    if (exited) {
      const { code, stderr } = await peer.stop();
      throw new Error(`Peer exited with ${code} before listening on port ${port}: ${stderr}`);
    }
    await sleep(POLL_MS);
  }
  throw new Error(`Nothing listened on port ${port} within ${WAIT_TIMEOUT_MS} ms`);
}

/**
 * Runs the client (`command` + `args`, e.g. `deno` + {@linkcode clientScriptArgs})
 * against a peer server on `port` once it listens. Where the listener could
 * not be seen, retries while the client reports "connection refused", for at
 * most the wait bound.
 */
export async function runClientAgainstPeer(
  peer: Peer,
  port: number,
  command: string,
  args: string[],
  stdin?: string | Uint8Array,
): Promise<PeerResult> {
  const seen = await waitForListener(port, peer);
  const deadline = Date.now() + WAIT_TIMEOUT_MS;
  while (true) {
    const result = await runBounded(command, args, stdin);
    const refused = result.code === 1 && /Cannot connect .*refused/i.test(result.stderr);
    if (seen || !refused || Date.now() > deadline) return result;
    await sleep(POLL_MS * 5);
  }
}

/** Waits until the server has reported `count` disconnected clients on
 * stderr (text and raw formats), so stopping it loses no accepted line. */
export async function waitForDisconnects(server: ServerProcess, count: number): Promise<void> {
  const deadline = Date.now() + WAIT_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const seen = server.stderrSoFar().match(/^client \d+ disconnected /gm)?.length ?? 0;
    if (seen >= count) return;
    await sleep(POLL_MS);
  }
  throw new Error(
    `Server did not report ${count} disconnected clients within ${WAIT_TIMEOUT_MS} ms; ` +
      `stderr:\n${server.stderrSoFar()}`,
  );
}

const LISTENING = /listening on (?:\[[^\]]+\]|[^\s:]+):(\d+)/;

/**
 * Starts a linehub server program given as a command (a compiled binary,
 * where `startServer` in `process.ts` runs `server.ts`) and waits until it
 * says it is listening. `args` must choose the host and port.
 */
export async function startServerCommand(command: string, args: string[]): Promise<ServerProcess> {
  const process = new Deno.Command(command, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdoutDone = collect(process.stdout);
  const stderrDecoder = new TextDecoder();
  let stderrText = "";
  const port = Promise.withResolvers<number>();
  const stderrDone = (async () => {
    for await (const chunk of process.stderr) {
      stderrText += stderrDecoder.decode(chunk, { stream: true });
      const match = LISTENING.exec(stderrText);
      if (match !== null) port.resolve(Number(match[1]));
    }
    port.reject(new Error(`${command} exited before listening; stderr:\n${stderrText}`));
  })();
  const finished = async (): Promise<ProcessResult> => {
    const [bytes, , s] = await Promise.all([stdoutDone, stderrDone, process.status]);
    return {
      code: s.code,
      signal: s.signal,
      stdout: new TextDecoder().decode(bytes),
      stderr: stderrText,
      stdoutBytes: bytes,
    };
  };
  const stop = (signal: Deno.Signal = "SIGTERM"): Promise<ProcessResult> => {
    try {
      process.kill(signal);
    } catch {
      // Already gone.
    }
    return finished();
  };
  const timer = setTimeout(
    () => port.reject(new Error(`${command} did not listen within ${WAIT_TIMEOUT_MS} ms`)),
    WAIT_TIMEOUT_MS,
  );
  try {
    const listeningPort = await port.promise;
    const host = args[args.indexOf("--host") + 1] ?? "";
    const write = (): Promise<void> => Promise.reject(new Error("no stdin pipe to this server"));
    return {
      port: listeningPort,
      host,
      process,
      stderrSoFar: () => stderrText,
      stop,
      finished,
      write,
    };
  } catch (error) {
    await stop("SIGKILL");
    throw error;
  } finally {
    clearTimeout(timer);
  }
}
