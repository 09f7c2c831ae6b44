/**
 * The soak's last step: the server is stopped with SIGTERM while a few
 * clients are connected and still sending, and everything they send before
 * the server closes them must be acknowledged and written, as a graceful
 * shutdown promises.
 *
 * @module
 */

import { AckParser } from "../../lib/wire/ack_protocol.ts";
import { PROBE_IO_TIMEOUT_MS, sleep, within } from "./_common.ts";
import { probe, type ProbeContext } from "./probe.ts";
import { readAcks, readToEnd } from "./read_to_end.ts";
import type { ServerExit } from "./verdict.ts";

/** Clients mid-stream at the final SIGTERM. */
export const DRAIN_CLIENTS = 4;

/** How long they go on sending after it. */
const DRAIN_SEND_MS = 1000;

const encoder = new TextEncoder();

/**
 * The final stop: a few clients are connected and acknowledged, the server
 * gets SIGTERM, and they go on sending for a while before they close. Every
 * line, including those sent after the signal, must be acknowledged and in
 * the output, and the server must exit 0.
 */
export async function drainAndStop(ctx: ProbeContext): Promise<ServerExit | null> {
  const ready: PromiseWithResolvers<void>[] = [];
  const signalled = Promise.withResolvers<void>();
  const clients = Array.from({ length: DRAIN_CLIENTS }, (_, k) => {
    const up = Promise.withResolvers<void>();
    ready.push(up);
    let sent = 0;
    return probe(
      ctx,
      { kind: "drain", name: `drain#${k}`, reasons: ["eof"], mayLoseUnread: false },
      async (conn, record) => {
        const parser = new AckParser();
        try {
          await record.send(conn, encoder.encode(`d${k} ${sent++}\n`));
          if (await readAcks(conn, parser, 1, PROBE_IO_TIMEOUT_MS) < 1) {
            throw new Error("first line not acknowledged");
          }
        } finally {
          up.resolve();
        }
        await signalled.promise;
        // Acknowledgments are read all along, so closing is never a reset.
        const reading = readToEnd(conn, DRAIN_SEND_MS + PROBE_IO_TIMEOUT_MS, parser);
        const stopAt = performance.now() + DRAIN_SEND_MS;
        while (performance.now() < stopAt) {
          await record.send(conn, encoder.encode(`d${k} ${sent++}\n`));
          ctx.counts.linesAfterSigterm++;
          await sleep(50);
        }
        await conn.closeWrite();
        if (!(await reading)) throw new Error("server did not close after the input ended");
        ctx.counts.drain++;
        if (parser.acknowledged !== sent) {
          throw new Error(`${parser.acknowledged} of ${sent} lines acknowledged`);
        }
      },
    );
  });
  await within(Promise.all(ready.map((r) => r.promise)), PROBE_IO_TIMEOUT_MS * 2, undefined);
  const stopping = ctx.server.finalStop();
  // The signal is sent synchronously at the start of finalStop, unless
  // another action is queued; give the server a moment to close its
  // listener before the clients go on.
  await sleep(100);
  signalled.resolve();
  const [exit] = await Promise.all([stopping, within(Promise.all(clients), 30_000, [])]);
  return exit;
}
