/**
 * {@linkcode ClientError}: how a client session fails, as one line for the
 * user and a kind ({@linkcode ClientFailure}) that the command line turns
 * into its exit status. Both modes, plain and line, fail with it.
 *
 * @module
 */

/**
 * What went wrong, as far as the exit status is concerned:
 * - `connect`: no connection could be made (after any retries);
 * - `busy`: the server refused the client for now (full, or too many
 *   connections from its address), after any retries;
 * - `refused`: the server refused the client, and trying again cannot help
 *   (denied by its access rules; TLS on one side only; a client certificate
 *   it refused);
 * - `lost`: the connection was lost, closed or cut off by the server before
 *   all input was sent (and, with `--ack`, acknowledged), or reset by it
 *   before it could have read everything;
 * - `output`: the server's bytes could not be written to stdout;
 * - `interrupted`: the session was stopped through its abort signal;
 * - `failed`: anything else (stdin failed, the server broke the protocol, the
 *   connection failed after everything was delivered).
 */
export type ClientFailure =
  | "connect"
  | "busy"
  | "refused"
  | "lost"
  | "output"
  | "interrupted"
  | "failed";

/** A failure the user should see as one line: connecting, or losing the
 * connection, or the local input or output. */
export class ClientError extends Error {
  /** Which kind of failure this is. */
  readonly kind: ClientFailure;

  constructor(kind: ClientFailure, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ClientError";
    this.kind = kind;
  }
}
