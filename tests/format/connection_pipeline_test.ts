/**
 * {@linkcode ConnectionPipeline} without sockets: bytes in, messages out, as
 * each `--framing` choice cuts them, with the flags a framer gives and a
 * framing error told before the lines read after it.
 */

import assert from "node:assert/strict";
import { ConnectionPipeline, type PipelineSettings } from "../../lib/format/connection_pipeline.ts";
import { lineWriterOver } from "../../lib/format/message_formatter.ts";
import type { FramingChoice } from "../../lib/wire/framer_for.ts";
import { bytes } from "../_helpers/mod.ts";

const CLIENT = { id: 3, address: "127.0.0.1", port: 4000 };

/** A pipeline writing `text` output to a string, and what it wrote; a
 * framing error is written there too, where it happened. */
function pipeline(framing: FramingChoice, maxLine = 100, tap = false): {
  pipeline: ConnectionPipeline;
  out: () => string;
  tapped: string[];
} {
  let out = "";
  const output = lineWriterOver({
    write: (chunk: string | Uint8Array) =>
      out += typeof chunk === "string" ? chunk : new TextDecoder().decode(chunk),
  });
  const settings: PipelineSettings = {
    format: "text",
    run: "r",
    label: "number",
    labelNode: false,
    timestamp: false,
    maxLine,
    framing,
  };
  const tapped: string[] = [];
  const onTap = tap ? (line: Uint8Array) => tapped.push(new TextDecoder().decode(line)) : null;
  const onError = (error: string): void => {
    out += `! ${error}\n`;
  };
  return {
    pipeline: new ConnectionPipeline(output, CLIENT, settings, {
      tap: onTap,
      onFramingError: onError,
    }),
    out: () => out,
    tapped,
  };
}

Deno.test("ConnectionPipeline with framing octet writes each frame as one message, newlines escaped", () => {
  for (const tap of [false, true]) {
    const p = pipeline("octet", 100, tap);
    p.pipeline.push(bytes("7 one\ntwo5 th"), 0);
    p.pipeline.push(bytes("ree4 four"), 0);
    assert.equal(p.pipeline.lines, 3);
    assert.equal(p.pipeline.midLine, false);
    assert.equal(
      p.out(),
      "[client 3] one\\x0atwo\n[client 3] three\n[client 3] four\n",
    );
    if (tap) assert.deepEqual(p.tapped, ["one\ntwo", "three", "four"]);
  }
});

Deno.test("ConnectionPipeline with framing octet flags a cut frame and a partial last one", () => {
  const p = pipeline("octet", 4);
  p.pipeline.push(bytes("10 0123456789"), 0);
  p.pipeline.push(bytes("8 abc"), 0);
  assert.equal(p.pipeline.midLine, true);
  p.pipeline.end(0);
  assert.equal(p.out(), "[client 3 truncated] 0123\n[client 3 partial] abc\n");
  assert.equal(p.pipeline.truncatedLines, 1);
});

Deno.test("ConnectionPipeline tells a framing error before writing the lines read by LF after it", () => {
  const p = pipeline("octet");
  p.pipeline.push(bytes("2 ok<13>a\nb\n"), 0);
  assert.equal(
    p.out(),
    "[client 3] ok\n" +
      '! Invalid octet-counting header "<": a frame must start with its length, a digit from 1 to 9\n' +
      "[client 3] <13>a\n[client 3] b\n",
  );
});

Deno.test("ConnectionPipeline with framing auto frames by the first byte; lf reads the same bytes as lines", () => {
  const auto = pipeline("auto");
  auto.pipeline.push(bytes("4 a\nbc"), 0);
  assert.equal(auto.out(), "[client 3] a\\x0abc\n");
  const lf = pipeline("lf");
  lf.pipeline.push(bytes("4 a\nbc\n"), 0);
  assert.equal(lf.out(), "[client 3] 4 a\n[client 3] bc\n");
});
