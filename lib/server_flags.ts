/**
 * The server's command line: one `parseArgs` declaration, the usage text, and
 * validation of every value before any socket or file is opened.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { type Cidr, parseCidr } from "./access_list.ts";
import { parsePort } from "./address.ts";
import { parseArgsMessage, parseInteger, parseSeconds } from "./flag_values.ts";
import { type Mode, MODES } from "./hub.ts";
import { DEFAULT_MAX_LINE } from "./line_framer.ts";
import { DEFAULT_BACKLOG } from "./line_server.ts";
import { MAX_WORKERS } from "./worker_pool.ts";
import { OUTPUT_FORMATS, type OutputFormat } from "./output_format.ts";
import { DEFAULT_SEND_QUEUE_BYTES } from "./send_queue.ts";
import { DEFAULT_MAX_HANDSHAKES } from "./tls_server.ts";
import { UsageError } from "./usage_error.ts";

/** Everything the server's command line can say. */
export interface ServerConfig {
  readonly host: string;
  readonly port: number;
  readonly format: OutputFormat;
  /** File to append messages to; stdout when undefined. */
  readonly output: string | undefined;
  readonly maxLine: number;
  readonly drainTimeout: number;
  readonly backlog: number;
  readonly idleTimeout: number;
  /** Acknowledge each client's lines once written (`--ack`). */
  readonly ack: boolean;
  /** Peers that may connect (`--allow`); empty allows every peer not denied. */
  readonly allow: readonly Cidr[];
  /** Peers refused (`--deny`); deny wins over allow. */
  readonly deny: readonly Cidr[];
  /** Listeners in Workers sharing the port; 1 runs one in the main thread. */
  readonly workers: number;
  /** Most clients at once; 0 for no limit. */
  readonly maxClients: number;
  /** Most clients at once from one address; 0 for no limit. */
  readonly maxPerIp: number;
  /** TLS certificate and key files (`--tls-cert`, `--tls-key`); both or neither. */
  readonly tlsCert: string | undefined;
  readonly tlsKey: string | undefined;
  /** CA file client certificates must be signed by (`--tls-client-ca`): mutual TLS. */
  readonly tlsClientCa: string | undefined;
  /** Most TLS handshakes in progress at once; 0 for no limit. */
  readonly maxHandshakes: number;
  /** What the server sends back: nothing (`log`), echoes, relays or chat. */
  readonly mode: Mode;
  /** Most bytes queued to one client before it is disconnected. */
  readonly sendQueue: number;
  /** Read operator commands from stdin even when it is not a terminal. */
  readonly console: boolean;
  readonly help: boolean;
  readonly version: boolean;
}

/** Largest accepted `--max-line`: 64 MiB, so one client cannot claim more. */
export const MAX_MAX_LINE = 64 * 1024 * 1024;

/** Largest `--max-clients`, `--max-per-ip` or `--max-handshakes`: more than
 * any process can hold. */
const MAX_LIMIT = 10_000_000;

/** Smallest `--send-queue`: 64 KiB, what one read of a busy client can
 * bring, so that a single burst cannot overflow a client that keeps up. */
const MIN_SEND_QUEUE = 65536;
/** Room a relayed line needs beyond its text: `<client N> ` and a newline. */
const LABEL_ROOM = 64;
/** Largest `--send-queue`: 1 GiB, so one slow client cannot claim more. */
const MAX_SEND_QUEUE = 1024 * 1024 * 1024;

