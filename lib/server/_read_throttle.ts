/**
 * {@linkcode ReadThrottle}: how `--rate-limit` holds one client back. The
 * limit is on lines, but the server reads bytes, and one read may hold many
 * lines, all of which are framed and written (none is ever dropped). So the
 * throttle sizes each read to about the lines the client's tokens allow,
 * from the length of its recent lines, takes a token for every line a read
 * framed, and, once the tokens are spent, says how long to stop reading: TCP
 * then holds the client back. A client past its rate thus gets one read's
 * worth of lines more at most (a few lines, or {@linkcode MIN_READ_BYTES} of
 * short ones), and pays them back by waiting longer.
 *
 * @module
 */

import type { RateLimit } from "./server_options.ts";
import { TokenBucket } from "./token_bucket.ts";

/** Smallest read of a throttled client, however short its lines: reading
 * fewer bytes at a time would cost more system calls than it spares lines. */
export const MIN_READ_BYTES = 64;
/** A paused client is read again once it has earned this many seconds' worth
 * of lines (or its whole burst, if that is less): so a throttled client
 * costs the server at most ten wake-ups a second, not one per line. */
const RESUME_SECONDS = 0.1;
/** Weight of the newest read in the estimate of a line's length: recent
 * lines count most, so a client whose lines change length is soon read in
 * sizes that fit the new ones. */
const NEWEST_WEIGHT = 0.25;

/** One client's rate limit: its tokens and its lines' length. Times are
 * milliseconds on a clock that does not go backwards (`performance.now()`). */
export class ReadThrottle {
  readonly #bucket: TokenBucket;
  /** Tokens a pause waits for. */
  readonly #resumeAt: number;
  /** Bytes per line, as recent reads found them; 0 before the first line. */
  #lineBytes = 0;
  /** Bytes read since the last read that ended a line (a long line's parts). */
  #unlined = 0;

  constructor(limit: RateLimit, now: number) {
    const burst = limit.burst ?? limit.lines;
    this.#bucket = new TokenBucket(limit.lines, now, { burst });
    this.#resumeAt = Math.min(burst, Math.max(1, limit.lines * RESUME_SECONDS));
  }

  /** How many bytes to read next, at most `capacity`: about what the tokens
   * held at `now` allow, and `capacity` until a line shows how long lines are. */
  readSize(capacity: number, now: number): number {
    if (this.#lineBytes === 0) return capacity;
    const lines = Math.max(1, this.#bucket.tokens(now));
    return Math.min(capacity, Math.max(MIN_READ_BYTES, Math.ceil(lines * this.#lineBytes)));
  }

  /** A read of `bytes` framed `lines` lines at `now`: takes a token for each. */
  took(lines: number, bytes: number, now: number): void {
    this.#unlined += bytes;
    if (lines === 0) return;
    const perLine = this.#unlined / lines;
    this.#unlined = 0;
    this.#lineBytes = this.#lineBytes === 0
      ? perLine
      : this.#lineBytes + (perLine - this.#lineBytes) * NEWEST_WEIGHT;
    this.#bucket.take(lines, now);
  }

  /** Milliseconds to stop reading from `now`: 0 while a line's token is left. */
  pauseMs(now: number): number {
    if (this.#bucket.tokens(now) >= 1) return 0;
    return this.#bucket.msUntil(this.#resumeAt, now);
  }
}
