/**
 * The client's command line: `linehub-client [options] HOST [PORT]`, parsed
 * once and validated before any connection is attempted.
 *
 * @module
 */

import { isIP } from "node:net";
import { DEFAULT_PORT, type HostPort, parseTarget } from "../net/mod.ts";
import { MAX_MAX_LINE, MAX_PORT, parseDuration, parseInteger, readFlags } from "./_flag_values.ts";
import { DEFAULT_CLIENT_MAX_LINE, MAX_NAME_LENGTH, nameProblem } from "../wire/mod.ts";
import {
  DEFAULT_BUFFER_BYTES,
  DEFAULT_BUFFER_LINES,
  DEFAULT_CONNECT_TIMEOUT,
  type TlsClientFlags,
} from "../client/mod.ts";
import { UsageError } from "../text/mod.ts";

/** Most reconnect attempts in a row that `--retry` takes as a number. */
const MAX_RETRY = 1_000_000;
/** Most lines `--buffer-lines` may ask for; the byte ceiling bounds them too. */
const MAX_BUFFER_LINES = 1_000_000;

/** Everything the client's command line can say. */
export interface ClientConfig {
  /** Where to connect; undefined only with `help` or `version`. */
  readonly target: HostPort | undefined;
  /** Lines to send instead of stdin; empty means read stdin. */
  readonly messages: readonly string[];
  /** Seconds to wait for the connection; 0 waits as long as the system does. */
  readonly connectTimeout: number;
  /** Reconnect attempts in a row before giving up; `Infinity` for `forever`. */
  readonly retry: number;
  /** Whether to expect acknowledgments and resend what was not acknowledged. */
  readonly ack: boolean;
  /** Most lines held while they cannot be sent (or are not acknowledged). */
  readonly bufferLines: number;
  /** Longest line sent whole, in bytes; longer lines are cut there. */
  readonly maxLine: number;
  /** The name a linehub server shows for this client (`--name`), sent in a
   * hello line first; undefined sends no hello (but `--ack` does, unnamed). */
  readonly name: string | undefined;
  /** `--tls` and the flags that go with it; undefined without `--tls`. */
  readonly tls: TlsClientFlags | undefined;
  /** `-q`: no connection messages on stderr (failures and warnings still). */
  readonly quiet: boolean;
  readonly help: boolean;
  readonly version: boolean;
}

