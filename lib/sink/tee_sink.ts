/**
 * {@linkcode TeeSink}: the same records into several sinks at once (the
 * output file or stdout, and a broker), as one {@linkcode RecordSink}. A
 * record is confirmed once every sink has confirmed it, so `--ack` with an
 * output and a broker acknowledges a line only when both have it: at least
 * once means in every destination. Backpressure follows the slowest: the
 * tee is backlogged while any sink is, so no sink's buffer grows because
 * another is fast.
 *
 * @module
 */

import type { RecordSink } from "../io/mod.ts";

/** Several sinks as one; see the module's summary. */
export class TeeSink implements RecordSink {
  readonly #sinks: readonly RecordSink[];

  /** @param sinks the destinations, each given every record in order */
  constructor(sinks: readonly RecordSink[]) {
    if (sinks.length === 0) throw new RangeError("Invalid sinks: must name at least one");
    this.#sinks = sinks;
  }

  get backlogged(): boolean {
    return this.#sinks.some((sink) => sink.backlogged);
  }

  /** The most any one sink has pending. */
  get pendingBytes(): number {
    return Math.max(...this.#sinks.map((sink) => sink.pendingBytes));
  }

  get stalled(): boolean {
    return this.#sinks.some((sink) => sink.stalled);
  }

  get failed(): boolean {
    return this.#sinks.some((sink) => sink.failed);
  }

  write(chunk: string | Uint8Array): void {
    for (const sink of this.#sinks) sink.write(chunk);
  }

  writeLine(prefix: Uint8Array, body: Uint8Array, suffix: Uint8Array | null = null): void {
    for (const sink of this.#sinks) sink.writeLine(prefix, body, suffix);
  }

  drained(): Promise<void> {
    return all(this.#sinks.map((sink) => sink.drained()));
  }

  whenWritten(): Promise<void> {
    return all(this.#sinks.map((sink) => sink.whenWritten()));
  }

  flush(): Promise<void> {
    return all(this.#sinks.map((sink) => sink.flush()));
  }

  giveUp(): void {
    for (const sink of this.#sinks) sink.giveUp();
  }
}

/** Waits for every promise, even after one rejects (so none is left
 * unhandled), then rejects with the first failure, if any. */
async function all(promises: Promise<void>[]): Promise<void> {
  const results = await Promise.allSettled(promises);
  const failure = results.find((result) => result.status === "rejected");
  if (failure !== undefined) throw failure.reason;
}
