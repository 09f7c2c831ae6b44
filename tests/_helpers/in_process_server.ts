/**
 * A {@linkcode LineServer} or {@linkcode WorkerPool} serving on a loopback
 * port (port 0) in this process, its output and log kept in memory. Both are
 * started the same way and shut down when the test's scope ends:
 *
 * ```ts ignore
 * await using h = startLineServer({ maxLine: 8 });
 * using conn = await connectTo(h.port);
 * ```
 *
 * so a failing test still closes its connections, then its server, in that
 * order, without a try/finally of its own.
 *
 * @module
 */

import { BatchWriter, type BatchWriterOptions } from "../../lib/io/batch_writer.ts";
import type { ByteWriter } from "../../lib/io/types.ts";
import { LineServer } from "../../lib/server/line_server.ts";
import type { LineServerOptions } from "../../lib/server/server_options.ts";
import type { ServerStats } from "../../lib/server/stats.ts";
import { WorkerPool, type WorkerPoolOptions } from "../../lib/server/workers/pool.ts";
import { LogSink, MemoryWriter } from "./memory.ts";
import { withTimeout } from "./wait.ts";

/** How long a shutdown may take before it fails the test instead of hanging
 * it. */
const STOP_TIMEOUT_MS = 60_000;

/** A server under test, its output and log; disposing of it shuts it down. */
export interface ServerHarness<Server> extends AsyncDisposable {
  readonly server: Server;
  /** The server's output. */
  readonly output: BatchWriter;
  /** What the output has written, unless it was given a writer of its own. */
  readonly out: MemoryWriter;
  /** The server's log (stderr in the program). */
  readonly log: LogSink;
  /** The loopback port it listens on. */
  readonly port: number;
  /** Resolves once it has stopped accepting (closed its listeners, every
   * Worker's for a pool), after `stop` began. */
  readonly stoppedAccepting: Promise<void>;
  /** Shuts down once (later calls, and disposal, give the same result) and
   * waits for `serve` to end. */
  stop(): Promise<ServerStats>;
}

/** How the harness builds the server's output. */
export interface HarnessOptions {
  /** Where the output writes instead of `out`, e.g. a writer that stalls.
   * @default {out} */
  writer?: ByteWriter;
  /** The output's batching, e.g. a small `highWaterMark`.
   * @default {BatchWriter's own} */
  output?: BatchWriterOptions;
}

/** What LineServer and WorkerPool have in common, as the harness uses them. */
interface Servable {
  serve(): Promise<void>;
  shutdown(): Promise<ServerStats>;
}

function harness<Server extends Servable>(
  server: Server,
  port: number,
  parts: { output: BatchWriter; out: MemoryWriter; log: LogSink },
): ServerHarness<Server> {
  const serving = server.serve();
  let stopped: Promise<ServerStats> | null = null;
  const stop = (): Promise<ServerStats> =>
    stopped ??= withTimeout(server.shutdown(), STOP_TIMEOUT_MS, "the server to shut down")
      .then(async (stats) => {
        await serving;
        return stats;
      });
  return {
    server,
    ...parts,
    port,
    stoppedAccepting: serving,
    stop,
    async [Symbol.asyncDispose](): Promise<void> {
      await stop();
    },
  };
}

function outputParts(
  options: HarnessOptions,
): { output: BatchWriter; out: MemoryWriter; log: LogSink } {
  const out = new MemoryWriter();
  return {
    output: new BatchWriter(options.writer ?? out, options.output ?? {}),
    out,
    log: new LogSink(),
  };
}

/** Starts a LineServer on 127.0.0.1 (or `options.host`), port 0. */
export function startLineServer(
  options: LineServerOptions = {},
  harnessOptions: HarnessOptions = {},
): ServerHarness<LineServer> {
  const parts = outputParts(harnessOptions);
  const host = options.host ?? "127.0.0.1";
  const server = new LineServer(parts.output, parts.log, { ...options, host, port: 0 });
  const { port } = server.listen();
  return harness(server, port, parts);
}

/** Starts a WorkerPool, 2 Workers unless told, on 127.0.0.1, port 0. */
export async function startPool(
  options: WorkerPoolOptions = {},
  harnessOptions: HarnessOptions = {},
): Promise<ServerHarness<WorkerPool>> {
  const parts = outputParts(harnessOptions);
  const pool = new WorkerPool(parts.output, parts.log, {
    workers: 2,
    ...options,
    host: "127.0.0.1",
    port: 0,
  });
  const { port } = await pool.listen();
  return harness(pool, port, parts);
}
