/**
 * The standalone executables, as `deno task compile` builds them: built once
 * per test run by `tools/compile.ts --out <temporary folder>`, then run as a
 * user would. `deno compile` needs its runtime (`denort`), downloaded or
 * named by `DENORT_BIN`; where it cannot get one, every test here is
 * registered as ignored with the reason in its name, and the reason is
 * printed once.
 *
 * The binaries carry their permissions (server: net, write, read and the
 * host name; client: net and read; each drops read once its TLS files are
 * loaded), so these tests also show that nothing prompts or fails for a
 * permission when stdin is not a terminal.
 *
 * @module
 */

import assert from "node:assert/strict";
import { dirname } from "node:path";
import { build, compileFailureReason, type Compiler } from "../../tools/compile.ts";
import { VERSION } from "../../lib/cli/_version.ts";
import { nodeNameFromHost } from "../../lib/server/node_name.ts";
import {
  commandResult,
  DENO,
  hostName,
  jsonLines,
  type ProcessResult,
  ROOT,
  runProgram,
  startServerCommand,
  waitForDisconnects,
} from "../_helpers/mod.ts";

/** Safety bound for `deno compile` of both programs, runtime download included. */
const COMPILE_TIMEOUT_MS = 300_000;

type Program = "linehub-server" | "linehub-client";

/** Runs `tools/compile.ts` with `args`, and `env` added to the environment,
 * as `deno task compile` does; kills it after {@linkcode COMPILE_TIMEOUT_MS}. */
function runCompileTool(args: string[], env: Record<string, string> = {}): Promise<ProcessResult> {
  return runProgram(
    DENO,
    [
      "run",
      "--allow-run",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      `${ROOT}tools/compile.ts`,
      ...args,
    ],
    undefined,
    { env, timeoutMs: COMPILE_TIMEOUT_MS },
  );
}

/** Builds both binaries into a new temporary folder; on failure removes it
 * and returns the one-line reason that `tools/compile.ts` printed. */
async function compileBinaries(): Promise<{ dir: string } | { reason: string }> {
  const dir = await Deno.makeTempDir({ prefix: "linehub-compile-" });
  const result = await runCompileTool(["--out", dir]);
  if (result.code === 0 && !result.killed) return { dir };
  await Deno.remove(dir, { recursive: true });
  const said = /Cannot build \S+: (.*)$/m.exec(result.stderr)?.[1];
  const reason = result.killed
    ? `deno compile did not finish within ${COMPILE_TIMEOUT_MS / 1000} s`
    : said ??
      (result.stderr.trim().split("\n")[0] || `tools/compile.ts exited with ${result.code}`);
  return { reason };
}

const built = await compileBinaries();
if ("reason" in built) {
  console.error(`compile_test: compiled-binary tests skipped: ${built.reason}`);
} else {
  const { dir } = built;
  globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
}

/** The path of a compiled program; only called from tests that run. */
function binary(program: Program): string {
  if ("reason" in built) throw new Error(`No compiled binaries: ${built.reason}`);
  return `${built.dir}/${program}${Deno.build.os === "windows" ? ".exe" : ""}`;
}

/** Registers a test of the binaries; ignored, with the reason, without them. */
function binaryTest(name: string, fn: () => Promise<void>): void {
  if ("reason" in built) {
    Deno.test({ name: `${name} (skipped: ${built.reason})`, ignore: true, fn });
  } else {
    Deno.test({ name, fn });
  }
}

/** Starts the server binary on loopback, runs `fn`, waits for `clients`
 * disconnects, stops it with SIGTERM and returns what it left. */
async function withServerBinary(
  args: string[],
  clients: number,
  fn: (port: number) => Promise<void>,
): Promise<ProcessResult> {
  const server = await startServerCommand(binary("linehub-server"), [
    "--port",
    "0",
    "--host",
    "127.0.0.1",
    ...args,
  ]);
  try {
    await fn(server.port);
    await waitForDisconnects(server, clients);
  } finally {
    await server.stop();
  }
  return server.finished();
}

