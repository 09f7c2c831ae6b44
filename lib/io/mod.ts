/**
 * Bytes in and out: the shapes every part reads and writes through
 * (`ByteReader`, `ByteWriter`, `ChunkSink`, `LineWriter`, `StreamConn`), the
 * `RecordSink` every destination of records is, the batched output writer
 * with its backpressure (the sink of a file or stdout), a client's capped
 * send queue, an output file that reopens on SIGHUP, one output written by
 * several threads whole lines at a time, node:tls sockets as Deno-like
 * connections, a connection that gives back bytes already read from it, and
 * small helpers (write all, close quietly, concatenate, wait without leaving
 * anything on a long-lived signal).
 *
 * @module
 */

export * from "./abortable.ts";
export * from "./batch_writer.ts";
export * from "./close_quietly.ts";
export * from "./concat_bytes.ts";
export * from "./line_tail.ts";
export * from "./node_socket_conn.ts";
export * from "./prefixed_conn.ts";
export * from "./record_sink.ts";
export * from "./reopenable_file.ts";
export * from "./send_queue.ts";
export * from "./shared_output.ts";
export * from "./stream_conn.ts";
export * from "./types.ts";
export * from "./write_all.ts";