/** The usage text printed by `--help`. Every line fits in 80 columns. */
export const CLIENT_USAGE = `Usage: linehub-client [options] HOST [PORT]

Connects to a linehub server (or any TCP line service) and sends every line
read from stdin. At the end of stdin it half-closes the connection, prints
whatever the server still sends, and exits when the server closes.

HOST is an IPv4 or IPv6 address or a host name; HOST:PORT and [IPV6]:PORT
work too. PORT is 1 to ${MAX_PORT} (default ${DEFAULT_PORT}).

Options:
  -m, --message TEXT      send TEXT as one line instead of reading stdin;
                          repeat for several lines
  --connect-timeout TIME  give up connecting after TIME, up to 24h; 0: wait
                          as long as the system does (default ${DEFAULT_CONNECT_TIMEOUT}s)
  --retry N|forever       reconnect up to N times in a row (N up to ${MAX_RETRY}),
                          with backoff, keeping unsent lines (default 0)
  --ack                   resend lines until the server acknowledges them
                          (the server needs --ack too): at-least-once
  --buffer-lines N        with --retry or --ack, most lines held, 1 to
                          ${MAX_BUFFER_LINES}; stdin is not read while it is full
                          (default ${DEFAULT_BUFFER_LINES})
  --max-line BYTES        with --retry or --ack, longer lines are cut there;
                          1 to ${MAX_MAX_LINE} (default ${DEFAULT_CLIENT_MAX_LINE})
  --name NAME             a name for a linehub server to show with this
                          client's lines: 1 to ${MAX_NAME_LENGTH} letters, digits or
                          . _ - : @ /; sent in a first line (see README) that
                          another server, such as nc, shows as a line
  --tls                   connect with TLS, verifying that the server's
                          certificate is valid for HOST and comes from a
                          trusted CA
  --ca FILE               with --tls, also trust the CA certificates in FILE
                          (PEM)
  --servername NAME       with --tls, verify the certificate for NAME and
                          send NAME (SNI) instead of HOST
  --cert FILE             with --tls, present this client certificate (PEM);
                          needs --key
  --key FILE              with --tls, the private key of --cert (PEM)
  --insecure              with --tls, skip verifying the server's certificate
                          (a warning says so on stderr); not with --ca
  -q, --quiet             no connection messages (connected, retrying);
                          failures and warnings still go to stderr
  -h, --help              show this help and exit
  -V, --version           show the version and exit

TIME is in seconds (2.5), or a number with ms, s, m or h (500ms, 30s, 5m).

With --retry or --ack the client sends whole lines and holds at most
--buffer-lines of them, and at most ${
  DEFAULT_BUFFER_BYTES / 1024 / 1024
} MiB. Without --ack, lines in flight
when a connection is lost may be lost (at most once); with --ack, every line
reaches the server's output at least once, and may arrive twice.

With --tls, the trusted CAs are Deno's built-in copy of Mozilla's roots
plus any --ca (DENO_TLS_CA_STORE=system,mozilla adds the system's store).
The files of --ca, --cert and --key are read at start-up; then the client
gives up read access. A certificate that fails verification is a connect
failure.

Signals:
  SIGINT, SIGTERM  stop at once, saying how many lines were not sent (or,
                   with --ack, not acknowledged); exit 130 or 143

A server that refuses the client or cuts it off says why in a last line
("linehub-server: refused (full): ..."), which the client shows on stderr
instead of stdout. --retry tries again after "full" and "per-ip" refusals and
after a cut-off, but not after other refusals, nor once kicked.

Exit status:
  0    everything sent (with --ack, acknowledged), and the server closed
  1    cannot connect (after any retries; with --tls, also a certificate
       that fails verification or a bad --ca, --cert or --key file), or
       another failure
  2    bad usage
  3    the server went away (closed, reset, or cut the client off, saying
       why) before all input was sent (with --ack, acknowledged), or reset
       after it was sent, without --ack; the last message says what was
       not delivered (how many lines, with --retry or --ack)
  4    cannot write to stdout
  5    the server refused the client for now: full, or too many
       connections from its address (after any retries)
  6    the server refused the client for good: denied by its access
       rules, TLS on one side only, a client certificate it refused
  130  interrupted by SIGINT (Ctrl-C); 143 by SIGTERM
`;

/** Parses and validates the client's arguments; throws {@linkcode UsageError}. */
export function parseClientArgs(args: string[]): ClientConfig {
  const { values, positionals } = readFlags(args, {
    message: { type: "string", short: "m", multiple: true, default: [] },
    "connect-timeout": { type: "string", default: String(DEFAULT_CONNECT_TIMEOUT) },
    retry: { type: "string", default: "0" },
    ack: { type: "boolean", default: false },
    "buffer-lines": { type: "string" },
    "max-line": { type: "string" },
    name: { type: "string" },
    tls: { type: "boolean", default: false },
    ca: { type: "string" },
    servername: { type: "string" },
    cert: { type: "string" },
    key: { type: "string" },
    insecure: { type: "boolean", default: false },
    quiet: { type: "boolean", short: "q", default: false },
    help: { type: "boolean", short: "h", default: false },
    version: { type: "boolean", short: "V", default: false },
  });
  const connectTimeout = parseDuration(values["connect-timeout"], "connect-timeout");
  for (const message of values.message) {
    if (/[\r\n]/.test(message)) {
      throw new UsageError(
        `Invalid --message ${JSON.stringify(message)}: a message is one line; repeat -m for more`,
      );
    }
  }
  const retry = parseRetry(values.retry);
  const ack = values.ack;
  const lineMode = retry > 0 || ack;
  const bufferLines = lineModeInteger(
    values["buffer-lines"],
    "buffer-lines",
    DEFAULT_BUFFER_LINES,
    MAX_BUFFER_LINES,
    lineMode,
  );
  const maxLine = lineModeInteger(
    values["max-line"],
    "max-line",
    DEFAULT_CLIENT_MAX_LINE,
    MAX_MAX_LINE,
    lineMode,
  );
  const name = values.name;
  const problem = name === undefined ? null : nameProblem(name);
  if (problem !== null) throw new UsageError(`Invalid --name ${JSON.stringify(name)}: ${problem}`);
  const tls = parseTlsFlags(values.tls, {
    ca: values.ca,
    servername: values.servername,
    cert: values.cert,
    key: values.key,
    insecure: values.insecure,
  });
  const base = {
    messages: values.message,
    connectTimeout,
    retry,
    ack,
    bufferLines,
    maxLine,
    name,
    tls,
    quiet: values.quiet,
    help: values.help,
  };
  if (values.help || values.version) {
    return { ...base, target: undefined, version: values.version };
  }
  if (positionals.length === 0) throw new UsageError("Missing HOST: say where to connect");
  if (positionals.length > 2) {
    throw new UsageError(`Unexpected argument "${positionals[2]}": expected HOST [PORT]`);
  }
  const [host, port] = positionals as [string, string | undefined];
  return { ...base, target: parseClientTarget(host, port), version: false };
}

