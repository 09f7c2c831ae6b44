/**
 * The linehub client: connects, sends stdin (or given lines) as it is read,
 * half-closes at the end of input, and copies whatever the server sends to
 * stdout until the server closes.
 *
 * Sending and receiving run side by side, so the client works the same with
 * a server that only listens and one that talks back. Bytes are forwarded
 * exactly as read: a final line without a newline arrives as such, and the
 * server reports it as partial.
 *
 * @module
 */

import { formatHostPort, type HostPort } from "./address.ts";
import { type ByteWriter, writeAll } from "./batch_writer.ts";
import { describeError } from "./error_text.ts";

/** Size of the buffers stdin and the socket are read into. */
const READ_BUFFER = 65536;

/** Something to read bytes from, like `Deno.stdin` or a `Deno.Conn`. */
export interface ByteReader {
  read(buffer: Uint8Array): Promise<number | null>;
}

/** Options for {@linkcode runClient}. */
export interface LineClientOptions {
  /** Seconds to wait for the connection to open; 0 for no limit of our own.
   * @default {10} */
  connectTimeout?: number;
  /** Lines to send instead of reading `input`; each gets a `\n`.
   * @default {[]} */
  messages?: readonly string[];
}

/** A failure the user should see as one line: connecting, or losing the
 * connection, or the local output. */
export class ClientError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ClientError";
  }
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
  const conn = await connect(target, where, options.connectTimeout ?? 10);
  try {
    conn.setNoDelay(true); // a typed line goes out at once
    const messages = options.messages ?? [];
    const upload = (async () => {
      if (messages.length > 0) {
        await writeAll(conn, new TextEncoder().encode(messages.map((m) => m + "\n").join("")));
      } else {
        await copy(input, conn, "Cannot read from stdin", `Connection to ${where} lost`);
      }
      await conn.closeWrite();
    })();
    const download = copy(conn, output, `Connection to ${where} lost`, "Cannot write to stdout");
    // Both are awaited below, or their failure is the one reported; these
    // handlers only keep the other from surfacing as an unhandled rejection.
    upload.catch(() => {});
    download.catch(() => {});
    const first = await Promise.race([
      upload.then(() => "sent" as const, (error) => Promise.reject(lost(error, where))),
      download.then(() => "closed" as const),
    ]);
    if (first === "closed") {
      throw new ClientError(`Server ${where} closed the connection before the input ended`);
    }
    await download;
  } finally {
    try {
      conn.close();
    } catch {
      // Already closed.
    }
  }
}

async function connect(target: HostPort, where: string, timeout: number): Promise<Deno.TcpConn> {
  const signal = timeout > 0 ? AbortSignal.timeout(timeout * 1000) : undefined;
  try {
    return await Deno.connect({
      hostname: target.host,
      port: target.port,
      transport: "tcp",
      ...(signal === undefined ? {} : { signal }),
    });
  } catch (error) {
    const reason = signal?.aborted ? `timed out after ${timeout} s` : describeError(error);
    throw new ClientError(`Cannot connect to ${where}: ${reason}`, { cause: error });
  }
}

function lost(error: unknown, where: string): unknown {
  if (error instanceof ClientError) return error;
  return new ClientError(`Connection to ${where} lost: ${describeError(error)}`, {
    cause: error,
  });
}

/** Copies until the reader ends; a failure is reported with the prefix for
 * its side, so the user learns whether the network or the local end failed. */
async function copy(
  from: ByteReader,
  to: ByteWriter,
  readFailure: string,
  writeFailure: string,
): Promise<void> {
  const buffer = new Uint8Array(READ_BUFFER);
  while (true) {
    let n: number | null;
    try {
      n = await from.read(buffer);
    } catch (error) {
      throw new ClientError(`${readFailure}: ${describeError(error)}`, {
        cause: error,
      });
    }
    if (n === null) return;
    try {
      await writeAll(to, buffer.subarray(0, n));
    } catch (error) {
      throw new ClientError(`${writeFailure}: ${describeError(error)}`, {
        cause: error,
      });
    }
  }
}
