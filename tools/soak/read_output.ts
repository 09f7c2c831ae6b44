/**
 * The server's output files, read back for the verdict in the order they
 * were written: each rotation's file, then the current one, with the
 * offsets where a SIGKILL left a record torn.
 *
 * @module
 */

import type { ServerControl } from "./server_control.ts";
import type { OutputFile } from "./verdict.ts";

/** The output files in the order they were written, with torn offsets. */
export async function readOutput(server: ServerControl): Promise<OutputFile[]> {
  const files: OutputFile[] = [];
  for (let rotation = 0; rotation <= server.rotations; rotation++) {
    const isCurrent = rotation === server.rotations;
    const path = isCurrent ? server.outPath : `${server.outPath}.${rotation + 1}`;
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(path);
    } catch (error) {
      if (isCurrent && error instanceof Deno.errors.NotFound) continue;
      throw error;
    }
    files.push({
      name: path.slice(path.lastIndexOf("/") + 1),
      bytes,
      tornOffsets: server.tornMarks.filter((m) => m.rotation === rotation).map((m) => m.offset),
    });
  }
  return files;
}
