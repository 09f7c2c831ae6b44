/**
 * A `server.ts` process with `--http`: started with the HTTP side on a free
 * loopback port, whose address is read from the line the server prints.
 *
 * @module
 */

import { type ServerProcess, startServer } from "./process.ts";

/** A server process and the base URL of its HTTP side. */
export interface HttpServerProcess {
  readonly server: ServerProcess;
  /** `http://127.0.0.1:PORT`, without a trailing slash. */
  readonly url: string;
}

const HTTP_LINE = /on (http:\/\/[^\s/]+)\//;

/** Starts `server.ts` with `args` and `--http 0` (unless `args` give
 * `--http`), and waits until its HTTP side is up. */
export async function startHttpServer(args: string[] = []): Promise<HttpServerProcess> {
  const full = args.some((arg) => arg === "--http" || arg.startsWith("--http="))
    ? args
    : [...args, "--http", "0"];
  const server = await startServer(full);
  try {
    await server.waitForStderr(HTTP_LINE);
  } catch (error) {
    await server.stop("SIGKILL");
    throw error;
  }
  const url = HTTP_LINE.exec(server.stderrSoFar())?.[1] ?? "";
  return { server, url };
}