binaryTest(
  "compiled linehub-client sends stdin to compiled linehub-server, which prints it labelled",
  async () => {
    const input = "hello\nworld\r\nno newline";
    const server = await withServerBinary([], 1, async (port) => {
      const client = await runProgram(
        binary("linehub-client"),
        ["--quiet", "127.0.0.1", String(port)],
        input,
      );
      assert.deepEqual(
        { code: client.code, killed: client.killed, stdout: client.stdout, stderr: client.stderr },
        { code: 0, killed: false, stdout: "", stderr: "" },
      );
    });
    assert.equal(server.code, 0);
    assert.equal(
      server.stdout,
      "[client 0] hello\n[client 0] world\n[client 0 partial] no newline\n",
    );
    // The whole of stderr: no permission prompt, warning or error in between.
    assert.match(
      server.stderr,
      new RegExp(
        String.raw`^linehub-server: listening on 127\.0\.0\.1:\d+ \(text to stdout\)\n` +
          String.raw`client 0 connected from 127\.0\.0\.1:\d+\n` +
          String.raw`client 0 disconnected from 127\.0\.0\.1:\d+ \(eof\): 3 lines, ` +
          String.raw`${input.length} bytes, \d+\.\d s\n` +
          String.raw`linehub-server: SIGTERM: no longer accepting; waiting up to 5 s for ` +
          String.raw`0 connected clients\n` +
          String.raw`linehub-server: shut down: 1 client served, 3 lines, ${input.length} bytes, ` +
          String.raw`0 truncated\n$`,
      ),
    );
  },
);

binaryTest(
  "compiled linehub-server names its node after the host name, in every JSON record",
  async () => {
    await using server = await startServerCommand(binary("linehub-server"), [
      ...["--port", "0", "--host", "127.0.0.1", "--format", "json"],
    ]);
    const client = await runProgram(binary("linehub-client"), [
      ...["--quiet", "-m", "hello", "127.0.0.1", String(server.port)],
    ]);
    assert.equal(client.code, 0, client.stderr);
    await server.waitForStdout(`"type":"disconnect"`);
    const result = await server.stop();
    assert.equal(result.code, 0, result.stderr);
    const records = jsonLines(result.stdout);
    assert.deepEqual(records.map((record) => record.type), [
      "start",
      "connect",
      "message",
      "disconnect",
      "stop",
    ]);
    const node = nodeNameFromHost(await hostName());
    assert.deepEqual(records.filter((record) => record.node !== node), []);
  },
);

binaryTest("compiled binaries print their name and the version in deno.json", async () => {
  for (const program of ["linehub-server", "linehub-client"] as const) {
    const result = await runProgram(binary(program), ["--version"]);
    assert.deepEqual(
      { code: result.code, stdout: result.stdout, stderr: result.stderr },
      { code: 0, stdout: `${program} ${VERSION}\n`, stderr: "" },
    );
  }
});

