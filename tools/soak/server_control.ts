/**
 * The server the soak runs: started as a real process with the settings
 * the faults are planned around, killed with SIGKILL and restarted on the
 * same port, stopped with SIGTERM mid-stream and restarted, its output
 * rotated (rename, SIGHUP), and stopped at the end; one action at a time.
 * It keeps what the verdict needs: how each process ended, their stderr,
 * the peak RSS during the load and where a kill tore a record.
 *
 * @module
 */

import { DENO, describe, HOST, log, ROOT, sleep, within } from "./_common.ts";
import { EXIT_TIMEOUT_MS, track } from "./_children.ts";
import { readRssKiB } from "./read_rss_kib.ts";
import { ServerProcess } from "./server_process.ts";
import type { ServerExit } from "./verdict.ts";

/** The server's `--max-line`: small, so that lines at and over it are cheap. */
export const MAX_LINE = 4096;

/** The server's `--idle-timeout`, in seconds. */
export const IDLE_TIMEOUT_S = 2;

/** The server's default `--drain-timeout`, in seconds (the soak keeps it). */
export const DRAIN_TIMEOUT_S = 5;

/** How long a server may take to say it is listening. */
const STARTUP_TIMEOUT_MS = 20_000;

/** How long to wait for a restarted server's port to be free again. */
const BIND_TIMEOUT_MS = 10_000;

/** Tries at starting a server before the soak gives up on it. */
const START_ATTEMPTS = 5;

/** How long a rotation may take to be confirmed on stderr. */
const ROTATE_TIMEOUT_MS = 5_000;

/** Where the file that is out.jsonl at rotation `rotation` stood when a
 * SIGKILL left it without a final newline. */
export interface TornMark {
  readonly rotation: number;
  readonly offset: number;
}

/**
 * Starts, kills, restarts and rotates the server, one action at a time, and
 * keeps what the verdict needs: how each process ended, their stderr, the
 * peak RSS and where a kill tore a record.
 */
export class ServerControl {
  readonly outPath: string;
  port = 0;
  /** Bumped when the server goes down and again when it is back: odd while
   * it is down. A fault connection that saw it change is promised nothing. */
  epoch = 0;
  current: ServerProcess | null = null;
  readonly exits: ServerExit[] = [];
  readonly processes: ServerProcess[] = [];
  readonly tornMarks: TornMark[] = [];
  readonly errors: string[];
  rotations = 0;
  kills = 0;
  terms = 0;
  /** Exit statuses of the mid-run SIGTERMs. */
  readonly termCodes: number[] = [];
  peakRssKiB = 0;
  /** Set once the final stop began: an exit then is not restarted. */
  finishing = false;
  #generation = 0;
  #queue: Promise<unknown> = Promise.resolve();
  #sampler: ReturnType<typeof setInterval> | undefined;

  constructor(outPath: string, errors: string[]) {
    this.outPath = outPath;
    this.errors = errors;
  }

  /** The server's arguments, as the issue gives them, and an inspector on a
   * loopback port of the system's choosing, for the heap readings around the
   * churn (see heap_gauge.ts). */
  args(port: number): string[] {
    return [
      "run",
      "--allow-net",
      "--allow-write",
      "--allow-sys=hostname",
      `--inspect=${HOST}:0`,
      `${ROOT}server.ts`,
      ...["--host", HOST, "--port", String(port), "--ack"],
      ...["--idle-timeout", String(IDLE_TIMEOUT_S), "--max-line", String(MAX_LINE)],
      ...["--format", "json", "--output", this.outPath],
    ];
  }

  /** Runs `action` after every action queued before it. */
  serialize<T>(action: () => Promise<T>): Promise<T> {
    const result = this.#queue.then(action);
    this.#queue = result.catch(() => {});
    return result;
  }

