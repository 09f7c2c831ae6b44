/**
 * The live page's event stream (`GET /events`, Server-Sent Events):
 * {@linkcode LiveFeed} is shown a sample of the clients' lines (it is the
 * server's `LineSampler`) and sends each subscriber the lines it may show,
 * plus, every second, the state the page's table shows (`setState`).
 *
 * It must never cost the server more than a page can use, however many
 * lines arrive and however slow a browser is:
 *
 * - **Sampled.** Each subscriber may be shown `linesPerSecond` lines (in
 *   bursts of up to `burst`); while no subscriber has room for a client's
 *   lines, the sampler says so and that client's reads keep the fast path.
 *   The page says when it shows a sample.
 * - **Bounded per subscriber.** What waits to be sent to one is capped at
 *   `maxQueuedBytes`; a browser that does not read (stalled, or too slow)
 *   is dropped at the cap, as a slow reader is, and counted.
 * - **Nothing outlives a subscriber.** Its entry goes when its stream is
 *   cancelled (the browser left), errored (dropped) or closed (the feed
 *   closed); it has no timer or listener of its own. One shared ticker runs
 *   while anyone subscribes, and stops with the last.
 *
 * Every byte a peer sent is escaped before it is sent (`safeText`, as the
 * `text` output shows it), and again by the page, which sets `textContent`.
 *
 * @module
 */

import type { ClientInfo, LineSampler } from "../format/mod.ts";
import { safeString, safeText } from "../text/mod.ts";
import { PARTIAL, TRUNCATED } from "../wire/mod.ts";

/** Options for {@linkcode LiveFeed}. */
export interface LiveFeedOptions {
  /** Lines each subscriber is shown per second at most; more are sampled.
   * @default {100} */
  linesPerSecond?: number;
  /** Lines a subscriber may be shown at once after a quiet spell.
   * @default {200} */
  burst?: number;
  /** Most bytes waiting to be sent to one subscriber; past it, it is dropped.
   * @default {262144} */
  maxQueuedBytes?: number;
  /** Most subscribers at once; `subscribe` returns null beyond.
   * @default {16} */
  maxSubscribers?: number;
  /** Longest line shown, in bytes; longer lines are cut there for the page.
   * @default {1024} */
  maxLineBytes?: number;
  /** How often lines are sent, in milliseconds (one event per subscriber).
   * @default {200} */
  tickMs?: number;
  /** How often the state is sent, in milliseconds.
   * @default {1000} */
  stateMs?: number;
  /** Seconds without an event after which a comment is sent, so proxies
   * keep the connection.
   * @default {15} */
  keepAliveSeconds?: number;
  /** A clock in ms (tests give their own).
   * @default {Date.now} */
  now?: () => number;
}

/** One page following the feed. */
interface Subscriber {
  /** The client it follows, or null for all. */
  readonly client: number | null;
  readonly controller: ReadableStreamDefaultController<Uint8Array>;
  /** Lines it may still be shown before the next refill. */
  tokens: number;
  /** Lines (JSON) waiting for the next tick. */
  lines: string[];
  /** When it was last sent anything, for the keep-alive. */
  lastSentAt: number;
}

const encoder = new TextEncoder();

/** `value` if it is an integer from `min` up; else a RangeError naming it. */
function positive(name: string, value: number, min = 1): number {
  if (Number.isSafeInteger(value) && value >= min) return value;
  throw new RangeError(`Invalid ${name} "${value}": must be an integer >= ${min}`);
}

/** One SSE event: its name and one `data:` line (JSON has no newline). */
function sseEvent(name: string, data: string): Uint8Array {
  return encoder.encode(`event: ${name}\ndata: ${data}\n\n`);
}

