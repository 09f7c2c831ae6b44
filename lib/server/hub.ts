/**
 * What the server sends back to its clients, by `--mode`: the
 * {@linkcode ClientObserver} the server tells of every join, line and leave,
 * and the target of the operator console. The server records every line in
 * every mode; the hub only decides who else gets it.
 *
 * - `log`: nothing is sent to clients (the default).
 * - `echo`: each line goes back to its sender.
 * - `broker`: each line goes, byte for byte, to every client but its sender.
 * - `chat`: each line goes to every client but its sender as
 *   `<client N> TEXT`, where TEXT is the line made terminal-safe as in the
 *   `text` output (control bytes shown as `\xHH`, bidi controls and
 *   invisible characters as `\u{HHHH}`, bad UTF-8 as U+FFFD), so no
 *   participant can send escape sequences to the others' terminals, nor
 *   make its line read as reversed or as another's. Clients also see
 *   `* client N joined from ADDR:PORT` (plus ` as IDENTITY` with mutual TLS)
 *   and `* client N left` (`* client N was kicked by the operator`, or
 *   `* client N was disconnected (REASON)` when the server closed it), and
 *   a joining client is greeted with
 *   `* you are client N; M other clients here`.
 *
 * Operator lines are sent as typed, or as `<server> TEXT` in `chat` mode.
 * Every outgoing line is encoded once and the same bytes are queued to each
 * recipient. A recipient whose queue refuses a line is skipped and counted
 * in {@linkcode Hub.dropped}; the server disconnects it.
 *
 * @module
 */

import { formatHostPort } from "../net/mod.ts";
import type { ClientHandle, ClientObserver } from "./client_handle.ts";
import { countOf, isPrintableUtf8, safeString, safeText } from "../text/mod.ts";
import type { DisconnectReason } from "./events.ts";
import type { LineFlags } from "../wire/mod.ts";

/** The names accepted by `--mode`. */
export const MODES = ["log", "echo", "broker", "chat"] as const;

/** One of {@linkcode MODES}. */
export type Mode = typeof MODES[number];

const encoder = new TextEncoder();
const LF = 10;
const EMPTY = new Uint8Array(0);

/** `prefix`, `body` and a newline in one new array. */
function lineOf(prefix: Uint8Array, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(prefix.length + body.length + 1);
  out.set(prefix);
  out.set(body, prefix.length);
  out[out.length - 1] = LF;
  return out;
}

/** `* client N joined from ADDR:PORT[ as IDENTITY]`, with what the peer
 * controls (its certificate name, and its address once a proxy may tell
 * it) escaped as a relayed line is. */
function joinNotice(handle: ClientHandle): string {
  const { id, address, port, identity } = handle.client;
  const as = identity === undefined ? "" : ` as ${safeString(identity)}`;
  return `* client ${id} joined from ${formatHostPort(safeString(address), port)}${as}\n`;
}

/** `* client N left`, or, when the server closed it, why: the others should
 * not take a kicked client for one that chose to go. */
function leaveNotice(id: number, reason: DisconnectReason): string {
  switch (reason) {
    case "eof":
    case "reset":
    case "error":
      return `* client ${id} left\n`;
    case "kicked":
      return `* client ${id} was kicked by the operator\n`;
    default:
      return `* client ${id} was disconnected (${reason})\n`;
  }
}

/** A connected client and what is the same for each of its chat lines. */
interface Member {
  readonly handle: ClientHandle;
  /** `<client N> ` encoded, made on its first chat line. */
  label: Uint8Array | null;
}

/**
 * Relays lines between clients as `--mode` says, and keeps the list of
 * connected clients for the operator console.
 *
 * @example
 * ```ts
 * import { Hub } from "./hub.ts";
 * import type { ClientHandle } from "./client_handle.ts";
 * import assert from "node:assert/strict";
 *
 * const got: string[][] = [[], []];
 * const client = (id: number): ClientHandle => ({
 *   client: { id, address: "127.0.0.1", port: 40000 + id },
 *   connectedAt: 0,
 *   linesIn: 0,
 *   linesOut: 0,
 *   send: (line) => got[id]?.push(new TextDecoder().decode(line)) !== undefined,
 *   kick: () => {},
 * });
 * const hub = new Hub("broker");
 * const [a, b] = [client(0), client(1)];
 * hub.joined(a);
 * hub.joined(b);
 * hub.line(a, new TextEncoder().encode("hello"), 0);
 * assert.deepEqual(got, [[], ["hello\n"]]);
 * ```
 */
