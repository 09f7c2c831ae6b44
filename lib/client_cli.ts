/**
 * `linehub-client` as a function from arguments to an exit status.
 *
 * @module
 */

import { CLIENT_USAGE, parseClientArgs } from "./client_flags.ts";
import { describeError } from "./error_text.ts";
import { ClientError, runClient } from "./line_client.ts";
import { UsageError } from "./usage_error.ts";
import { VERSION } from "./version.ts";

const PROGRAM = "linehub-client";

/** Exit statuses of the client, as documented in the usage text and README. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** Runs the client; returns the exit status. */
export async function runClientCli(args: string[]): Promise<number> {
  const encoder = new TextEncoder();
  const say = (text: string): Promise<number> => Deno.stderr.write(encoder.encode(text));
  let config;
  try {
    config = parseClientArgs(args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    await say(`${PROGRAM}: ${error.message}\n\n${CLIENT_USAGE}`);
    return EXIT_USAGE;
  }
  if (config.help) {
    await Deno.stdout.write(encoder.encode(CLIENT_USAGE));
    return EXIT_OK;
  }
  if (config.version || config.target === undefined) {
    await Deno.stdout.write(encoder.encode(`${PROGRAM} ${VERSION}\n`));
    return EXIT_OK;
  }
  try {
    await runClient(config.target, Deno.stdin, Deno.stdout, {
      connectTimeout: config.connectTimeout,
      messages: config.messages,
    });
    return EXIT_OK;
  } catch (error) {
    const message = error instanceof ClientError
      ? error.message
      : `internal error: ${describeError(error)}`;
    await say(`${PROGRAM}: ${message}\n`);
    return EXIT_FAILURE;
  }
}
