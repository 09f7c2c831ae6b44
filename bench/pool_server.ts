/**
 * Bench-only entry: a {@linkcode WorkerPool} writing to stdout, for the
 * `--workers-scaling` scenario of bench/run.ts until `linehub-server` has a
 * `--workers` flag. Prints the same start-up line on stderr as the server
 * and stops on SIGINT or SIGTERM. Needs `--unstable-net` and read access to
 * lib/ (see lib/worker_pool.ts).
 *
 * Usage: deno run --allow-net --allow-read --unstable-net bench/pool_server.ts
 * [--host ADDR] [--port N] [--workers N] [--format text|json|raw]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { formatHostPort } from "../lib/address.ts";
import { BatchWriter } from "../lib/batch_writer.ts";
import { describeError } from "../lib/error_text.ts";
import { OUTPUT_FORMATS, type OutputFormat } from "../lib/output_format.ts";
import { WorkerPool } from "../lib/worker_pool.ts";

const PROGRAM = "pool_server";

async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      host: { type: "string", default: "127.0.0.1" },
      port: { type: "string", default: "0" },
      workers: { type: "string", default: String(navigator.hardwareConcurrency) },
      format: { type: "string", default: "text" },
    },
  });
  const format = values.format as OutputFormat;
  if (!OUTPUT_FORMATS.includes(format)) {
    console.error(`${PROGRAM}: Invalid format "${values.format}"`);
    return 2;
  }
  const stderr = new BatchWriter(Deno.stderr, { chunkSize: 4096 });
  const output = new BatchWriter(Deno.stdout, {
    onError: (error) => stderr.write(`${PROGRAM}: Cannot write stdout: ${describeError(error)}\n`),
  });
  let pool: WorkerPool;
  let addr: Deno.NetAddr;
  try {
    pool = new WorkerPool(output, stderr, {
      host: values.host,
      port: Number(values.port),
      workers: Number(values.workers),
      format,
    });
    addr = await pool.listen();
  } catch (error) {
    // The pool's own errors are sentences already; describeError is for system ones.
    const text = error instanceof Error ? error.message : describeError(error);
    stderr.write(`${PROGRAM}: ${text}\n`);
    await stderr.flush();
    return 1;
  }
  stderr.write(
    `${PROGRAM}: listening on ${formatHostPort(addr.hostname, addr.port)} ` +
      `(${format} to stdout, ${pool.workers} workers)\n`,
  );
  const stop = (): void => {
    pool.shutdown().catch(() => {});
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  await pool.serve();
  const stats = await pool.shutdown().catch(() => pool.stats);
  stderr.write(`${PROGRAM}: shut down: ${stats.clients} clients, ${stats.lines} lines\n`);
  Deno.removeSignalListener("SIGINT", stop);
  Deno.removeSignalListener("SIGTERM", stop);
  await stderr.flush().catch(() => {});
  return output.failed ? 4 : 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
