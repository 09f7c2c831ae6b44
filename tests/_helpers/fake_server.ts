/**
 * Test fixture: a scripted line server on loopback for the client's retry
 * and acknowledgment tests. It accepts connections, keeps reading what each
 * sends, and lets the test decide, per connection, when to acknowledge, what
 * to send back and when to close. With `autoAck` it behaves like
 * `linehub-server --ack`: it acknowledges every line as it arrives, and the
 * final partial line at the end of input, then closes. Like a linehub
 * server, it takes a hello first line (lib/wire/hello_line.ts) as no line.
 *
 * @module
 */

import { encodeAck } from "../../lib/wire/ack_protocol.ts";
import { type HelloLine, parseHelloLine } from "../../lib/wire/hello_line.ts";
import { bytes, concat } from "./memory.ts";
import { closeQuietly, writeAll } from "./net.ts";
import { waitFor } from "./wait.ts";

const decoder = new TextDecoder();

/** Options for {@linkcode FakeLineServer.listen}. */
export interface FakeLineServerOptions {
  /** Port to listen on, e.g. one reserved earlier.
   * @default {0} */
  port?: number;
  /** Acknowledge each line on arrival and close after the client's end of input.
   * @default {false} */
  autoAck?: boolean;
  /** Close each connection once the client half-closes.
   * @default {true} */
  closeOnEof?: boolean;
}

/** One accepted connection, read continuously in the background. */
export class FakeConnection {
  readonly conn: Deno.TcpConn;
  /** Resolves when the client has half-closed (or the connection ended). */
  readonly ended: Promise<void>;
  #parts: Uint8Array[] = [];
  #eof = false;
  #closed = false;

  constructor(conn: Deno.TcpConn, options: Required<Omit<FakeLineServerOptions, "port">>) {
    this.conn = conn;
    this.ended = (async () => {
      const buffer = new Uint8Array(65536);
      let acked = 0;
      try {
        while (true) {
          const n = await conn.read(buffer);
          if (n === null) break;
          this.#parts.push(buffer.slice(0, n));
          if (options.autoAck) {
            const count = this.lines().length;
            if (count > acked) {
              acked = count;
              await this.ack(count);
            }
          }
        }
        this.#eof = true;
        if (options.autoAck) {
          const count = this.lines().length + (this.partial() === null ? 0 : 1);
          if (count > acked) await this.ack(count);
        }
      } catch {
        // Closed by the test, or reset by the client: the test checks what arrived.
      } finally {
        if (options.closeOnEof || !this.#eof) this.close();
      }
    })();
  }

  /** Everything received so far. */
  text(): string {
    return decoder.decode(concat(this.#parts));
  }

  /** The complete lines received so far, without their `\n`, a hello
   * first line left out. */
  lines(): string[] {
    const text = this.text();
    const end = text.lastIndexOf("\n");
    const lines = end < 0 ? [] : text.slice(0, end).split("\n");
    return this.hello() === null ? lines : lines.slice(1);
  }

  /** What the hello first line says, if the client sent one. */
  hello(): HelloLine | null {
    const text = this.text();
    const end = text.indexOf("\n");
    return end < 0 ? null : parseHelloLine(bytes(text.slice(0, end)));
  }

  /** What came after the last `\n`, once the client half-closed; else null. */
  partial(): string | null {
    if (!this.#eof) return null;
    const text = this.text();
    const rest = text.slice(text.lastIndexOf("\n") + 1);
    return rest === "" ? null : rest;
  }

  /** Whether the client half-closed. */
  get eof(): boolean {
    return this.#eof;
  }

  /** Waits until at least `count` complete lines have arrived. */
  waitForLines(count: number): Promise<void> {
    return waitFor(
      `${count} lines on the fake server`,
      () => this.lines().length >= count,
      () => `received so far: ${JSON.stringify(this.text().slice(-200))}`,
    );
  }

  /** Sends an acknowledgment of `count` lines. */
  async ack(count: number): Promise<void> {
    await writeAll(this.conn, encodeAck(count));
  }

  /** Sends `text` (or bytes) as is. */
  async send(data: string | Uint8Array): Promise<void> {
    await writeAll(this.conn, typeof data === "string" ? bytes(data) : data);
  }

  /** Closes the connection (the client sees the end of the server's data). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeQuietly(this.conn);
  }
}

/** A listener whose connections are {@linkcode FakeConnection}s, in order. */
export class FakeLineServer {
  readonly port: number;
  readonly connections: FakeConnection[] = [];
  readonly #listener: Deno.TcpListener;
  readonly #accepting: Promise<void>;

  private constructor(listener: Deno.TcpListener, options: FakeLineServerOptions) {
    this.#listener = listener;
    this.port = listener.addr.port;
    const settings = {
      autoAck: options.autoAck ?? false,
      closeOnEof: options.closeOnEof ?? true,
    };
    this.#accepting = (async () => {
      try {
        for await (const conn of listener) {
          this.connections.push(new FakeConnection(conn, settings));
        }
      } catch {
        // The listener was closed.
      }
    })();
  }

  /** Listens on 127.0.0.1. */
  static listen(options: FakeLineServerOptions = {}): FakeLineServer {
    const listener = Deno.listen({
      hostname: "127.0.0.1",
      port: options.port ?? 0,
      transport: "tcp",
    });
    return new FakeLineServer(listener, options);
  }

  /** Waits for connection number `index` (from 0). */
  async connection(index: number): Promise<FakeConnection> {
    await waitFor(
      `connection ${index} to the fake server`,
      () => this.connections.length > index,
      () => `${this.connections.length} so far`,
    );
    return this.connections[index] as FakeConnection;
  }

  /** Every complete line received on any connection, in connection order. */
  allLines(): string[] {
    return this.connections.flatMap((connection) => connection.lines());
  }

  /** Stops listening and closes every connection; waits for the readers. */
  async close(): Promise<void> {
    closeQuietly(this.#listener);
    for (const connection of this.connections) connection.close();
    await this.#accepting;
    await Promise.all(this.connections.map((connection) => connection.ended));
  }
}
