/**
 * The linehub client: the connection both of its modes open and the failure
 * both report (`ClientError`), the plain byte client (`runClient`), the line
 * client with `--retry` and `--ack` (`runReconnectingClient`), its bounded
 * line queue, and TLS connections (the words for their failures are
 * lib/net's).
 *
 * @module
 */

export * from "./client_error.ts";
export * from "./connect.ts";
export * from "./line_client.ts";
export * from "./line_queue.ts";
export * from "./plain_client.ts";
export * from "./session_outcome.ts";
export * from "./tls_connect.ts";
