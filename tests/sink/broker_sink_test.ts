/**
 * Unit tests for {@linkcode BrokerSink} against a broker in memory that the
 * test can hold, take down, or have fail halfway through a batch, so every
 * outcome is chosen by the test rather than by timing: what `--ack` waits
 * for, what is sent again and counted, what backpressure holds back, and
 * what is counted as lost when the sink gives up.
 */

import assert from "node:assert/strict";
import {
  type Broker,
  BrokerSink,
  type BrokerSinkOptions,
  DeliveryError,
  type SinkMessage,
} from "../../lib/sink/mod.ts";
import { waitFor } from "../_helpers/mod.ts";

/** A broker in memory. */
class FakeBroker implements Broker {
  readonly name = "fake://stream";
  /** The text of every message stored, in order, duplicates included. */
  readonly stored: string[] = [];
  /** Messages per call to deliver. */
  readonly deliveries: number[] = [];
  /** While true, deliver fails as a refused connect would. */
  down = false;
  /** Once: store this many messages of the next batch, confirm one fewer
   * (the last stored is lost with the connection), then fail. */
  breakAfter: number | null = null;
  /** While set, deliver waits for it (a broker that does not answer). */
  #hold: PromiseWithResolvers<void> | null = null;
  closes = 0;

  hold(): void {
    this.#hold = Promise.withResolvers<void>();
  }

  release(): void {
    this.#hold?.resolve();
    this.#hold = null;
  }

