/**
 * Unit tests for `--sink` URLs: the forms taken, the defaults, and one clear
 * message naming the value for each thing that can be wrong with it.
 */

import assert from "node:assert/strict";
import { brokerFor, parseSinkUrl } from "../../lib/sink/mod.ts";
import { UsageError } from "../../lib/text/mod.ts";

Deno.test("parseSinkUrl reads host, port, stream and maxlen, with Redis's port by default", () => {
  assert.deepEqual(parseSinkUrl("redis://127.0.0.1:6380/lines"), {
    scheme: "redis",
    hostname: "127.0.0.1",
    port: 6380,
    stream: "lines",
    maxLen: undefined,
  });
  assert.deepEqual(parseSinkUrl("redis://cache.internal/app%2Fweb?maxlen=100000"), {
    scheme: "redis",
    hostname: "cache.internal",
    port: 6379,
    stream: "app/web",
    maxLen: 100000,
  });
  assert.equal(parseSinkUrl("redis://[::1]:7000/s").hostname, "::1");
});

Deno.test("parseSinkUrl reads a NATS subject, NATS's port by default, and the stream to create", () => {
  assert.deepEqual(parseSinkUrl("nats://127.0.0.1/logs.web"), {
    scheme: "nats",
    hostname: "127.0.0.1",
    port: 4222,
    subject: "logs.web",
    createStream: undefined,
  });
  assert.deepEqual(parseSinkUrl("nats://[::1]:4333/lines?create=LINES"), {
    scheme: "nats",
    hostname: "::1",
    port: 4333,
    subject: "lines",
    createStream: "LINES",
  });
});

Deno.test("parseSinkUrl refuses a bad URL in one line naming it and what is wrong", () => {
  const cases: Array<[string, RegExp]> = [
    ["localhost:6379", /unknown scheme "localhost:"/],
    ["not a url", /not a URL; give redis:\/\/HOST\[:PORT\]\/STREAM/],
    ["kafka://127.0.0.1:9092/lines", /unknown scheme "kafka:"; give redis:.* or nats:/],
    ["nats://127.0.0.1", /no subject: give it as the path/],
    ["nats://127.0.0.1/logs.*", /subject "logs\.\*" must be dot-separated words/],
    ["nats://127.0.0.1/logs..web", /subject "logs\.\.web"/],
    ["nats://127.0.0.1/a%20b", /subject "a b"/],
    ["nats://127.0.0.1/s?create=my.stream", /stream name "my\.stream" must be letters/],
    ["nats://127.0.0.1/s?maxlen=5", /unknown parameter "maxlen" \(nats:\/\/ takes create\)/],
    ["redis://127.0.0.1:6379", /no stream/],
    ["redis://127.0.0.1:6379/", /no stream/],
    ["redis://127.0.0.1:99999/s", /not a URL/],
    ["redis://user:secret@127.0.0.1/s", /credentials in the URL are not supported/],
    ["redis://127.0.0.1/s?maxlen=0", /maxlen "0" must be a whole number of entries, at least 1/],
    ["redis://127.0.0.1/s?maxlen=1e6", /maxlen "1e6"/],
    ["redis://127.0.0.1/s?max=5", /unknown parameter "max" \(redis:\/\/ takes maxlen\)/],
    ["redis://127.0.0.1/s#x", /unexpected "#x"/],
    ["redis://127.0.0.1/%E0%A4%A", /the path is not valid percent-encoding/],
  ];
  for (const [text, why] of cases) {
    assert.throws(() => parseSinkUrl(text), (error: unknown) => {
      assert.ok(error instanceof UsageError, `${text}: ${error}`);
      assert.ok(error.message.startsWith(`Invalid --sink "${text}": `), error.message);
      assert.match(error.message, why);
      assert.ok(!error.message.includes("\n"));
      return true;
    });
  }
});

Deno.test("brokerFor names the stream without anything secret, as messages show it", () => {
  const broker = brokerFor(parseSinkUrl("redis://[::1]:7000/app%20log?maxlen=5"));
  assert.equal(broker.name, "redis://[::1]:7000/app%20log?maxlen=5");
  broker.close();
  const nats = brokerFor(parseSinkUrl("nats://127.0.0.1/lines?create=LINES"));
  assert.equal(nats.name, "nats://127.0.0.1:4222/lines?create=LINES");
  nats.close();
});
