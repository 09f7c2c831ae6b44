/**
 * The server's command line: one `parseArgs` declaration, the usage text, and
 * validation of every value before any socket or file is opened.
 *
 * @module
 */

import { type Cidr, DEFAULT_PORT, parseCidr } from "../net/mod.ts";
import { MAX_MAX_LINE, MAX_PORT, parseDuration, parseInteger, readFlags } from "./_flag_values.ts";
import {
  DEFAULT_BACKLOG,
  DEFAULT_DRAIN_TIMEOUT,
  DEFAULT_FORMAT,
  DEFAULT_HOST,
  DEFAULT_IDLE_TIMEOUT,
  DEFAULT_LINE_TIMEOUT,
  DEFAULT_MAX_CLIENTS,
  DEFAULT_MAX_HANDSHAKES,
  DEFAULT_MAX_PER_IP,
  MAX_NODE_NAME_LENGTH,
  MAX_WORKERS,
  type Mode,
  MODES,
  nodeNameFromHost,
  nodeNameProblem,
  type RateLimit,
} from "../server/mod.ts";
import {
  DEFAULT_FRAMING,
  DEFAULT_MAX_LINE,
  FRAMING_CHOICES,
  type FramingChoice,
} from "../wire/mod.ts";
import { DEFAULT_HTTP_HOST } from "../http/mod.ts";
import {
  DEFAULT_LABEL,
  LABEL_STYLES,
  type LabelStyle,
  OUTPUT_FORMATS,
  type OutputFormat,
} from "../format/mod.ts";
import { DEFAULT_SEND_QUEUE_BYTES } from "../io/mod.ts";
import { SAME_SIGNAL_MS } from "./_signal_listeners.ts";
import { UsageError } from "../text/mod.ts";
import { parseSinkUrl, SINK_URL_FORMS, type SinkUrl } from "../sink/mod.ts";

/** Everything the server's command line can say. */
export interface ServerConfig {
  readonly host: string;
  readonly port: number;
  readonly format: OutputFormat;
  /** This server's name in every JSON record and, with `labelNode`, in
   * text labels (`--node`); undefined: the host name, which only the
   * running program can read. */
  readonly node: string | undefined;
  /** What a `text` line's label names (`--label`). */
  readonly label: LabelStyle;
  /** Start each `text` label with the node (`--label-node`). */
  readonly labelNode: boolean;
  /** Start each `text` line with its time (`--timestamp`). */
  readonly timestamp: boolean;
  /** File to append messages to; stdout when undefined. */
  readonly output: string | undefined;
  /** A broker's stream that gets every message too (`--sink`). */
  readonly sink: SinkUrl | undefined;
  readonly maxLine: number;
  /** How clients' streams are cut into messages (`--framing`). */
  readonly framing: FramingChoice;
  readonly drainTimeout: number;
  readonly backlog: number;
  readonly idleTimeout: number;
  readonly lineTimeout: number;
  /** Acknowledge each client's lines once written (`--ack`). */
  readonly ack: boolean;
  /** Peers that may connect (`--allow`); empty allows every peer not denied. */
  readonly allow: readonly Cidr[];
  /** Peers refused (`--deny`); deny wins over allow. */
  readonly deny: readonly Cidr[];
  /** Every connection starts with a PROXY protocol header (`--proxy-protocol`). */
  readonly proxyProtocol: boolean;
  /** Peers that may send that header (`--proxy-from`); empty: any peer. */
  readonly proxyFrom: readonly Cidr[];
  /** Listeners in Workers sharing the port; 1 runs one in the main thread. */
  readonly workers: number;
  /** Most clients at once; 0 for no limit. */
  readonly maxClients: number;
  /** Most clients at once from one address; 0 for no limit. */
  readonly maxPerIp: number;
  /** How fast each client is read (`--rate-limit`); undefined: no limit. */
  readonly rateLimit: RateLimit | undefined;
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
  /** Read operator commands from stdin (`--console`); never without it, even on a terminal. */
  readonly console: boolean;
  /** Where `--http` serves the live page, /metrics and /healthz; none without it. */
  readonly http: HttpAddress | undefined;
  /** The bearer token `--http` asks for (`--http-token`); none: no token. */
  readonly httpToken: string | undefined;
  readonly help: boolean;
  readonly version: boolean;
}

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