/** The usage text printed by `--help` and after a usage error. */
export const SERVER_USAGE = `Usage: linehub-server [options]

Receives lines from any number of TCP clients and writes each one, labelled
with its client's number, to stdout. Events and diagnostics go to stderr.

Options:
  --host ADDR             address to listen on; "::" for IPv6 (default 0.0.0.0)
  -p, --port N            TCP port; 0 picks a free one (default 8888)
  -f, --format FORMAT     text, json or raw (default text)
  -o, --output FILE       append messages to FILE instead of stdout
  --max-line BYTES        longest line; longer ones are cut (default ${DEFAULT_MAX_LINE})
  --drain-timeout SECS    on SIGINT/SIGTERM, time clients get to finish (default 5)
  --idle-timeout SECS     close a client silent for SECS; 0 for never (default 0)
  --backlog N             listen queue for bursts of connects (default ${DEFAULT_BACKLOG})
  --allow CIDR            accept only peers in CIDR (IPv4 or IPv6); repeatable
  --deny CIDR             refuse peers in CIDR, even if allowed; repeatable
  --max-clients N         refuse clients beyond N at once, telling them why; 0: no limit
                          (default 0)
  --max-per-ip N          refuse clients beyond N at once from one address; 0: no
                          limit (default 0)
  --workers N             accept and read in N Workers sharing the port (Linux, needs
                          --unstable-net); 1 runs everything in one thread (default 1)
  --ack                   tell each client how many of its lines are written, for
                          linehub-client --ack (at-least-once delivery); log mode only
  --tls-cert FILE         serve TLS with this PEM certificate (chain); needs --tls-key
  --tls-key FILE          the PEM private key of --tls-cert
  --tls-client-ca FILE    require client certificates signed by a CA in FILE (mutual
                          TLS); the verified name is shown with each client
  --max-handshakes N      most TLS handshakes in progress at once, 0 to ${MAX_LIMIT};
                          a client beyond is closed; 0: no limit (default ${DEFAULT_MAX_HANDSHAKES})
  --mode MODE             log: only record; echo: send each line back to its sender;
                          broker: relay each line to every other client; chat: relay
                          labelled "<client N> ", with join/leave notices (default log)
  --send-queue BYTES      most bytes waiting to be sent to one client; a client that
                          falls further behind is disconnected (default ${DEFAULT_SEND_QUEUE_BYTES})
  --console               read operator commands from stdin (/help lists them) even
                          when it is not a terminal; on a terminal this is the default
  -h, --help              show this help and exit
  -V, --version           show the version and exit

Exit status: 0 after a clean shutdown, 1 on a runtime error, 2 on bad usage,
3 when the drain timeout cut clients off, 4 when the output failed while
running, 130 or 143 when a second SIGINT or SIGTERM cut the drain short.
`;

/**
 * Checks `--host`: an address or host name, with no port; `[::1]` is taken
 * as `::1`, since that is how IPv6 addresses are often written.
 */
export function parseListenHost(text: string): string {
  const host = /^\[([^\]]*)\]$/.exec(text)?.[1] ?? text;
  if (host === "") throw new UsageError(`Invalid host "${text}": empty host`);
  if (/[\s\[\]\/]/.test(host)) {
    throw new UsageError(`Invalid host "${text}": not an address or host name`);
  }
  if (host.split(":").length === 2) {
    throw new UsageError(`Invalid host "${text}": give the port with --port`);
  }
  return host;
}

