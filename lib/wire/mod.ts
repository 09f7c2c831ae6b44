/**
 * The wire formats, as pure functions and classes over bytes, tested without
 * sockets: lines framed from a byte stream (LF ends a line, one CR before it
 * dropped, the `--max-line` cut at a character boundary), or messages framed
 * by octet counting (RFC 6587), either behind one `Framer` interface,
 * which of the two a connection's first byte asks for, and the framer each
 * `--framing` choice gives a connection; the client's line
 * reader, the acknowledgment protocol, the hello a linehub client may send
 * first, the notice lines a server sends when it refuses or cuts off a
 * client, the first bytes of a TLS handshake, and the PROXY protocol header
 * a load balancer sends before a client's data. Nothing here does I/O or
 * imports another part of lib/ (a type-only import of io's shapes aside).
 *
 * @module
 */

export * from "./ack_protocol.ts";
export * from "./auto_framer.ts";
export * from "./detect_framing.ts";
export * from "./framer.ts";
export * from "./framer_for.ts";
export * from "./hello_line.ts";
export * from "./ip_text.ts";
export * from "./line_flags.ts";
export * from "./line_framer.ts";
export * from "./line_reader.ts";
export * from "./octet_framer.ts";
export * from "./server_notice.ts";
export * from "./tls_sniff.ts";
export * from "./proxy_header.ts";