/**
 * The live page's feed; see the module.
 *
 * @example
 * ```ts
 * import { LiveFeed } from "./live_feed.ts";
 * import assert from "node:assert/strict";
 *
 * const feed = new LiveFeed();
 * assert.equal(feed.wants(0), false); // nobody watches: reads keep the fast path
 * const stream = feed.subscribe(null);
 * assert.ok(stream !== null && feed.wants(0));
 * await stream.cancel();
 * assert.equal(feed.subscribers, 0);
 * ```
 */
export class LiveFeed implements LineSampler {
  readonly #linesPerSecond: number;
  readonly #burst: number;
  readonly #maxQueuedBytes: number;
  readonly #maxSubscribers: number;
  readonly #maxLineBytes: number;
  readonly #tickMs: number;
  readonly #stateMs: number;
  readonly #keepAliveMs: number;
  #state: (() => string | Promise<string>) | null = null;
  readonly #now: () => number;
  readonly #subscribers = new Set<Subscriber>();
  #ticker: ReturnType<typeof setInterval> | undefined;
  #lastRefill = 0;
  #lastState = 0;
  /** A state being made (it may be asynchronous): no second one meanwhile. */
  #makingState = false;
  #dropped = 0;
  #closed = false;

  constructor(options: LiveFeedOptions = {}) {
    this.#linesPerSecond = positive("linesPerSecond", options.linesPerSecond ?? 100);
    this.#burst = positive("burst", options.burst ?? 200);
    this.#maxQueuedBytes = positive("maxQueuedBytes", options.maxQueuedBytes ?? 262144, 1024);
    this.#maxSubscribers = positive("maxSubscribers", options.maxSubscribers ?? 16);
    this.#maxLineBytes = positive("maxLineBytes", options.maxLineBytes ?? 1024);
    this.#tickMs = positive("tickMs", options.tickMs ?? 200);
    this.#stateMs = positive("stateMs", options.stateMs ?? 1000);
    this.#keepAliveMs = positive("keepAliveSeconds", options.keepAliveSeconds ?? 15) * 1000;
    this.#now = options.now ?? Date.now;
  }

  /** Sets what the `state` event says (JSON, made once per send for every
   * subscriber): sent to each new subscriber, then to all every `stateMs`. */
  setState(make: () => string | Promise<string>): void {
    this.#state = make;
  }

  /** Pages following the feed now. */
  get subscribers(): number {
    return this.#subscribers.size;
  }

  /** Pages dropped so far for not reading their events. */
  get dropped(): number {
    return this.#dropped;
  }

