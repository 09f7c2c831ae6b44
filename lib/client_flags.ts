/**
 * The client's command line: `linehub-client [options] HOST [PORT]`, parsed
 * once and validated before any connection is attempted.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { type HostPort, parseTarget } from "./address.ts";
import { parseArgsMessage, parseSeconds } from "./flag_values.ts";
import { UsageError } from "./usage_error.ts";

/** Everything the client's command line can say. */
export interface ClientConfig {
  /** Where to connect; undefined only with `help` or `version`. */
  readonly target: HostPort | undefined;
  /** Lines to send instead of stdin; empty means read stdin. */
  readonly messages: readonly string[];
  /** Seconds to wait for the connection; 0 waits as long as the system does. */
  readonly connectTimeout: number;
  readonly help: boolean;
  readonly version: boolean;
}

/** The usage text printed by `--help` and after a usage error. */
export const CLIENT_USAGE = `Usage: linehub-client [options] HOST [PORT]

Connects to a linehub server (or any TCP line service) and sends every line
read from stdin. At the end of stdin it half-closes the connection, prints
whatever the server still sends, and exits when the server closes.

HOST is an IPv4 or IPv6 address or a host name; HOST:PORT and [IPV6]:PORT
work too. PORT defaults to 8888.

Options:
  -m, --message TEXT       send TEXT as one line instead of reading stdin;
                           repeat for several lines
  --connect-timeout SECS   give up connecting after SECS; 0 for no limit
                           (default 10)
  -h, --help               show this help and exit
  -V, --version            show the version and exit

Exit status: 0 when everything was sent and the server closed, 1 when the
connection failed or was lost, 2 on bad usage.
`;

/** Parses and validates the client's arguments; throws {@linkcode UsageError}. */
export function parseClientArgs(args: string[]): ClientConfig {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      strict: true,
      allowPositionals: true,
      options: {
        message: { type: "string", short: "m", multiple: true, default: [] },
        "connect-timeout": { type: "string", default: "10" },
        help: { type: "boolean", short: "h", default: false },
        version: { type: "boolean", short: "V", default: false },
      },
    });
  } catch (error) {
    throw new UsageError(parseArgsMessage(error));
  }
  const { values, positionals } = parsed;
  const connectTimeout = parseSeconds(values["connect-timeout"], "connect-timeout");
  for (const message of values.message) {
    if (/[\r\n]/.test(message)) {
      throw new UsageError(
        `Invalid --message ${JSON.stringify(message)}: a message is one line; repeat -m for more`,
      );
    }
  }
  const base = { messages: values.message, connectTimeout, help: values.help };
  if (values.help || values.version) {
    return { ...base, target: undefined, version: values.version };
  }
  if (positionals.length === 0) throw new UsageError("Missing HOST: say where to connect");
  if (positionals.length > 2) {
    throw new UsageError(`Unexpected argument "${positionals[2]}": expected HOST [PORT]`);
  }
  const [host, port] = positionals as [string, string | undefined];
  return { ...base, target: parseTarget(host, port), version: false };
}