  async deliver(messages: readonly SinkMessage[]): Promise<void> {
    this.deliveries.push(messages.length);
    if (this.down) {
      throw new DeliveryError("Cannot connect: connection refused", "connection", 0, 0);
    }
    if (this.#hold !== null) await this.#hold.promise;
    const stop = this.breakAfter;
    if (stop !== null) {
      this.breakAfter = null;
      for (const message of messages.slice(0, stop)) this.stored.push(textOf(message));
      throw new DeliveryError("Connection lost: reset", "connection", stop - 1, messages.length);
    }
    for (const message of messages) this.stored.push(textOf(message));
  }

  close(reason = "Connection lost: closed"): void {
    this.closes++;
    this.#hold?.reject(new DeliveryError(reason, "connection", 0, 0));
    this.#hold = null;
  }
}

function textOf(message: SinkMessage): string {
  const at = message.fields.indexOf("text");
  return message.fields[at + 1] as string;
}

/** The JSON record of message `seq` of client 0. */
function record(seq: number): string {
  return `{"time":"t","type":"message","run":"r","client":0,"seq":${seq},"text":"line ${seq}"}\n`;
}

/** Events reported by a sink, in order. */
interface Reports {
  events: string[];
  lost: number[];
}

function sinkFor(broker: Broker, options: BrokerSinkOptions = {}): [BrokerSink, Reports] {
  const reports: Reports = { events: [], lost: [] };
  const sink = new BrokerSink(broker, {
    backoff: { baseMs: 1, maxMs: 5 },
    onStall: (error) => reports.events.push(`stall: ${(error as Error).message}`),
    onResume: () => reports.events.push("resume"),
    onError: (_error, lost) => reports.lost.push(lost),
    ...options,
  });
  return [sink, reports];
}

Deno.test("BrokerSink confirms records only once the broker has stored their messages", async () => {
  const broker = new FakeBroker();
  const [sink] = sinkFor(broker);
  broker.hold();
  for (let seq = 1; seq <= 3; seq++) sink.write(record(seq));
  let confirmed = false;
  const written = sink.whenWritten().then(() => confirmed = true);
  await waitFor("the batch to reach the broker", () => broker.deliveries.length === 1);
  assert.equal(confirmed, false, "confirmed before the broker answered");
  broker.release();
  await written;
  assert.deepEqual(broker.stored, ["line 1", "line 2", "line 3"]);
  assert.deepEqual(sink.counts, {
    delivered: 3,
    resent: 0,
    unreadable: 0,
    deduplicated: undefined,
  });
});

Deno.test("BrokerSink passes events over: a chunk without messages costs the broker nothing", async () => {
  const broker = new FakeBroker();
  const [sink] = sinkFor(broker);
  sink.write('{"time":"t","type":"start","run":"r"}\n{"type":"connect","run":"r","client":0}\n');
  await sink.flush();
  assert.deepEqual(broker.deliveries, []);
});

Deno.test("BrokerSink resends only what the broker did not confirm after a lost connection, and counts it", async () => {
  const broker = new FakeBroker();
  const [sink, reports] = sinkFor(broker);
  broker.breakAfter = 4; // stores 4 of 6, confirms 3
  for (let seq = 1; seq <= 6; seq++) sink.write(record(seq));
  await sink.flush();
  // Message 4 was stored, but its confirmation was lost with the
  // connection: it is sent again, and is in the stream twice.
  assert.deepEqual(broker.stored, [1, 2, 3, 4, 4, 5, 6].map((seq) => `line ${seq}`));
  assert.deepEqual(broker.deliveries, [6, 3]);
  assert.deepEqual(sink.counts, {
    delivered: 6,
    resent: 3,
    unreadable: 0,
    deduplicated: undefined,
  });
  assert.deepEqual(reports.events, ["stall: Connection lost: reset", "resume"]);
});

Deno.test("BrokerSink holds records while the broker is down, backlogged, and delivers them all once it is back", async () => {
  const broker = new FakeBroker();
  const [sink, reports] = sinkFor(broker, { batchBytes: 256, highWaterMark: 1024 });
  broker.down = true;
  let seq = 0;
  // Write as a server would: until the sink says to stop.
  while (!sink.backlogged && seq < 1000) sink.write(record(++seq));
  assert.ok(sink.backlogged, "never backlogged");
  assert.ok(seq < 1000);
  await waitFor("the sink to stall", () => sink.stalled);
  let drained = false;
  const draining = sink.drained().then(() => drained = true);
  await waitFor("a few attempts", () => broker.deliveries.length >= 3);
  assert.equal(drained, false, "drained while the broker was down");
  assert.ok(sink.pendingBytes >= 1024);
  broker.down = false;
  await draining;
  await sink.flush();
  assert.deepEqual(broker.stored, Array.from({ length: seq }, (_, i) => `line ${i + 1}`));
  assert.deepEqual(reports.events, ["stall: Cannot connect: connection refused", "resume"]);
  assert.equal(sink.counts.resent, 0, "nothing had been sent: nothing may be twice");
});

Deno.test("BrokerSink giveUp() during an outage counts every message not confirmed as lost", async () => {
  const broker = new FakeBroker();
  const [sink, reports] = sinkFor(broker, {
    batchBytes: 256,
    backoff: { baseMs: 60_000, maxMs: 60_000 },
  });
  broker.down = true;
  for (let seq = 1; seq <= 10; seq++) sink.write(record(seq));
  // Events in between are not messages, and are not counted as such.
  sink.write('{"type":"disconnect","run":"r","client":0}\n');
  await waitFor("the sink to stall", () => sink.stalled);
  const flushing = sink.flush();
  sink.giveUp(); // cuts the 60 s backoff short
  await assert.rejects(flushing, /connection refused/);
  assert.deepEqual(reports.lost, [10]);
  assert.equal(sink.failed, true);
  assert.deepEqual(broker.stored, []);
});

Deno.test("BrokerSink giveUp() ends a batch the broker never answers, saying it gave up, counting the unconfirmed rest", async () => {
  const broker = new FakeBroker();
  const [sink, reports] = sinkFor(broker);
  sink.write(record(1));
  await sink.flush();
  broker.hold();
  for (let seq = 2; seq <= 5; seq++) sink.write(record(seq));
  await waitFor("the batch to reach the broker", () => broker.deliveries.length === 2);
  const flushing = sink.flush();
  sink.giveUp();
  await assert.rejects(
    flushing,
    /^DeliveryError: Gave up waiting for the broker to confirm a batch$/,
  );
  assert.deepEqual(reports.lost, [4]);
  assert.ok(broker.closes >= 1);
});
