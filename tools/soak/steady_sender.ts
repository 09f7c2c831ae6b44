/**
 * The steady load: one `client.ts --ack --retry forever` process per sender,
 * fed numbered lines on its stdin at a steady pace while the server is
 * killed, restarted and rotated under it. Every line it is fed must reach
 * the output at least once; `steadyText` (verdict.ts) says what each one is.
 *
 * @module
 */

import { DENO, describe, HOST, ROOT, sleep, within } from "./_common.ts";
import { EXIT_TIMEOUT_MS, track } from "./_children.ts";
import { steadyText } from "./verdict.ts";

/** Steady feeding tick: lines due are written every this many ms. */
const FEED_TICK_MS = 20;

/** Most lines written to a client's stdin in one tick (catching up). */
const MAX_FEED_BATCH = 500;

/** Bytes of a steady client's stderr kept for the report. */
const STDERR_TAIL = 4096;

const encoder = new TextEncoder();

/** A stretch of silence in a steady client's input, from `at` (a
 * performance.now()) for `ms`. */
export interface Pause {
  readonly at: number;
  readonly ms: number;
}

/** One `client.ts --ack --retry forever` process fed numbered lines. */
export class SteadySender {
  readonly index: number;
  readonly child: Deno.ChildProcess;
  /** Lines whose write into the client's stdin completed. */
  sent = 0;
  stderrTail = "";
  /** Reconnect attempts the client announced on stderr. */
  retries = 0;
  feedError: string | null = null;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #stderrDone: Promise<void>;

  constructor(index: number, port: number) {
    this.index = index;
    const child = new Deno.Command(DENO, {
      args: [
        ...["run", "--allow-net", `${ROOT}client.ts`],
        ...["--ack", "--retry", "forever", HOST, String(port)],
      ],
      stdin: "piped",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    this.child = child;
    track(child);
    this.#writer = child.stdin.getWriter();
    this.#stderrDone = (async () => {
      const textDecoder = new TextDecoder();
      for await (const chunk of child.stderr) {
        const text = textDecoder.decode(chunk, { stream: true });
        this.retries += text.split("retrying in").length - 1;
        this.stderrTail = (this.stderrTail + text).slice(-STDERR_TAIL);
      }
    })().catch(() => {});
  }

  /**
   * Writes lines at `rate` per second until `endAt` (a performance.now()).
   * During `pause`, if given, it writes nothing: longer than
   * `--idle-timeout`, so the server closes the client's connection and the
   * client has to reconnect when lines come again; the lines due meanwhile
   * follow at once.
   */
  async feed(rate: number, endAt: number, pause: Pause | null): Promise<void> {
    const begin = performance.now();
    try {
      while (performance.now() < endAt) {
        const now = performance.now();
        if (pause !== null && now >= pause.at && now < pause.at + pause.ms) {
          await sleep(FEED_TICK_MS);
          continue;
        }
        const due = Math.floor(((now - begin) / 1000) * rate);
        const count = Math.min(due - this.sent, MAX_FEED_BATCH);
        if (count > 0) {
          let text = "";
          for (let seq = this.sent; seq < this.sent + count; seq++) {
            text += steadyText(this.index, seq) + "\n";
          }
          // A client whose queue is full stops reading stdin; this write then
          // waits, as a pipeline feeding it would.
          await this.#writer.write(encoder.encode(text));
          this.sent += count;
        }
        await sleep(FEED_TICK_MS);
      }
    } catch (error) {
      this.feedError = describe(error);
    }
  }

  /** Closes stdin and waits for the client to exit; null if it had to be
   * killed. */
  async finish(timeoutMs: number): Promise<number | null> {
    await within(this.#writer.close().catch(() => {}), timeoutMs, undefined);
    const status = await within<Deno.CommandStatus | null>(this.child.status, timeoutMs, null);
    if (status === null) {
      try {
        this.child.kill("SIGKILL");
      } catch {
        // Gone meanwhile.
      }
      await within(this.child.status, EXIT_TIMEOUT_MS, null);
    }
    await within(this.#stderrDone, 1000, undefined);
    return status === null ? null : status.code;
  }
}
