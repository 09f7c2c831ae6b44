/**
 * Where the server's records go, as the server sees it: the output file or
 * stdout (a {@linkcode BatchWriter}), a broker's stream (lib/sink), or both
 * at once. The server formats each record into it synchronously and looks
 * at nothing else than this surface: `backlogged` and `drained` for
 * backpressure (connections stop reading), `whenWritten` for `--ack`, and
 * `flush` at shutdown. Its owner, the command line, watches the rest:
 * whether it is stalled (holding records it keeps trying to deliver), and
 * `giveUp` when the drain deadline passes, after which what it still held
 * is counted as lost.
 *
 * A destination reports its failures through the callbacks of
 * {@linkcode RecordSinkEvents}, given when it is made, in the unit it
 * counts in (bytes for a file, messages for a broker).
 *
 * @module
 */

import type { LineWriter } from "./types.ts";

/** A destination of records: see the module's summary. */
export interface RecordSink extends LineWriter {
  /** True while more is pending than the sink takes before callers should
   * stop producing. */
  readonly backlogged: boolean;
  /** Bytes accepted and not yet confirmed. */
  readonly pendingBytes: number;
  /** True while a failed delivery is waiting to be tried again. */
  readonly stalled: boolean;
  /** True once the sink has failed for good (see `onError`). */
  readonly failed: boolean;
  /** Resolves once the sink is no longer backlogged; rejects if it fails. */
  drained(): Promise<void>;
  /**
   * Resolves once every record accepted before the call is confirmed
   * (handed to the file or pipe; acknowledged by the broker), without
   * waiting for later ones; rejects if the sink fails first.
   */
  whenWritten(): Promise<void>;
  /** Resolves when every record accepted so far is confirmed; rejects if
   * the sink fails. */
  flush(): Promise<void>;
  /** Stops retrying: the sink fails for good with its last error, and what
   * it still holds is counted as lost. */
  giveUp(): void;
}

/** How a {@linkcode RecordSink} tells its owner about failures. */
export interface RecordSinkEvents {
  /** Called once, with the error and the count of accepted records (or
   * bytes, for a file) that will never be delivered, when the sink fails
   * for good; later records are dropped and `flush` rejects.
   * @default {undefined} */
  onError?: (error: unknown, lost: number) => void;
  /** Called at the first failed delivery of a stall, one that will be
   * retried.
   * @default {undefined} */
  onStall?: (error: unknown) => void;
  /** Called when a delivery succeeds again after a stall.
   * @default {undefined} */
  onResume?: () => void;
}
