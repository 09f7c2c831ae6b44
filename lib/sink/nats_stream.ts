/**
 * {@linkcode NatsJetStream}: a NATS JetStream stream as a {@linkcode Broker}.
 * Each message is one publish to the subject with the record's JSON as its
 * payload and a `Nats-Msg-Id` header (`[node/]run/client/seq`, the same each
 * time the record is sent), asking for the reply on an inbox of the
 * connection's own; JetStream's reply, the PubAck, is the confirmation. A
 * batch is pipelined: every publish in one write, the PubAcks matched to
 * their messages by reply subject as they come back.
 *
 * Sending a message again after a lost connection is safe here: JetStream
 * drops a publish whose `Nats-Msg-Id` it stored within its duplicate window
 * (2 minutes unless the stream says otherwise), says so in the PubAck, and
 * the drops are counted (`duplicates`).
 *
 * The stream must exist and take the subject, or be created with
 * `?create=NAME` (on each connect; an existing one is left as it is). The
 * client is written here, about 300 lines with its protocol file, rather
 * than taken from `@nats-io/*` (npm): those bring a connection manager with
 * its own reconnects, buffering and queue, where the sink has its own and
 * needs only CONNECT, SUB, HPUB and the replies.
 *
 * @module
 */

import { formatHostPort, randomId } from "../net/mod.ts";
import { type Broker, DeliveryError } from "./broker.ts";
import type { SinkMessage } from "./message_splitter.ts";
import { BrokerConnection, type BrokerConnectionOptions } from "./_broker_connection.ts";
import {
  headerStatus,
  NatsBatch,
  type NatsOp,
  NatsParser,
  NatsProtocolError,
} from "./_nats_protocol.ts";

/** Options for {@linkcode NatsJetStream}; see also the connection's, the
 * connect and reply timeouts (a connect here is TCP, INFO and CONNECT
 * answered). */
export interface NatsJetStreamOptions extends BrokerConnectionOptions {
  /** Create a stream of this name taking the subject, if there is none.
   * @default {undefined: the stream must exist} */
  createStream?: string;
}

/** Operations other than replies (PING, +OK, INFO) taken while waiting
 * for replies, before the server counts as broken: the server sends a
 * PING every two minutes, not thousands. */
const MAX_OTHER_OPS = 1000;
/** Bytes read from the server at a time. */
const READ_BYTES = 16384;
/** JetStream's error code for "stream name already in use": the stream
 * exists (with another configuration), which is for its owner to keep. */
const STREAM_NAME_IN_USE = 10058;
const PONG = new TextEncoder().encode("PONG\r\n");
const decoder = new TextDecoder();

/** What became of one message of a batch: stored, refused (why), or not
 * answered yet. */
type Outcome = true | string | null;

/** One JetStream subject, published to with PubAcks. */
export class NatsJetStream implements Broker {
  readonly name: string;
  readonly #link: BrokerConnection;
  readonly #subject: string;
  readonly #createStream: string | undefined;
  readonly #batch = new NatsBatch(65536);
  readonly #readBuffer = new Uint8Array(READ_BYTES);
  #parser = new NatsParser();
  /** This connection's inbox: replies come to `<inbox>.<n>`. */
  #inbox = "";
  /** The next reply number on this connection. */
  #nextReply = 0;
  /** The server's largest message (its INFO's `max_payload`). */
  #maxPayload = Infinity;
  #duplicates = 0;

