/**
 * The README's "Outgrowing one machine", run as a reader on one machine
 * would: the commands installed by the README's own `deno install` lines,
 * and the marked `scale-out` blocks run in order in an empty folder, Redis,
 * two linehub servers and HAProxy started by the README's own commands, the
 * transcripts compared with what the README shows.
 *
 * The one change: the README's ports (8888 for HAProxy, 9001 and 9002 for
 * the servers, 6379 for Redis) are replaced everywhere by ports that were
 * free a moment ago. Where the README says "a moment later" or "once each
 * server has said what it delivered", the test waits for that, since a
 * script would otherwise run faster than the reader it stands for. The
 * processes outlive the shell that started them, so the test stops them
 * itself if the README's own stop did not, by the process ids the README
 * writes to `.pid` files. Skipped, with the reason, without `haproxy`,
 * `redis-server` or `redis-cli`.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  assertTranscript,
  commandEnv,
  freePort,
  installFromReadme,
  type ReadmeBlock,
  readmeBlock,
  readmeBlocks,
  runProgram,
  runShell,
  shellMissing,
  waitFor,
} from "../_helpers/mod.ts";

/** The README's ports, each replaced by the test with a free one. */
const README_PORTS = ["8888", "9001", "9002", "6379"] as const;
/** A new pattern each time: a global RegExp keeps state between uses. */
const readmePorts = (): RegExp => new RegExp(`\\b(?:${README_PORTS.join("|")})\\b`, "g");

/** Debian installs HAProxy in /usr/sbin, often not on a user's PATH; the
 * README says to add it, and the commands here get it added. */
function scaleOutEnv(bin: string): Record<string, string> {
  const env = commandEnv(bin);
  return { ...env, PATH: `${env.PATH}:/usr/sbin` };
}

/** Why the example cannot run here, or null when it can. */
async function scaleOutMissing(): Promise<string | null> {
  const shell = shellMissing();
  if (shell !== null) return shell;
  const env = scaleOutEnv("/nonexistent");
  const missing = [];
  for (const command of ["haproxy", "redis-server", "redis-cli"]) {
    const found = await runShell(`command -v ${command}`, ".", env);
    if (found.code !== 0) missing.push(command);
  }
  return missing.length === 0 ? null : `${missing.join(", ")} not installed`;
}

/** `count` different ports, each free a moment ago (separate draws may
 * repeat one). */
function freePorts(count: number): number[] {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(freePort());
  return [...ports];
}

/** The `.pid` files the README's commands write, and a word of the command
 * line of the process each names: an id read back is only signalled while
 * it still names such a process, not one given the id since. */
const PID_FILES = [
  ["haproxy.pid", "haproxy"],
  ["web-1.pid", "server.ts"],
  ["web-2.pid", "server.ts"],
  ["redis.pid", "redis-server"],
] as const;

/** Kills what the README's commands started and left running, for a test
 * that failed before the README stopped it. */
async function killLeftovers(work: string): Promise<void> {
  for (const [file, word] of PID_FILES) {
    let pid: number;
    try {
      pid = Number((await Deno.readTextFile(`${work}/${file}`)).trim());
    } catch {
      continue; // Never started.
    }
    if (!Number.isInteger(pid) || pid <= 1) continue;
    const ps = await runProgram("ps", ["-o", "args=", "-p", String(pid)]).catch(() => null);
    // Without ps there is no telling; the id was written moments ago.
    if (ps !== null && !ps.stdout.includes(word)) continue;
    try {
      Deno.kill(pid, "SIGKILL");
    } catch {
      // Gone meanwhile.
    }
  }
}

/** Waits until the text of `file` in `work` matches `pattern`. */
function waitForFile(work: string, file: string, pattern: RegExp): Promise<void> {
  let text = "";
  return waitFor(
    `${file} to show ${pattern}`,
    async () => {
      text = await Deno.readTextFile(`${work}/${file}`).catch(() => "");
      return pattern.test(text);
    },
    () => `${file} so far:\n${text}`,
  );
}

const skipped = await scaleOutMissing();

Deno.test({
  name: "the README's two servers behind HAProxy into one Redis stream run as written" +
    (skipped === null ? "" : ` (skipped: ${skipped})`),
  ignore: skipped !== null,
  fn: async () => {
    const blocks = await readmeBlocks();
    const block = (name: string): ReadmeBlock => readmeBlock(blocks, `scale-out ${name}`);
    const setup = block("setup");
    const start = block("start");
    const ready = block("ready");
    const balancer = block("balancer");
    const clients = block("clients");
    const stream = block("stream");
    const stop = block("stop");
    const after = block("after");
    // Otherwise a port would not be overridden, and the test would use
    // whatever port the README names, or find nothing there.
    const expected: Array<[ReadmeBlock, string[]]> = [
      [setup, ["8888", "9001", "9002"]],
      [start, ["9001", "9002", "6379"]],
      [clients, ["8888"]],
      [stream, ["6379"]],
      [after, ["6379"]],
    ];
    for (const [each, named] of expected) {
      for (const port of named) {
        assert.match(each.body, new RegExp(`\\b${port}\\b`), `README.md:${each.line}: no ${port}`);
      }
    }

    const drawn = freePorts(README_PORTS.length);
    const ports = new Map<string, string>(README_PORTS.map((port, i) => [port, String(drawn[i])]));
    const rewrite = (text: string): string =>
      text.replaceAll(readmePorts(), (port) => ports.get(port) ?? port);

    const dir = await Deno.makeTempDir({ prefix: "linehub-readme-scale-out-" });
    const work = `${dir}/work`;
    try {
      const env = scaleOutEnv(await installFromReadme(`${dir}/root`));
      await Deno.mkdir(work);
      /** Runs a block of shell commands, which print nothing when all is well. */
      const runQuietly = async (each: ReadmeBlock, stderr = ""): Promise<void> => {
        const result = await runShell(`set -e\n${rewrite(each.body)}`, work, env);
        assert.deepEqual(
          result,
          { code: 0, stdout: "", stderr },
          `README.md:${each.line}: the "${each.name}" commands`,
        );
      };

      await runQuietly(setup);
      await runQuietly(start);
      // "A moment later": both servers listening, and Redis answering, so
      // that the servers' first batch does not find it still starting.
      for (const log of ["web-1.log", "web-2.log"]) {
        await waitForFile(work, log, /listening on/);
      }
      await waitFor("Redis to answer", async () => {
        const ping = await runShell(`redis-cli -p ${ports.get("6379")} ping`, work, env);
        return ping.stdout === "PONG\n";
      });
      await assertTranscript(ready, rewrite, work, env);
      await runQuietly(balancer);

      // `wait` does not pass on the clients' statuses: what they say does.
      const connected = `linehub-client: Connected to 127.0.0.1:${ports.get("8888")}\n`;
      await runQuietly(clients, connected.repeat(2));
      await assertTranscript(stream, rewrite, work, env);

      await runQuietly(stop);
      // "Once each server has said what it delivered."
      for (const log of ["web-1.log", "web-2.log"]) {
        await waitForFile(work, log, /messages delivered\n/);
      }
      await assertTranscript(after, rewrite, work, env);
    } finally {
      await killLeftovers(work);
      await Deno.remove(dir, { recursive: true });
    }
  },
});
