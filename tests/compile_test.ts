/**
 * The standalone executables, as `deno task compile` builds them: built once
 * per test run by `tools/compile.ts --out <temporary folder>`, then run as a
 * user would. `deno compile` needs its runtime (`denort`), downloaded or
 * named by `DENORT_BIN`; where it cannot get one, every test here is
 * registered as ignored with the reason in its name, and the reason is
 * printed once.
 *
 * The binaries carry their permissions (server: net, write and read; client:
 * net and read; each drops read once its TLS files are loaded), so these
 * tests also show that nothing prompts or fails for a permission when stdin
 * is not a terminal.
 *
 * @module
 */

import assert from "node:assert/strict";
import { VERSION } from "../lib/version.ts";
import { DENO, type ProcessResult, ROOT } from "./_process.ts";
import { runBounded, startServerCommand, waitForDisconnects } from "./_peers.ts";

/** Safety bound for `deno compile` of both programs, runtime download included. */
const COMPILE_TIMEOUT_MS = 300_000;

type Program = "linehub-server" | "linehub-client";

/** Builds both binaries into a new temporary folder; on failure removes it
 * and returns the one-line reason that `tools/compile.ts` printed. */
async function compileBinaries(): Promise<{ dir: string } | { reason: string }> {
  const dir = await Deno.makeTempDir({ prefix: "linehub-compile-" });
  const result = await runBounded(
    DENO,
    [
      "run",
      "--allow-run",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      `${ROOT}tools/compile.ts`,
      "--out",
      dir,
    ],
    undefined,
    COMPILE_TIMEOUT_MS,
  );
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
      const client = await runBounded(
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

binaryTest("compiled binaries print their name and the version in deno.json", async () => {
  for (const program of ["linehub-server", "linehub-client"] as const) {
    const result = await runBounded(binary(program), ["--version"]);
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
        const client = await runBounded(binary("linehub-client"), [
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
    const client = await runBounded(binary("linehub-client"), []);
    assert.equal(client.code, 2);
    assert.equal(client.stdout, "");
    assert.equal(
      client.stderr,
      "linehub-client: Missing HOST: say where to connect\n" +
        "Try 'linehub-client --help' for more information.\n",
    );

    const server = await runBounded(binary("linehub-server"), ["--format", "xml"]);
    assert.equal(server.code, 2);
    assert.equal(server.stdout, "");
    assert.match(server.stderr, /^linehub-server: Invalid format "xml": must be one of /);
  },
);
