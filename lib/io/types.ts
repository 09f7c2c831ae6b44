/**
 * The shapes every part reads and writes through: a source of bytes, a
 * destination of bytes, and the two synchronous sinks the output goes
 * through. They live here, below the formatter, the server and the client,
 * so that each can name them without importing the others.
 *
 * @module
 */

/** What a reader reads from: `Deno.stdin`, a connection. */
export interface ByteReader {
  /** Reads into `buffer`; resolves with the count read, or null at the end. */
  read(buffer: Uint8Array): Promise<number | null>;
}

/** What a writer writes to: `Deno.stdout`, `Deno.stderr`, a `Deno.FsFile`. */
export interface ByteWriter {
  /** Writes some of `bytes`; resolves with how many. */
  write(bytes: Uint8Array): Promise<number>;
}

/** Where formatted output goes, synchronously: strings are written as UTF-8. */
export interface ChunkSink {
  write(chunk: string | Uint8Array): void;
}

/** A {@linkcode ChunkSink} that can also take a whole line in one call (the
 * output's fast path: one bounds check instead of four). */
export interface LineWriter extends ChunkSink {
  /** Writes `prefix`, `body`, `suffix` if given, and a newline. */
  writeLine(prefix: Uint8Array, body: Uint8Array, suffix?: Uint8Array | null): void;
}
