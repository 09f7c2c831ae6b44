/**
 * One server process as the soak sees it: its stderr (kept, and read for
 * the port it listens on and its inspector's address), who stopped it, and
 * how it ended. Starting, restarting and signalling it in order is
 * `ServerControl`'s part (server_control.ts).
 *
 * @module
 */

import { INSPECTOR_URL } from "./heap_gauge.ts";
import type { ServerExit } from "./verdict.ts";

/** Most server stderr kept per process; it is small unless something is wrong. */
const MAX_SERVER_STDERR = 1 << 20;

/** The start-up line on stderr, and the port in it. */
const LISTENING = /listening on (?:\[[^\]]+\]|[^\s:]+):(\d+)/;

/** One server process. */
export class ServerProcess {
  readonly generation: number;
  readonly child: Deno.ChildProcess;
  stderr = "";
  stoppedBy: ServerExit["stoppedBy"] = null;
  /** Whether it said it was listening: one that never did failed to start,
   * which the start-up retries deal with. */
  listened = false;
  /** Where its inspector listens, once it said so: the heap is read there. */
  inspectorUrl: string | null = null;
  done = false;
  readonly exited: Promise<ServerExit>;
  readonly #listening = Promise.withResolvers<number>();

  constructor(
    generation: number,
    child: Deno.ChildProcess,
    onExit: (exit: ServerExit, listened: boolean) => void,
  ) {
    this.generation = generation;
    this.child = child;
    this.#listening.promise.catch(() => {});
    const reading = (async () => {
      const textDecoder = new TextDecoder();
      for await (const chunk of child.stderr) {
        if (this.stderr.length < MAX_SERVER_STDERR) {
          this.stderr += textDecoder.decode(chunk, { stream: true });
        }
        this.inspectorUrl ??= INSPECTOR_URL.exec(this.stderr)?.[1] ?? null;
        const match = LISTENING.exec(this.stderr);
        if (match !== null) {
          this.listened = true;
          this.#listening.resolve(Number(match[1]));
        }
      }
    })().catch(() => {});
    this.exited = child.status.then(async (status) => {
      await reading;
      this.done = true;
      this.#listening.reject(
        new Error(`server exited before listening: ${this.stderr.trim() || "(no stderr)"}`),
      );
      const exit: ServerExit = {
        generation: this.generation,
        stoppedBy: this.stoppedBy,
        code: status.code,
        signal: status.signal,
      };
      onExit(exit, this.listened);
      return exit;
    });
  }

  /** The port, once the server says it is listening. */
  listening(): Promise<number> {
    return this.#listening.promise;
  }

  /** How many times the server confirmed a SIGHUP reopen. */
  reopens(): number {
    return this.stderr.split("SIGHUP: reopened").length - 1;
  }

  signal(signal: Deno.Signal): void {
    try {
      this.child.kill(signal);
    } catch {
      // Already gone; its exit says how.
    }
  }
}
