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

import { closeQuietly, writeAll } from "../io/mod.ts";
import { formatHostPort, randomId } from "../net/mod.ts";
import { describeError } from "../text/mod.ts";
import { type Broker, DeliveryError, type DeliveryFailure } from "./broker.ts";
import type { SinkMessage } from "./message_splitter.ts";
import {
  headerStatus,
  NatsBatch,
  type NatsOp,
  NatsParser,
  NatsProtocolError,
} from "./_nats_protocol.ts";

/** Options for {@linkcode NatsJetStream}. */
export interface NatsJetStreamOptions {
  /** Create a stream of this name taking the subject, if there is none.
   * @default {undefined: the stream must exist} */
  createStream?: string;
  /** How long a connect (TCP, INFO, CONNECT answered) may take, in ms.
   * @default {5000} */
  connectTimeoutMs?: number;
  /** How long the server may stay silent while replies are owed, in ms.
   * @default {15000} */
  replyTimeoutMs?: number;
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
const decoder = new TextDecoder();

/** What became of one message of a batch: stored, refused (why), or not
 * answered yet. */
type Outcome = true | string | null;

/** One JetStream subject, published to with PubAcks. */
export class NatsJetStream implements Broker {
  readonly name: string;
  readonly #hostname: string;
  readonly #port: number;
  readonly #subject: string;
  readonly #createStream: string | undefined;
  readonly #connectTimeoutMs: number;
  readonly #replyTimeoutMs: number;
  readonly #batch = new NatsBatch(65536);
  readonly #readBuffer = new Uint8Array(READ_BYTES);
  #conn: Deno.TcpConn | null = null;
  #parser = new NatsParser();
  /** This connection's inbox: replies come to `<inbox>.<n>`. */
  #inbox = "";
  /** The next reply number on this connection. */
  #nextReply = 0;
  /** The server's largest message (its INFO's `max_payload`). */
  #maxPayload = Infinity;
  /** Writes in progress, one after another (a PONG must not land inside
   * a batch). */
  #writing: Promise<void> = Promise.resolve();
  /** Why the connection was closed from this side, for the error message. */
  #closedBecause: string | null = null;
  #duplicates = 0;

  constructor(
    hostname: string,
    port: number,
    subject: string,
    options: NatsJetStreamOptions = {},
  ) {
    this.#hostname = hostname;
    this.#port = port;
    this.#subject = subject;
    this.#createStream = options.createStream;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 5000;
    this.#replyTimeoutMs = options.replyTimeoutMs ?? 15000;
    this.name = `nats://${formatHostPort(hostname, port)}/${subject}` +
      (options.createStream === undefined ? "" : `?create=${options.createStream}`);
  }

  /** Publishes JetStream dropped as duplicates of one it had stored. */
  get duplicates(): number {
    return this.#duplicates;
  }

  async deliver(messages: readonly SinkMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const conn = await this.#connect();
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
    const reading = this.#readReplies(conn, (op) => {
      if (this.#outcome(op, first, outcomes)) answered++;
      return answered === outcomes.length;
    });
    const writing = this.#write(conn, batch.bytes());
    try {
      await Promise.all([reading, writing]);
    } catch (error) {
      const because = this.#closedBecause;
      this.close();
      await Promise.allSettled([reading, writing]);
      throw new DeliveryError(
        because ?? lostText(error),
        failureOf(error),
        storedPrefix(outcomes),
        sending.length,
        { cause: error },
      );
    }
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

