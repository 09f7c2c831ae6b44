/**
 * The floors linehub's CPU per line is judged against in `deno task bench`:
 * what this runtime costs before any framing or labelling. Each connection
 * reads into its own 64 KiB buffer, as linehub's busy connections do.
 *
 * - `read`: reads and drops the bytes, so its CPU is the read ops alone (the
 *   system call, the copy out of the kernel, the op and its promise). At
 *   the end of each connection that sent anything it writes one line of 99
 *   `#`, so the bench sees that client's data arrive.
 * - `copy`: a raw copier, like `ncat -lk`: every read goes as it is into a
 *   {@linkcode BatchWriter} over stdout with linehub's 1 MiB chunks, so its
 *   CPU is the read ops plus one copy and the write ops. Not line-exact.
 *
 * They are here to be measured against, not used.
 *
 * Usage: deno run --allow-net bench/floor_server.ts read|copy PORT
 *
 * @module
 */

import { BatchWriter } from "../lib/io/mod.ts";

const READ_BUFFER = 65536;
/** linehub's output chunk (lib/cli/server_cli.ts). */
const OUTPUT_CHUNK = 1048576;

const [mode, port] = Deno.args;
if (mode !== "read" && mode !== "copy") {
  console.error("usage: floor_server.ts read|copy PORT");
  Deno.exit(2);
}
const output = new BatchWriter(Deno.stdout, { chunkSize: OUTPUT_CHUNK });
const marker = new Uint8Array(100).fill(35);
marker[99] = 10;

async function serve(conn: Deno.TcpConn): Promise<void> {
  const buffer = new Uint8Array(READ_BUFFER);
  let received = 0;
  try {
    let n: number | null;
    while ((n = await conn.read(buffer)) !== null) {
      received += n;
      if (mode === "copy") {
        output.write(buffer.subarray(0, n));
        if (output.backlogged) await output.drained();
      }
    }
  } catch {
    // A reset ends this client only.
  }
  // Not for the bench's probe, which connects and sends nothing.
  if (mode === "read" && received > 0) output.write(marker);
  conn.close();
}

const listener = Deno.listen({ hostname: "127.0.0.1", port: Number(port ?? 8888) });
for await (const conn of listener) void serve(conn);