/** Largest `--backlog`: the most any kernel takes, and more than Linux's
 * default cap (`net.core.somaxconn`). */
const MAX_BACKLOG = 65535;

/** The usage text printed by `--help`. Every line fits in 80 columns. */
export const SERVER_USAGE = `Usage: linehub-server [options]

Receives lines from any number of TCP clients and writes each one, labelled
with its client's number, to stdout. Events and diagnostics go to stderr.

Options:
  --host ADDR           address to listen on; "::" for IPv6 (default ${DEFAULT_HOST})
  -p, --port N          TCP port, 0 to ${MAX_PORT}; 0 picks a free one, which the
                        start-up line names (default ${DEFAULT_PORT})
  -f, --format FORMAT   text, json or raw (default ${DEFAULT_FORMAT})
  --label WHAT          text: label each line with the client's number,
                        address or both (default ${DEFAULT_LABEL})
  --node NAME           this server's name, in every json record: 1 to ${MAX_NODE_NAME_LENGTH}
                        letters, digits or . _ - (default: the host name)
  --label-node          text: start each label with the node: [NAME/client 0]
  --timestamp           text: start each line with the time it was read
                        (RFC 3339, UTC, milliseconds)
  -o, --output FILE     append messages to FILE instead of stdout
  --sink URL            also add every message to a broker's stream; the
                        output gets the same JSON records (--format json);
                        URL is ${SINK_URL_FORMS[0]} (each
                        message one XADD entry) or
                        ${SINK_URL_FORMS[1]} (a JetStream
                        publish, de-duplicated by Nats-Msg-Id)
  --max-line BYTES      longest line, 1 to ${MAX_MAX_LINE}; longer ones are cut
                        there (default ${DEFAULT_MAX_LINE})
  --framing HOW         how a client's bytes become messages: lf, a newline
                        ends each; octet, RFC 6587 octet counting (rsyslog,
                        syslog-ng); auto, each connection's first byte
                        decides (default ${DEFAULT_FRAMING})
  --idle-timeout TIME   close a client silent for TIME, up to 24h; 0: never
                        (default ${DEFAULT_IDLE_TIMEOUT})
  --line-timeout TIME   close a client whose line is still unfinished TIME
                        after its first byte, up to 24h; 0: never (default ${DEFAULT_LINE_TIMEOUT})
  --drain-timeout TIME  at shutdown, how long clients get to finish, up to
                        24h (default ${DEFAULT_DRAIN_TIMEOUT}s)
  --backlog N           listen queue for bursts of connects, 1 to ${MAX_BACKLOG}
                        (default ${DEFAULT_BACKLOG})
  --allow CIDR          accept only peers in CIDR (IPv4 or IPv6); repeatable
  --deny CIDR           refuse peers in CIDR, even if allowed; repeatable
  --proxy-protocol      every connection starts with a PROXY protocol header
                        (v1 or v2) from a load balancer, and the client it
                        names is the peer, for --allow/--deny and the rest
  --proxy-from CIDR     only peers in CIDR (the balancers) may send that
                        header; others are refused; repeatable
  --max-clients N       refuse clients beyond N at once, telling them why;
                        up to ${MAX_LIMIT}, 0: no limit (default ${DEFAULT_MAX_CLIENTS})
  --max-per-ip N        the same, for the clients of one address (default ${DEFAULT_MAX_PER_IP})
  --rate-limit RATE     read each client at most LINES lines a second and
                        BURST at once: RATE is LINES/s or LINES/s:BURST, each
                        1 to ${MAX_LIMIT} (BURST default: LINES); a client over
                        it is read later, held back by TCP, never dropped
                        (default: no limit)
  --workers N           accept and read in N Workers sharing the port
                        (Linux), 1 to ${MAX_WORKERS}; 1: all in one thread (default 1)
  --ack                 tell each client how many of its lines are written,
                        for linehub-client --ack; only in log mode, and not
                        with --console
  --tls-cert FILE       serve TLS with this PEM certificate (chain); needs
                        --tls-key
  --tls-key FILE        the PEM private key of --tls-cert
  --tls-client-ca FILE  require client certificates signed by a CA in FILE
                        (mutual TLS); each client's verified name is shown
  --max-handshakes N    most TLS handshakes in progress at once, up to
                        ${MAX_LIMIT}; a client beyond is refused; 0: no limit
                        (default ${DEFAULT_MAX_HANDSHAKES})
  --mode MODE           log: only record; echo: send each line back to its
                        sender; broker: relay each line to every other
                        client; chat: relay it labelled "<client N> ", with
                        join and leave notices (default log)
  --send-queue BYTES    most bytes waiting to be sent to one client; a client
                        further behind is dropped; ${MIN_SEND_QUEUE} to ${MAX_SEND_QUEUE}
                        and at least --max-line + ${LABEL_ROOM} (default ${DEFAULT_SEND_QUEUE_BYTES},
                        or --max-line + ${LABEL_ROOM} if that is more)
  --console             read operator commands from stdin (/help lists them);
                        off unless given, even on a terminal
  --http ADDR           serve a live page, /metrics and /healthz over HTTP on
                        ADDR: PORT (on ${DEFAULT_HTTP_HOST}) or HOST:PORT
  --http-token TOKEN    --http asks for TOKEN (Authorization: Bearer TOKEN,
                        or /?token=TOKEN in a browser), but on /healthz
  -h, --help            show this help and exit
  -V, --version         show the version and exit

TIME is in seconds (2.5), or a number with ms, s, m or h (500ms, 30s, 5m).

Signals:
  SIGINT, SIGTERM  stop accepting, let clients finish for --drain-timeout,
                   then exit; a second one exits at once, unless it comes
                   within ${SAME_SIGNAL_MS} ms of the first (one Ctrl-C under deno task
                   arrives twice)
  SIGHUP           with --output, reopen the file (for log rotation); with
                   TLS, read the TLS files again: new handshakes get them,
                   and a bad file is refused, the old one kept; with
                   neither, ignored; when the terminal closes, as SIGTERM

Exit status:
  0    clean shutdown
  1    cannot listen, cannot open --output or the TLS files, cannot read
       the host name (for the default --node); other failures
  2    bad usage
  3    the drain timeout cut clients off (all they sent was written)
  4    the output failed while running (stdout closed, disk error), or
       messages were not delivered to the --sink when the drain ended
  130  a second SIGINT cut the drain short; 143 a second SIGTERM
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
  const { values, positionals } = readFlags(args, {
    host: { type: "string", default: DEFAULT_HOST },
    port: { type: "string", short: "p", default: String(DEFAULT_PORT) },
    // No default: with --sink it is json, and any other is a mistake.
    format: { type: "string", short: "f" },
    // No default: given with another format than text, it is a mistake.
    label: { type: "string" },
    // No default: the host name is read only once the flags are known good.
    node: { type: "string" },
    "label-node": { type: "boolean", default: false },
    timestamp: { type: "boolean", default: false },
    output: { type: "string", short: "o" },
    sink: { type: "string" },
    // No defaults for these two: --send-queue follows --max-line unless given.
    "max-line": { type: "string" },
    framing: { type: "string", default: DEFAULT_FRAMING },
    "drain-timeout": { type: "string", default: String(DEFAULT_DRAIN_TIMEOUT) },
    backlog: { type: "string", default: String(DEFAULT_BACKLOG) },
    "idle-timeout": { type: "string", default: String(DEFAULT_IDLE_TIMEOUT) },
    "line-timeout": { type: "string", default: String(DEFAULT_LINE_TIMEOUT) },
    ack: { type: "boolean", default: false },
    allow: { type: "string", multiple: true, default: [] },
    deny: { type: "string", multiple: true, default: [] },
    "proxy-protocol": { type: "boolean", default: false },
    "proxy-from": { type: "string", multiple: true, default: [] },
    workers: { type: "string", default: "1" },
    "max-clients": { type: "string", default: String(DEFAULT_MAX_CLIENTS) },
    "max-per-ip": { type: "string", default: String(DEFAULT_MAX_PER_IP) },
    // No default: no limit.
    "rate-limit": { type: "string" },
    "tls-cert": { type: "string" },
    "tls-key": { type: "string" },
    "tls-client-ca": { type: "string" },
    // No default: given without TLS, it is a mistake worth naming.
    "max-handshakes": { type: "string" },
    mode: { type: "string", default: "log" },
    "send-queue": { type: "string" },
    console: { type: "boolean", default: false },
    http: { type: "string" },
    "http-token": { type: "string" },
    help: { type: "boolean", short: "h", default: false },
    version: { type: "boolean", short: "V", default: false },
  });
  if (positionals[0] !== undefined) {
    throw new UsageError(`Unexpected argument "${positionals[0]}"`);
  }
  const sink = values.sink === undefined ? undefined : parseSinkUrl(values.sink);
  const format = values.format ?? (sink === undefined ? DEFAULT_FORMAT : "json");
  if (!(OUTPUT_FORMATS as readonly string[]).includes(format)) {
    throw new UsageError(`Invalid format "${format}": must be one of ${OUTPUT_FORMATS.join(", ")}`);
  }
  if (sink !== undefined && format !== "json") {
    throw new UsageError(
      `Cannot combine --sink with --format ${format}: the sink's entries are made from the ` +
        "JSON records, which the output gets too",
    );
  }
  const label = values.label ?? DEFAULT_LABEL;
  if (!(LABEL_STYLES as readonly string[]).includes(label)) {
    throw new UsageError(`Invalid label "${label}": must be one of ${LABEL_STYLES.join(", ")}`);
  }
  const textOnly = [
    ["--label", values.label !== undefined],
    ["--label-node", values["label-node"]],
    ["--timestamp", values.timestamp],
  ] as const;
  for (const [flag, given] of textOnly) {
    if (given && format !== "text") {
      throw new UsageError(
        `Cannot combine ${flag} with --format ${format}: it is for text output` +
          (format === "json"
            ? " (JSON records name the node, the client and the time anyway)"
            : ""),
      );
    }
  }
  const node = values.node;
  const nodeProblem = node === undefined ? null : nodeNameProblem(node);
  if (nodeProblem !== null) {
    throw new UsageError(`Invalid node ${JSON.stringify(node)}: ${nodeProblem}`);
  }
  const framing = values.framing;
  if (!(FRAMING_CHOICES as readonly string[]).includes(framing)) {
    throw new UsageError(
      `Invalid framing "${framing}": must be one of ${FRAMING_CHOICES.join(", ")}`,
    );
  }
  const host = parseListenHost(values.host);
  if (values.output === "") throw new UsageError(`Invalid output file "": empty path`);
  const workers = parseInteger(values.workers, "workers", 1, MAX_WORKERS);
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
  const proxyFrom = values["proxy-from"].map((text) => parseCidr(text, "proxy-from"));
  if (proxyFrom.length > 0 && !values["proxy-protocol"]) {
    throw new UsageError("--proxy-from needs --proxy-protocol");
  }
  const maxLineText = values["max-line"];
  const maxLine = maxLineText === undefined
    ? DEFAULT_MAX_LINE
    : parseInteger(maxLineText, "max-line", 1, MAX_MAX_LINE);
  const sendQueue = parseSendQueue(values["send-queue"], maxLine, maxLineText !== undefined);
  const http = values.http === undefined ? undefined : parseHttpAddress(values.http);
  const httpToken = values["http-token"];
  if (httpToken !== undefined) {
    if (http === undefined) throw new UsageError("--http-token needs --http");
    checkHttpToken(httpToken);
  }
  return {
    http,
    httpToken,
    host,
    workers,
    ...tls,
    maxHandshakes,
    mode: mode as Mode,
    sendQueue,
    console: values.console,
    port: parseInteger(values.port, "port", 0, MAX_PORT),
    format: format as OutputFormat,
    node,
    label: label as LabelStyle,
    labelNode: values["label-node"],
    timestamp: values.timestamp,
    output: values.output,
    sink,
    maxLine,
    framing: framing as FramingChoice,
    drainTimeout: parseDuration(values["drain-timeout"], "drain-timeout"),
    backlog: parseInteger(values.backlog, "backlog", 1, MAX_BACKLOG),
    idleTimeout: parseDuration(values["idle-timeout"], "idle-timeout"),
    lineTimeout: parseDuration(values["line-timeout"], "line-timeout"),
    ack: values.ack,
    allow: values.allow.map((text) => parseCidr(text, "allow")),
    deny: values.deny.map((text) => parseCidr(text, "deny")),
    proxyProtocol: values["proxy-protocol"],
    proxyFrom,
    maxClients: parseInteger(values["max-clients"], "max-clients", 0, MAX_LIMIT),
    maxPerIp: parseInteger(values["max-per-ip"], "max-per-ip", 0, MAX_LIMIT),
    rateLimit: values["rate-limit"] === undefined
      ? undefined
      : parseRateLimit(values["rate-limit"]),
    help: values.help,
    version: values.version,
  };
}