  close(): void {
    const conn = this.#conn;
    this.#conn = null;
    if (conn !== null) closeQuietly(conn);
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

  async #connect(): Promise<Deno.TcpConn> {
    if (this.#conn !== null) return this.#conn;
    const signal = AbortSignal.timeout(this.#connectTimeoutMs);
    let conn: Deno.TcpConn;
    try {
      conn = await Deno.connect({ hostname: this.#hostname, port: this.#port, signal });
    } catch (error) {
      const why = signal.aborted
        ? `no answer within ${this.#connectTimeoutMs / 1000} s`
        : describeError(error);
      throw new DeliveryError(`Cannot connect: ${why}`, "connection", 0, 0, { cause: error });
    }
    conn.setNoDelay(true);
    this.#conn = conn;
    this.#parser = new NatsParser();
    this.#closedBecause = null;
    this.#inbox = `_INBOX.${randomId()}`;
    this.#nextReply = 0;
    try {
      await this.#handshake(conn);
    } catch (error) {
      const because = this.#closedBecause;
      this.close();
      if (error instanceof DeliveryError) throw error;
      throw new DeliveryError(
        because ?? lostText(error),
        failureOf(error),
        0,
        0,
        { cause: error },
      );
    }
    return conn;
  }

  /** INFO, CONNECT and a PING answered, the inbox subscribed, and the
   * stream created if asked for. */
  async #handshake(conn: Deno.TcpConn): Promise<void> {
    let info: Readonly<Record<string, unknown>> | null = null;
    await this.#readReplies(conn, (op) => {
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
    await this.#write(conn, batch.bytes());
    await this.#readReplies(conn, (op) => {
      if (op.op === "-ERR") throw refusal(`the server refused the connection: ${op.message}`);
      return op.op === "PONG";
    });
    if (this.#createStream !== undefined) await this.#ensureStream(conn, this.#createStream);
  }

  /** Asks JetStream to create `name` taking the subject; a stream of that
   * name that exists already is taken as it is. */
  async #ensureStream(conn: Deno.TcpConn, name: string): Promise<void> {
    const reply = `${this.#inbox}.create`;
    const batch = new NatsBatch();
    batch.publish(
      `$JS.API.STREAM.CREATE.${name}`,
      reply,
      [],
      JSON.stringify({ name, subjects: [this.#subject], storage: "file" }),
    );
    await this.#write(conn, batch.bytes());
    let answer: { headers: Uint8Array | null; payload: Uint8Array } | null = null;
    await this.#readReplies(conn, (op) => {
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
   * fails when the server stays silent past the reply timeout, or sends
   * more than {@linkcode MAX_OTHER_OPS} operations that are not replies. */
  async #readReplies(conn: Deno.TcpConn, take: (op: NatsOp) => boolean): Promise<void> {
    let others = 0;
    let silent: ReturnType<typeof setTimeout> | undefined;
    const watch = (): void => {
      clearTimeout(silent);
      silent = setTimeout(() => {
        this.#closedBecause = `no reply within ${this.#replyTimeoutMs / 1000} s`;
        closeQuietly(conn);
      }, this.#replyTimeoutMs);
    };
    watch();
    try {
      while (true) {
        let op = this.#parser.next();
        while (op === undefined) {
          const n = await conn.read(this.#readBuffer);
          if (n === null) throw new Deno.errors.UnexpectedEof("connection closed by NATS");
          this.#parser.push(this.#readBuffer.subarray(0, n));
          watch();
          op = this.#parser.next();
        }
        if (op.op === "-ERR") {
          throw new NatsProtocolError(`the server said "${op.message}"`);
        }
        if (op.op === "PING") {
          // Unanswered, the server would close the connection.
          this.#write(conn, new TextEncoder().encode("PONG\r\n")).catch(() => {});
        } else if (take(op)) return;
        if (op.op !== "MSG" && ++others > MAX_OTHER_OPS) {
          throw new NatsProtocolError(`more than ${MAX_OTHER_OPS} operations that are not replies`);
        }
      }
    } finally {
      clearTimeout(silent);
    }
  }

  /** Writes `bytes` after every write before it. */
  #write(conn: Deno.TcpConn, bytes: Uint8Array): Promise<void> {
    const done = this.#writing.catch(() => {}).then(() => writeAll(conn, bytes));
    this.#writing = done;
    return done;
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

function lostText(error: unknown): string {
  if (error instanceof NatsProtocolError) return `NATS: ${error.message}`;
  return `Connection lost: ${describeError(error)}`;
}

/** What kind of failure `error` is, for {@linkcode DeliveryError}. */
function failureOf(error: unknown): DeliveryFailure {
  return error instanceof NatsProtocolError ? "protocol" : "connection";
}
