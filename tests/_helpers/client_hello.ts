/**
 * Test fixture: the first flight of a real TLS client, to start handshakes
 * that go no further. Sent on a plain TCP connection, it makes a TLS server
 * do the first half of a handshake (answer, then wait for the client's
 * Finished), which a test can see by the server's answer.
 *
 * @module
 */

import { closeQuietly } from "../../lib/io/close_quietly.ts";
import { concatBytes } from "../../lib/io/concat_bytes.ts";

let captured: Promise<Uint8Array> | null = null;

/** The ClientHello Deno's TLS client sends, captured once per process. */
export function clientHello(): Promise<Uint8Array> {
  captured ??= capture();
  return captured;
}

/** Bytes of a TLS record header; its last two give the record's length. */
const RECORD_HEADER = 5;

/** Reads one TLS record from a client, at a listener that then hangs up. */
async function capture(): Promise<Uint8Array> {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const client = Deno.connectTls({ hostname: "127.0.0.1", port: listener.addr.port })
    .then((conn) => conn.handshake().finally(() => closeQuietly(conn)))
    .catch(() => {}); // the listener hangs up: the handshake fails, as meant
  const conn = await listener.accept();
  let record: Uint8Array = new Uint8Array();
  const length = (): number => RECORD_HEADER + ((record[3] ?? 0) << 8 | (record[4] ?? 0));
  try {
    while (record.length < RECORD_HEADER || record.length < length()) {
      const chunk = new Uint8Array(4096);
      const n = await conn.read(chunk);
      if (n === null) throw new Error("The TLS client closed before its ClientHello");
      record = concatBytes([record, chunk.subarray(0, n)]);
    }
  } finally {
    closeQuietly(conn);
  }
  await client;
  return record;
}