/** Where `--http` listens. */
export interface HttpAddress {
  readonly host: string;
  readonly port: number;
}

/**
 * Reads `--http`: a port alone listens on this machine only
 * ({@linkcode DEFAULT_HTTP_HOST}); another address is named with it,
 * `HOST:PORT` or `[IPV6]:PORT`, so that a page open to the network is
 * always asked for in so many words.
 *
 * @example
 * ```ts
 * import { parseHttpAddress } from "./_server_flags.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(parseHttpAddress("8080"), { host: "127.0.0.1", port: 8080 });
 * assert.deepEqual(parseHttpAddress("0.0.0.0:8080"), { host: "0.0.0.0", port: 8080 });
 * assert.deepEqual(parseHttpAddress("[::1]:8080"), { host: "::1", port: 8080 });
 * ```
 */
export function parseHttpAddress(text: string): HttpAddress {
  const match = /^(?:\[([0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)\]|([^\s:\[\]\/]+))?:([0-9]+)$/.exec(text) ??
    /^()()([0-9]+)$/.exec(text);
  const port = Number(match?.[3]);
  const host = match?.[1] || match?.[2] || (text.includes(":") ? "" : DEFAULT_HTTP_HOST);
  if (match === null || host === "" || !(port >= 0 && port <= MAX_PORT)) {
    throw new UsageError(
      `Invalid --http "${text}": must be PORT (0 to ${MAX_PORT}, on ${DEFAULT_HTTP_HOST}) ` +
        "or HOST:PORT ([IPV6]:PORT), such as 8080 or 0.0.0.0:8080",
    );
  }
  return { host, port };
}

/** Longest `--http-token`. */
const MAX_HTTP_TOKEN = 256;

/** Checks `--http-token`: what a bearer token may hold (RFC 6750's
 * characters), so that it fits a header and a cookie as it is. The error
 * names the first character that cannot be in one, not the token. */
function checkHttpToken(token: string): void {
  if (token.length === 0 || token.length > MAX_HTTP_TOKEN) {
    throw new UsageError(
      `Invalid --http-token: must be 1 to ${MAX_HTTP_TOKEN} characters, not ${token.length}`,
    );
  }
  const bad = /[^A-Za-z0-9._~+\/=-]|=(?=[^=])/.exec(token);
  if (bad !== null) {
    throw new UsageError(
      `Invalid --http-token: ${JSON.stringify(token[bad.index])} at character ${
        bad.index + 1
      } cannot be in a bearer token; use A-Z a-z 0-9 - . _ ~ + / and = at the end`,
    );
  }
}

/** The default `--node`, from the host name: the name, and a note when it
 * had to be changed to be one; or why there is none. */
export type HostNode =
  | { readonly node: string; readonly note: string | null }
  | { readonly problem: string };

/**
 * The node name when `--node` is not given: the host name (`hostName`, or
 * null when the program may not read it), made a valid node name when it is
 * not one, which the note then says, since records would otherwise carry
 * a name nobody gave.
 *
 * @example
 * ```ts
 * import { nodeFromHostName } from "./_server_flags.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(nodeFromHostName("web-3"), { node: "web-3", note: null });
 * ```
 */
export function nodeFromHostName(hostName: string | null): HostNode {
  if (hostName === null) {
    return {
      problem: "Cannot name this node after the host name: reading it needs Deno's " +
        "--allow-sys=hostname; give --node NAME instead",
    };
  }
  const node = nodeNameFromHost(hostName);
  if (node === null) {
    return { problem: "Cannot name this node after the host name: it is empty; give --node NAME" };
  }
  const note = node === hostName ? null : `host name ${JSON.stringify(hostName)} is not a ` +
    `valid node name; using "${node}" (--node NAME sets another)`;
  return { node, note };
}

const RATE_LIMIT = /^([0-9]+)(?:\/s)?(?::([0-9]+))?$/;

/**
 * `--rate-limit LINES/s[:BURST]`: lines a second and how many may come at
 * once, each from 1 to 10,000,000; BURST is LINES (one second's worth) unless
 * given, and the `/s` may be left out (`200` is `200/s`).
 *
 * @example
 * ```ts
 * import { parseRateLimit } from "./_server_flags.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(parseRateLimit("200/s"), { lines: 200, burst: 200 });
 * assert.deepEqual(parseRateLimit("200/s:1000"), { lines: 200, burst: 1000 });
 * ```
 */
export function parseRateLimit(text: string): RateLimit {
  const match = RATE_LIMIT.exec(text);
  if (match === null) {
    throw new UsageError(
      `Invalid --rate-limit "${text}": must be LINES/s or LINES/s:BURST, such as 200/s or 200/s:1000`,
    );
  }
  const lines = Number(match[1]);
  const burst = match[2] === undefined ? lines : Number(match[2]);
  for (const [name, value] of [["LINES", lines], ["BURST", burst]] as const) {
    if (value < 1 || value > MAX_LIMIT) {
      throw new UsageError(
        `Invalid --rate-limit "${text}": ${name} must be an integer from 1 to ${MAX_LIMIT}`,
      );
    }
  }
  return { lines, burst };
}

/**
 * `--send-queue`: at least 64 KiB, and room for the longest line the server
 * may send back, `--max-line` plus a label. Not given, it is 1 MiB, raised
 * to that room when `--max-line` is longer, so that `--max-line` alone never
 * needs a `--send-queue` beside it. The rule holds in every mode: the
 * operator console talks back in log mode too.
 */
function parseSendQueue(text: string | undefined, maxLine: number, maxLineGiven: boolean): number {
  const room = maxLine + LABEL_ROOM;
  if (text === undefined) return Math.max(DEFAULT_SEND_QUEUE_BYTES, room);
  if (room <= MIN_SEND_QUEUE) {
    return parseInteger(text, "send-queue", MIN_SEND_QUEUE, MAX_SEND_QUEUE);
  }
  const maxLineSaid = `--max-line ${maxLine}${maxLineGiven ? "" : " (the default)"}`;
  return parseInteger(
    text,
    "send-queue",
    room,
    MAX_SEND_QUEUE,
    `room for ${maxLineSaid} plus ${LABEL_ROOM} bytes for a label`,
  );
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
