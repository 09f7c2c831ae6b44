/**
 * {@linkcode Receiver}: the receiving half of one connection of a line-mode
 * session. It copies what the server sends to the output, takes out the
 * acknowledgments when the session expects them (see `ack_protocol.ts`), and
 * keeps back the server's last line when it is a notice (see
 * `server_notice.ts`): why the server refused or cut off the client, which
 * is the connection's outcome rather than output.
 *
 * @module
 */

import { AckParser, AckProtocolError, type HeldNotice, NoticeReader } from "../wire/mod.ts";
import type { ByteReader } from "../io/mod.ts";
import { ConnectionLost } from "./_connection_lost.ts";

/** Size of the buffer the socket is read into. */
const READ_BUFFER = 65536;

/** Options for {@linkcode Receiver}. */
export interface ReceiverOptions {
  /** Called with the count of each acknowledgment (lines of this connection
   * in all), and may throw `AckProtocolError`; null when the session
   * expects none, and every byte is the server's output. */
  onAck: ((count: number) => void) | null;
  /** Writes the server's bytes to the output; its failure ends the session. */
  write(bytes: Uint8Array): Promise<void>;
  /** The error that ends the session when the server breaks the
   * acknowledgment protocol, made as soon as it is found. */
  protocolError(error: AckProtocolError): Error;
}

/** Reads one connection until the server closes it. */
export class Receiver {
  readonly #conn: ByteReader;
  readonly #options: ReceiverOptions;
  /** With acknowledgments: the parser that picks them out, and where they go. */
  readonly #acks: { parser: AckParser; onAck: (count: number) => void } | null;
  readonly #notices = new NoticeReader();
  #notice: HeldNotice | null = null;
  #received = false;

  constructor(conn: ByteReader, options: ReceiverOptions) {
    this.#conn = conn;
    this.#options = options;
    this.#acks = options.onAck === null ? null : { parser: new AckParser(), onAck: options.onAck };
  }

  /** The server's notice, if its last line before closing was one. Set once
   * the connection ended, and kept even if writing the output failed then. */
  get notice(): HeldNotice | null {
    return this.#notice;
  }

  /** Whether the server sent anything, for the hint about a TLS close. */
  get received(): boolean {
    return this.#received;
  }

  /**
   * Copies the server's bytes out until it closes. Resolves then, or when a
   * read fails after the server's notice (its last word stands even if a
   * reset came after it); rejects with {@linkcode ConnectionLost} when a
   * read fails otherwise, with `protocolError`'s error when the server
   * breaks the protocol, and with `write`'s.
   */
  async run(): Promise<void> {
    const buffer = new Uint8Array(READ_BUFFER);
    const data: Uint8Array[] = [];
    // Copied: the views are valid only during the callback.
    const collect = (bytes: Uint8Array): void => void data.push(bytes.slice());
    const writeCollected = async (): Promise<void> => {
      for (const part of data.splice(0)) await this.#options.write(part);
    };
    const onData = (bytes: Uint8Array): void => this.#notices.push(bytes, collect);
    while (true) {
      let n: number | null;
      try {
        n = await this.#conn.read(buffer);
      } catch (error) {
        this.#notice = this.#notices.end(collect);
        await writeCollected();
        if (this.#notice !== null) return;
        throw new ConnectionLost(error);
      }
      if (n === null) {
        this.#notice = this.#notices.end(collect);
        await writeCollected();
        return;
      }
      if (n > 0) this.#received = true;
      const chunk = buffer.subarray(0, n);
      if (this.#acks === null) {
        onData(chunk);
        await writeCollected();
        continue;
      }
      let broken: AckProtocolError | null = null;
      try {
        this.#acks.parser.push(chunk, this.#acks.onAck, onData);
      } catch (error) {
        if (!(error instanceof AckProtocolError)) throw error;
        broken = error;
      }
      await writeCollected();
      if (broken !== null) throw this.#options.protocolError(broken);
    }
  }
}
