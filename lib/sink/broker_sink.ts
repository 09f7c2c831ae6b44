/**
 * {@linkcode BrokerSink}: a {@linkcode RecordSink} whose records go to a log
 * broker's stream instead of a file, with the guarantees the file has.
 *
 * It is a {@linkcode BatchWriter} over the broker, so it behaves as the
 * output does: records gather in chunks, one chunk at a time is in flight
 * (one batch, pipelined to the broker), more than `highWaterMark` pending
 * makes it backlogged and the server stops reading its clients. A chunk
 * counts as written only once the broker has confirmed every message in it,
 * so `whenWritten` (what `--ack` waits for) means "the broker confirmed".
 *
 * A failed batch is a stall, as a full disk is: the sink keeps the batch,
 * tries again after a backoff (lib/net/backoff.ts, reconnecting as it
 * goes), and sends only the messages not yet confirmed. Those that were
 * sent but not confirmed when the connection broke may have been stored,
 * so sending them again may store them twice: they are counted
 * (`resent`), never hidden. `giveUp` (the drain deadline) ends the stall,
 * and every message still held is counted as lost (`onError`).
 *
 * @module
 */

import { BatchWriter, type ByteWriter, type RecordSink, type RecordSinkEvents } from "../io/mod.ts";
import { backoffDelay, type BackoffOptions } from "../net/mod.ts";
import { type Broker, DeliveryError } from "./broker.ts";
import { MessageSplitter, type SinkMessage } from "./message_splitter.ts";

/** Options for {@linkcode BrokerSink}. */
export interface BrokerSinkOptions extends RecordSinkEvents {
  /** Bytes of records gathered into one batch: the most in flight to the
   * broker at once (about 1,000 messages of 100-byte lines).
   * @default {262144} */
  batchBytes?: number;
  /** Pending bytes (in flight included) above which the sink is
   * backlogged and the server stops reading its clients.
   * @default {1048576} */
  highWaterMark?: number;
  /** Waits between attempts after a failure, from `baseMs`, doubling up to
   * `maxMs`, with jitter; either may be left out.
   * @default {{ baseMs: 200, maxMs: 5000 }} */
  backoff?: BackoffOptions;
  /** Random source of the backoff's jitter, numbers in [0, 1).
   * @default {Math.random} */
  random?: () => number;
}

/** Default size of one batch. */
export const DEFAULT_BATCH_BYTES = 262144;
/** Default backoff: a broker restarting is back within seconds, and a sink
 * that waited 30 s as the client may would hold its clients that long. */
export const DEFAULT_SINK_BACKOFF: Readonly<Required<BackoffOptions>> = {
  baseMs: 200,
  maxMs: 5000,
};

/** Why a batch in flight failed when the sink gave up on it: the broker
 * was still working on it, or silent, not gone. */
const GAVE_UP = "Gave up waiting for the broker to confirm a batch";

/** What a {@linkcode BrokerSink} has done so far. */
export interface BrokerSinkCounts {
  /** Messages the broker confirmed. */
  readonly delivered: number;
  /** Messages sent again after a failure had left them unconfirmed: each
   * may be in the stream twice. */
  readonly resent: number;
  /** Records that were not JSON (none from linehub's formatter). */
  readonly unreadable: number;
  /** Messages the broker dropped as already stored (NATS JetStream, by
   * `Nats-Msg-Id`), or undefined for a broker that does not. */
  readonly deduplicated: number | undefined;
}

/** The batch being delivered: its messages, how many the broker has
 * confirmed and how many were sent at least once, from the first. */
interface Batch {
  readonly messages: readonly SinkMessage[];
  confirmed: number;
  sent: number;
}

/** Records into a broker's stream; see the module's summary. */
export class BrokerSink implements RecordSink {
  readonly #broker: Broker;
  readonly #writer: BatchWriter;
  readonly #splitter = new MessageSplitter();
  readonly #backoff: BackoffOptions;
  readonly #random: () => number;
  #batch: Batch | null = null;
  /** Failed attempts in a row, for the backoff. */
  #attempt = 0;
  #givingUp = false;
  #delivered = 0;
  #resent = 0;