  /** Starts the first server (port 0) and the RSS sampler. */
  async start(): Promise<void> {
    await this.serialize(() => this.#startOn(0));
    this.#sampler = setInterval(() => this.#sampleRss(), 1000);
  }

  stopSampling(): void {
    clearInterval(this.#sampler);
  }

  /** SIGKILL, then a new server on the same port. */
  kill(): Promise<void> {
    return this.serialize(async () => {
      const server = this.#stopCurrent("SIGKILL");
      if (server === null) return;
      this.kills++;
      await this.#awaitExit(server, EXIT_TIMEOUT_MS);
      await this.#markTorn();
      const began = performance.now();
      await this.#restart();
      log(
        `SIGKILL server ${server.generation}; server ${this.current?.generation} listening ` +
          `again ${Math.round(performance.now() - began)} ms later`,
      );
    });
  }

  /** SIGTERM while the steady clients are mid-stream (they are cut off at
   * the drain deadline and reconnect), then a new server on the same port. */
  term(): Promise<void> {
    return this.serialize(async () => {
      const server = this.#stopCurrent("SIGTERM");
      if (server === null) return;
      this.terms++;
      const exit = await this.#awaitExit(server, DRAIN_TIMEOUT_S * 1000 + EXIT_TIMEOUT_MS);
      if (exit !== null) this.termCodes.push(exit.code);
      await this.#restart();
      log(
        `SIGTERM server ${server.generation} (exit ${exit?.code ?? "none"}); ` +
          `server ${this.current?.generation} listening`,
      );
    });
  }

  /** Log rotation: move out.jsonl aside, SIGHUP, wait for the confirmation. */
  rotate(): Promise<void> {
    return this.serialize(async () => {
      const server = this.current;
      if (server === null || server.done) return;
      const before = server.reopens();
      const rotation = this.rotations + 1;
      await Deno.rename(this.outPath, `${this.outPath}.${rotation}`);
      this.rotations = rotation;
      server.signal("SIGHUP");
      const deadline = performance.now() + ROTATE_TIMEOUT_MS;
      while (server.reopens() === before && performance.now() < deadline && !server.done) {
        await sleep(20);
      }
      if (server.reopens() === before) {
        this.errors.push(`rotation ${rotation}: server did not confirm the SIGHUP reopen`);
      }
      log(`rotated the output to out.jsonl.${rotation}`);
    });
  }

  /** The final SIGTERM; resolves with how the server ended, or null if it
   * had to be killed. */
  async finalStop(): Promise<ServerExit | null> {
    return await this.serialize(async () => {
      this.finishing = true;
      const server = this.current;
      if (server === null) return null;
      if (server.done) return await server.exited;
      server.stoppedBy = "final";
      server.signal("SIGTERM");
      return await this.#awaitExit(server, DRAIN_TIMEOUT_S * 1000 + EXIT_TIMEOUT_MS);
    });
  }

  /** Every server's stderr, one after another. */
  stderrLog(): string {
    return this.processes.map((p) => `--- server ${p.generation}\n${p.stderr}`).join("");
  }

  /** Sends `signal` to the running server, if any, as a fault the soak
   * causes: the epoch moves, so the connections it cuts are promised
   * nothing, and its end is put down to the soak. */
  #stopCurrent(signal: "SIGKILL" | "SIGTERM"): ServerProcess | null {
    const server = this.current;
    if (server === null || server.done) return null;
    this.epoch++;
    server.stoppedBy = signal;
    server.signal(signal);
    return server;
  }

  async #awaitExit(server: ServerProcess, ms: number): Promise<ServerExit | null> {
    const exit = await within<ServerExit | null>(server.exited, ms, null);
    if (exit === null) {
      this.errors.push(`server ${server.generation} did not exit within ${ms / 1000} s`);
      server.signal("SIGKILL");
      await within(server.exited, EXIT_TIMEOUT_MS, null);
    }
    return exit;
  }

