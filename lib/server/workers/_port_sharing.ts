/**
 * What Workers sharing one port (`SO_REUSEPORT`) need on both sides of the
 * pool: whether Deno lets them share it at all, and a check that no one
 * else holds the port, which the pool's first Worker makes right before it
 * binds. Imported by the pool and by the Worker module, so that neither
 * loads the other.
 *
 * @module
 */

import { formatHostPort } from "../../net/mod.ts";
import { describeError } from "../../text/mod.ts";
import { ListenError } from "../server.ts";

/**
 * Whether `--unstable-net` is on. Deno offers no query for it, and calling
 * `Deno.listen({ reusePort: true })` without it exits the process (status
 * 70, even from a Worker) instead of throwing; the APIs the flag unlocks are
 * only defined with it, so one of them tells.
 */
export function unstableNetEnabled(): boolean {
  return "listenDatagram" in Deno;
}

/**
 * Checks that no socket holds `hostname:port`, by binding it without
 * `SO_REUSEPORT` and closing it again; returns the port, the one the system
 * picked when `port` is 0. `SO_REUSEPORT` lets every socket of the same user
 * that sets it share a port, so without this check a second pool started on
 * the same port would join the first one silently and take half its
 * clients; a bind without it fails while any socket listens there.
 *
 * The pool's first Worker calls this and binds with `SO_REUSEPORT` in the
 * same turn of its event loop, so another pool has only the time between
 * two system calls to slip in between.
 *
 * @throws {ListenError} `Cannot listen on HOST:PORT: address already in use`
 * (or whatever else stops the bind), as a single `LineServer` says
 */
export function checkPortFree(hostname: string, port: number): number {
  let probe: Deno.TcpListener;
  try {
    probe = Deno.listen({ hostname, port, transport: "tcp" });
  } catch (error) {
    throw new ListenError(
      `Cannot listen on ${formatHostPort(hostname, port)}: ${describeError(error)}`,
      { cause: error },
    );
  }
  probe.close();
  return probe.addr.port;
}
