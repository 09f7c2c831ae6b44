/**
 * {@linkcode openConnection}: the connection both modes of the client start
 * from, TCP or TLS with its handshake done, opened within the connect
 * timeout; a failure is one {@linkcode ClientError} naming the address and
 * the reason, whose kind says whether another attempt can help.
 *
 * @module
 */

import { describeConnError, formatHostPort, type HostPort, SERVER_NOT_TLS } from "../net/mod.ts";
import type { StreamConn } from "../io/mod.ts";
import { ClientError } from "./client_error.ts";
import {
  connectTls,
  describeTls,
  type TlsClientOptions,
  TlsHandshakeFailure,
} from "./tls_connect.ts";

/** Default seconds to wait for a connection to open. */
export const DEFAULT_CONNECT_TIMEOUT = 10;

/** A connection the client uses: TCP, or TLS in one of its two forms. */
export type ClientConn = StreamConn & { setNoDelay?(noDelay?: boolean): void };

/**
 * Opens a connection to `target`, TCP or, with `tls`, TLS with the handshake
 * done (and the certificate verified unless `tls.insecure`), giving up after
 * `timeout` seconds (0: no limit of our own; the handshake counts) or when
 * `interrupt` is aborted. Rejects with a {@linkcode ClientError} of kind
 * `connect` naming the address and the reason (`refused` when the server
 * does not speak TLS); the caller checks `interrupt.aborted` to tell an
 * interruption.
 */
export async function openConnection(
  target: HostPort,
  timeout: number,
  interrupt?: AbortSignal,
  tls?: TlsClientOptions,
): Promise<ClientConn> {
  const where = formatHostPort(target.host, target.port);
  const timer = timeout > 0 ? AbortSignal.timeout(timeout * 1000) : undefined;
  const signals = [timer, interrupt].filter((s): s is AbortSignal => s !== undefined);
  const signal = signals.length > 0 ? AbortSignal.any(signals) : undefined;
  try {
    if (tls !== undefined) return await connectTls(target, tls, signal);
    return await Deno.connect({
      hostname: target.host,
      port: target.port,
      transport: "tcp",
      ...(signal === undefined ? {} : { signal }),
    });
  } catch (error) {
    const handshake = error instanceof TlsHandshakeFailure;
    // A server that answers a TLS handshake in plain text will not do
    // otherwise next time: refused, not worth retrying.
    if (handshake && error.message === SERVER_NOT_TLS) {
      throw new ClientError("refused", `Cannot connect to ${where}: ${error.message}`, {
        cause: error,
      });
    }
    let reason: string;
    if (timer?.aborted) {
      reason = handshake
        ? `TLS handshake timed out after ${timeout} s (does the server speak TLS?)`
        : `timed out after ${timeout} s`;
    } else {
      reason = handshake ? error.message : describeConnError(error);
    }
    throw new ClientError("connect", `Cannot connect to ${where}: ${reason}`, { cause: error });
  }
}

/** The connection message: "Connected to HOST:PORT (TLS, certificate
 * verified)", or "Reconnected ..." when `again`. */
export function connectedMessage(
  where: string,
  tls: TlsClientOptions | undefined,
  again = false,
): string {
  const how = tls === undefined ? "" : ` (${describeTls(tls)})`;
  return `${again ? "Reconnected" : "Connected"} to ${where}${how}`;
}