  async #restart(): Promise<void> {
    try {
      await this.#startOn(this.port);
    } finally {
      this.epoch++;
    }
  }

  /** Starts a server on `port` (0 the first time), retrying while the port
   * is not yet free. */
  async #startOn(port: number): Promise<void> {
    for (let attempt = 1;; attempt++) {
      if (port !== 0 && !(await waitBindable(port))) {
        throw new Error(`port ${port} still in use ${BIND_TIMEOUT_MS / 1000} s after a kill`);
      }
      const server = this.#spawn(port);
      try {
        const listeningPort = await within<number | null>(
          server.listening(),
          STARTUP_TIMEOUT_MS,
          null,
        );
        if (listeningPort === null) throw new Error("server did not start listening in time");
        if (port !== 0 && listeningPort !== port) {
          throw new Error(`server listens on ${listeningPort}, not on ${port}`);
        }
        this.port = listeningPort;
        this.current = server;
        return;
      } catch (error) {
        // A failed start is ours to end; it is not a crash of the server.
        server.stoppedBy = "SIGKILL";
        server.signal("SIGKILL");
        await within(server.exited, EXIT_TIMEOUT_MS, null);
        if (attempt >= START_ATTEMPTS) {
          throw new Error(`Cannot start the server on port ${port}: ${describe(error)}`);
        }
        log(`server start failed (${describe(error)}); trying again`);
        await sleep(500);
      }
    }
  }

  #spawn(port: number): ServerProcess {
    const child = new Deno.Command(DENO, {
      args: this.args(port),
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    track(child);
    const server = new ServerProcess(
      ++this.#generation,
      child,
      (exit, listened) => this.#onExit(exit, listened),
    );
    this.processes.push(server);
    return server;
  }

  #onExit(exit: ServerExit, listened: boolean): void {
    if (!listened) return; // a failed start: #startOn reports it
    this.exits.push(exit);
    if (exit.stoppedBy !== null) return;
    // Not ended by us: a crash. The verdict fails on it; restarting keeps the
    // soak going so that the rest of the report still says something.
    log(`server ${exit.generation} exited by itself (status ${exit.code}, ${exit.signal})`);
    if (this.finishing) return;
    this.epoch++;
    this.serialize(async () => {
      if (this.finishing || this.current?.generation !== exit.generation) return;
      await this.#restart();
    }).catch((error) => this.errors.push(`restart after a crash failed: ${describe(error)}`));
  }

  /** After a SIGKILL, notes whether out.jsonl ends mid-record. */
  async #markTorn(): Promise<void> {
    try {
      const file = await Deno.open(this.outPath);
      try {
        const size = (await file.stat()).size;
        if (size === 0) return;
        await file.seek(size - 1, Deno.SeekMode.Start);
        const last = new Uint8Array(1);
        await file.read(last);
        if (last[0] !== 10) {
          this.tornMarks.push({ rotation: this.rotations, offset: size });
          log(`the kill left out.jsonl without a final newline at byte ${size}`);
        }
      } finally {
        file.close();
      }
    } catch (error) {
      this.errors.push(`Cannot look at ${this.outPath} after a kill: ${describe(error)}`);
    }
  }

  #sampleRss(): void {
    const server = this.current;
    if (server === null || server.done) return;
    try {
      this.peakRssKiB = Math.max(this.peakRssKiB, readRssKiB(server.child.pid));
    } catch {
      // The process ended between the check and the read.
    }
  }
}

/** Waits until `port` can be bound on the loopback address again. */
async function waitBindable(port: number): Promise<boolean> {
  const deadline = performance.now() + BIND_TIMEOUT_MS;
  while (true) {
    try {
      Deno.listen({ hostname: HOST, port, transport: "tcp" }).close();
      return true;
    } catch (error) {
      if (!(error instanceof Deno.errors.AddrInUse)) throw error;
    }
    if (performance.now() > deadline) return false;
    await sleep(50);
  }
}
