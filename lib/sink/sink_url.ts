/**
 * `--sink URL`: which broker's stream the records go to, read and checked
 * before anything is opened, and the {@linkcode Broker} it names. A new kind
 * of broker is a scheme here and one file beside this one.
 *
 * - `redis://HOST[:PORT]/STREAM[?maxlen=N]`: the Redis stream STREAM (port
 *   6379 unless given), each message one XADD entry; `maxlen` trims the
 *   stream to about N entries (`MAXLEN ~ N`).
 *
 * @module
 */

import { UsageError } from "../text/mod.ts";
import type { Broker } from "./broker.ts";
import { RedisStream } from "./redis_stream.ts";

/** Redis's own port. */
export const REDIS_PORT = 6379;

/** The schemes `--sink` takes, as the usage text names them. */
export const SINK_URL_FORMS = ["redis://HOST[:PORT]/STREAM[?maxlen=N]"] as const;

/** A checked `--sink` URL. */
export interface SinkUrl {
  readonly scheme: "redis";
  /** Host name or address (an IPv6 one without brackets). */
  readonly hostname: string;
  readonly port: number;
  /** The stream's key. */
  readonly stream: string;
  /** `?maxlen=N`: trim to about N entries; undefined: never. */
  readonly maxLen: number | undefined;
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
  if (url.protocol !== "redis:") {
    throw invalid(`unknown scheme "${url.protocol}"; give ${SINK_URL_FORMS.join(" or ")}`);
  }
  if (url.username !== "" || url.password !== "") {
    throw invalid("credentials in the URL are not supported");
  }
  if (url.hash !== "") throw invalid(`unexpected "${url.hash}"`);
  const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1");
  if (hostname === "") throw invalid("no host");
  let stream: string;
  try {
    stream = decodeURIComponent(url.pathname.replace(/^\//, ""));
  } catch {
    throw invalid("the stream name is not valid percent-encoding");
  }
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

/** The broker a checked URL names; nothing is connected until it is used. */
export function brokerFor(url: SinkUrl): Broker {
  return new RedisStream(url.hostname, url.port, url.stream, {
    ...(url.maxLen === undefined ? {} : { maxLen: url.maxLen }),
  });
}
