/**
 * The linehub client: the plain byte client (`runClient`), the line client
 * with `--retry` and `--ack` (`ReconnectingClient`), its bounded line queue,
 * and TLS connections (the words for their failures are lib/net's).
 *
 * @module
 */

export * from "./line_client.ts";
export * from "./line_queue.ts";
export * from "./plain_client.ts";
export * from "./tls_connect.ts";
