/**
 * An append-only output file that can be reopened by name, for log rotation:
 * `mv out.log out.log.1`, then SIGHUP, and new lines go to a fresh
 * `out.log`. Writes in flight finish on the old file before it is closed.
 *
 * @module
 */

import type { ByteWriter } from "./types.ts";

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
    await syncUnlessSpecial(old).catch(() => {});
    old.close();
  }

  /** Flushes the file's data to disk. A pipe, FIFO or character device
   * (`>(gzip)`, `/dev/null`) has no disk behind it; for those this does
   * nothing, since what was written has already been handed to the reader. */
  sync(): Promise<void> {
    return syncUnlessSpecial(this.#file);
  }

  close(): void {
    this.#file.close();
  }
}

/** Syncs `file` if it is one that can be synced. The system answers a sync
 * of a pipe, FIFO, socket or character device with EINVAL ("does not support
 * synchronization"); that answer is the test, because asking what the file
 * is (`stat`) needs read permission, which the server gives up once started,
 * and a SIGHUP may reopen the path after that. */
async function syncUnlessSpecial(file: Deno.FsFile): Promise<void> {
  try {
    await file.sync();
  } catch (error) {
    if (!(error instanceof Error && "code" in error && error.code === "EINVAL")) throw error;
  }
}

function openForAppend(path: string): Promise<Deno.FsFile> {
  return Deno.open(path, { append: true, create: true });
}
