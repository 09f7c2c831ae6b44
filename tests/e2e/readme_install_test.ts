/**
 * The README's "As commands, without compiling": its two `deno install
 * --global` commands, run as they stand into a temporary install root, must
 * give a `linehub-server` and a `linehub-client` that run from any folder
 * with what the programs need (read access for the Workers' module and
 * `--unstable-net` for `--workers`). No download is involved: the programs
 * import nothing remote.
 *
 * @module
 */

import assert from "node:assert/strict";
import { VERSION } from "../../lib/cli/_version.ts";
import {
  commandEnv,
  type CommandResult,
  installFromReadme,
  runShell,
  shellMissing,
  startReadmeServer,
} from "../_helpers/mod.ts";

/** Installs the commands into a new temporary root and runs `fn` with their
 * folder and another, empty folder to run them from. */
async function withInstalled(fn: (bin: string, elsewhere: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "linehub-install-" });
  try {
    const bin = await installFromReadme(`${dir}/root`);
    await Deno.mkdir(`${dir}/elsewhere`);
    await fn(bin, `${dir}/elsewhere`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const skipped = shellMissing();

function readmeTest(name: string, fn: () => Promise<void>): void {
  if (skipped === null) {
    Deno.test({ name, fn });
  } else {
    Deno.test({ name: `${name} (skipped: ${skipped})`, ignore: true, fn });
  }
}

readmeTest(
  "the README's deno install commands make linehub-server and linehub-client commands",
  async () => {
    await withInstalled(async (bin, elsewhere) => {
      for (const program of ["linehub-server", "linehub-client"]) {
        const result = await runShell(`${program} --version`, elsewhere, commandEnv(bin));
        assert.deepEqual(result, { code: 0, stdout: `${program} ${VERSION}\n`, stderr: "" });
      }
    });
  },
);

readmeTest(
  "the installed linehub-server runs --workers, and the installed linehub-client reaches it",
  async () => {
    await withInstalled(async (bin, elsewhere) => {
      const env = commandEnv(bin);
      const server = await startReadmeServer(
        "linehub-server --host 127.0.0.1 --port 0 --workers 2",
        elsewhere,
        env,
      );
      let client: CommandResult;
      try {
        client = await runShell(
          `linehub-client --quiet -m 'installed' 127.0.0.1 ${server.port}`,
          elsewhere,
          env,
        );
      } catch (error) {
        await server.stop("SIGKILL");
        throw error;
      }
      // Stopped once the client has exited: the server had read its line.
      const stopped = await server.stop("SIGTERM");
      assert.deepEqual(client, { code: 0, stdout: "", stderr: "" });
      assert.equal(stopped.code, 0);
      assert.equal(stopped.stdout, "[client 0] installed\n");
      // Two Workers, not the one-listener fallback a missing flag would cause.
      assert.match(
        stopped.stderr,
        /^linehub-server: listening on 127\.0\.0\.1:\d+ \(text to stdout, 2 workers\)\n/,
      );
    });
  },
);