export class Hub implements ClientObserver {
  /** The `--mode` it relays by. */
  readonly mode: Mode;
  /** Connected clients by number, in order of joining. */
  readonly #members = new Map<number, Member>();
  #relayed = 0;
  #dropped = 0;

  constructor(mode: Mode) {
    if (!(MODES as readonly string[]).includes(mode)) {
      throw new RangeError(`Invalid mode "${mode}": must be one of ${MODES.join(", ")}`);
    }
    this.mode = mode;
  }

  /** Client lines queued to a recipient so far (each recipient counts once:
   * a line relayed to three clients counts three). */
  get relayed(): number {
    return this.#relayed;
  }

  /** Lines of any kind (relayed, announced, from the operator) that a
   * recipient's queue refused; each such recipient is disconnected. */
  get dropped(): number {
    return this.#dropped;
  }

  joined(handle: ClientHandle): void {
    const id = handle.client.id;
    if (this.mode === "chat") {
      this.#toOthers(id, encoder.encode(joinNotice(handle)));
      const others = this.#members.size; // the joiner is added below
      this.#sendTo(
        handle,
        encoder.encode(`* you are client ${id}; ${countOf(others, "other client")} here\n`),
      );
    }
    this.#members.set(id, { handle, label: null });
  }

  line(handle: ClientHandle, line: Uint8Array, _flags: LineFlags): void {
    // A cut or partial line goes out as it came, ending in a newline like
    // every other, so recipients always get whole lines.
    switch (this.mode) {
      case "log":
        return;
      case "echo":
        if (this.#sendTo(handle, lineOf(EMPTY, line))) this.#relayed++;
        return;
      case "broker":
        if (this.#hasOthers(handle)) {
          this.#relayed += this.#toOthers(handle.client.id, lineOf(EMPTY, line));
        }
        return;
      case "chat":
        if (this.#hasOthers(handle)) {
          this.#relayed += this.#toOthers(handle.client.id, this.#chatLine(handle, line));
        }
        return;
    }
  }

  left(handle: ClientHandle, reason: DisconnectReason = "eof"): void {
    const id = handle.client.id;
    if (this.#members.get(id)?.handle !== handle) return;
    this.#members.delete(id);
    if (this.mode === "chat") this.#toOthers(id, encoder.encode(leaveNotice(id, reason)));
  }

  /** Connected clients in order of number. */
  clients(): ClientHandle[] {
    return [...this.#members.values()]
      .map((member) => member.handle)
      .sort((a, b) => a.client.id - b.client.id);
  }

  /** The connected client numbered `id`, if any. */
  client(id: number): ClientHandle | undefined {
    return this.#members.get(id)?.handle;
  }

  /** Sends an operator line to every client; returns how many queued it. */
  broadcast(text: string): number {
    return this.#toOthers(null, this.#operatorLine(text));
  }

  /** Sends an operator line to client `id`; false if there is no such
   * client or its queue refused the line. */
  message(id: number, text: string): boolean {
    const member = this.#members.get(id);
    return member !== undefined && this.#sendTo(member.handle, this.#operatorLine(text));
  }

  #operatorLine(text: string): Uint8Array {
    if (text.includes("\n")) {
      throw new TypeError(
        `Invalid operator line ${JSON.stringify(text.slice(0, 40))}: has a newline`,
      );
    }
    return encoder.encode(this.mode === "chat" ? `<server> ${text}\n` : `${text}\n`);
  }

  #chatLine(handle: ClientHandle, line: Uint8Array): Uint8Array {
    const member = this.#members.get(handle.client.id);
    const label = member?.label ?? encoder.encode(`<client ${handle.client.id}> `);
    if (member !== undefined) member.label = label;
    // Text with nothing to escape, the common case, is copied as it is.
    return isPrintableUtf8(line)
      ? lineOf(label, line)
      : lineOf(label, encoder.encode(safeText(line)));
  }

  /** Whether any client but `handle` is connected. */
  #hasOthers(handle: ClientHandle): boolean {
    return this.#members.size > (this.#members.has(handle.client.id) ? 1 : 0);
  }

  /** Queues `bytes` to every client but number `exceptId` (to all with
   * null); returns how many took it. */
  #toOthers(exceptId: number | null, bytes: Uint8Array): number {
    let sent = 0;
    // A refusal may make the server drop the client at once (left() during
    // this loop); a Map iterator skips entries deleted behind it.
    for (const [id, member] of this.#members) {
      if (id !== exceptId && this.#sendTo(member.handle, bytes)) sent++;
    }
    return sent;
  }

  #sendTo(handle: ClientHandle, bytes: Uint8Array): boolean {
    if (handle.send(bytes)) return true;
    this.#dropped++;
    return false;
  }
}
