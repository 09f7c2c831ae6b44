/**
 * linehub-server: receives lines from many TCP clients and writes each one,
 * labelled with its client's number, to stdout or a file.
 *
 * @module
 */

import { runServerCli } from "./lib/cli/server_cli.ts";

if (import.meta.main) {
  Deno.exit(await runServerCli(Deno.args));
}
