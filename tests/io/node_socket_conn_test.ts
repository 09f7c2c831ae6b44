/**
 * Tests of {@linkcode NodeSocketConn}: a `node:net` socket read and written
 * as a `Deno.Conn` is, over loopback.
 */

import assert from "node:assert/strict";
import { createServer, type Socket } from "node:net";
import { NodeSocketConn, toDenoError } from "../../lib/io/node_socket_conn.ts";
import { bytes, concat, withTimeout } from "../_helpers/mod.ts";

/** A node:net server on 127.0.0.1 that hands its first accepted socket
 * over as a NodeSocketConn, and a Deno client connected to it. */
async function pair(
  maxQueued?: number,
): Promise<{ conn: NodeSocketConn; peer: Deno.TcpConn; close(): void }> {
  const accepted = Promise.withResolvers<Socket>();
  const server = createServer((socket) => accepted.resolve(socket));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  const peer = await Deno.connect({ hostname: "127.0.0.1", port: address.port });
  const socket = await accepted.promise;
  const remoteAddr = peer.localAddr as Deno.NetAddr;
  const conn = new NodeSocketConn(socket, remoteAddr, maxQueued === undefined ? {} : { maxQueued });
  return {
    conn,
    peer,
    close(): void {
      try {
        conn.close();
      } catch { /* already closed */ }
      try {
        peer.close();
      } catch { /* already closed */ }
      server.close();
    },
  };
}

async function readAll(conn: NodeSocketConn, size = 7): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const buffer = new Uint8Array(size);
  while (true) {
    const n = await conn.read(buffer);
    if (n === null) return concat(parts);
    parts.push(buffer.slice(0, n));
  }
}

Deno.test("NodeSocketConn reads every byte in order into small buffers, then null at the end", async () => {
  const { conn, peer, close } = await pair(16);
  try {
    const data = bytes("0123456789".repeat(1000));
    const reading = readAll(conn);
    await peer.write(data);
    await peer.closeWrite();
    assert.deepEqual(await withTimeout(reading, 5000, "the end"), data);
  } finally {
    close();
  }
});

Deno.test("NodeSocketConn writes reach the peer, and closeWrite ends them", async () => {
  const { conn, peer, close } = await pair();
  try {
    assert.equal(await conn.write(bytes("hello ")), 6);
    assert.equal(await conn.write(bytes("there\n")), 6);
    await conn.closeWrite();
    const parts: Uint8Array[] = [];
    const buffer = new Uint8Array(64);
    for (let n = await peer.read(buffer); n !== null; n = await peer.read(buffer)) {
      parts.push(buffer.slice(0, n));
    }
    assert.equal(new TextDecoder().decode(concat(parts)), "hello there\n");
  } finally {
    close();
  }
});

Deno.test("NodeSocketConn close makes a pending read reject and later calls fail", async () => {
  const { conn, close } = await pair();
  try {
    const pending = conn.read(new Uint8Array(8));
    conn.close();
    await assert.rejects(pending, Deno.errors.BadResource);
    await assert.rejects(conn.write(bytes("x")), Deno.errors.BadResource);
    assert.throws(() => conn.close(), Deno.errors.BadResource);
  } finally {
    close();
  }
});

Deno.test("toDenoError maps a reset and a broken pipe to Deno's error classes", () => {
  const reset = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });
  const pipe = Object.assign(new Error("write EPIPE"), { code: "EPIPE" });
  assert.ok(toDenoError(reset) instanceof Deno.errors.ConnectionReset);
  assert.ok(toDenoError(pipe) instanceof Deno.errors.BrokenPipe);
  const other = new Error("something else");
  assert.equal(toDenoError(other), other);
});
