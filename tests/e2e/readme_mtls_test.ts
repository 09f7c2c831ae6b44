/**
 * The README's "Mutual TLS, worked through", run as a reader on one machine
 * would: the commands installed by the README's own `deno install` lines,
 * the marked blocks run in order in an empty folder (`mtls setup` with `sh`,
 * `mtls server` in the background, the `mtls client` transcript while it
 * runs, the `mtls after` transcript once it is stopped with SIGINT, as by
 * Ctrl-C), each transcript's output compared with what the README shows.
 *
 * The one change: the README's port, 8443, is replaced everywhere by a port
 * that was free a moment ago, so that the test does not depend on 8443 being
 * free. Skipped, with the reason, without `openssl`.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  assertTranscript,
  commandEnv,
  freePort,
  installFromReadme,
  opensslMissing,
  readmeBlock,
  readmeBlocks,
  runShell,
  shellMissing,
  startReadmeServer,
} from "../_helpers/mod.ts";

/** The port the README's example uses, replaced by the test. */
const README_PORT = "8443";
/** A new pattern each time: a global RegExp keeps state between uses. */
const readmePort = (): RegExp => new RegExp(`\\b${README_PORT}\\b`, "g");

const skipped = shellMissing() ?? await opensslMissing();

Deno.test({
  name: "the README's mutual TLS example runs as written on one machine" +
    (skipped === null ? "" : ` (skipped: ${skipped})`),
  ignore: skipped !== null,
  fn: async () => {
    const blocks = await readmeBlocks();
    const setup = readmeBlock(blocks, "mtls setup");
    const serverBlock = readmeBlock(blocks, "mtls server");
    const client = readmeBlock(blocks, "mtls client");
    const after = readmeBlock(blocks, "mtls after");
    for (const block of [serverBlock, client]) {
      // Otherwise the port would not be overridden, and the test would use
      // whatever port the README names.
      assert.match(
        block.body,
        readmePort(),
        `README.md:${block.line}: port ${README_PORT} gone`,
      );
    }
    const free = String(freePort());
    const port = (text: string): string => text.replaceAll(readmePort(), free);

    const dir = await Deno.makeTempDir({ prefix: "linehub-readme-mtls-" });
    try {
      const env = commandEnv(await installFromReadme(`${dir}/root`));
      const work = `${dir}/work`;
      await Deno.mkdir(work);

      const made = await runShell(`set -e\n${setup.body}`, work, env);
      assert.equal(made.code, 0, `README.md:${setup.line}: ${made.stderr}`);

      const server = await startReadmeServer(port(serverBlock.body.trim()), work, env);
      let stopped;
      try {
        await assertTranscript(client, port, work, env);
        // What the README says of a client without a certificate.
        const stranger = await runShell(
          `exec 2>&1\nprintf 'no certificate\\n' | linehub-client --tls --ca ca.pem ` +
            `--servername logs.example.net 127.0.0.1 ${free}`,
          work,
          env,
        );
        // The refusal is reported as such, on stderr (merged here), with
        // the refused-for-good status.
        assert.match(
          stranger.stdout,
          /^linehub-client: Server 127\.0\.0\.1:\d+ refused the connection: TLS: no client certificate; nothing was delivered$/m,
        );
        assert.equal(stranger.code, 6);
      } finally {
        stopped = await server.stop("SIGINT");
      }
      assert.equal(stopped.code, 0, stopped.stderr);
      assert.match(stopped.stderr, /^client 0 connected from 127\.0\.0\.1:\d+ as web1$/m);
      assert.match(stopped.stderr, /^refused 127\.0\.0\.1:\d+: TLS: no client certificate$/m);

      await assertTranscript(after, port, work, env);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