binaryTest(
  "compiled linehub-server appends to --output, both binaries running with stdin closed",
  async () => {
    const file = await Deno.makeTempFile({ prefix: "linehub-output-" });
    try {
      await Deno.writeTextFile(file, "earlier line\n");
      const server = await withServerBinary(["--output", file], 1, async (port) => {
        // No stdin at all: a binary lacking a permission would fail here
        // (nothing to prompt on) instead of sending.
        const client = await runProgram(binary("linehub-client"), [
          "--quiet",
          "-m",
          "appended",
          "127.0.0.1",
          String(port),
        ]);
        assert.deepEqual(
          { code: client.code, stdout: client.stdout, stderr: client.stderr },
          { code: 0, stdout: "", stderr: "" },
        );
      });
      assert.equal(server.code, 0);
      assert.equal(server.stdout, "");
      assert.match(server.stderr, /^linehub-server: listening on 127\.0\.0\.1:\d+ \(text to /);
      assert.equal(await Deno.readTextFile(file), "earlier line\n[client 0] appended\n");
    } finally {
      await Deno.remove(file);
    }
  },
);

binaryTest(
  "compiled binaries exit 2 with one line and a pointer to --help on bad arguments",
  async () => {
    const client = await runProgram(binary("linehub-client"), []);
    assert.equal(client.code, 2);
    assert.equal(client.stdout, "");
    assert.equal(
      client.stderr,
      "linehub-client: Missing HOST: say where to connect\n" +
        "Try 'linehub-client --help' for more information.\n",
    );

    const server = await runProgram(binary("linehub-server"), ["--format", "xml"]);
    assert.equal(server.code, 2);
    assert.equal(server.stdout, "");
    assert.match(server.stderr, /^linehub-server: Invalid format "xml": must be one of /);
  },
);

// What follows needs no runtime: the checks made before compiling, and what
// `compile:all` does around failed targets, with a fake compiler.

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

Deno.test(
  "deno task compile names a DENORT_BIN that does not exist, exits 1 and creates no folder",
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "linehub-compile-" });
    try {
      const runtime = `${dir}/no-such/denort`;
      const result = commandResult(
        await runCompileTool(["--out", `${dir}/dist`], { DENORT_BIN: runtime }),
      );
      assert.deepEqual(result, {
        code: 1,
        stdout: "",
        stderr: `compile: Cannot compile: DENORT_BIN "${runtime}" does not exist\n`,
      });
      assert.equal(await exists(`${dir}/dist`), false);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test(
  "deno task compile:all refuses DENORT_BIN, which deno would use for every target",
  async () => {
    const result = await runCompileTool(["--all", "--out", "/nonexistent"], {
      DENORT_BIN: Deno.execPath(),
    });
    assert.equal(result.code, 2);
    assert.match(
      result.stderr,
      /^compile: Cannot cross-build with DENORT_BIN set \(".+"\): deno would use that one runtime for every target; unset it, or build for this machine only\n$/,
    );
  },
);

/** A compiler that, like `deno compile`, creates the output's folder, then
 * writes a file for targets in `working` and fails for the others. */
function fakeCompiler(working: string[], calls: string[]): Compiler {
  return async (program, output, target) => {
    calls.push(`${target}/${program.name}`);
    await Deno.mkdir(dirname(output), { recursive: true });
    if (target !== undefined && working.includes(target)) {
      await Deno.writeTextFile(output, "binary");
      return { ok: true, stderr: "" };
    }
    return { ok: false, stderr: `\x1b[1merror\x1b[0m: no runtime for ${target}\n` };
  };
}

Deno.test(
  "compile:all goes on past a failed target, says so per program, exits 1 and removes its empty folder",
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "linehub-compile-" });
    try {
      const out = `${dir}/dist`;
      const calls: string[] = [];
      const lines: string[] = [];
      const status = await build({
        out,
        targets: ["fake-a", "fake-broken", "fake-c"],
        compile: fakeCompiler(["fake-a", "fake-c"], calls),
        report: (line) => lines.push(line),
      });
      assert.equal(status, 1);
      assert.deepEqual(calls, [
        "fake-a/linehub-server",
        "fake-a/linehub-client",
        "fake-broken/linehub-server",
        "fake-broken/linehub-client",
        "fake-c/linehub-server",
        "fake-c/linehub-client",
      ]);
      assert.deepEqual(lines, [
        `compile: built ${out}/fake-a/linehub-server`,
        `compile: built ${out}/fake-a/linehub-client`,
        `compile: Cannot build ${out}/fake-broken/linehub-server: no runtime for fake-broken`,
        `compile: Cannot build ${out}/fake-broken/linehub-client: no runtime for fake-broken`,
        `compile: built ${out}/fake-c/linehub-server`,
        `compile: built ${out}/fake-c/linehub-client`,
        "compile: 1 of 3 targets failed: fake-broken",
      ]);
      const left = await Array.fromAsync(Deno.readDir(out), (entry) => entry.name);
      assert.deepEqual(left.sort(), ["fake-a", "fake-c"]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test(
  "compile:all whose every target fails leaves no folder it made, and keeps one that was there",
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "linehub-compile-" });
    try {
      const quiet = (): void => {};
      const made = `${dir}/dist`;
      assert.equal(
        await build({
          out: made,
          targets: ["fake-a", "fake-b"],
          compile: fakeCompiler([], []),
          report: quiet,
        }),
        1,
      );
      assert.equal(await exists(made), false);

      // The user's own (empty) folder is theirs, even if nothing was built.
      assert.equal(
        await build({
          out: dir,
          targets: ["fake-a"],
          compile: fakeCompiler([], []),
          report: quiet,
        }),
        1,
      );
      assert.deepEqual(await Array.fromAsync(Deno.readDir(dir)), []);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test("a failed runtime download says what to set, or that a cross-build needs it", () => {
  const stderr = "error: Failed downloading https://example.invalid/denort.zip\n\nCaused by:\n" +
    "    0: error sending request\n    1: failed to lookup address information\n";
  assert.equal(
    compileFailureReason(stderr),
    "cannot download the deno runtime (denort): failed to lookup address information; " +
      `set DENORT_BIN to a denort binary of Deno ${Deno.version.deno} for ${Deno.build.target}`,
  );
  assert.equal(
    compileFailureReason(stderr, "aarch64-apple-darwin"),
    "cannot download the deno runtime (denort): failed to lookup address information; " +
      "a cross-build needs that download (DENORT_BIN serves deno task compile only)",
  );
});

Deno.test("a DENORT_BIN that is not a runtime is named in the reason", () => {
  const stderr = "error: Writing deno compile executable to temporary file '/x/a.tmp-1'\n\n" +
    "Caused by:\n    0: Writing binary bytes\n    1: Invalid object: Not an ELF file\n";
  assert.equal(
    compileFailureReason(stderr, undefined, "/opt/denort"),
    `DENORT_BIN "/opt/denort" is not a deno runtime for ${Deno.build.target}: Not an ELF file`,
  );
});
