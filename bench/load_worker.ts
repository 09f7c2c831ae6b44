/**
 * The fan-in's load generator, in a Worker of bench/run.ts so that sending
 * and reading the server's output do not take turns on one thread.
 *
 * Protocol: `{ clients, lines }` builds every client's input and answers
 * `"ready"`; then `{ port }` connects the clients to 127.0.0.1:port, sends
 * all of it, closes, and answers with the count of clients whose connection
 * failed.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import { writeAll } from "../lib/io/write_all.ts";
import { clientPayload } from "./load.ts";

let payloads: Uint8Array[] = [];

self.onmessage = async (
  event: MessageEvent<{ clients: number; lines: number } | { port: number }>,
) => {
  const message = event.data;
  if ("clients" in message) {
    payloads = Array.from({ length: message.clients }, (_, i) => clientPayload(i, message.lines));
    self.postMessage("ready");
    return;
  }
  let failed = 0;
  await Promise.all(payloads.map(async (payload) => {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: message.port });
      try {
        await writeAll(conn, payload);
      } finally {
        conn.close();
      }
    } catch {
      failed++; // a server that drops clients is a result, not a crash
    }
  }));
  self.postMessage(failed);
};
