/**
 * linehub-client: sends the lines of stdin to a linehub server (or any TCP
 * line service) and prints what the server sends back.
 *
 * @module
 */

import { runClientCli } from "./lib/cli/client_cli.ts";

if (import.meta.main) {
  Deno.exit(await runClientCli(Deno.args));
}
