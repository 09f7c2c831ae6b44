/**
 * Builds the standalone executables with `deno compile`, each with the
 * narrowest permissions it needs:
 *
 * - `linehub-server`: `--allow-net`; `--allow-write` for `--output` (the
 *   server revokes write permission at start-up when it writes to stdout, and
 *   keeps it with `--output`, to reopen the file on SIGHUP); `--allow-read`
 *   for the TLS files (revoked once they are loaded); `--allow-sys=hostname`
 *   for the default `--node`, the host name (revoked once read), and no other
 *   system information; `--unstable-net` and the Worker module of
 *   `--workers`, included in the binary;
 * - `linehub-client`: `--allow-net`, and `--allow-read` for its TLS files
 *   (revoked once they are loaded).
 *
 * The files are named only when the programs run, so read and write access
 * cannot be narrowed to paths here; the programs drop what they no longer
 * need instead.
 *
 * `deno task compile` builds for this machine into `dist/`; `deno task
 * compile:all` cross-builds every target into `dist/<target>/`, going on past
 * a target that fails, and exits 1 at the end if any did. `--out DIR` changes
 * the folder; a folder this tool created and left empty is removed again.
 * `deno compile` downloads a runtime (`denort`) per target unless
 * `DENORT_BIN` names one; a `DENORT_BIN` that does not exist is reported
 * before anything is compiled, and `compile:all` refuses it (deno would use
 * it for every target). Each failure is one line, and the exit status 1.
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
    permissions: [
      "--allow-net",
      "--allow-write",
      "--allow-read",
      "--allow-sys=hostname",
      "--unstable-net",
    ],
    include: ["lib/server/workers/_worker.ts"],
  },
  {
    name: "linehub-client",
    entry: "client.ts",
    permissions: ["--allow-net", "--allow-read"],
    include: [],
  },
] as const;

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** The environment variable with which `deno compile` takes a local runtime
 * instead of downloading one. */
const RUNTIME_VARIABLE = "DENORT_BIN";

/** The program name every line this tool prints starts with. */
const TOOL = "compile";

const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

/** What compiling one program left: whether it worked, and deno's stderr. */
export interface CompileResult {
  ok: boolean;
  stderr: string;
}

/** Compiles one program into `output`, for `target` or this machine. */
export type Compiler = (
  program: (typeof PROGRAMS)[number],
  output: string,
  target?: string,
) => Promise<CompileResult>;

/** Compiles one program with `deno compile`; resolves with deno's stderr
 * when it fails. */
export const compileProgram: Compiler = async (program, output, target) => {
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
};

/**
 * Says in one line why `deno compile` failed, from its stderr: a failed
 * runtime download is named as such, with the last cause deno gave and what
 * the user can do about it; so is a `DENORT_BIN` file that is no runtime.
 *
 * @param target the `--target` given, or `undefined` for this machine
 * @param runtime the `DENORT_BIN` in force, if any
 */
export function compileFailureReason(
  stderr: string,
  target?: string,
  runtime?: string,
): string {
  // deno-lint-ignore no-control-regex
  const text = stderr.replace(/\x1b\[[0-9;]*m/g, "").split("Stack backtrace:")[0] ?? "";
  const lines = text.split("\n").map((line) => line.trim());
  const causes = lines.flatMap((line) => /^\d+: (.*)$/.exec(line)?.[1] ?? []);
  const last = causes.at(-1);
  if (causes.some((cause) => /error sending request|download/i.test(cause))) {
    // One DENORT_BIN serves one target, so only a build for this machine can
    // use it; a cross-build has no way around the download.
    const remedy = target === undefined
      ? `set ${RUNTIME_VARIABLE} to a denort binary of Deno ${Deno.version.deno} ` +
        `for ${Deno.build.target}`
      : `a cross-build needs that download (${RUNTIME_VARIABLE} serves deno task compile only)`;
    return `cannot download the deno runtime (denort): ${last}; ${remedy}`;
  }
  if (runtime !== undefined && causes.some((cause) => /^Invalid object/i.test(cause))) {
    return `${RUNTIME_VARIABLE} "${runtime}" is not a deno runtime for ` +
      `${target ?? Deno.build.target}: ${last?.replace(/^Invalid object: /i, "")}`;
  }
  const first = (lines.find((line) => line !== "") ?? "unknown error").replace(/^error: /i, "");
  return last === undefined ? first : `${first}: ${last}`;
}

/**
 * Why the `DENORT_BIN` file cannot be used, or `null` if it is a file.
 * Checked before compiling, since deno's own report of a missing file reads
 * like a failure to write the output.
 */
export async function runtimeProblem(path: string): Promise<string | null> {
  try {
    const info = await Deno.stat(path);
    return info.isFile ? null : `${RUNTIME_VARIABLE} "${path}" is not a file`;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      return `${RUNTIME_VARIABLE} "${path}" does not exist`;
    }
    const detail = error instanceof Error ? error.message : String(error);
    return `${RUNTIME_VARIABLE} "${path}" cannot be read: ${detail}`;
  }
}

