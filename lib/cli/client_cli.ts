/**
 * `linehub-client` as a function from arguments to an exit status: flags,
 * the TLS files, the choice between the plain and the line mode, signals,
 * and one line on stderr for every failure.
 *
 * @module
 */

import { CLIENT_USAGE, parseClientArgs } from "./client_flags.ts";
import { describeError } from "../text/error_text.ts";
import {
  ClientError,
  type ClientFailure,
  type NoticeKind,
  runClient,
} from "../client/plain_client.ts";
import { runReconnectingClient } from "../client/line_client.ts";
import { loadTlsClientOptions, type TlsClientOptions } from "../client/tls_connect.ts";
import { TlsFileError } from "../net/tls_files.ts";
import { UsageError, usageErrorText } from "../text/usage_error.ts";
import { VERSION } from "./version.ts";
import { listenForSignals } from "./signal_listeners.ts";

const PROGRAM = "linehub-client";

/** Exit statuses of the client, as documented in the usage text and README. */
export const EXIT_OK = 0;
/** Cannot connect (after any retries), or another runtime failure. */
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
/** The server went away (closed, reset, or cut the client off, saying why)
 * before all input was sent, or, with `--ack`, acknowledged; or, without
 * `--ack`, reset the connection before it could have read it all. */
export const EXIT_LOST = 3;
/** Cannot write to stdout (its reader went away). */
export const EXIT_OUTPUT = 4;
/** The server refused the client for now (full, or too many connections
 * from its address), after any retries: trying later may succeed. */
export const EXIT_BUSY = 5;
/** The server refused the client and trying again cannot help: denied by
 * its access rules, TLS on one side only, a client certificate refused. */
export const EXIT_REFUSED = 6;
/** Interrupted by SIGINT (Ctrl-C). */
export const EXIT_SIGINT = 130;
/** Stopped by SIGTERM. */
export const EXIT_SIGTERM = 143;

const EXIT_BY_KIND: Record<Exclude<ClientFailure, "interrupted">, number> = {
  connect: EXIT_FAILURE,
  failed: EXIT_FAILURE,
  busy: EXIT_BUSY,
  refused: EXIT_REFUSED,
  lost: EXIT_LOST,
  output: EXIT_OUTPUT,
};

/** Runs the client; returns the exit status. */
export async function runClientCli(args: string[]): Promise<number> {
  const encoder = new TextEncoder();
  const say = (text: string): void => {
    try {
      Deno.stderr.writeSync(encoder.encode(text));
    } catch {
      // stderr is gone too; the exit status still tells.
    }
  };
  let config;
  try {
    config = parseClientArgs(args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    say(usageErrorText(PROGRAM, error));
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
  // Before connecting: a wrong file is one line naming it, not a failed
  // handshake later.
  let tls: TlsClientOptions | undefined;
  if (config.tls !== undefined) {
    try {
      tls = await loadTlsClientOptions(config.tls);
    } catch (error) {
      say(`${PROGRAM}: ${error instanceof TlsFileError ? error.message : describeError(error)}\n`);
      return EXIT_FAILURE;
    }
  }
  // Least privilege: the TLS files are the only files the client reads
  // (stdin and stdout need no permission), so read access goes now, before
  // anything comes from the network.
  Deno.permissions.revokeSync({ name: "read" });
  const onNotice = (message: string, kind: NoticeKind): void => {
    if (kind === "connection" && config.quiet) return;
    say(`${PROGRAM}: ${message}\n`);
  };
  // Ctrl-C and SIGTERM stop the session, which then says what was left
  // undelivered, instead of the runtime killing the process silently.
  const interrupt = new AbortController();
  const removeSignals = listenForSignals(["SIGINT", "SIGTERM"], (signal) => {
    interrupt.abort(signal);
  });
  try {
    const common = {
      connectTimeout: config.connectTimeout,
      messages: config.messages,
      signal: interrupt.signal,
      onNotice,
      ...(tls === undefined ? {} : { tls }),
      ...(config.name === undefined ? {} : { name: config.name }),
    };
    if (config.retry > 0 || config.ack) {
      await runReconnectingClient(config.target, Deno.stdin, Deno.stdout, {
        ...common,
        retry: config.retry,
        ack: config.ack,
        bufferLines: config.bufferLines,
        maxLine: config.maxLine,
      });
    } else {
      await runClient(config.target, Deno.stdin, Deno.stdout, common);
    }
    return EXIT_OK;
  } catch (error) {
    if (!(error instanceof ClientError)) {
      say(`${PROGRAM}: internal error: ${describeError(error)}\n`);
      return EXIT_FAILURE;
    }
    say(`${PROGRAM}: ${error.message}\n`);
    if (error.kind === "interrupted") {
      return interrupt.signal.reason === "SIGTERM" ? EXIT_SIGTERM : EXIT_SIGINT;
    }
    return EXIT_BY_KIND[error.kind];
  } finally {
    removeSignals();
  }
}
