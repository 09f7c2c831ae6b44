/**
 * Unit tests for the connection both broker clients talk over
 * (lib/sink/_broker_connection.ts), against a loopback peer the test
 * scripts: what each way of failing becomes (a `DeliveryError` saying which
 * failure, how far the replies went, in words a user reads), that writes
 * follow one another whole, and that a failed exchange waits for both its
 * halves before it is given back.
 */

import assert from "node:assert/strict";
import { BrokerConnection } from "../../lib/sink/_broker_connection.ts";
import { DeliveryError } from "../../lib/sink/mod.ts";
import {
  bytes,
  closeQuietly,
  freePort,
  readExactly,
  unansweringListener,
} from "../_helpers/mod.ts";

/** What the fake broker's protocol throws for bytes it does not take. */
class FakeProtocolError extends Error {}

/** A connection to `port` on loopback, telling protocol errors by class. */
function connection(port: number, options = {}): BrokerConnection {
  return new BrokerConnection(
    "127.0.0.1",
    port,
    "Fake",
    (error) =>
      error instanceof FakeProtocolError ? `Fake broke the protocol: ${error.message}` : null,
    options,
  );
}

/** A loopback listener whose one accepted connection the test gets. */
interface Peer {
  port: number;
  accepted: Promise<Deno.TcpConn>;
  [Symbol.asyncDispose](): Promise<void>;
}

function peer(): Peer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  return {
    port: listener.addr.port,
    accepted,
    async [Symbol.asyncDispose](): Promise<void> {
      listener.close();
      closeQuietly(await accepted);
    },
  };
}

/** The error `promise` rejects with, which must be a DeliveryError. */
async function deliveryErrorOf(promise: Promise<unknown>): Promise<DeliveryError> {
  const error = await promise.then(() => null, (error: unknown) => error);
  assert.ok(error instanceof DeliveryError, `a DeliveryError, not ${error}`);
  return error;
}

Deno.test("BrokerConnection says a refused connect is a connection failure, nothing confirmed", async () => {
  const link = connection(freePort());
  const error = await deliveryErrorOf(link.connect());
  assert.equal(error.failure, "connection");
  assert.match(error.message, /^Cannot connect: .*refused/i);
  assert.deepEqual([error.confirmed, error.sent], [0, 0]);
  assert.equal(link.connected, false);
});

Deno.test("BrokerConnection gives up a connect nobody answers after its timeout, saying how long", async () => {
  const { listener, queued } = await unansweringListener();
  try {
    const link = connection(listener.addr.port, { connectTimeoutMs: 200 });
    const error = await deliveryErrorOf(link.connect());
    assert.equal(error.message, "Cannot connect: no answer within 0.2 s");
    assert.equal(link.connected, false);
  } finally {
    queued.forEach(closeQuietly);
    listener.close();
  }
});

Deno.test("BrokerConnection closed during a connect nobody answers ends the connect at once, saying why", async () => {
  const { listener, queued } = await unansweringListener();
  try {
    const link = connection(listener.addr.port, { connectTimeoutMs: 60_000 });
    const connecting = deliveryErrorOf(link.connect());
    link.close("Gave up waiting for the broker");
    const error = await connecting;
    assert.equal(error.message, "Cannot connect: Gave up waiting for the broker");
    assert.equal(error.failure, "connection");
    assert.equal(link.connected, false);
  } finally {
    queued.forEach(closeQuietly);
    listener.close();
  }
});

Deno.test("BrokerConnection ends a batch the broker stays silent on, naming the reply timeout and keeping what was confirmed", async () => {
  await using broker = peer();
  const link = connection(broker.port, { replyTimeoutMs: 200 });
  await link.connect();
  let confirmed = 0;
  const reading = (async () => {
    await link.read(new Uint8Array(16));
    confirmed = 2;
    await link.read(new Uint8Array(16));
  })();
  const conn = await broker.accepted;
  await conn.write(bytes("ok"));
  const error = await deliveryErrorOf(
    link.exchange(reading, link.write(bytes("batch")), () => confirmed, 5),
  );
  assert.equal(error.message, "no reply within 0.2 s");
  assert.equal(error.failure, "connection");
  assert.deepEqual([error.confirmed, error.sent], [2, 5]);
  assert.equal(link.connected, false, "closed, to be made again");
});

Deno.test("BrokerConnection tells a broker that closes from one that breaks the protocol", async () => {
  await using broker = peer();
  const link = connection(broker.port);
  await link.connect();
  (await broker.accepted).close();
  const closed = await deliveryErrorOf(
    link.exchange(link.read(new Uint8Array(16)).then(() => {}), Promise.resolve(), () => 0, 1),
  );
  assert.equal(closed.message, "Connection lost: connection closed by Fake");
  assert.equal(closed.failure, "connection");

  await using again = peer();
  const second = connection(again.port);
  await second.connect();
  const broken = await deliveryErrorOf(
    second.exchange(
      Promise.reject(new FakeProtocolError("Unexpected reply")),
      Promise.resolve(),
      () => 0,
      1,
    ),
  );
  assert.equal(broken.message, "Fake broke the protocol: Unexpected reply");
  assert.equal(broken.failure, "protocol");
});

Deno.test("BrokerConnection writes one after another, each whole, in the order asked", async () => {
  await using broker = peer();
  const link = connection(broker.port);
  await link.connect();
  const big = new Uint8Array(1 << 20).fill(0x61);
  const writes = [link.write(big), link.write(bytes("PONG\r\n")), link.write(big)];
  const received = await readExactly(await broker.accepted, big.length * 2 + 6);
  await Promise.all(writes);
  assert.equal(received.indexOf(0x50), big.length, "the small write between the two, not inside");
  assert.ok(received.subarray(big.length + 6).every((byte) => byte === 0x61));
  link.close();
});

Deno.test("BrokerConnection hands back a failed exchange only once its other half has ended", async () => {
  await using broker = peer();
  const link = connection(broker.port);
  await link.connect();
  await broker.accepted;
  let readEnded = false;
  const reading = link.read(new Uint8Array(16)).finally(() => readEnded = true).then(() => {});
  const error = await deliveryErrorOf(
    link.exchange(reading, Promise.reject(new Error("write failed")), () => 0, 3),
  );
  assert.equal(readEnded, true);
  assert.equal(error.message, "Connection lost: write failed");
});

Deno.test("BrokerConnection passes on a DeliveryError its caller threw, closing the connection", async () => {
  await using broker = peer();
  const link = connection(broker.port);
  await link.connect();
  const refused = new DeliveryError("the server requires TLS", "refused", 0, 0);
  assert.equal(await link.fail(refused, () => 0, 0), refused);
  assert.equal(link.connected, false);
});

Deno.test("BrokerConnection closed with a reason fails the exchange in progress with it, not as a lost connection", async () => {
  await using broker = peer();
  const link = connection(broker.port);
  await link.connect();
  await broker.accepted;
  const exchange = link.exchange(
    link.read(new Uint8Array(16)).then(() => {}),
    Promise.resolve(),
    () => 1,
    4,
  );
  link.close("Gave up waiting");
  const error = await deliveryErrorOf(exchange);
  assert.equal(error.message, "Gave up waiting");
  assert.deepEqual([error.confirmed, error.sent], [1, 4]);
});
