/**
 * Tests of {@linkcode PrefixedConn} over a real loopback connection: the
 * bytes already read come back first, then the connection's own, none lost
 * or doubled, whatever the reader's buffer size; writes and closes reach the
 * connection.
 */

import assert from "node:assert/strict";
import { PrefixedConn } from "../../lib/io/prefixed_conn.ts";
import { bytes, concat, readToEnd, withTimeout, writeAll } from "../_helpers/mod.ts";

/** A connected pair of TCP connections on loopback, closed when disposed. */
async function pair(): Promise<{ near: Deno.TcpConn; far: Deno.TcpConn } & Disposable> {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const far = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const near = await listener.accept();
  return {
    near,
    far,
    [Symbol.dispose](): void {
      for (const conn of [near, far]) {
        try {
          conn.close();
        } catch { /* already closed */ }
      }
    },
  };
}

/** Reads `conn` to its end with a buffer of `size` bytes. */
async function readAll(conn: PrefixedConn, size: number): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const buffer = new Uint8Array(size);
  for (let n; (n = await conn.read(buffer)) !== null;) parts.push(buffer.slice(0, n));
  return concat(parts);
}

Deno.test("PrefixedConn gives back its prefix, then the connection's bytes, into buffers of any size", async () => {
  for (const size of [1, 3, 64]) {
    using conns = await pair();
    await writeAll(conns.far, bytes("rest of the stream\n"));
    conns.far.close();
    const prefixed = new PrefixedConn(conns.near, bytes("the prefix, "));
    const all = await withTimeout(readAll(prefixed, size), 5000, "the end of the stream");
    assert.equal(new TextDecoder().decode(all), "the prefix, rest of the stream\n", `size ${size}`);
  }
});

Deno.test("PrefixedConn with an empty prefix reads the connection as it is", async () => {
  using conns = await pair();
  await writeAll(conns.far, bytes("only this"));
  conns.far.close();
  const all = await readAll(new PrefixedConn(conns.near, new Uint8Array(0)), 16);
  assert.equal(new TextDecoder().decode(all), "only this");
});

Deno.test("PrefixedConn writes, half-closes and closes the connection under it", async () => {
  using conns = await pair();
  const prefixed = new PrefixedConn(conns.near, bytes("unread"));
  assert.equal(prefixed.remoteAddr.port, (conns.far.localAddr as Deno.NetAddr).port);
  await writeAll(prefixed, bytes("reply"));
  await prefixed.closeWrite();
  assert.equal(new TextDecoder().decode(await readToEnd(conns.far)), "reply");
  prefixed.close();
  // What was left of the prefix went with the close.
  await assert.rejects(prefixed.read(new Uint8Array(8)), Deno.errors.BadResource);
});
