/**
 * What the tests' real brokers (`RedisPeer`, `NatsPeer`) have in common: a
 * server program of the test's own on a free loopback port, with its data in
 * a temporary folder, that a test can kill as a crash would and start again
 * on the same port and folder, and that is removed, folder and all, when
 * disposed of. Each broker says how it is started and how it tells that it
 * is ready.
 *
 * @module
 */

import type { RunningProgram } from "./process.ts";

/** One broker process, started again as often as a test asks. */
export abstract class BrokerProcess implements AsyncDisposable {
  readonly port: number;
  readonly dir: string;
  #program: RunningProgram | null = null;

  protected constructor(port: number, dir: string) {
    this.port = port;
    this.dir = dir;
  }

  /** Starts the program on `port` and `dir`: the program, and what settles
   * once it says it is ready (or rejects if it ends first). */
  protected abstract launch(): { program: RunningProgram; ready: Promise<unknown> };

  /** The process's id, while it runs. */
  get pid(): number | undefined {
    return this.#program?.process.pid;
  }

  /** Whether it is running. */
  get running(): boolean {
    return this.#program !== null;
  }

  /** Starts it (again) on the same port and folder, and waits until it is
   * ready: what it had stored before is read back from its folder. */
  async restart(): Promise<void> {
    if (this.#program !== null) return;
    const { program, ready } = this.launch();
    this.#program = program;
    try {
      await ready;
    } catch (error) {
      await this.kill();
      throw error;
    }
  }

  /** Kills it with SIGKILL, as a crash would, and waits for it to end. */
  async kill(): Promise<void> {
    const program = this.#program;
    this.#program = null;
    await program?.stop("SIGKILL");
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.kill();
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}