  /**
   * A new subscriber's event stream, following client number `client` (null:
   * every client); null when {@linkcode LiveFeedOptions.maxSubscribers} are
   * following already, or the feed is closed. Cancelling the stream (the
   * response's connection closing does) ends the subscription.
   */
  subscribe(client: number | null): ReadableStream<Uint8Array> | null {
    if (this.#closed || this.#subscribers.size >= this.#maxSubscribers) return null;
    let subscriber: Subscriber | null = null;
    const stream = new ReadableStream<Uint8Array>({
      start: (controller) => {
        subscriber = {
          client,
          controller,
          tokens: this.#burst,
          lines: [],
          lastSentAt: this.#now(),
        };
      },
      cancel: () => {
        if (subscriber !== null) this.#remove(subscriber);
      },
    }, { highWaterMark: this.#maxQueuedBytes, size: (chunk) => chunk.byteLength });
    if (subscriber === null) return null;
    this.#subscribers.add(subscriber);
    // The page's reconnect delay, and a first comment so it knows at once
    // that the stream is open.
    this.#send(subscriber, encoder.encode("retry: 2000\n: linehub live feed\n\n"));
    if (this.#ticker === undefined) {
      this.#lastRefill = this.#now();
      this.#ticker = setInterval(() => this.#tick(), this.#tickMs);
    }
    if (this.#state !== null) void this.#sendState(subscriber);
    return stream;
  }

  /** Whether some subscriber may be shown a line of client `id` now. */
  wants(id: number): boolean {
    for (const subscriber of this.#subscribers) {
      if (subscriber.tokens > 0 && (subscriber.client === null || subscriber.client === id)) {
        return true;
      }
    }
    return false;
  }

  /** One line of `client`: to each subscriber following it that has room. */
  line(client: ClientInfo, line: Uint8Array, flags: number): void {
    let json: string | null = null;
    for (const subscriber of this.#subscribers) {
      if (subscriber.tokens <= 0) continue;
      if (subscriber.client !== null && subscriber.client !== client.id) continue;
      json ??= this.#lineJson(client, line, flags);
      subscriber.tokens--;
      subscriber.lines.push(json);
    }
  }

  /** Ends every subscription (their streams close) and the ticker. */
  close(): void {
    this.#closed = true;
    for (const subscriber of [...this.#subscribers]) {
      this.#remove(subscriber);
      try {
        subscriber.controller.close();
      } catch {
        // Already errored or closed.
      }
    }
  }

  /** A line as the page gets it: every string a peer controls escaped. */
  #lineJson(client: ClientInfo, line: Uint8Array, flags: number): string {
    const cut = line.length > this.#maxLineBytes;
    const shown = cut ? line.subarray(0, this.#maxLineBytes) : line;
    return JSON.stringify({
      client: client.id,
      ...(client.name === undefined ? {} : { name: safeString(client.name) }),
      time: this.#now(),
      text: safeText(shown),
      ...(flags & TRUNCATED ? { truncated: true } : {}),
      ...(flags & PARTIAL ? { partial: true } : {}),
      ...(cut ? { cut: line.length } : {}),
    });
  }

  #tick(): void {
    const now = this.#now();
    // Refilled by the time that passed, so a slow tick gives no extra lines.
    const refill = Math.floor((now - this.#lastRefill) * this.#linesPerSecond / 1000);
    if (refill > 0) this.#lastRefill = now;
    for (const subscriber of [...this.#subscribers]) {
      subscriber.tokens = Math.min(this.#burst, subscriber.tokens + refill);
      if (subscriber.lines.length > 0) {
        const lines = subscriber.lines;
        subscriber.lines = [];
        this.#send(subscriber, sseEvent("lines", `[${lines.join(",")}]`));
      } else if (now - subscriber.lastSentAt >= this.#keepAliveMs) {
        this.#send(subscriber, encoder.encode(": keep-alive\n\n"));
      }
    }
    if (this.#state !== null && now - this.#lastState >= this.#stateMs) {
      this.#lastState = now;
      void this.#sendState(null);
    }
  }

  /** Sends the state to `only`, or to every subscriber. */
  async #sendState(only: Subscriber | null): Promise<void> {
    if (this.#state === null || this.#makingState) return;
    this.#makingState = true;
    let data: string;
    try {
      data = await this.#state();
    } catch {
      // The page keeps its last state; the next tick tries again.
      return;
    } finally {
      this.#makingState = false;
    }
    const event = sseEvent("state", data);
    if (only !== null) {
      if (this.#subscribers.has(only)) this.#send(only, event);
      return;
    }
    for (const subscriber of [...this.#subscribers]) this.#send(subscriber, event);
  }

  /** Queues `bytes` to `subscriber`, or drops it if they would take its
   * queue past the cap: it has not been reading. */
  #send(subscriber: Subscriber, bytes: Uint8Array): void {
    const room = subscriber.controller.desiredSize ?? 0;
    if (bytes.byteLength > room) {
      this.#dropped++;
      this.#remove(subscriber);
      // Errored rather than closed: what it holds is let go at once, and
      // the response's connection is closed.
      subscriber.controller.error(new Error("live page too slow: dropped"));
      return;
    }
    subscriber.controller.enqueue(bytes);
    subscriber.lastSentAt = this.#now();
  }

  #remove(subscriber: Subscriber): void {
    if (!this.#subscribers.delete(subscriber)) return;
    subscriber.lines = [];
    if (this.#subscribers.size === 0) {
      clearInterval(this.#ticker);
      this.#ticker = undefined;
    }
  }
}
