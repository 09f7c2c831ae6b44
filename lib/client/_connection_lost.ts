/**
 * {@linkcode ConnectionLost}: a read or write on one connection of a
 * line-mode session failed. The sender and the receiver throw it, and the
 * session takes it as that connection's end, which it may retry, rather
 * than as the session's failure.
 *
 * @module
 */

import { describeConnError } from "../net/mod.ts";

/** A read or write on the connection failed: the connection is lost. Its
 * message is the reason in a few words. */
export class ConnectionLost extends Error {
  constructor(cause: unknown) {
    super(describeConnError(cause), { cause });
    this.name = "ConnectionLost";
  }
}
