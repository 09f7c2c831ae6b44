/**
 * {@linkcode NodeSocketConn}: a `node:net`/`node:tls` socket seen as a
 * {@linkcode StreamConn}, so that code written against `Deno.Conn` reads and
 * writes a TLS connection made with `node:tls` (which, unlike Deno's own
 * TLS, can ask a client for its certificate, skip verification on request,
 * and name the server apart from the address).
 *
 * Received chunks wait in a queue capped at {@linkcode NodeSocketConnOptions.maxQueued}
 * bytes; at the cap the socket is paused, so a reader that stops reading
 * stops the peer through TCP, as with a `Deno.Conn`.
 *
 * @module
 */

import type { Duplex } from "node:stream";
import type { StreamConn } from "./stream_conn.ts";

/** Options for {@linkcode NodeSocketConn}. */
export interface NodeSocketConnOptions {
  /** Bytes received and not yet read beyond which the socket is paused.
   * @default {65536} */
  maxQueued?: number;
  /** Called by `close`, for a resource under the socket that must be closed
   * too (the `Deno.TcpConn` a server-side TLS socket runs over).
   * @default {nothing} */
  onClose?: () => void;
}

/** The stream a {@linkcode NodeSocketConn} wraps: a `node:net` or `node:tls` socket. */
export type NodeSocket = Duplex;

/** A `node:net`/`node:tls` socket as a {@linkcode StreamConn}. */
export class NodeSocketConn implements StreamConn {
  readonly remoteAddr: Deno.NetAddr;
  readonly #socket: NodeSocket;
  readonly #maxQueued: number;
  readonly #onClose: () => void;
  readonly #chunks: Uint8Array[] = [];
  #queued = 0;
  #ended = false;
  #failure: Error | null = null;
  #closed = false;
  #waiting: PromiseWithResolvers<void> | null = null;

  constructor(socket: NodeSocket, remoteAddr: Deno.NetAddr, options: NodeSocketConnOptions = {}) {
    this.#socket = socket;
    this.remoteAddr = remoteAddr;
    this.#maxQueued = options.maxQueued ?? 65536;
    this.#onClose = options.onClose ?? (() => {});
    socket.on("data", (chunk: Uint8Array) => {
      this.#chunks.push(chunk);
      this.#queued += chunk.length;
      if (this.#queued >= this.#maxQueued) socket.pause();
      this.#wake();
    });
    socket.on("end", () => {
      this.#ended = true;
      this.#wake();
    });
    socket.on("error", (error: Error) => {
      this.#failure ??= toDenoError(error);
      this.#wake();
    });
    socket.on("close", () => {
      // Closed without an end or an error: treat as the end of the stream.
      this.#ended = true;
      this.#wake();
    });
  }

  read(buffer: Uint8Array): Promise<number | null> {
    if (this.#chunks.length > 0) return Promise.resolve(this.#take(buffer));
    if (this.#closed) return Promise.reject(new Deno.errors.BadResource("Connection closed"));
    if (this.#failure !== null) return Promise.reject(this.#failure);
    if (this.#ended) return Promise.resolve(null);
    this.#waiting ??= Promise.withResolvers<void>();
    return this.#waiting.promise.then(() => this.read(buffer));
  }

  write(data: Uint8Array): Promise<number> {
    if (this.#closed) return Promise.reject(new Deno.errors.BadResource("Connection closed"));
    if (this.#failure !== null) return Promise.reject(this.#failure);
    const { promise, resolve, reject } = Promise.withResolvers<number>();
    // The callback comes once the bytes are handed on, which paces a writer
    // to the peer as a Deno.Conn's write does.
    this.#socket.write(data, (error?: Error | null) => {
      if (error) reject(toDenoError(error));
      else resolve(data.length);
    });
    return promise;
  }

  closeWrite(): Promise<void> {
    if (this.#closed) return Promise.reject(new Deno.errors.BadResource("Connection closed"));
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#socket.end(() => resolve());
    // A peer that went away never lets the end finish; that is not ours to wait for.
    this.#socket.once("close", () => resolve());
    return promise;
  }

  close(): void {
    if (this.#closed) throw new Deno.errors.BadResource("Connection already closed");
    this.#closed = true;
    this.#chunks.length = 0;
    this.#queued = 0;
    this.#socket.destroy();
    this.#onClose();
    this.#wake();
  }

  #take(buffer: Uint8Array): number {
    let n = 0;
    while (n < buffer.length && this.#chunks.length > 0) {
      const chunk = this.#chunks[0] as Uint8Array;
      const count = Math.min(chunk.length, buffer.length - n);
      buffer.set(chunk.subarray(0, count), n);
      n += count;
      if (count === chunk.length) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(count);
    }
    this.#queued -= n;
    if (this.#queued < this.#maxQueued && this.#socket.isPaused()) this.#socket.resume();
    return n;
  }

  #wake(): void {
    const waiting = this.#waiting;
    this.#waiting = null;
    waiting?.resolve();
  }
}

/** A node socket error as the `Deno.errors` class the rest of the code
 * tells apart (a reset, a broken pipe), keeping the message otherwise. */
export function toDenoError(error: Error): Error {
  const code = (error as { code?: unknown }).code;
  if (code === "ECONNRESET") return new Deno.errors.ConnectionReset(error.message);
  if (code === "EPIPE") return new Deno.errors.BrokenPipe(error.message);
  if (code === "ETIMEDOUT") return new Deno.errors.TimedOut(error.message);
  return error;
}