  constructor(
    hostname: string,
    port: number,
    subject: string,
    options: NatsJetStreamOptions = {},
  ) {
    const { createStream, ...connection } = options;
    this.#link = new BrokerConnection(
      hostname,
      port,
      "NATS",
      (error) => error instanceof NatsProtocolError ? `NATS: ${error.message}` : null,
      connection,
    );
    this.#subject = subject;
    this.#createStream = createStream;
    this.name = `nats://${formatHostPort(hostname, port)}/${subject}` +
      (createStream === undefined ? "" : `?create=${createStream}`);
  }

  /** Publishes JetStream dropped as duplicates of one it had stored. */
  get duplicates(): number {
    return this.#duplicates;
  }

  async deliver(messages: readonly SinkMessage[]): Promise<void> {
    if (messages.length === 0) return;
    if (!this.#link.connected) await this.#connect();
    // A message the server would refuse for its size ends the batch there,
    // rather than the connection (the server closes on a payload too large).
    const fits = messages.findIndex((message) => this.#tooLarge(message));
    const sending = fits === -1 ? messages : messages.slice(0, fits);
    const outcomes: Outcome[] = new Array(sending.length).fill(null);
    const first = this.#nextReply;
    this.#nextReply += sending.length;
    const batch = this.#batch;
    batch.clear();
    sending.forEach((message, i) =>
      batch.publish(
        this.#subject,
        `${this.#inbox}.${first + i}`,
        [["Nats-Msg-Id", message.id]],
        message.json,
      )
    );
    let answered = 0;
    await this.#link.exchange(
      this.#readReplies((op) => {
        if (this.#outcome(op, first, outcomes)) answered++;
        return answered === outcomes.length;
      }),
      this.#link.write(batch.bytes()),
      () => storedPrefix(outcomes),
      sending.length,
    );
    const refused = outcomes.find((outcome) => typeof outcome === "string");
    if (typeof refused === "string" || fits !== -1) {
      throw new DeliveryError(
        typeof refused === "string"
          ? `JetStream refused a message: ${refused}`
          : `JetStream refused a message: larger than the server's max_payload (${this.#maxPayload} bytes)`,
        "refused",
        storedPrefix(outcomes),
        // Past the refused one, those JetStream stored are stored: sent
        // again, they are dropped as duplicates (by their ids).
        outcomes.lastIndexOf(true) + 1,
      );
    }
  }

  close(reason?: string): void {
    this.#link.close(reason);
  }

  /** Whether `message`, with its header, is past the server's
   * `max_payload` (measured in bytes only when it may be). */
  #tooLarge(message: SinkMessage): boolean {
    const room = this.#maxPayload - 64 - message.id.length;
    if (message.json.length * 3 <= room) return false;
    return new TextEncoder().encode(message.json).length > room;
  }

  /** Takes one reply to a publish of this batch; true if it was one not
   * answered before. */
  #outcome(op: NatsOp, first: number, outcomes: Outcome[]): boolean {
    if (op.op !== "MSG" || !op.subject.startsWith(`${this.#inbox}.`)) return false;
    const index = Number(op.subject.slice(this.#inbox.length + 1)) - first;
    if (!(index >= 0 && index < outcomes.length) || outcomes[index] !== null) return false;
    outcomes[index] = this.#verdict(op.headers, op.payload);
    return true;
  }

  /** A PubAck's meaning: true when stored (or a duplicate of one stored),
   * else why not. */
  #verdict(headers: Uint8Array | null, payload: Uint8Array): Outcome {
    const status = headerStatus(headers);
    if (status === 503) return `no stream takes subject "${this.#subject}" (no responders)`;
    if (status !== null && status >= 400) return `status ${status}`;
    let ack: { error?: { description?: string; code?: number }; duplicate?: boolean };
    try {
      ack = JSON.parse(decoder.decode(payload));
    } catch {
      return "a reply that is not JSON";
    }
    if (ack.error !== undefined) {
      return `${ack.error.description ?? "error"} (${ack.error.code ?? "no code"})`;
    }
    if (ack.duplicate === true) this.#duplicates++;
    return true;
  }

  /** Connects, with a new parser and inbox, and shakes hands; on failure
   * the connection is closed again. */
  async #connect(): Promise<void> {
    await this.#link.connect();
    this.#parser = new NatsParser();
    this.#inbox = `_INBOX.${randomId()}`;
    this.#nextReply = 0;
    try {
      await this.#handshake();
    } catch (error) {
      throw await this.#link.fail(error, () => 0, 0);
    }
  }

  /** INFO, CONNECT and a PING answered, the inbox subscribed, and the
   * stream created if asked for. */
  async #handshake(): Promise<void> {
    let info: Readonly<Record<string, unknown>> | null = null;
    await this.#readReplies((op) => {
      if (op.op === "INFO") info = op.info;
      return info !== null;
    });
    const server = info as Readonly<Record<string, unknown>> | null;
    if (server?.headers !== true) {
      throw refusal("the server does not take headers (NATS 2.2 or later is needed)");
    }
    if (server.auth_required === true || server.tls_required === true) {
      throw refusal("the server requires authentication or TLS, which --sink does not offer");
    }
    if (typeof server.max_payload === "number") this.#maxPayload = server.max_payload;
    const batch = new NatsBatch();
    batch.connect({
      verbose: false,
      pedantic: false,
      headers: true,
      no_responders: true,
      name: "linehub-server",
      lang: "deno",
      version: "1",
      protocol: 1,
    });
    batch.line(`SUB ${this.#inbox}.* 1`);
    batch.line("PING");
    await this.#link.write(batch.bytes());
    await this.#readReplies((op) => {
      if (op.op === "-ERR") throw refusal(`the server refused the connection: ${op.message}`);
      return op.op === "PONG";
    });
    if (this.#createStream !== undefined) await this.#ensureStream(this.#createStream);
  }

  /** Asks JetStream to create `name` taking the subject; a stream of that
   * name that exists already is taken as it is. */
  async #ensureStream(name: string): Promise<void> {
    const reply = `${this.#inbox}.create`;
    const batch = new NatsBatch();
    batch.publish(
      `$JS.API.STREAM.CREATE.${name}`,
      reply,
      [],
      JSON.stringify({ name, subjects: [this.#subject], storage: "file" }),
    );
    await this.#link.write(batch.bytes());
    let answer: { headers: Uint8Array | null; payload: Uint8Array } | null = null;
    await this.#readReplies((op) => {
      if (op.op === "MSG" && op.subject === reply) answer = op;
      return answer !== null;
    });
    const { headers, payload } = answer as unknown as {
      headers: Uint8Array | null;
      payload: Uint8Array;
    };
    if (headerStatus(headers) === 503) {
      throw refusal(`Cannot create stream "${name}": JetStream is not enabled on the server`);
    }
    let response: { error?: { description?: string; err_code?: number } };
    try {
      response = JSON.parse(decoder.decode(payload));
    } catch {
      throw new DeliveryError(
        `Cannot create stream "${name}": the reply is not JSON`,
        "protocol",
        0,
        0,
      );
    }
    const error = response.error;
    if (error !== undefined && error.err_code !== STREAM_NAME_IN_USE) {
      throw refusal(`Cannot create stream "${name}": ${error.description ?? "error"}`);
    }
  }

  /** Reads operations, answering PINGs, until `take` returns true for one;
   * fails when the server stays silent past the reply timeout (the
   * connection's), or sends more than {@linkcode MAX_OTHER_OPS} operations
   * that are not replies. */
  async #readReplies(take: (op: NatsOp) => boolean): Promise<void> {
    let others = 0;
    while (true) {
      let op = this.#parser.next();
      while (op === undefined) {
        const n = await this.#link.read(this.#readBuffer);
        this.#parser.push(this.#readBuffer.subarray(0, n));
        op = this.#parser.next();
      }
      if (op.op === "-ERR") {
        throw new NatsProtocolError(`the server said "${op.message}"`);
      }
      if (op.op === "PING") {
        // Unanswered, the server would close the connection; the write
        // waits for a batch being written, never lands inside it.
        this.#link.write(PONG).catch(() => {});
      } else if (take(op)) return;
      if (op.op !== "MSG" && ++others > MAX_OTHER_OPS) {
        throw new NatsProtocolError(`more than ${MAX_OTHER_OPS} operations that are not replies`);
      }
    }
  }
}

/** Messages, from the first, that JetStream stored. */
function storedPrefix(outcomes: readonly Outcome[]): number {
  const firstNot = outcomes.findIndex((outcome) => outcome !== true);
  return firstNot === -1 ? outcomes.length : firstNot;
}

/** A delivery refused before any message was sent. */
function refusal(message: string): DeliveryError {
  return new DeliveryError(message, "refused", 0, 0);
}
