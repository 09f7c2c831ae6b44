/**
 * What every framer of a client's byte stream offers, whatever marks where
 * a message ends: {@linkcode LineFramer} (a `\n` ends a line) and
 * {@linkcode OctetFramer} (each message is preceded by its length, RFC 6587
 * octet counting). A server holds its clients' framers by this interface,
 * so the choice of framing is made once, when a connection's pipeline is
 * built, and the steps after it never ask which one they got.
 *
 * Both hand each message to the same {@linkcode LineSink}, with the same
 * flags (`TRUNCATED`, `PARTIAL`) and the same cut at
 * `maxLine` (at a UTF-8 character boundary), so a message reads the same in
 * the output whichever framing carried it.
 *
 * @module
 */

import type { LineRun, LineSink } from "./line_framer.ts";

/**
 * An incremental, bounded splitter of a byte stream into messages, each
 * delivered to a {@linkcode LineSink} as a view valid only during the call.
 *
 * @example
 * ```ts
 * import type { Framer } from "./framer.ts";
 * import { LineFramer } from "./line_framer.ts";
 * import { OctetFramer } from "./octet_framer.ts";
 * import assert from "node:assert/strict";
 *
 * // The same message, framed by LF and by octet counting.
 * const cases: Array<[Framer, string]> = [[new LineFramer(), "hello\n"], [new OctetFramer(), "5 hello"]];
 * for (const [framer, input] of cases) {
 *   const got: string[] = [];
 *   framer.push(new TextEncoder().encode(input), (line) => got.push(new TextDecoder().decode(line)));
 *   assert.deepEqual(got, ["hello"]);
 *   assert.equal(framer.midLine, false);
 * }
 * ```
 */
export interface Framer {
  /** Longest message, in bytes, delivered whole; longer ones are cut. */
  readonly maxLine: number;
  /** Bytes of an unfinished message held now; bounded by `maxLine` (plus
   * one for a `\r` whose `\n` may follow, in LF framing). */
  readonly bufferedBytes: number;
  /** Whether a message has begun and not yet ended (what `--line-timeout`
   * watches). */
  readonly midLine: boolean;
  /** Messages cut at `maxLine` and delivered so far. */
  readonly truncatedLines: number;
  /** Bytes dropped so far from the messages that were cut. */
  readonly droppedBytes: number;
  /** Feeds one chunk; calls `sink` for each message it completes. `run`, a
   * fast path for runs of LF-terminated lines, is used only where the
   * stream is framed by LF. */
  push(chunk: Uint8Array, sink: LineSink, run?: LineRun): void;
  /** The stream is over: delivers an unfinished last message flagged
   * `PARTIAL` (with `TRUNCATED` if it was cut). */
  end(sink: LineSink): void;
}
