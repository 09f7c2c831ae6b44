/**
 * An append-only output file that can be reopened by name, for log rotation:
 * `mv out.log out.log.1`, then SIGHUP, and new lines go to a fresh
 * `out.log`. Writes in flight finish on the old file before it is closed.
 *
 * @module
 */

import type { ByteWriter } from "./batch_writer.ts";

/** A `ByteWriter` over a file opened for appending, reopenable by its path. */
export class ReopenableFile implements ByteWriter {
  readonly path: string;
  #file: Deno.FsFile;
  #inFlight = 0;
  #idle: PromiseWithResolvers<void> | null = null;

  private constructor(path: string, file: Deno.FsFile) {
    this.path = path;
    this.#file = file;
  }

  /** Opens `path` for appending, creating it if missing. */
  static async open(path: string): Promise<ReopenableFile> {
    return new ReopenableFile(path, await openForAppend(path));
  }

  async write(bytes: Uint8Array): Promise<number> {
    this.#inFlight++;
    try {
      return await this.#file.write(bytes);
    } finally {
      if (--this.#inFlight === 0) this.#idle?.resolve();
    }
  }

  /** Opens the path again and switches to it; closes the old file once its
   * writes in flight are done. Throws (and keeps the old file) if the path
   * cannot be opened. */
  async reopen(): Promise<void> {
    const next = await openForAppend(this.path);
    const old = this.#file;
    this.#file = next;
    while (this.#inFlight > 0) {
      this.#idle = Promise.withResolvers<void>();
      await this.#idle.promise;
    }
    this.#idle = null;
    await old.sync().catch(() => {});
    old.close();
  }

  /** Flushes the file's data to disk. */
  sync(): Promise<void> {
    return this.#file.sync();
  }

  close(): void {
    this.#file.close();
  }
}

function openForAppend(path: string): Promise<Deno.FsFile> {
  return Deno.open(path, { append: true, create: true });
}
