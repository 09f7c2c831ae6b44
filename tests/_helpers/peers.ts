/**
 * Running linehub against programs nobody here wrote (ncat, socat, OpenBSD
 * netcat): finding them, waiting for a one-shot listener without connecting
 * to it, running our client against one, and waiting for the server to
 * report its clients. The peers themselves are run with `spawnProgram` and
 * `runProgram` (`process.ts`), which kill a hung one at its deadline.
 *
 * @module
 */

import {
  type ProcessResult,
  type RunningProgram,
  runProgram,
  type ServerProcess,
} from "./process.ts";
import { listenerCount } from "./net.ts";
import { sleep, WAIT_TIMEOUT_MS, waitFor } from "./wait.ts";

/** Pause between two attempts of a client whose peer's listener cannot be
 * seen: the client's own connect is then the only probe. */
const RETRY_MS = 100;

/** The OpenBSD netcat command (`nc.openbsd`, or `nc` when it is that one),
 * or null when there is none. */
export async function findOpenbsdNetcat(): Promise<string | null> {
  for (const name of ["nc.openbsd", "nc"]) {
    try {
      // OpenBSD nc prints its name with -h (on stderr, exiting 1).
      const { stdout, stderr } = await runProgram(name, ["-h"]);
      if ((stdout + stderr).includes("OpenBSD netcat")) return name;
    } catch {
      // Not installed.
    }
  }
  return null;
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
  peer: RunningProgram,
  probe?: { hostname: string },
): Promise<boolean> {
  let exited = false;
  peer.process.status.then(() => exited = true);
  let visible = true;
  await waitFor(`something to listen on port ${port}`, async () => {
    const listeners = await listenerCount(port);
    let listening = listeners === null ? null : listeners > 0;
    if (listening === null) {
      if (probe === undefined) {
        visible = false;
        return true;
      }
      listening = await connects(probe.hostname, port);
    }
    if (listening) return true;
    if (exited) {
      const { code, stderr } = await peer.stop();
      throw new Error(`Peer exited with ${code} before listening on port ${port}: ${stderr}`);
    }
    return false;
  });
  return visible;
}

/**
 * Runs the client (`command` + `args`, e.g. `deno` + {@linkcode clientScriptArgs})
 * against a peer server on `port` once it listens. Where the listener could
 * not be seen, retries while the client reports "connection refused", for at
 * most the wait bound.
 */
export async function runClientAgainstPeer(
  peer: RunningProgram,
  port: number,
  command: string,
  args: string[],
  stdin?: string | Uint8Array,
): Promise<ProcessResult> {
  const seen = await waitForListener(port, peer);
  const deadline = Date.now() + WAIT_TIMEOUT_MS;
  while (true) {
    const result = await runProgram(command, args, stdin);
    const refused = result.code === 1 && /Cannot connect .*refused/i.test(result.stderr);
    if (seen || !refused || Date.now() > deadline) return result;
    await sleep(RETRY_MS);
  }
}

/** Waits until the server has reported `count` disconnected clients on
 * stderr (text and raw formats), so stopping it loses no accepted line. */
export function waitForDisconnects(server: ServerProcess, count: number): Promise<void> {
  return waitFor(
    `the server to report ${count} disconnected clients`,
    () => (server.stderrSoFar().match(/^client \d+ disconnected /gm)?.length ?? 0) >= count,
    () => `stderr:\n${server.stderrSoFar()}`,
  );
}
