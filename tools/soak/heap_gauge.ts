/**
 * Reads another Deno process's V8 heap from outside, through the inspector
 * it was started with (`deno run --inspect=127.0.0.1:0 ...`, which prints
 * `Debugger listening on ws://...` on stderr). The soak uses it to tell a
 * leak from allocator noise: the resident set size in `/proc` keeps pages
 * the allocator holds on to, whereas the heap in use after a full garbage
 * collection counts only what the program still references. The measured
 * program needs no code or flag of its own for this, so the soak measures
 * the server exactly as it ships.
 *
 * Close the gauge before the process is meant to exit: a Deno process with
 * an inspector session attached waits for it to disconnect.
 *
 * @module
 */

import { within } from "./_common.ts";

/** The inspector URL in a Deno process's stderr. */
export const INSPECTOR_URL = /Debugger listening on (ws:\/\/\S+)/;

/** How long one inspector call may take; a full collection of a small heap
 * takes milliseconds. */
const CALL_TIMEOUT_MS = 10_000;

/** Full collections before reading the heap: the second one frees what
 * finalizers and weak references let go of in the first. */
const COLLECTIONS = 2;

/** One inspector session, for heap readings. */
export class HeapGauge implements AsyncDisposable {
  readonly #socket: WebSocket;
  readonly #pending = new Map<number, PromiseWithResolvers<unknown>>();
  readonly #closed = Promise.withResolvers<void>();
  #nextId = 0;

  private constructor(socket: WebSocket) {
    this.#socket = socket;
    socket.onmessage = (event) => this.#receive(event.data);
    socket.onclose = () => {
      for (const call of this.#pending.values()) {
        call.reject(new Error("the inspector session closed"));
      }
      this.#pending.clear();
      this.#closed.resolve();
    };
  }

  /** Opens a session on the inspector at `url` (`ws://...`). */
  static async connect(url: string, timeoutMs: number): Promise<HeapGauge> {
    const socket = new WebSocket(url);
    const opened = new Promise<boolean>((resolve) => {
      socket.onopen = () => resolve(true);
      socket.onerror = () => resolve(false);
    });
    if (!(await within(opened, timeoutMs, false))) {
      socket.close();
      throw new Error(`Cannot open an inspector session on "${url}"`);
    }
    return new HeapGauge(socket);
  }

  /** Bytes of V8 heap in use after a full garbage collection. */
  async usedAfterGc(): Promise<number> {
    for (let i = 0; i < COLLECTIONS; i++) await this.#call("HeapProfiler.collectGarbage");
    const usage = await this.#call("Runtime.getHeapUsage");
    const used = isObject(usage) ? usage.usedSize : undefined;
    if (typeof used !== "number") {
      throw new Error(`Unexpected answer to Runtime.getHeapUsage: ${JSON.stringify(usage)}`);
    }
    return used;
  }

  /** Ends the session, so that the process can exit when it is told to. */
  async close(): Promise<void> {
    this.#socket.close();
    await within(this.#closed.promise, CALL_TIMEOUT_MS, undefined);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #call(method: string): Promise<unknown> {
    const id = ++this.#nextId;
    const call = Promise.withResolvers<unknown>();
    this.#pending.set(id, call);
    this.#socket.send(JSON.stringify({ id, method, params: {} }));
    const timedOut = Symbol("timed out");
    try {
      const result = await within<unknown>(call.promise, CALL_TIMEOUT_MS, timedOut);
      if (result === timedOut) {
        throw new Error(`No answer to ${method} within ${CALL_TIMEOUT_MS / 1000} s`);
      }
      return result;
    } finally {
      this.#pending.delete(id);
    }
  }

  /** Settles the call an answer is for; events (no id) are of no interest. */
  #receive(data: unknown): void {
    let message: unknown;
    try {
      message = JSON.parse(String(data));
    } catch {
      return; // not an answer; the call it was for times out and says so
    }
    if (!isObject(message) || typeof message.id !== "number") return;
    const call = this.#pending.get(message.id);
    if (call === undefined) return;
    if (isObject(message.error)) {
      call.reject(new Error(`Inspector error: ${String(message.error.message)}`));
    } else {
      call.resolve(message.result);
    }
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
