/**
 * What the server and the client need of a connection: a byte stream with a
 * peer address. A `Deno.TcpConn` is one as it is; a TLS connection made with
 * `node:tls` becomes one through {@linkcode NodeSocketConn}.
 *
 * @module
 */

/** A connected byte stream, shaped like the parts of `Deno.Conn` we use. */
export interface StreamConn {
  /** The peer's address and port. */
  readonly remoteAddr: Deno.NetAddr;
  /** Reads into `buffer`; resolves with the count, or null at the end of
   * the stream. Rejects when the connection failed or was closed here. */
  read(buffer: Uint8Array): Promise<number | null>;
  /** Writes some of `data`; resolves with how much was taken. */
  write(data: Uint8Array): Promise<number>;
  /** Ends the sending side; reading goes on. */
  closeWrite(): Promise<void>;
  /** Closes both sides at once; a pending read rejects. */
  close(): void;
}
