/**
 * `--sink URL`: which broker's stream the records go to, read and checked
 * before anything is opened, and the {@linkcode Broker} it names. A new kind
 * of broker is a scheme here and one file beside this one.
 *
 * - `redis://HOST[:PORT]/STREAM[?maxlen=N]`: the Redis stream STREAM (port
 *   6379 unless given), each message one XADD entry; `maxlen` trims the
 *   stream to about N entries (`MAXLEN ~ N`).
 * - `nats://HOST[:PORT]/SUBJECT[?create=STREAM]`: JetStream publishes to
 *   SUBJECT (port 4222 unless given), which a stream must take; `create`
 *   makes the stream STREAM, taking SUBJECT, when there is none.
 *
 * @module
 */

import { UsageError } from "../text/mod.ts";
import type { Broker } from "./broker.ts";
import { NatsJetStream } from "./nats_stream.ts";
import { RedisStream } from "./redis_stream.ts";

/** Redis's own port. */
export const REDIS_PORT = 6379;
/** NATS's own port. */
export const NATS_PORT = 4222;

/** The schemes `--sink` takes, as the usage text names them. */
export const SINK_URL_FORMS = [
  "redis://HOST[:PORT]/STREAM[?maxlen=N]",
  "nats://HOST[:PORT]/SUBJECT[?create=STREAM]",
] as const;

/** A checked `--sink` URL. */
export type SinkUrl = RedisUrl | NatsUrl;

/** Where a broker listens. */
interface BrokerAddress {
  /** Host name or address (an IPv6 one without brackets). */
  readonly hostname: string;
  readonly port: number;
}

/** `redis://HOST[:PORT]/STREAM[?maxlen=N]`. */
export interface RedisUrl extends BrokerAddress {
  readonly scheme: "redis";
  /** The stream's key. */
  readonly stream: string;
  /** `?maxlen=N`: trim to about N entries; undefined: never. */
  readonly maxLen: number | undefined;
}

/** `nats://HOST[:PORT]/SUBJECT[?create=STREAM]`. */
export interface NatsUrl extends BrokerAddress {
  readonly scheme: "nats";
  /** The subject published to. */
  readonly subject: string;
  /** `?create=STREAM`: the stream to create if missing; undefined: none. */
  readonly createStream: string | undefined;
}

/**
 * Reads a `--sink` URL; throws {@linkcode UsageError} naming the value and
 * what is wrong with it.
 *
 * @example
 * ```ts
 * import { parseSinkUrl } from "./sink_url.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(parseSinkUrl("redis://[::1]/lines?maxlen=1000"), {
 *   scheme: "redis", hostname: "::1", port: 6379, stream: "lines", maxLen: 1000,
 * });
 * assert.throws(() => parseSinkUrl("kafka://k:9092/t"), /Invalid --sink "kafka:\/\/k:9092\/t"/);
 * ```
 */
export function parseSinkUrl(text: string): SinkUrl {
  const invalid = (why: string): UsageError => new UsageError(`Invalid --sink "${text}": ${why}`);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalid(`not a URL; give ${SINK_URL_FORMS.join(" or ")}`);
  }
  if (url.protocol !== "redis:" && url.protocol !== "nats:") {
    throw invalid(`unknown scheme "${url.protocol}"; give ${SINK_URL_FORMS.join(" or ")}`);
  }
  if (url.username !== "" || url.password !== "") {
    throw invalid("credentials in the URL are not supported");
  }
  if (url.hash !== "") throw invalid(`unexpected "${url.hash}"`);
  const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1");
  if (hostname === "") throw invalid("no host");
  let path: string;
  try {
    path = decodeURIComponent(url.pathname.replace(/^\//, ""));
  } catch {
    throw invalid("the path is not valid percent-encoding");
  }
  return url.protocol === "redis:"
    ? redisUrl(url, hostname, path, invalid)
    : natsUrl(url, hostname, path, invalid);
}

function redisUrl(
  url: URL,
  hostname: string,
  stream: string,
  invalid: (why: string) => UsageError,
): RedisUrl {
  if (stream === "") throw invalid("no stream: give it as the path, redis://HOST:PORT/STREAM");
  let maxLen: number | undefined;
  for (const [name, value] of url.searchParams) {
    if (name !== "maxlen") throw invalid(`unknown parameter "${name}" (redis:// takes maxlen)`);
    if (!/^[0-9]{1,15}$/.test(value) || Number(value) < 1) {
      throw invalid(`maxlen "${value}" must be a whole number of entries, at least 1`);
    }
    maxLen = Number(value);
  }
  return {
    scheme: "redis",
    hostname,
    port: url.port === "" ? REDIS_PORT : Number(url.port),
    stream,
    maxLen,
  };
}

/** A subject one publishes to: dot-separated tokens of printable ASCII,
 * none empty, with no wildcard. */
const SUBJECT = /^[!-~]+$/;
/** A stream name as JetStream takes it, kept to the safe letters. */
const STREAM_NAME = /^[A-Za-z0-9_-]{1,255}$/;

function natsUrl(
  url: URL,
  hostname: string,
  subject: string,
  invalid: (why: string) => UsageError,
): NatsUrl {
  if (subject === "") throw invalid("no subject: give it as the path, nats://HOST:PORT/SUBJECT");
  const tokens = subject.split(".");
  if (!SUBJECT.test(subject) || tokens.some((token) => token === "" || /[*>]/.test(token))) {
    throw invalid(
      `subject "${subject}" must be dot-separated words of printable ASCII, without * or >`,
    );
  }
  let createStream: string | undefined;
  for (const [name, value] of url.searchParams) {
    if (name !== "create") throw invalid(`unknown parameter "${name}" (nats:// takes create)`);
    if (!STREAM_NAME.test(value)) {
      throw invalid(`stream name "${value}" must be letters, digits, _ or -`);
    }
    createStream = value;
  }
  return {
    scheme: "nats",
    hostname,
    port: url.port === "" ? NATS_PORT : Number(url.port),
    subject,
    createStream,
  };
}

/** The broker a checked URL names; nothing is connected until it is used. */
export function brokerFor(url: SinkUrl): Broker {
  if (url.scheme === "nats") {
    return new NatsJetStream(url.hostname, url.port, url.subject, {
      ...(url.createStream === undefined ? {} : { createStream: url.createStream }),
    });
  }
  return new RedisStream(url.hostname, url.port, url.stream, {
    ...(url.maxLen === undefined ? {} : { maxLen: url.maxLen }),
  });
}
