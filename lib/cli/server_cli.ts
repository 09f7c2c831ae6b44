/**
 * `linehub-server` as a function from arguments to an exit status: flags,
 * output file, signals, the start-up line and the summary. The protocol work
 * is in {@linkcode LineServer}.
 *
 * @module
 */

import { AccessList, formatHostPort, randomId, TlsFileError } from "../net/mod.ts";
import {
  BatchWriter,
  type ByteWriter,
  type RecordSink,
  ReopenableFile,
  SharedOutput,
} from "../io/mod.ts";
import {
  brokerFor,
  BrokerSink,
  DEFAULT_SINK_BACKOFF,
  DeliveryError,
  TeeSink,
} from "../sink/mod.ts";
import {
  countOf,
  describeError,
  isSpecialFileRefusal,
  UsageError,
  usageErrorText,
} from "../text/mod.ts";
import {
  type ConsoleContext,
  formatJsonStart,
  formatJsonStop,
  Hub,
  LineServer,
  ListenError,
  MAIN_OUTPUT_OWNER,
  runOperatorConsole,
  type Server,
  type ServerStats,
  summaryText,
  TlsAcceptor,
  type TlsAcceptorOptions,
  type TlsCredentials,
  totalsText,
  WorkerPool,
  workersUnavailableReason,
} from "../server/mod.ts";
import { HttpMonitor, LiveFeed, WriteLatency } from "../http/mod.ts";
import { nodeFromHostName, parseServerArgs, SERVER_USAGE } from "./_server_flags.ts";
import { httpSource } from "./_http_source.ts";
import { VERSION } from "./_version.ts";
import { listenForSignals, SAME_SIGNAL_MS } from "./_signal_listeners.ts";
import { readTlsCredentials, type TlsFiles, TlsReloader } from "./_tls_reloader.ts";

import {
  EXIT_CUT_OFF,
  EXIT_FAILURE,
  EXIT_OK,
  EXIT_OUTPUT,
  EXIT_SIGHUP,
  EXIT_SIGINT,
  EXIT_SIGTERM,
  EXIT_USAGE,
} from "./_exit_status.ts";

const PROGRAM = "linehub-server";
/** Bytes per write to the output, 16 times the writer's default: fewer,
 * larger writes into a pipe let the fan-in go 10-15% faster each time the
 * size went up (`deno task bench`, 2026-11-24: 64 KiB to 256 KiB cut the CPU
 * per line from 290-310 ns to 250-260 ns; 256 KiB to 1 MiB, with the fast
 * path, raised text from 6.8-7.2 to 7.6-8.3 M lines/s in three alternating
 * runs). The writer's pending limit stays 1 MiB. */
const OUTPUT_CHUNK_BYTES = 1048576;
/** Pause between two tries of a failed output write (a full disk). */
const OUTPUT_RETRY_MS = 1000;
const SIGNAL_EXIT: Record<string, number> = {
  SIGHUP: EXIT_SIGHUP,
  SIGINT: EXIT_SIGINT,
  SIGTERM: EXIT_SIGTERM,
};

/** Runs the server until a signal or a fatal error; returns the exit status. */
export async function runServerCli(args: string[]): Promise<number> {
  const stderr = new BatchWriter(Deno.stderr, { chunkSize: 4096 });
  // Last line of defence: every promise is meant to be awaited or caught, but
  // should one slip through, a single client must not bring the server down.
  const onUnhandled = (event: PromiseRejectionEvent): void => {
    event.preventDefault();
    stderr.write(`${PROGRAM}: internal error (kept running): ${describeError(event.reason)}\n`);
  };
  globalThis.addEventListener("unhandledrejection", onUnhandled);
  try {
    return await run(args, stderr);
  } catch (error) {
    stderr.write(`${PROGRAM}: internal error: ${describeError(error)}\n`);
    return EXIT_FAILURE;
  } finally {
    globalThis.removeEventListener("unhandledrejection", onUnhandled);
    await stderr.flush().catch(() => {});
  }
}

