/**
 * Builds the standalone executables with `deno compile`, each with the
 * narrowest permissions it needs:
 *
 * - `linehub-server`: `--allow-net`; `--allow-write` for `--output` (the
 *   server revokes write permission at start-up when it writes to stdout, and
 *   keeps it with `--output`, to reopen the file on SIGHUP); `--allow-read`
 *   for the TLS files (revoked once they are loaded); `--unstable-net` and
 *   the Worker module of `--workers`, included in the binary;
 * - `linehub-client`: `--allow-net`, and `--allow-read` for its TLS files
 *   (revoked once they are loaded).
 *
 * The files are named only when the programs run, so read and write access
 * cannot be narrowed to paths here; the programs drop what they no longer
 * need instead.
 *
 * `deno task compile` builds for this machine into `dist/`; `deno task
 * compile:all` cross-builds every target into `dist/<target>/`. `--out DIR`
 * changes the folder. `deno compile` downloads a runtime (`denort`) per
 * target unless `DENORT_BIN` names one; where neither works, this prints the
 * reason and exits 1.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

/** Every target `compile:all` builds. */
export const TARGETS = [
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
  "x86_64-apple-darwin",
  "aarch64-apple-darwin",
  "x86_64-pc-windows-msvc",
  "aarch64-pc-windows-msvc",
] as const;

/** The programs and the permissions each is compiled with. */
export const PROGRAMS = [
  {
    name: "linehub-server",
    entry: "server.ts",
    permissions: ["--allow-net", "--allow-write", "--allow-read", "--unstable-net"],
    include: ["lib/server_worker.ts"],
  },
  {
    name: "linehub-client",
    entry: "client.ts",
    permissions: ["--allow-net", "--allow-read"],
    include: [],
  },
] as const;

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** Compiles one program; resolves with deno's stderr when it fails. */
export async function compileProgram(
  program: (typeof PROGRAMS)[number],
  output: string,
  target?: string,
): Promise<{ ok: boolean; stderr: string }> {
  const args = ["compile", "--quiet", ...program.permissions, "--output", output];
  for (const path of program.include) args.push("--include", `${ROOT}${path}`);
  if (target !== undefined) args.push("--target", target);
  args.push(`${ROOT}${program.entry}`);
  const { success, stderr } = await new Deno.Command(Deno.execPath(), {
    args,
    stdout: "inherit",
    stderr: "piped",
  }).output();
  return { ok: success, stderr: new TextDecoder().decode(stderr) };
}

/**
 * Says in one line why `deno compile` failed, from its stderr: a failed
 * runtime download is named as such, with the last cause deno gave.
 */
export function compileFailureReason(stderr: string): string {
  // deno-lint-ignore no-control-regex
  const text = stderr.replace(/\x1b\[[0-9;]*m/g, "").split("Stack backtrace:")[0] ?? "";
  const lines = text.split("\n").map((line) => line.trim());
  const causes = lines.flatMap((line) => /^\d+: (.*)$/.exec(line)?.[1] ?? []);
  const last = causes.at(-1);
  if (causes.some((cause) => /error sending request|download/i.test(cause))) {
    return `cannot download the deno runtime (denort): ${last}; set DENORT_BIN to a local denort`;
  }
  const first = lines.find((line) => line !== "") ?? "unknown error";
  return last === undefined ? first : `${first.replace(/^error: /i, "")}: ${last}`;
}

async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { all: { type: "boolean", default: false }, out: { type: "string" } },
  });
  const out = values.out ?? `${ROOT}dist`;
  const targets: Array<string | undefined> = values.all ? [...TARGETS] : [undefined];
  for (const target of targets) {
    for (const program of PROGRAMS) {
      const dir = target === undefined ? out : `${out}/${target}`;
      const suffix = target?.includes("windows") ? ".exe" : "";
      const output = `${dir}/${program.name}${suffix}`;
      const { ok, stderr } = await compileProgram(program, output, target);
      if (!ok) {
        console.error(`compile: Cannot build ${output}: ${compileFailureReason(stderr)}`);
        return 1;
      }
      console.error(`compile: built ${output}`);
    }
  }
  return 0;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
