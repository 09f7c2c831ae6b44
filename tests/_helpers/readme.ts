/**
 * Test fixture: the blocks of README.md that tests run, so that a reader who
 * copies them gets what the README says. A block is marked by an HTML
 * comment on a line of its own before its fence, `<!-- readme-test: NAME -->`,
 * which renderers do not show: the README stays literal for people, and
 * changing a marked command changes what the tests run.
 *
 * A marked block is either shell commands (run as they are) or a transcript:
 * lines starting with `$ ` are commands (a line ending in `\` continues on
 * the next), and the lines after a command are what it prints, stdout and
 * stderr together.
 *
 * @module
 */

import assert from "node:assert/strict";
import { dirname } from "node:path";
import {
  type CommandResult,
  commandResult,
  DENO,
  ROOT,
  runProgram,
  type ServerProcess,
  startServerCommand,
} from "./process.ts";

/** One marked fenced block of README.md. */
export interface ReadmeBlock {
  /** The name in its marker. */
  readonly name: string;
  /** The text between the fences, ending with a newline. */
  readonly body: string;
  /** The 1-based line of its opening fence, for failure messages. */
  readonly line: number;
}

/** One command of a transcript and the output shown after it. */
export interface TranscriptStep {
  /** The command, continuation lines included, without the `$ `. */
  readonly command: string;
  /** The lines shown after it, each with its newline; `""` when none. */
  readonly output: string;
}

/** How long one README command may take before the test fails instead of
 * hanging (an `openssl` key or a `deno install` on a loaded machine). */
export const README_COMMAND_TIMEOUT_MS = 60_000;

const MARKER = /^<!-- readme-test: (.+?) -->$/;

/** Every marked block of README.md, in order. */
export async function readmeBlocks(): Promise<ReadmeBlock[]> {
  const lines = (await Deno.readTextFile(`${ROOT}README.md`)).split("\n");
  const blocks: ReadmeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const name = MARKER.exec(lines[i] ?? "")?.[1];
    if (name === undefined) continue;
    let open = i + 1;
    while ((lines[open] ?? "x").trim() === "") open++;
    if (!(lines[open] ?? "").startsWith("```")) {
      throw new Error(`README.md:${i + 1}: marker "${name}" is not followed by a fenced block`);
    }
    const close = lines.findIndex((line, at) => at > open && line.startsWith("```"));
    if (close < 0) throw new Error(`README.md:${open + 1}: fenced block "${name}" never ends`);
    blocks.push({ name, body: `${lines.slice(open + 1, close).join("\n")}\n`, line: open + 1 });
    i = close;
  }
  return blocks;
}

/** The one block named `name`; throws if there is none or more than one. */
export function readmeBlock(blocks: readonly ReadmeBlock[], name: string): ReadmeBlock {
  const found = blocks.filter((block) => block.name === name);
  if (found.length !== 1) {
    throw new Error(`README.md has ${found.length} blocks marked "readme-test: ${name}"`);
  }
  return found[0] as ReadmeBlock;
}

/** The commands of a transcript block and what each is shown to print. */
export function parseTranscript(block: ReadmeBlock): TranscriptStep[] {
  const steps: Array<{ command: string[]; output: string[] }> = [];
  let continuing = false;
  for (const line of block.body.split("\n").slice(0, -1)) {
    const current = steps.at(-1);
    if (continuing && current !== undefined) {
      current.command.push(line);
    } else if (line.startsWith("$ ")) {
      steps.push({ command: [line.slice(2)], output: [] });
    } else if (current !== undefined) {
      current.output.push(line);
    } else {
      throw new Error(`README.md:${block.line}: transcript "${block.name}" starts with output`);
    }
    continuing = line.endsWith("\\");
  }
  return steps.map(({ command, output }) => ({
    command: command.join("\n"),
    output: output.map((line) => `${line}\n`).join(""),
  }));
}

/** The environment for README commands: `bin` first on the `PATH`, then the
 * deno running the tests, which the installed scripts call as `deno`. */
export function commandEnv(bin?: string): Record<string, string> {
  const path = [bin, dirname(DENO), Deno.env.get("PATH")].filter((part) => part !== undefined);
  return { PATH: path.join(":") };
}

/** Runs `script` with `sh`, in `cwd`, killing it after
 * {@linkcode README_COMMAND_TIMEOUT_MS}. */
export async function runShell(
  script: string,
  cwd: string,
  env: Record<string, string>,
): Promise<CommandResult> {
  return commandResult(
    await runProgram("sh", ["-c", script], undefined, {
      cwd,
      env,
      timeoutMs: README_COMMAND_TIMEOUT_MS,
    }),
  );
}

/**
 * Runs each command of the transcript `block` with `sh` in `cwd`, stdout and
 * stderr into one stream as on a terminal, and fails unless it exits 0 and
 * prints what the README shows after it. `rewrite` is applied to each
 * command and to the output shown (a README port made a free one).
 */
export async function assertTranscript(
  block: ReadmeBlock,
  rewrite: (text: string) => string,
  cwd: string,
  env: Record<string, string>,
): Promise<void> {
  const steps = parseTranscript(block);
  assert.notEqual(steps.length, 0, `README.md:${block.line}: no command in "${block.name}"`);
  for (const step of steps) {
    const result = await runShell(`exec 2>&1\n${rewrite(step.command)}`, cwd, env);
    assert.deepEqual(
      { code: result.code, output: result.stdout },
      { code: 0, output: rewrite(step.output) },
      `README.md:${block.line}: ${step.command}`,
    );
  }
}

/**
 * Runs the README's `install` block in the checkout, as a reader would, with
 * `DENO_INSTALL_ROOT` set to `root`; returns the folder of the commands.
 * Throws with what the commands printed if they fail.
 */
export async function installFromReadme(root: string): Promise<string> {
  const block = readmeBlock(await readmeBlocks(), "install");
  const result = await runShell(`set -e\n${block.body}`, ROOT, {
    ...commandEnv(),
    DENO_INSTALL_ROOT: root,
  });
  if (result.code !== 0) {
    throw new Error(
      `README.md:${block.line}: the install commands exited with ${result.code}:\n` +
        result.stderr,
    );
  }
  return `${root}/bin`;
}

/** Why the README's shell commands cannot run here, or `null` if they can. */
export function shellMissing(): string | null {
  return Deno.build.os === "windows" ? "the README's commands are for a POSIX shell" : null;
}

/**
 * Starts the one command in `script` (run through `sh`, which then gives way
 * to it, so that a signal reaches the server) and waits for its start-up
 * line; rejects with its stderr if it exits or stays silent first.
 */
export function startReadmeServer(
  script: string,
  cwd: string,
  env: Record<string, string>,
): Promise<ServerProcess> {
  return startServerCommand("sh", ["-c", `exec ${script}`], {
    cwd,
    env,
    startupTimeoutMs: README_COMMAND_TIMEOUT_MS,
  });
}