/** HOST and PORT. Port 0 is refused here: it means "any free port" only to
 * a listener, and connecting to it can only fail later, at run time. */
function parseClientTarget(host: string, port: string | undefined): HostPort {
  const portError = (text: string): UsageError =>
    new UsageError(`Invalid port "${text}": must be an integer from 1 to ${MAX_PORT}`);
  const isPort = (text: string): boolean =>
    /^[0-9]{1,5}$/.test(text) && Number(text) >= 1 && Number(text) <= MAX_PORT;
  if (port !== undefined && !isPort(port)) throw portError(port);
  const target = parseTarget(host, port);
  // A port inside HOST (HOST:0, [::1]:0) is read by parseTarget, which
  // allows 0 for the server's sake.
  if (target.port === 0) throw portError(/:([0-9]+)$/.exec(host)?.[1] ?? "0");
  return target;
}

/** The TLS flags: each only with `--tls`, `--cert` and `--key` together,
 * `--insecure` not with `--ca`, no empty paths. The files are read later,
 * at start-up. */
function parseTlsFlags(enabled: boolean, flags: TlsClientFlags): TlsClientFlags | undefined {
  const { ca, servername, cert, key, insecure } = flags;
  const given: Array<[string, boolean]> = [
    ["ca", ca !== undefined],
    ["servername", servername !== undefined],
    ["cert", cert !== undefined],
    ["key", key !== undefined],
    ["insecure", insecure],
  ];
  for (const [flag, present] of given) {
    if (present && !enabled) throw new UsageError(`--${flag} needs --tls`);
  }
  if (!enabled) return undefined;
  for (const [flag, path] of [["ca", ca], ["cert", cert], ["key", key]]) {
    if (path === "") throw new UsageError(`Invalid --${flag} "": empty file name`);
  }
  if (cert !== undefined && key === undefined) throw new UsageError("--cert needs --key");
  if (key !== undefined && cert === undefined) throw new UsageError("--key needs --cert");
  if (insecure && ca !== undefined) {
    throw new UsageError(
      "--insecure conflicts with --ca: --insecure verifies nothing, so --ca would be ignored",
    );
  }
  if (servername !== undefined && !isServerName(servername)) {
    throw new UsageError(
      `Invalid --servername ${JSON.stringify(servername)}: must be a host name or an IP address`,
    );
  }
  return flags;
}

/** A DNS name (ASCII: punycode for international names) or an IP address. */
function isServerName(name: string): boolean {
  if (isIP(name) !== 0) return true;
  return name.length <= 253 && /^[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_.])?$/.test(name) &&
    !name.includes("..");
}

/** `--retry`: a whole number of attempts, or `forever` (Infinity). */
function parseRetry(text: string): number {
  if (text === "forever") return Infinity;
  if (!/^[0-9]+$/.test(text) || Number(text) > MAX_RETRY) {
    throw new UsageError(
      `Invalid --retry "${text}": must be an integer from 0 to ${MAX_RETRY} or "forever"`,
    );
  }
  return Number(text);
}

/** A flag that only means something in line mode: its value, or the default;
 * given without `--retry` or `--ack`, a usage error rather than ignored. */
function lineModeInteger(
  text: string | undefined,
  flag: string,
  fallback: number,
  max: number,
  lineMode: boolean,
): number {
  if (text === undefined) return fallback;
  const value = parseInteger(text, flag, 1, max);
  if (!lineMode) {
    throw new UsageError(
      `Option "--${flag}" needs --retry or --ack: without them the client holds no lines`,
    );
  }
  return value;
}