/** Parses and validates the server's arguments; throws {@linkcode UsageError}. */
export function parseServerArgs(args: string[]): ServerConfig {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        host: { type: "string", default: "0.0.0.0" },
        port: { type: "string", short: "p", default: "8888" },
        format: { type: "string", short: "f", default: "text" },
        output: { type: "string", short: "o" },
        "max-line": { type: "string", default: String(DEFAULT_MAX_LINE) },
        "drain-timeout": { type: "string", default: "5" },
        backlog: { type: "string", default: String(DEFAULT_BACKLOG) },
        "idle-timeout": { type: "string", default: "0" },
        ack: { type: "boolean", default: false },
        allow: { type: "string", multiple: true, default: [] },
        deny: { type: "string", multiple: true, default: [] },
        workers: { type: "string", default: "1" },
        "max-clients": { type: "string", default: "0" },
        "max-per-ip": { type: "string", default: "0" },
        "tls-cert": { type: "string" },
        "tls-key": { type: "string" },
        "tls-client-ca": { type: "string" },
        // No default: given without TLS, it is a mistake worth naming.
        "max-handshakes": { type: "string" },
        mode: { type: "string", default: "log" },
        "send-queue": { type: "string", default: String(DEFAULT_SEND_QUEUE_BYTES) },
        console: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
        version: { type: "boolean", short: "V", default: false },
      },
    }));
  } catch (error) {
    throw new UsageError(parseArgsMessage(error));
  }
  const format = values.format;
  if (!(OUTPUT_FORMATS as readonly string[]).includes(format)) {
    throw new UsageError(`Invalid format "${format}": must be one of ${OUTPUT_FORMATS.join(", ")}`);
  }
  const host = parseListenHost(values.host);
  if (values.output === "") throw new UsageError(`Invalid output file "": empty path`);
  const workers = parseInteger(values.workers, "workers", 1, MAX_WORKERS);
  for (const limit of ["max-clients", "max-per-ip"] as const) {
    if (workers > 1 && values[limit] !== "0") {
      throw new UsageError(
        `Cannot combine --workers ${workers} with --${limit}: each Worker would count on its own`,
      );
    }
  }
  const mode = values.mode;
  if (!(MODES as readonly string[]).includes(mode)) {
    throw new UsageError(`Invalid mode "${mode}": must be one of ${MODES.join(", ")}`);
  }
  const tls = parseTlsFiles(values["tls-cert"], values["tls-key"], values["tls-client-ca"]);
  const handshakes = values["max-handshakes"];
  const maxHandshakes = handshakes === undefined
    ? DEFAULT_MAX_HANDSHAKES
    : parseInteger(handshakes, "max-handshakes", 0, MAX_LIMIT);
  if (handshakes !== undefined && tls.tlsCert === undefined) {
    throw new UsageError("--max-handshakes needs --tls-cert and --tls-key");
  }
  const talksBack = mode !== "log" || values.console;
  const talker = mode !== "log" ? `--mode ${mode}` : "--console";
  if (talksBack && values.ack) {
    throw new UsageError(
      `Cannot combine --ack with ${talker}: acknowledgments must be all the server sends`,
    );
  }
  if (talksBack && workers > 1) {
    throw new UsageError(
      `Cannot combine --workers ${workers} with ${talker}: each Worker sees only its own clients`,
    );
  }
  const maxLine = parseInteger(values["max-line"], "max-line", 1, MAX_MAX_LINE);
  const sendQueue = parseInteger(
    values["send-queue"],
    "send-queue",
    MIN_SEND_QUEUE,
    MAX_SEND_QUEUE,
  );
  if (talksBack && sendQueue < maxLine + LABEL_ROOM) {
    throw new UsageError(
      `Invalid --send-queue "${sendQueue}": must hold the longest line, --max-line ${maxLine} ` +
        `plus ${LABEL_ROOM} bytes for a label`,
    );
  }
  return {
    host,
    workers,
    ...tls,
    maxHandshakes,
    mode: mode as Mode,
    sendQueue,
    console: values.console,
    port: parsePort(values.port),
    format: format as OutputFormat,
    output: values.output,
    maxLine,
    drainTimeout: parseSeconds(values["drain-timeout"], "drain-timeout"),
    backlog: parseInteger(values.backlog, "backlog", 1, 65535),
    idleTimeout: parseSeconds(values["idle-timeout"], "idle-timeout"),
    ack: values.ack,
    allow: values.allow.map((text) => parseCidr(text, "allow")),
    deny: values.deny.map((text) => parseCidr(text, "deny")),
    maxClients: parseInteger(values["max-clients"], "max-clients", 0, MAX_LIMIT),
    maxPerIp: parseInteger(values["max-per-ip"], "max-per-ip", 0, MAX_LIMIT),
    help: values.help,
    version: values.version,
  };
}

/** Checks the TLS flags: certificate and key together, a client CA only
 * with them, no empty paths. The files are read later, at start-up. */
function parseTlsFiles(
  cert: string | undefined,
  key: string | undefined,
  clientCa: string | undefined,
): Pick<ServerConfig, "tlsCert" | "tlsKey" | "tlsClientCa"> {
  for (const [flag, path] of [["tls-cert", cert], ["tls-key", key], ["tls-client-ca", clientCa]]) {
    if (path === "") throw new UsageError(`Invalid ${flag} file "": empty path`);
  }
  if ((cert === undefined) !== (key === undefined)) {
    throw new UsageError(
      cert === undefined ? "--tls-key needs --tls-cert" : "--tls-cert needs --tls-key",
    );
  }
  if (clientCa !== undefined && cert === undefined) {
    throw new UsageError("--tls-client-ca needs --tls-cert and --tls-key");
  }
  return { tlsCert: cert, tlsKey: key, tlsClientCa: clientCa };
}
