/**
 * `linehub-client` as a function from arguments to an exit status: flags,
 * the TLS files, the choice between the plain and the line mode, signals,
 * and one line on stderr for every failure.
 *
 * @module
 */

import { CLIENT_USAGE, parseClientArgs } from "./_client_flags.ts";
import { describeError, UsageError, usageErrorText } from "../text/mod.ts";
import {
  ClientError,
  type ClientFailure,
  loadTlsClientOptions,
  type ReportKind,
  runClient,
  runReconnectingClient,
  type TlsClientOptions,
} from "../client/mod.ts";
import { TlsFileError } from "../net/mod.ts";
import { VERSION } from "./_version.ts";
import { listenForSignals } from "./_signal_listeners.ts";

import {
  EXIT_BUSY,
  EXIT_FAILURE,
  EXIT_LOST,
  EXIT_OK,
  EXIT_OUTPUT,
  EXIT_REFUSED,
  EXIT_SIGINT,
  EXIT_SIGTERM,
  EXIT_USAGE,
} from "./_exit_status.ts";

const PROGRAM = "linehub-client";

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
  const onNotice = (message: string, kind: ReportKind): void => {
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
