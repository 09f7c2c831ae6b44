/**
 * What a broker gets: the server's JSON message records, read back from the
 * bytes the formatter wrote. A sink receives exactly what a file would (JSON
 * Lines, in chunks that may end mid-record), so the formatter, its
 * WebAssembly fast path and the Workers' hand-off stay as they are; the
 * price is one `JSON.parse` per message, measured in the README
 * (Performance). Connection events and the `start`/`stop` records are not
 * messages and are passed over.
 *
 * @module
 */

/** One message, as a broker stores it. */
export interface SinkMessage {
  /**
   * The record's fields as name, value, name, value...: every field but
   * `type`, in the record's order, values as text (numbers in decimal); the
   * `truncated`, `partial` and `invalid_utf8` flags are folded into one
   * `flags` field (`truncated,partial`), present only when one is set.
   */
  readonly fields: readonly string[];
  /** Unique to this record, the same each time it is sent:
   * `run/client/seq`, after `node/` when the record names a node. */
  readonly id: string;
  /** The record as the output has it: one line of JSON, without newline. */
  readonly json: string;
}

/** The record fields that are flags: true or absent. */
const FLAGS = new Set(["truncated", "partial", "invalid_utf8"]);

/**
 * Turns the bytes of JSON records into messages, holding a record that is
 * not complete yet until the rest arrives.
 *
 * @example
 * ```ts
 * import { MessageSplitter } from "./message_splitter.ts";
 * import assert from "node:assert/strict";
 *
 * const splitter = new MessageSplitter();
 * const bytes = new TextEncoder().encode(
 *   '{"time":"t","type":"connect","run":"r","client":0}\n' +
 *     '{"time":"t","type":"message","run":"r","client":0,"seq":1,"text":"hi","partial":true}\n{"ti',
 * );
 * const [message] = splitter.push(bytes);
 * assert.deepEqual(message?.fields, [
 *   "time", "t", "run", "r", "client", "0", "seq", "1", "text", "hi", "flags", "partial",
 * ]);
 * assert.equal(message?.id, "r/0/1");
 * assert.equal(splitter.heldBytes, 4);
 * ```
 */
export class MessageSplitter {
  readonly #decoder = new TextDecoder();
  /** The start of a record whose newline has not arrived. */
  #tail = "";
  #unreadable = 0;

  /** Records that were not JSON objects (none, from linehub's formatter);
   * passed over, and counted so that a loss would not be silent. */
  get unreadable(): number {
    return this.#unreadable;
  }

  /** UTF-16 units held of an unfinished record: about its bytes. */
  get heldBytes(): number {
    return this.#tail.length;
  }

  /** The messages among the records that `bytes` completes, in order. */
  push(bytes: Uint8Array): SinkMessage[] {
    const text = this.#tail + this.#decoder.decode(bytes, { stream: true });
    const messages: SinkMessage[] = [];
    let start = 0;
    let end = text.indexOf("\n");
    while (end !== -1) {
      const message = this.#message(text.slice(start, end));
      if (message !== null) messages.push(message);
      start = end + 1;
      end = text.indexOf("\n", start);
    }
    this.#tail = text.slice(start);
    return messages;
  }

  /** Counts the messages among records without keeping them: what was lost
   * when a sink gives up. The held record counts once it is complete. */
  count(bytes: Uint8Array): number {
    return this.push(bytes).length;
  }

  /** The message a record is, or null for any other record. */
  #message(json: string): SinkMessage | null {
    let record: unknown;
    try {
      record = JSON.parse(json);
    } catch {
      this.#unreadable++;
      return null;
    }
    if (typeof record !== "object" || record === null || Array.isArray(record)) {
      this.#unreadable++;
      return null;
    }
    const entries = record as Record<string, unknown>;
    if (entries.type !== "message") return null;
    const fields: string[] = [];
    let flags = "";
    for (const name in entries) {
      const value = entries[name];
      if (name === "type") continue;
      if (FLAGS.has(name)) {
        if (value === true) flags += flags === "" ? name : `,${name}`;
        continue;
      }
      fields.push(
        name,
        typeof value === "string"
          ? value
          : typeof value === "object" && value !== null
          ? JSON.stringify(value)
          : String(value),
      );
    }
    if (flags !== "") fields.push("flags", flags);
    const node = typeof entries.node === "string" ? `${entries.node}/` : "";
    return { fields, id: `${node}${entries.run}/${entries.client}/${entries.seq}`, json };
  }
}
