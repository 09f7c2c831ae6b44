/**
 * The linehub client in its plain mode (no `--retry`, no `--ack`): connects,
 * sends stdin (or given lines) as it is read, half-closes at the end of
 * input, and copies whatever the server sends to stdout until the server
 * closes. The line mode builds on its options; what a session's end means,
 * in both modes, is `session_outcome.ts`'s.
 *
 * Sending and receiving run side by side, so the client works the same with
 * a server that only listens and one that talks back. Bytes are forwarded
 * exactly as read: a final line without a newline arrives as such, and the
 * server reports it as partial. The connection is opened by `connect.ts`,
 * TLS with `tls` (see `tls_connect.ts`); everything else is the same.
 *
 * A server that refuses the client, or cuts it off, says why in a last line
 * (see `server_notice.ts`): that line is not copied to stdout but becomes
 * the failure, whose kind says whether trying again later can help.
 *
 * @module
 */

import {
  describeConnError,
  formatHostPort,
  type HostPort,
  isHandshakeRefusal,
  randomId,
} from "../net/mod.ts";
import { type ByteReader, type ByteWriter, closeQuietly, writeAll } from "../io/mod.ts";
import { describeError } from "../text/mod.ts";
import { encodeHelloLine, type HeldNotice, NoticeReader } from "../wire/mod.ts";
import { ClientError, type ClientFailure } from "./client_error.ts";
import { connectedMessage, DEFAULT_CONNECT_TIMEOUT, openConnection } from "./connect.ts";
import {
  abortReason,
  END_MAYBE_UNREAD,
  noticeOutcome,
  type ReportKind,
  REST_NOT_SENT,
  tlsCloseHint,
} from "./session_outcome.ts";
import { INSECURE_WARNING, type TlsClientOptions } from "./tls_connect.ts";

/** Size of the buffers stdin and the socket are read into. */
const READ_BUFFER = 65536;

/** Options for {@linkcode runClient}. */
export interface LineClientOptions {
  /** Seconds to wait for the connection to open; 0 for no limit of our own.
   * @default {10} */
  connectTimeout?: number;
  /** Lines to send instead of reading `input`; each gets a `\n`.
   * @default {[]} */
  messages?: readonly string[];
  /** Stops the session at once when aborted (Ctrl-C); the session then
   * rejects with a {@linkcode ClientError} of kind `interrupted`, naming the
   * abort reason when it is a string such as `"SIGINT"`.
   * @default {undefined} */
  signal?: AbortSignal;
  /** Connect with TLS, with these settings (files already read).
   * @default {undefined: plain TCP} */
  tls?: TlsClientOptions;
  /** A name for this client (see lib/wire/hello_line.ts), sent in a hello line
   * before the first line, which a linehub server shows in its output
   * instead of taking as data; another server takes it as a line.
   * @default {undefined: no hello, nothing but the input is sent} */
  name?: string;
  /** Receives each one-line message for the user (without the program
   * name): `connection` messages (connected; in line mode also the retries
   * and reconnects), which `--quiet` hides, and `notice`s (the `--insecure`
   * warning, a cut line, a stall), which it does not.
   * @default {() => {}} */
  onNotice?: (message: string, kind: ReportKind) => void;
}

/**
 * Runs one client session. Resolves when all input was sent and the server
 * closed the connection; rejects with {@linkcode ClientError} otherwise.
 *
 * @param target where to connect
 * @param input what to send when no `messages` are given (stdin)
 * @param output where the server's bytes go (stdout)
 */
