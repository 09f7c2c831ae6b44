/**
 * The operator console: lines typed on the server's stdin (with
 * `--console`) are sent to every client, terminal-safe, and lines that
 * start with `/` are commands: `/msg N TEXT`, `/list`, `/kick N`, `/stats`,
 * `/help` (see {@linkcode CONSOLE_HELP}). A line starting with `//` sends
 * the rest with one `/`. Replies are meant for the server's stderr.
 *
 * Parsing ({@linkcode parseConsoleLine}) and running
 * ({@linkcode runConsoleCommand}) are pure apart from calling the target, so
 * they are tested without a terminal; {@linkcode runOperatorConsole} adds the
 * reading, with every line capped at {@linkcode CONSOLE_MAX_LINE} bytes.
 *
 * @module
 */

import { abortable } from "../io/mod.ts";
import { formatHostPort } from "../net/mod.ts";
import type { ClientHandle } from "./client_handle.ts";
import { countOf, describeError, safeString } from "../text/mod.ts";
import { type LineFlags, LineFramer, TRUNCATED } from "../wire/mod.ts";

/** Longest console line, in bytes; a longer one is refused, not run. */
export const CONSOLE_MAX_LINE = 65536;

/** Size of the buffer stdin is read into. */
const READ_BUFFER = 16384;

/** Longest piece of an unknown command quoted back in a reply. */
const QUOTE_MAX = 40;

/** What the operator asked for with one line. */
export type ConsoleCommand =
  /** Send `text` to every client. */
  | { kind: "say"; text: string }
  /** Send `text` to client `id`. */
  | { kind: "msg"; id: number; text: string }
  | { kind: "list" }
  | { kind: "kick"; id: number }
  | { kind: "stats" }
  | { kind: "help" }
  /** A blank line: nothing to do. */
  | { kind: "empty" }
  /** A line that cannot be run; `message` says why. */
  | { kind: "invalid"; message: string };

/** What the console acts on: the hub, in the server. */
export interface ConsoleTarget {
  /** Connected clients in order of number. */
  clients(): ClientHandle[];
  /** The connected client numbered `id`, if any. */
  client(id: number): ClientHandle | undefined;
  /** Sends a line to every client; returns how many took it. */
  broadcast(text: string): number;
  /** Sends a line to client `id`; false if there is none or it refused. */
  message(id: number, text: string): boolean;
}

/** What commands run with. */
export interface ConsoleContext {
  target: ConsoleTarget;
  /** One line of totals for `/stats`. */
  statsText(): string;
  /** The time, in ms since the epoch (for the ages in `/list`). */
  now(): number;
}

/** What `/help` shows. */
export const CONSOLE_HELP = [
  "Console commands:",
  "  TEXT          send TEXT to every client",
  "  //TEXT        send /TEXT to every client",
  "  /msg N TEXT   send TEXT to client N only",
  "  /list         show connected clients",
  "  /kick N       disconnect client N",
  "  /stats        show totals",
  "  /help         show this help",
  "",
].join("\n");

/** `"text"`, cut to a short prefix, for quoting what the operator typed. */
function quoted(text: string): string {
  return JSON.stringify(text.length > QUOTE_MAX ? `${text.slice(0, QUOTE_MAX)}...` : text);
}

/** Reads a client number, or says why it is not one. */
function clientNumber(text: string): number | { message: string } {
  const id = Number(text);
  return /^[0-9]+$/.test(text) && Number.isSafeInteger(id)
    ? id
    : { message: `Invalid client number ${quoted(text)}` };
}

/**
 * Parses one console line (without its newline; a trailing `\r` is
 * ignored).
 *
 * @example
 * ```ts
 * import { parseConsoleLine } from "./operator_console.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(parseConsoleLine("hello"), { kind: "say", text: "hello" });
 * assert.deepEqual(parseConsoleLine("/msg 3 hi there"), { kind: "msg", id: 3, text: "hi there" });
 * assert.deepEqual(parseConsoleLine("//etc"), { kind: "say", text: "/etc" });
 * ```
 */
export function parseConsoleLine(line: string): ConsoleCommand {
  const text = line.endsWith("\r") ? line.slice(0, -1) : line;
  if (text.trim() === "") return { kind: "empty" };
  if (!text.startsWith("/")) return { kind: "say", text };
  if (text.startsWith("//")) return { kind: "say", text: text.slice(1) };
  const match = /^\/(\S*)(?:\s+(.*))?$/s.exec(text.trimEnd());
  const name = match?.[1] ?? "";
  const rest = match?.[2] ?? "";
  switch (name) {
    case "msg": {
      // The text is kept as typed after the space that ends the number.
      const parts = /^(\S+)\s(.*)$/s.exec(text.replace(/^\/msg\s+/, ""));
      const message = parts?.[2] ?? "";
      if (parts === null || message.trim() === "") {
        return { kind: "invalid", message: "/msg needs a client number and text" };
      }
      const id = clientNumber(parts[1] ?? "");
      return typeof id === "number"
        ? { kind: "msg", id, text: message }
        : { kind: "invalid", message: id.message };
    }
    case "kick": {
      if (rest === "" || /\s/.test(rest)) {
        return { kind: "invalid", message: "/kick needs one client number" };
      }
      const id = clientNumber(rest);
      return typeof id === "number"
        ? { kind: "kick", id }
        : { kind: "invalid", message: id.message };
    }
    case "list":
    case "stats":
    case "help":
      return rest === ""
        ? { kind: name }
        : { kind: "invalid", message: `/${name} takes no arguments` };
    default:
      return {
        kind: "invalid",
        message: `Unknown command ${quoted(`/${name}`)}; /help lists them`,
      };
  }
}