/** What {@linkcode build} makes. */
export interface BuildOptions {
  /** The folder for the binaries; a target's go into `<out>/<target>/`. */
  out: string;
  /** The targets, in order; `undefined` is this machine, built into `out`
   * itself. */
  targets: ReadonlyArray<string | undefined>;
  /** Compiles one program. @default {compileProgram} */
  compile?: Compiler;
  /** The `DENORT_BIN` in force, named in failures it caused. @default {undefined} */
  runtime?: string;
  /** Receives each line to print. @default {console.error} */
  report?: (line: string) => void;
}

/**
 * Builds every program for every target, going on past a target that fails
 * (each failure is one line), and returns the exit status: 0 if everything
 * was built, 1 otherwise. A folder this run created and left empty is
 * removed, so that a failed target leaves nothing that looks like a build.
 */
export async function build(options: BuildOptions): Promise<number> {
  const compile = options.compile ?? compileProgram;
  const report = options.report ?? ((line: string) => console.error(line));
  const created: string[] = [];
  const noteIfNew = async (dir: string): Promise<void> => {
    if (!created.includes(dir) && !(await exists(dir))) created.push(dir);
  };
  const failedTargets: string[] = [];
  try {
    await noteIfNew(options.out);
    for (const target of options.targets) {
      const dir = target === undefined ? options.out : `${options.out}/${target}`;
      await noteIfNew(dir);
      const suffix = target?.includes("windows") ? ".exe" : "";
      let failed = false;
      for (const program of PROGRAMS) {
        const output = `${dir}/${program.name}${suffix}`;
        const { ok, stderr } = await compile(program, output, target);
        if (ok) {
          report(`${TOOL}: built ${output}`);
        } else {
          failed = true;
          report(
            `${TOOL}: Cannot build ${output}: ` +
              compileFailureReason(stderr, target, options.runtime),
          );
        }
      }
      if (failed) failedTargets.push(target ?? Deno.build.target);
    }
  } finally {
    // Deepest first, so that `out` is empty once its target folders are gone.
    for (const dir of created.reverse()) await removeIfEmpty(dir);
  }
  if (failedTargets.length > 0 && options.targets.length > 1) {
    report(
      `${TOOL}: ${failedTargets.length} of ${options.targets.length} targets failed: ` +
        failedTargets.join(", "),
    );
  }
  return failedTargets.length === 0 ? 0 : EXIT_FAILURE;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** Removes `dir` if it exists and holds nothing; never anything inside it. */
async function removeIfEmpty(dir: string): Promise<void> {
  try {
    for await (const _ of Deno.readDir(dir)) return;
    await Deno.remove(dir);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

/** `deno task compile` and `compile:all`: arguments in, exit status out. */
async function main(args: string[]): Promise<number> {
  let values: { all: boolean; out?: string | undefined };
  try {
    ({ values } = parseArgs({
      args,
      options: { all: { type: "boolean", default: false }, out: { type: "string" } },
    }));
  } catch (error) {
    console.error(`${TOOL}: ${error instanceof Error ? error.message : String(error)}`);
    return EXIT_USAGE;
  }
  const runtime = Deno.env.get(RUNTIME_VARIABLE);
  if (runtime !== undefined) {
    if (values.all) {
      // deno compile uses DENORT_BIN for every --target: a Linux runtime
      // would silently become the "aarch64" binary, or fail for macOS.
      console.error(
        `${TOOL}: Cannot cross-build with ${RUNTIME_VARIABLE} set ("${runtime}"): deno would ` +
          `use that one runtime for every target; unset it, or build for this machine only`,
      );
      return EXIT_USAGE;
    }
    const problem = await runtimeProblem(runtime);
    if (problem !== null) {
      console.error(`${TOOL}: Cannot compile: ${problem}`);
      return EXIT_FAILURE;
    }
  }
  return await build({
    out: values.out ?? `${ROOT}dist`,
    targets: values.all ? [...TARGETS] : [undefined],
    ...(runtime === undefined ? {} : { runtime }),
  });
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