async function run(args: string[], stderr: BatchWriter): Promise<number> {
  let config;
  try {
    config = parseServerArgs(args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    stderr.write(usageErrorText(PROGRAM, error));
    return EXIT_USAGE;
  }
  if (config.help) {
    await Deno.stdout.write(new TextEncoder().encode(SERVER_USAGE));
    return EXIT_OK;
  }
  if (config.version) {
    await Deno.stdout.write(new TextEncoder().encode(`${PROGRAM} ${VERSION}\n`));
    return EXIT_OK;
  }
  let node = config.node;
  if (node === undefined) {
    const named = nodeFromHostName(readHostName());
    if ("problem" in named) {
      stderr.write(`${PROGRAM}: ${named.problem}\n`);
      return EXIT_FAILURE;
    }
    if (named.note !== null) stderr.write(`${PROGRAM}: ${named.note}\n`);
    node = named.node;
  }
  // Least privilege: the host name is all the system information it reads.
  Deno.permissions.revokeSync({ name: "sys" });

  // `-o /dev/stdout` means stdout: Deno would refuse to open the path
  // without --allow-all, a flag this program never takes.
  const stream = config.output === undefined
    ? Deno.stdout
    : STANDARD_STREAMS.get(config.output)?.stream ?? null;
  let file: ReopenableFile | null = null;
  if (stream === null && config.output !== undefined) {
    try {
      file = await ReopenableFile.open(config.output);
    } catch (error) {
      stderr.write(
        `${PROGRAM}: Cannot open output file "${config.output}": ${outputErrorText(error)}\n`,
      );
      return EXIT_FAILURE;
    }
  }
  let tlsOptions: TlsAcceptorOptions | undefined;
  const tlsFiles: TlsFiles | null = config.tlsCert !== undefined && config.tlsKey !== undefined
    ? { cert: config.tlsCert, key: config.tlsKey, clientCa: config.tlsClientCa }
    : null;
  if (tlsFiles !== null) {
    try {
      tlsOptions = {
        ...await readTlsCredentials(tlsFiles),
        maxHandshakes: config.maxHandshakes,
      };
    } catch (error) {
      if (!(error instanceof TlsFileError)) throw error;
      stderr.write(`${PROGRAM}: ${error.message}\n`);
      return EXIT_FAILURE;
    }
  }
  // Least privilege: writing to stdout, the server needs no file at all. With
  // --output it keeps write permission, to reopen the file on SIGHUP (Deno
  // cannot narrow a granted permission to one path at run time).
  if (file === null) Deno.permissions.revokeSync({ name: "write" });

  const fatal = Promise.withResolvers<number>();
  const streamName = config.output === undefined
    ? "stdout"
    : STANDARD_STREAMS.get(config.output)?.name;
  const where = streamName ?? `"${config.output}"`;
  // The output's handlers act on the server, which needs the output first.
  const hooks: { server?: Server } = {};
  // With Workers writing to stdout, each writes its own lines there, whole
  // lines at a time under one lock shared with this thread (see
  // WorkerPoolOptions.directOutput), rather than passing them through here.
  // Not with --sink: the broker's copy of the records is made in this thread.
  const directLock = config.workers > 1 && stream === Deno.stdout && config.sink === undefined
    ? SharedOutput.createLock()
    : null;
  const outputStream = directLock === null
    ? file ?? stream ?? Deno.stdout
    : new SharedOutput(Deno.stdout, directLock, MAIN_OUTPUT_OWNER);
  // With --http, the output's writes are timed for /metrics.
  const writes = config.http === undefined ? null : new WriteLatency(outputStream);
  const output = new BatchWriter(writes ?? outputStream, {
    chunkSize: OUTPUT_CHUNK_BYTES,
    // A file may get space back, or be reopened on SIGHUP; a closed stdout
    // (or any stdout failure) never comes back.
    retryAfter: (error) =>
      file !== null && !(error instanceof Deno.errors.BrokenPipe) ? OUTPUT_RETRY_MS : null,
    onStall(error): void {
      hooks.server?.pauseAccepting();
      stderr.write(
        `${PROGRAM}: Cannot write output to ${where}: ${describeError(error)}; ` +
          `holding ${countOf(output.pendingBytes, "byte")}, not accepting clients, ` +
          `retrying every ${OUTPUT_RETRY_MS / 1000} s (SIGHUP reopens the file)\n`,
      );
    },
    onResume(): void {
      stderr.write(`${PROGRAM}: output ${where} writable again\n`);
      if (hooks.server !== undefined && sink?.stalled !== true) {
        resumeAccepting(hooks.server, stderr);
      }
    },
    onError(error, lostBytes): void {
      const lost = lostBytes > 0
        ? `; ${countOf(lostBytes, "byte")} received ${lostBytes === 1 ? "was" : "were"} not written`
        : "";
      outputFailed(`${describeError(error)}${lost}`);
    },
  });
  /** The output failed for good, in this thread or in a Worker writing to it. */
  function outputFailed(detail: string): void {
    stderr.write(`${PROGRAM}: Cannot write output to ${where}: ${detail}\n`);
    fatal.resolve(EXIT_OUTPUT);
  }
  // A broker's stream, as a second destination: the same records, each
  // confirmed once both have it. While it cannot deliver, it holds the
  // server back as a full disk does.
  const sink = config.sink === undefined ? null : new BrokerSink(brokerFor(config.sink), {
    onStall(error): void {
      hooks.server?.pauseAccepting();
      stderr.write(
        `${PROGRAM}: ${sink?.name}: ${deliveryErrorText(error)}; ` +
          `holding ${countOf(sink?.pendingBytes ?? 0, "byte")} of records, not accepting ` +
          `clients, retrying with backoff (at most every ${DEFAULT_SINK_BACKOFF.maxMs / 1000} s)\n`,
      );
    },
    onResume(): void {
      stderr.write(`${PROGRAM}: ${sink?.name}: delivering again\n`);
      if (hooks.server !== undefined && !output.stalled) resumeAccepting(hooks.server, stderr);
    },
    onError(error, lost): void {
      stderr.write(
        `${PROGRAM}: ${sink?.name}: ${deliveryErrorText(error)}; ` +
          `${countOf(lost, "message")} received ${lost === 1 ? "was" : "were"} not delivered\n`,
      );
      fatal.resolve(EXIT_OUTPUT);
    },
  });
  const records: RecordSink = sink === null ? output : new TeeSink([output, sink]);
  // One id for the whole run, Workers included: the `run` of every JSON record.
  const run = randomId();
  const options = {
    host: config.host,
    port: config.port,
    format: config.format,
    run,
    node,
    label: config.label,
    labelNode: config.labelNode,
    timestamp: config.timestamp,
    maxLine: config.maxLine,
    framing: config.framing,
    drainTimeout: config.drainTimeout,
    backlog: config.backlog,
    idleTimeout: config.idleTimeout,
    lineTimeout: config.lineTimeout,
    ack: config.ack,
    ...(config.proxyProtocol ? { proxy: { from: config.proxyFrom } } : {}),
    ...(config.rateLimit === undefined ? {} : { rateLimit: config.rateLimit }),
  };
  // The modes and the console talk to clients through the hub; in log mode
  // without a console there is none, and the server sends clients nothing.
  // The console is read only when asked for, even on a terminal: a server
  // started in the background (`linehub-server > out.log &`) that read its
  // terminal would be stopped by the system (SIGTTIN) before it served
  // anyone, and Deno cannot tell whether the process is in the background.
  const useConsole = config.console;
  const hub = config.mode !== "log" || useConsole ? new Hub(config.mode) : null;
  // The live page's tail: a sample of the lines, from a server in this thread.
  const feed = config.http === undefined ? null : new LiveFeed();
  let server: Server;
  /** Has the server serve new TLS files (SIGHUP); null on a plain port. */
  let applyTls: ((credentials: TlsCredentials) => void | Promise<void>) | null = null;
  const workersUnavailable = config.workers > 1 ? workersUnavailableReason() : null;
  if (config.workers > 1 && workersUnavailable === null) {
    const pool = new WorkerPool(records, stderr, {
      ...options,
      workers: config.workers,
      allow: config.allow,
      deny: config.deny,
      maxClients: config.maxClients,
      maxPerIp: config.maxPerIp,
      ...(directLock === null
        ? {}
        : { directOutput: { lock: directLock, onOutputError: outputFailed } }),
      ...(tlsOptions === undefined ? {} : { tlsOptions }),
    });
    if (tlsOptions !== undefined) applyTls = (credentials) => pool.reloadTls(credentials);
    server = pool;
  } else {
    if (workersUnavailable !== null) {
      // The same output and guarantees from one thread: worth running.
      stderr.write(`${PROGRAM}: ${workersUnavailable}; running one listener\n`);
    }
    const tls = tlsOptions === undefined ? null : new TlsAcceptor(tlsOptions);
    if (tls !== null) applyTls = (credentials) => tls.reload(credentials);
    server = new LineServer(records, stderr, {
      ...options,
      ...(config.allow.length + config.deny.length > 0
        ? { accessList: new AccessList(config.allow, config.deny) }
        : {}),
      maxClients: config.maxClients,
      maxPerIp: config.maxPerIp,
      sendQueue: config.sendQueue,
      ...(tls === null ? {} : { tls }),
      ...(hub === null ? {} : { observer: hub }),
      ...(feed === null ? {} : { sampler: feed }),
    });
  }
  hooks.server = server;
  let addr: Deno.NetAddr;
  try {
    addr = await server.listen();
  } catch (error) {
    if (!(error instanceof ListenError)) throw error;
    stderr.write(`${PROGRAM}: ${error.message}\n`);
    return EXIT_FAILURE;
  }
  // Least privilege: the Workers are loaded, and without TLS nothing else is
  // ever read. With TLS the server keeps read permission, to read the TLS
  // files again on SIGHUP (Deno cannot narrow a granted permission to some
  // paths at run time).
  if (tlsFiles === null) Deno.permissions.revokeSync({ name: "read" });
  const startedAt = Date.now();
  // A pipeline sees where a run begins, before any client's first record.
  if (config.format === "json") {
    records.write(formatJsonStart({
      time: startedAt,
      run,
      node,
      version: VERSION,
      listen: formatHostPort(addr.hostname, addr.port),
    }));
  }
  const destination = config.output === undefined ? "stdout" : config.output;
  stderr.write(
    `${PROGRAM}: listening on ${formatHostPort(addr.hostname, addr.port)}` +
      ` (${
        [
          `${config.format} to ${destination}`,
          ...(sink === null ? [] : [`messages to ${sink.name}`]),
          ...(tlsOptions === undefined
            ? []
            : [tlsOptions.clientCa === undefined ? "TLS" : "TLS with client certificates"]),
          ...(config.proxyProtocol ? ["PROXY protocol"] : []),
          ...(config.mode === "log" ? [] : [`${config.mode} mode`]),
          ...(server instanceof WorkerPool ? [`${server.workers} workers`] : []),
          ...(useConsole ? ["console on stdin: /help"] : []),
        ].join(", ")
      })\n`,
  );
  if (config.proxyProtocol && config.proxyFrom.length === 0) {
    // The header is believed, and --allow, --deny and --max-per-ip judge
    // the address it names: without --proxy-from, anyone's.
    stderr.write(
      `${PROGRAM}: warning: --proxy-protocol without --proxy-from: any peer can claim ` +
        "any address; name the balancers with --proxy-from\n",
    );
  }

  let shutdown: Promise<ServerStats> | null = null;
  let monitor: HttpMonitor | null = null;
  if (config.http !== undefined && writes !== null) {
    const source = httpSource({
      server,
      output,
      writes,
      // A pool's lines reach this thread as written chunks, not lines.
      feed: server instanceof WorkerPool ? null : feed,
      node,
      run,
      version: VERSION,
      startedAt,
      workers: server instanceof WorkerPool ? server.workers : 1,
      draining: () => shutdown !== null,
      ...(sink === null ? {} : {
        sink: () => ({
          name: sink.name,
          up: !sink.stalled && !sink.failed,
          pendingBytes: sink.pendingBytes,
          delivered: sink.counts.delivered,
          resent: sink.counts.resent,
        }),
      }),
    });
    monitor = new HttpMonitor(source, {
      hostname: config.http.host,
      port: config.http.port,
      ...(config.httpToken === undefined ? {} : { token: config.httpToken }),
      ...(feed === null || server instanceof WorkerPool ? {} : { feed }),
      log: stderr,
    });
    try {
      const at = monitor.listen();
      stderr.write(
        `${PROGRAM}: live page, /metrics and /healthz on http://${
          formatHostPort(at.hostname, at.port)
        }/${config.httpToken === undefined ? "" : " (token required but on /healthz)"}\n`,
      );
    } catch (error) {
      if (!(error instanceof ListenError)) throw error;
      stderr.write(`${PROGRAM}: ${error.message}\n`);
      await server.shutdown();
      return EXIT_FAILURE;
    }
  }
  let giveUpTimer: ReturnType<typeof setTimeout> | undefined;
  let firstSignalAt = 0;
  let toldSame = false;
  let returned = false;
  const onSignal = (signal: Deno.Signal): void => {
    if (returned) return;
    if (shutdown !== null) {
      if (performance.now() - firstSignalAt < SAME_SIGNAL_MS) {
        if (!toldSame) {
          toldSame = true;
          stderr.write(
            `${PROGRAM}: ${signal} again within ${SAME_SIGNAL_MS} ms: taken as the same one; ` +
              "a later one exits at once\n",
          );
        }
        return;
      }
      stderr.write(`${PROGRAM}: ${signal} again: exiting without waiting for clients\n`);
      fatal.resolve(SIGNAL_EXIT[signal] ?? EXIT_FAILURE);
      return;
    }
    const connected = server.stats.connected;
    stderr.write(
      `${PROGRAM}: ${signal}: no longer accepting; waiting up to ${config.drainTimeout} s ` +
        `for ${countOf(connected, "connected client")}\n`,
    );
    firstSignalAt = performance.now();
    shutdown = server.shutdown();
    // The drain deadline bounds the wait for a stalled output too: what it
    // still holds then is reported as lost (exit 4), not waited for forever.
    giveUpTimer = setTimeout(() => records.giveUp(), config.drainTimeout * 1000);
  };
  const signals = listenForSignals(["SIGINT", "SIGTERM"], onSignal);
  const stopConsole = new AbortController();
  if (hub !== null && useConsole) {
    const context: ConsoleContext = {
      target: hub,
      statsText: () => totalsText(server.stats),
      now: () => Date.now(),
    };
    runOperatorConsole(Deno.stdin, context, (text) => stderr.write(text), stopConsole.signal)
      .catch((error) =>
        stderr.write(`${PROGRAM}: console stopped: Cannot read stdin: ${describeError(error)}\n`)
      );
  }
  // A terminal that closes sends SIGHUP too, and then stops being one: the
  // server stops as on SIGTERM rather than outlive it. Any other SIGHUP (a
  // log rotation's or a certificate renewal's `kill -HUP`) reopens the
  // output file and reads the TLS files again; with neither, it is ignored
  // rather than ending the server without its drain and summary.
  const terminals = [Deno.stdin, Deno.stdout, Deno.stderr].filter((io) => io.isTerminal());
  const reloader = tlsFiles === null || applyTls === null
    ? null
    : new TlsReloader(tlsFiles, applyTls, (line) => stderr.write(`${PROGRAM}: SIGHUP: ${line}\n`));
  const hangup = listenForSignals(["SIGHUP"], (signal) => {
    if (terminals.some((io) => !io.isTerminal())) {
      onSignal(signal);
      return;
    }
    if (file !== null) reopenOutput(file, stderr);
    void reloader?.reload();
    if (file === null && reloader === null) {
      stderr.write(`${PROGRAM}: SIGHUP: output is ${where}, no file to reopen; ignored\n`);
    }
  });
  try {
    const finished = server.serve().then(async () => {
      const stats = await (shutdown ?? server.shutdown());
      if (records.failed) return EXIT_OUTPUT;
      if (config.format === "json") {
        // After every client's last record: a run with a stop record ended
        // cleanly, one without did not get to finish.
        records.write(stopRecord({ run, node }, stats, startedAt));
        await records.flush().catch(() => {});
        if (records.failed) return EXIT_OUTPUT;
      }
      if (file !== null) {
        // The lines are written; make them durable before saying so.
        try {
          await file.sync();
        } catch (error) {
          stderr.write(`${PROGRAM}: Cannot sync "${config.output}": ${describeError(error)}\n`);
          return EXIT_OUTPUT;
        }
      }
      stderr.write(`${PROGRAM}: ${summaryText(stats)}\n`);
      if (sink !== null) stderr.write(`${PROGRAM}: ${sinkSummary(sink)}\n`);
      return stats.cutOff > 0 ? EXIT_CUT_OFF : EXIT_OK;
    });
    return await Promise.race([finished, fatal.promise]);
  } finally {
    clearTimeout(giveUpTimer);
    stopConsole.abort();
    await monitor?.close();
    returned = true;
    // After a signal, the listeners stay until the process exits: the task
    // runner's copy of a Ctrl-C can arrive after the drain ended, and with no
    // listener the runtime would die of it (130) instead of exiting with the
    // status just decided.
    if (shutdown === null) signals();
    hangup();
  }
}

/** This machine's host name, or null when the program may not read it.
 * Never asks for the permission: a prompt would stop a server started in
 * the background (as reading the terminal would, see `--console`), and would
 * wait for an answer nobody is there to give under a service manager. */
function readHostName(): string | null {
  const permission = { name: "sys", kind: "hostname" } as const;
  if (Deno.permissions.querySync(permission).state !== "granted") return null;
  return Deno.hostname();
}

/** Output paths that name the process's own stdout or stderr, written to
 * directly. */
const STANDARD_STREAMS: ReadonlyMap<string, { name: string; stream: ByteWriter }> = new Map([
  ["/dev/stdout", { name: "stdout", stream: Deno.stdout }],
  ["/dev/fd/1", { name: "stdout", stream: Deno.stdout }],
  ["/dev/stderr", { name: "stderr", stream: Deno.stderr }],
  ["/dev/fd/2", { name: "stderr", stream: Deno.stderr }],
]);

/** Why the output file cannot be opened (or reopened); for a device Deno
 * refuses, what to do instead. */
function outputErrorText(error: unknown): string {
  const text = describeError(error);
  return isSpecialFileRefusal(error) ? `${text}; redirect stdout there instead` : text;
}

/** Takes clients again after the output recovered; if the port cannot be
 * bound again, says so and tries again every second until it can. */
function resumeAccepting(server: Server, stderr: BatchWriter): void {
  try {
    server.resumeAccepting();
    if (!server.paused) stderr.write(`${PROGRAM}: accepting clients again\n`);
  } catch (error) {
    stderr.write(`${PROGRAM}: ${describeError(error)}; trying again in 1 s\n`);
    setTimeout(() => resumeAccepting(server, stderr), 1000);
  }
}

/** Reopens `file` by name (log rotation); a failed reopen is reported and
 * the old file kept. */
function reopenOutput(file: ReopenableFile, stderr: BatchWriter): void {
  file.reopen().then(
    () => stderr.write(`${PROGRAM}: SIGHUP: reopened "${file.path}"\n`),
    (error) =>
      stderr.write(
        `${PROGRAM}: SIGHUP: Cannot reopen "${file.path}", still writing to the old file: ` +
          `${outputErrorText(error)}\n`,
      ),
  );
}

/** Why a sink could not deliver: its own words (a sentence naming what
 * failed), or a system error in a few. */
function deliveryErrorText(error: unknown): string {
  return error instanceof DeliveryError ? error.message : describeError(error);
}

/** What the sink did, for the shutdown summary: messages delivered, and
 * those that may be in the stream twice. */
function sinkSummary(sink: BrokerSink): string {
  const { delivered, resent, unreadable, deduplicated } = sink.counts;
  const twice = deduplicated === undefined
    ? "possible duplicates"
    : `the broker dropped ${countOf(deduplicated, "duplicate")}`;
  const again = `${countOf(resent, "message")} sent again after a failure (${twice})`;
  return `${sink.name}: ${countOf(delivered, "message")} delivered` +
    (resent === 0 ? "" : `, ${again}`) +
    (unreadable === 0 ? "" : `, ${countOf(unreadable, "record")} not JSON, not delivered`);
}

/** The JSON `stop` record: the summary's totals, for a pipeline. */
function stopRecord(
  origin: { run: string; node: string },
  stats: ServerStats,
  startedAt: number,
): string {
  const now = Date.now();
  return formatJsonStop({
    time: now,
    ...origin,
    clients: stats.clients,
    lines: stats.lines,
    bytes: stats.bytes,
    truncated: stats.truncated,
    refused: stats.refusedDenied + stats.refusedFull + stats.refusedPerIp + stats.refusedTls +
      stats.refusedProxy,
    cutOff: stats.cutOff,
    dropped: stats.dropped,
    kicked: stats.kicked,
    throttled: stats.throttled,
    throttledMs: stats.throttledMs,
    framingErrors: stats.framingErrors,
    durationMs: now - startedAt,
  });
}
