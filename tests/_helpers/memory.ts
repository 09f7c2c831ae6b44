/**
 * Bytes in memory: text to bytes and back, and stand-ins for the server's
 * output (a {@linkcode ByteWriter}) and log (a {@linkcode ChunkSink}) that
 * keep everything written, for tests to read.
 *
 * @module
 */

import type { ByteWriter, ChunkSink } from "../../lib/io/types.ts";
import { concatBytes } from "../../lib/io/concat_bytes.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Encodes text as UTF-8. */
export function bytes(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Joins byte arrays. */
export const concat = concatBytes;

/** A ByteWriter that keeps everything written to it, like a file in memory. */
export class MemoryWriter implements ByteWriter {
  #parts: Uint8Array[] = [];

  write(chunk: Uint8Array): Promise<number> {
    // Copied: the writer's caller reuses its buffers.
    this.#parts.push(chunk.slice());
    return Promise.resolve(chunk.length);
  }

  /** Everything written so far. */
  bytes(): Uint8Array {
    return concat(this.#parts);
  }

  /** Everything written so far, as UTF-8 text. */
  text(): string {
    return decoder.decode(this.bytes());
  }
}

/** A ChunkSink that keeps what it is given, like stderr in memory. */
export class LogSink implements ChunkSink {
  #text = "";

  write(chunk: string | Uint8Array): void {
    this.#text += typeof chunk === "string" ? chunk : decoder.decode(chunk);
  }

  /** Everything written so far. */
  text(): string {
    return this.#text;
  }

  /** The lines written so far, without their newlines, a disconnect's
   * duration (`, 0.0 s` at the end) shown as `, D s`: what a test can
   * compare exactly. */
  lines(): string[] {
    return this.#text.split("\n").filter((line) => line !== "").map((line) =>
      line.replace(/, \d+\.\d s$/, ", D s")
    );
  }
}

/**
 * A ByteWriter that takes nothing until released, like a paused pager: each
 * write is recorded as given at once and completes only after
 * {@linkcode HeldWriter.release}. What it was given shows how far the server
 * got; what it wrote, what came out once the output moved.
 */
export class HeldWriter implements ByteWriter {
  #gate = Promise.withResolvers<void>();
  #given: Uint8Array[] = [];
  #written: Uint8Array[] = [];

  async write(chunk: Uint8Array): Promise<number> {
    // Copied, as in MemoryWriter.
    const copy = chunk.slice();
    this.#given.push(copy);
    await this.#gate.promise;
    this.#written.push(copy);
    return chunk.length;
  }

  /** Lets every write, waiting or to come, complete. */
  release(): void {
    this.#gate.resolve();
  }

  /** Everything handed to it so far, written or still held, as text. */
  givenText(): string {
    return decoder.decode(concat(this.#given));
  }

  /** Everything it has written (after `release`), as text. */
  writtenText(): string {
    return decoder.decode(concat(this.#written));
  }
}