  constructor(broker: Broker, options: BrokerSinkOptions = {}) {
    this.#broker = broker;
    this.#backoff = { ...DEFAULT_SINK_BACKOFF, ...options.backoff };
    this.#random = options.random ?? Math.random;
    // Checked now (a RangeError naming the value), not at the first outage.
    backoffDelay(0, () => 0, this.#backoff);
    const brokerWriter: ByteWriter = { write: (bytes) => this.#deliver(bytes) };
    this.#writer = new BatchWriter(brokerWriter, {
      chunkSize: options.batchBytes ?? DEFAULT_BATCH_BYTES,
      highWaterMark: options.highWaterMark ?? 1048576,
      retryAfter: () =>
        this.#givingUp ? null : backoffDelay(this.#attempt++, this.#random, this.#backoff),
      ...(options.onStall === undefined ? {} : { onStall: options.onStall }),
      onResume: () => {
        this.#attempt = 0;
        options.onResume?.();
      },
      onError: (error, _bytes, unwritten) => {
        this.#broker.close();
        options.onError?.(error, this.#lostIn(unwritten));
      },
    });
  }

  /** The stream, as a URL without credentials. */
  get name(): string {
    return this.#broker.name;
  }

  /** What the sink has done so far. */
  get counts(): BrokerSinkCounts {
    return {
      delivered: this.#delivered,
      resent: this.#resent,
      unreadable: this.#splitter.unreadable,
      deduplicated: this.#broker.duplicates,
    };
  }

  get backlogged(): boolean {
    return this.#writer.backlogged;
  }

  get pendingBytes(): number {
    return this.#writer.pendingBytes;
  }

  get stalled(): boolean {
    return this.#writer.stalled;
  }

  get failed(): boolean {
    return this.#writer.failed;
  }

  write(chunk: string | Uint8Array): void {
    this.#writer.write(chunk);
  }

  writeLine(prefix: Uint8Array, body: Uint8Array, suffix: Uint8Array | null = null): void {
    this.#writer.writeLine(prefix, body, suffix);
  }

  drained(): Promise<void> {
    return this.#writer.drained();
  }

  whenWritten(): Promise<void> {
    return this.#writer.whenWritten();
  }

  flush(): Promise<void> {
    return this.#writer.flush();
  }

  /** Stops retrying, and cuts a batch in flight short: the broker may not
   * be answering at all. */
  giveUp(): void {
    this.#givingUp = true;
    this.#writer.giveUp();
    this.#broker.close(GAVE_UP);
  }

  /**
   * The writer's one write: delivers the messages among `bytes` and returns
   * once the broker confirmed them all. A failure leaves the batch in
   * place, and the writer tries the same bytes again (after a backoff): the
   * batch is then taken up where the broker left it, not read again.
   */
  async #deliver(bytes: Uint8Array): Promise<number> {
    const batch = this.#batch ??= { messages: this.#splitter.push(bytes), confirmed: 0, sent: 0 };
    // Messages go out in batches of whole records; a chunk with none
    // (events, or the start of a long record) is done at once.
    const start = batch.confirmed;
    if (start < batch.messages.length) {
      const rest = start === 0 ? batch.messages : batch.messages.slice(start);
      let confirmed = rest.length;
      let sent = rest.length;
      try {
        await this.#broker.deliver(rest);
      } catch (error) {
        // Not knowing how far it got, count them all as sent, none confirmed.
        confirmed = error instanceof DeliveryError ? error.confirmed : 0;
        sent = error instanceof DeliveryError ? error.sent : rest.length;
        // Progress is not a failure in a row.
        if (confirmed > 0) this.#attempt = 0;
        throw error;
      } finally {
        // Those sent now that an earlier attempt had sent too may be stored twice.
        this.#resent += Math.max(0, Math.min(batch.sent, start + sent) - start);
        batch.sent = Math.max(batch.sent, start + sent);
        batch.confirmed += confirmed;
        this.#delivered += confirmed;
      }
    }
    this.#batch = null;
    return bytes.length;
  }

  /** Messages among what the writer could not deliver: the rest of the
   * batch in flight, whose bytes come first, and those not yet read. */
  #lostIn(unwritten: readonly Uint8Array[]): number {
    const batch = this.#batch;
    let lost = 0;
    let from = 0;
    if (batch !== null) {
      lost = batch.messages.length - batch.confirmed;
      from = 1;
    }
    for (let i = from; i < unwritten.length; i++) {
      lost += this.#splitter.count(unwritten[i] as Uint8Array);
    }
    this.#batch = null;
    return lost;
  }
}
