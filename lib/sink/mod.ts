/**
 * Where records go besides a file: a log broker's stream. `BrokerSink` is a
 * `RecordSink` (lib/io) that delivers the server's JSON message records to a
 * `Broker` in confirmed batches, with backpressure, reconnects and counts of
 * what was lost or sent twice; `RedisStream` is the Redis broker (XADD over
 * a small RESP2 client), `NatsJetStream` the NATS JetStream one (publishes
 * with PubAcks and de-duplication ids), both over one private connection
 * class (`_broker_connection.ts`); `TeeSink` puts the same records into
 * several sinks (the output and a broker); `parseSinkUrl` and `brokerFor`
 * read `--sink`.
 *
 * @module
 */

export * from "./broker.ts";
export * from "./broker_sink.ts";
export * from "./message_splitter.ts";
export * from "./nats_stream.ts";
export * from "./redis_stream.ts";
export * from "./sink_url.ts";
export * from "./tee_sink.ts";