/** `HH:MM:SS`, local time. */
function clockTime(time: number): string {
  const date = new Date(time);
  return [date.getHours(), date.getMinutes(), date.getSeconds()]
    .map((part) => String(part).padStart(2, "0"))
    .join(":");
}

/** An age such as `45s`, `2m05s`, `3h07m` or `2d04h`. */
export function formatAge(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  const two = (n: number): string => String(n).padStart(2, "0");
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${two(seconds % 60)}s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours}h${two(minutes % 60)}m`;
  return `${Math.floor(hours / 24)}d${two(hours % 24)}h`;
}

/** The `/list` table: a header and one row per client, columns aligned. */
function clientTable(clients: ClientHandle[], now: number): string {
  if (clients.length === 0) return "no clients connected\n";
  const rows = [["client", "address", "connected since", "lines in", "lines out"]];
  for (const handle of clients) {
    const { id, address, port, identity } = handle.client;
    // What the peer controls is escaped as in the server's text output.
    const as = identity === undefined ? "" : ` as ${safeString(identity)}`;
    rows.push([
      String(id),
      formatHostPort(safeString(address), port) + as,
      `${clockTime(handle.connectedAt)} (${formatAge(now - handle.connectedAt)})`,
      String(handle.linesIn),
      String(handle.linesOut),
    ]);
  }
  const widths =
    rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? "").length))) ?? [];
  // Numbers right-aligned, text left-aligned.
  const numeric = [true, false, false, true, true];
  return rows.map((row) =>
    row.map((cell, column) => {
      const width = widths[column] ?? 0;
      return numeric[column] ? cell.padStart(width) : cell.padEnd(width);
    }).join("  ").trimEnd() + "\n"
  ).join("");
}

/**
 * Runs one command against `context.target`; returns what to show the
 * operator: lines ending in `\n`, or "" for a blank line.
 *
 * @example
 * ```ts
 * import { parseConsoleLine, runConsoleCommand } from "./operator_console.ts";
 * import assert from "node:assert/strict";
 *
 * const target = {
 *   clients: () => [],
 *   client: () => undefined,
 *   broadcast: (_text: string) => 0,
 *   message: (_id: number, _text: string) => false,
 * };
 * const context = { target, statsText: () => "0 clients", now: () => 0 };
 * assert.equal(runConsoleCommand(parseConsoleLine("hi"), context), "sent to 0 clients\n");
 * assert.equal(runConsoleCommand(parseConsoleLine("/kick 4"), context), "No client 4\n");
 * ```
 */
export function runConsoleCommand(command: ConsoleCommand, context: ConsoleContext): string {
  const { target } = context;
  switch (command.kind) {
    // What the operator sends is escaped as the chat relay escapes client
    // lines, in every mode: a stray escape sequence (a pasted one, or a key
    // the terminal sent as one) must not act on the clients' terminals.
    case "say":
      return `sent to ${countOf(target.broadcast(safeString(command.text)), "client")}\n`;
    case "msg":
      if (target.client(command.id) === undefined) return `No client ${command.id}\n`;
      return target.message(command.id, safeString(command.text))
        ? `sent to client ${command.id}\n`
        : `Cannot send to client ${command.id}: its send queue is full or it is leaving\n`;
    case "kick": {
      const handle = target.client(command.id);
      if (handle === undefined) return `No client ${command.id}\n`;
      handle.kick();
      return `kicked client ${command.id}\n`;
    }
    case "list":
      return clientTable(target.clients(), context.now());
    case "stats": {
      const stats = context.statsText();
      return stats.endsWith("\n") ? stats : `${stats}\n`;
    }
    case "help":
      return CONSOLE_HELP;
    case "empty":
      return "";
    case "invalid":
      return `${command.message}\n`;
  }
}

/**
 * Reads lines from `input` (the server's stdin) until it ends or `signal`
 * aborts, runs each, and shows the replies through `show`. A last line
 * without a newline is run too. A line longer than
 * {@linkcode CONSOLE_MAX_LINE} bytes is refused with a message, never
 * buffered whole. A read error ends the console with a message; the
 * returned promise never rejects.
 */
export async function runOperatorConsole(
  input: { read(buffer: Uint8Array): Promise<number | null> },
  context: ConsoleContext,
  show: (text: string) => void,
  signal?: AbortSignal,
): Promise<void> {
  const decoder = new TextDecoder();
  const framer = new LineFramer({ maxLine: CONSOLE_MAX_LINE });
  const buffer = new Uint8Array(READ_BUFFER);
  const sink = (line: Uint8Array, flags: LineFlags): void => {
    if (signal?.aborted) return;
    if (flags & TRUNCATED) {
      show(
        `Cannot run a line longer than ${CONSOLE_MAX_LINE} bytes: ignored it, nothing was sent\n`,
      );
      return;
    }
    const reply = runConsoleCommand(parseConsoleLine(decoder.decode(line)), context);
    if (reply !== "") show(reply);
  };
  // A read of stdin cannot be cancelled: on abort, stop waiting for it
  // (through a listener each read removes, so reads keep nothing on `signal`).
  const stopped = signal ?? new AbortController().signal;
  while (!stopped.aborted) {
    let n: number | null;
    try {
      const read = input.read(buffer);
      // Once abandoned, a read that fails later must not be an unhandled
      // rejection.
      read.catch(() => {});
      n = await abortable(read, stopped);
    } catch (error) {
      if (stopped.aborted) return;
      show(`Operator console stopped: cannot read stdin: ${describeError(error)}\n`);
      return;
    }
    if (n === null) {
      framer.end(sink);
      return;
    }
    framer.push(buffer.subarray(0, n), sink);
  }
}