export async function runClient(
  target: HostPort,
  input: ByteReader,
  output: ByteWriter,
  options: LineClientOptions = {},
): Promise<void> {
  const where = formatHostPort(target.host, target.port);
  const interrupt = options.signal;
  let uploaded = false;
  const interrupted = (): ClientError =>
    new ClientError(
      "interrupted",
      `Interrupted${abortReason(interrupt)} ` +
        (uploaded ? "after all input was sent" : "before all input was sent"),
    );
  const conn = await openConnection(
    target,
    options.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT,
    interrupt,
    options.tls,
  ).catch((error) => Promise.reject(interrupt?.aborted ? interrupted() : error));
  const notice = options.onNotice ?? (() => {});
  notice(connectedMessage(where, options.tls), "connection");
  if (options.tls?.insecure) notice(INSECURE_WARNING, "notice");
  const connectedAt = Date.now();
  let received = false;
  // With TLS 1.3 the server checks the client's certificate after the
  // client's side of the handshake is done, so a refusal arrives as the
  // first read or write failing: the connection was never made.
  const lostOrRefused = (error: unknown): ClientError =>
    options.tls !== undefined && !received && isHandshakeRefusal(error)
      ? new ClientError("connect", `Cannot connect to ${where}: ${describeConnError(error)}`, {
        cause: error,
      })
      // A reset once all input was sent is a loss too: a server resets a
      // connection when it closes with bytes it has not read.
      : new ClientError(
        "lost",
        `Connection to ${where} lost: ${describeConnError(error)}; ` +
          (uploaded ? END_MAYBE_UNREAD : REST_NOT_SENT),
        { cause: error },
      );
  /** The failure a notice makes, with what it leaves undelivered. */
  const noticeFailure = (held: HeldNotice): ClientError => {
    const { kind, message } = noticeOutcome(held.notice, where);
    const fate = held.notice.kind === "refused"
      ? "nothing was delivered"
      : uploaded
      ? END_MAYBE_UNREAD
      : REST_NOT_SENT;
    return new ClientError(kind, `${message}; ${fate}`);
  };
  const stop = whenAborted(interrupt);
  try {
    conn.setNoDelay?.(true); // a typed line goes out at once
    const messages = options.messages ?? [];
    const hello = options.name === undefined
      ? null
      : encodeHelloLine({ session: randomId(), seq: 1, name: options.name });
    const upload = (async () => {
      if (hello !== null) {
        try {
          await writeAll(conn, hello);
        } catch (error) {
          throw lostOrRefused(error);
        }
      }
      if (messages.length > 0) {
        try {
          await writeAll(conn, new TextEncoder().encode(messages.map((m) => m + "\n").join("")));
        } catch (error) {
          throw lostOrRefused(error);
        }
      } else {
        await copy(
          input,
          conn,
          (error) => failure("failed", "Cannot read from stdin", error),
          (error) => lostOrRefused(error),
        );
      }
      try {
        await conn.closeWrite();
      } catch (error) {
        throw lostOrRefused(error);
      }
      uploaded = true;
    })();
    // Resolves, once the server has closed, with its notice if its last
    // line was one; every other byte goes to the output as it comes.
    const download = (async (): Promise<HeldNotice | null> => {
      const notices = new NoticeReader();
      const buffer = new Uint8Array(READ_BUFFER);
      const ready: Uint8Array[] = [];
      const collect = (bytes: Uint8Array): void => void ready.push(bytes);
      // Written before the next read, while the views are valid.
      const flush = async (): Promise<void> => {
        for (const bytes of ready.splice(0)) {
          try {
            await writeAll(output, bytes);
          } catch (error) {
            throw failure("output", "Cannot write to stdout", error);
          }
        }
      };
      while (true) {
        let n: number | null;
        try {
          n = await conn.read(buffer);
        } catch (error) {
          // The server's last word stands even if a reset came after it.
          const last = notices.end(collect);
          await flush();
          if (last !== null) return last;
          throw lostOrRefused(error);
        }
        if (n === null) {
          const last = notices.end(collect);
          await flush();
          return last;
        }
        if (n > 0) received = true;
        notices.push(buffer.subarray(0, n), collect);
        await flush();
      }
    })();
    // Both are awaited below, or their failure is the one reported; these
    // handlers only keep the other from surfacing as an unhandled rejection.
    upload.catch(() => {});
    download.catch(() => {});
    const first = await Promise.race([
      upload.then(() => "sent" as const, (error: unknown) => ({ error })),
      download.then(() => "closed" as const),
      stop.promise.then(() => "interrupted" as const),
    ]);
    if (first === "interrupted") throw interrupted();
    if (typeof first === "object") {
      // Sending failed. If the network did, the server may have said why
      // before it closed: that is the news, not the broken pipe.
      if (first.error instanceof ClientError && first.error.kind === "lost") {
        const last = await Promise.race([
          download.catch(() => null),
          stop.promise.then(() => null),
        ]);
        if (interrupt?.aborted) throw interrupted();
        if (last !== null) throw noticeFailure(last);
      }
      throw first.error;
    }
    if (first === "closed") {
      const last = await download;
      if (last !== null) throw noticeFailure(last);
      throw new ClientError(
        "lost",
        `Server ${where} closed the connection before the input ended` +
          tlsCloseHint(options.tls, received, connectedAt) + `; ${REST_NOT_SENT}`,
      );
    }
    const last = await Promise.race([download, stop.promise.then(() => "interrupted" as const)]);
    if (last === "interrupted") throw interrupted();
    if (last !== null) throw noticeFailure(last);
  } finally {
    stop.dispose();
    closeQuietly(conn);
  }
}

/** A promise that resolves when `signal` is aborted (never without one), and
 * the function that stops listening. */
function whenAborted(
  signal: AbortSignal | undefined,
): { promise: Promise<void>; dispose(): void } {
  const { promise, resolve } = Promise.withResolvers<void>();
  if (signal === undefined) return { promise, dispose: () => {} };
  if (signal.aborted) {
    resolve();
    return { promise, dispose: () => {} };
  }
  const onAbort = (): void => resolve();
  signal.addEventListener("abort", onAbort, { once: true });
  return { promise, dispose: () => signal.removeEventListener("abort", onAbort) };
}

function failure(kind: ClientFailure, prefix: string, error: unknown): ClientError {
  return new ClientError(kind, `${prefix}: ${describeError(error)}`, { cause: error });
}

/** Copies until the reader ends; a failure is reported through the factory
 * for its side, so the user learns whether the network or the local end
 * failed. */
async function copy(
  from: ByteReader,
  to: ByteWriter,
  readFailure: (error: unknown) => ClientError,
  writeFailure: (error: unknown) => ClientError,
): Promise<void> {
  const buffer = new Uint8Array(READ_BUFFER);
  while (true) {
    let n: number | null;
    try {
      n = await from.read(buffer);
    } catch (error) {
      throw readFailure(error);
    }
    if (n === null) return;
    try {
      await writeAll(to, buffer.subarray(0, n));
    } catch (error) {
      throw writeFailure(error);
    }
  }
}
