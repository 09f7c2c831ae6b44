/**
 * What `--http` reads from the running server: the {@linkcode MonitorSource}
 * the command line builds from its server, its output and the times it
 * keeps, so that lib/http needs to know nothing of how they are made.
 *
 * @module
 */

import process from "node:process";
import type { BatchWriter } from "../io/mod.ts";
import type { LiveFeed, MonitorSource, SinkSnapshot, WriteLatency } from "../http/mod.ts";
import type { Server } from "../server/mod.ts";

/** The parts of a running server that `--http` shows. */
export interface HttpSourceParts {
  readonly server: Server;
  readonly output: BatchWriter;
  /** The output's write times. */
  readonly writes: WriteLatency;
  /** The live page's feed; null where lines cannot be followed (Workers). */
  readonly feed: LiveFeed | null;
  readonly node: string;
  readonly run: string;
  readonly version: string;
  readonly startedAt: number;
  readonly workers: number;
  /** Whether a shutdown has begun. */
  readonly draining: () => boolean;
  /** The broker sink's state, once the server has one (`--sink`).
   * @default {none: no sink metrics} */
  readonly sink?: () => SinkSnapshot;
}

/** The server as `--http` reads it; each call reads the parts anew. */
export function httpSource(parts: HttpSourceParts): MonitorSource {
  const { server, output } = parts;
  const health = (): ReturnType<MonitorSource["health"]> => ({
    draining: parts.draining(),
    paused: server.paused,
    outputStalled: output.stalled,
    outputBacklogged: output.backlogged,
    outputWritten: output.position - output.pendingBytes,
  });
  return {
    node: parts.node,
    version: parts.version,
    stats: () => server.stats,
    clients: () => server.clients(),
    health,
    metrics: () => {
      const cpu = process.cpuUsage();
      const sink = parts.sink?.();
      return {
        version: parts.version,
        node: parts.node,
        run: parts.run,
        startedAt: parts.startedAt,
        workers: parts.workers,
        stats: server.stats,
        accepting: !server.paused && !parts.draining(),
        draining: parts.draining(),
        outputPendingBytes: output.pendingBytes,
        outputStalled: output.stalled,
        writeSeconds: parts.writes.snapshot(),
        residentBytes: Deno.memoryUsage().rss,
        cpuSeconds: (cpu.user + cpu.system) / 1e6,
        tailSubscribers: parts.feed?.subscribers ?? 0,
        tailDropped: parts.feed?.dropped ?? 0,
        ...(sink === undefined ? {} : { sink }),
      };
    },
  };
}
