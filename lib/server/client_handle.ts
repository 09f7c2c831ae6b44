/**
 * How the parts of the server that talk back (the modes of `--mode`, the
 * operator console) see the connected clients: a {@linkcode ClientHandle}
 * each, and a {@linkcode ClientObserver} told of every join, line and leave.
 * The server owns the connections; these parts only hold handles.
 *
 * @module
 */

import type { ClientInfo } from "../format/mod.ts";
import type { LineFlags } from "../wire/mod.ts";
import type { DisconnectReason } from "./events.ts";

/** One connected client. */
export interface ClientHandle {
  /** Number, address and port (and TLS identity) of the client. */
  readonly client: ClientInfo;
  /** When it connected, in ms since the epoch. */
  readonly connectedAt: number;
  /** Lines received from it so far. */
  readonly linesIn: number;
  /** Lines queued to it so far through `send`. */
  readonly linesOut: number;
  /**
   * Queues one line (its bytes, ending in `\n`) to send to the client, in
   * order with every earlier one. Returns false, and queues nothing, when
   * the line would take the client's send queue past its cap (`--send-queue`)
   * or the client is already leaving; at the cap the server disconnects the
   * client with the reason `send-queue-full`.
   */
  send(line: Uint8Array): boolean;
  /** Closes the connection; its disconnect event gives the reason `kicked`. */
  kick(): void;
}

/** Told of clients as they come and go; every call is synchronous and in
 * order for each client (a client's lines come between its join and leave). */
export interface ClientObserver {
  /** A client connected (after its TLS handshake, if any). */
  joined(handle: ClientHandle): void;
  /**
   * A client sent a line (without its newline). `line` is only valid during
   * the call: copy what must be kept. `flags` holds `TRUNCATED` (cut at
   * `--max-line`) and `PARTIAL` (the connection ended before its newline),
   * as the framer gave them (lib/wire/line_flags.ts).
   */
  line(handle: ClientHandle, line: Uint8Array, flags: LineFlags): void;
  /** A client disconnected, for `reason` (as in its disconnect event); its
   * handle's `send` returns false from now on. */
  left(handle: ClientHandle, reason: DisconnectReason): void;
}
