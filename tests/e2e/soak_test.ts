/**
 * The soak (`tools/soak/`): a short run must pass, and its verdict must be
 * able to fail. The verdict is pure (`tools/soak/verdict.ts`), so it is
 * tested here with crafted output: a missing line, a garbled JSON line, a raw
 * control byte, a fault connection that came out wrong, a server that ended
 * the wrong way, next to clean output that passes. The framing model the
 * soak checks hostile bytes against is compared with the server's own
 * framer on random input, so that a FAIL means the server, not the model.
 *
 * @module
 */

import assert from "node:assert/strict";
import { LineFramer } from "../../lib/wire/line_framer.ts";
import { type LineFlags, PARTIAL, TRUNCATED } from "../../lib/wire/line_flags.ts";
import { jsonText } from "../../lib/text/safe_text.ts";
import {
  analyzeOutput,
  type ExpectedMessage,
  expectedMessages,
  judge,
  type OutputAnalysis,
  type OutputFile,
  type ProbeExpectation,
  type SoakFacts,
  steadyText,
  type Verdict,
} from "../../tools/soak/verdict.ts";
import { DENO, randomInt, ROOT, runProgram, seededRandom } from "../_helpers/mod.ts";

const encoder = new TextEncoder();
const TIME = "2026-11-24T07:10:02.114Z";
const T = Date.parse(TIME);

/** One JSON output line, as the server writes it. */
function record(fields: Record<string, unknown>): string {
  return JSON.stringify({ time: TIME, ...fields });
}

function connect(client: number, port: number): string {
  return record({ type: "connect", client, address: "127.0.0.1", port });
}

function message(client: number, port: number, text: string, flags = {}): string {
  return record({ type: "message", client, address: "127.0.0.1", port, text, ...flags });
}

function disconnect(
  client: number,
  port: number,
  reason: string,
  lines: number,
  bytes: number,
): string {
  return record({
    type: "disconnect",
    client,
    address: "127.0.0.1",
    port,
    reason,
    lines,
    bytes,
    truncated: 0,
    duration_ms: 1,
  });
}

function file(
  lines: readonly string[],
  name = "out.jsonl",
  tornOffsets: number[] = [],
): OutputFile {
  return { name, bytes: encoder.encode(lines.map((l) => l + "\n").join("")), tornOffsets };
}

/** Two steady senders, three lines each, on clients 0 and 1. */
function steadyRecords(): string[] {
  return [
    connect(0, 50000),
    connect(1, 50001),
    ...[0, 1, 2].flatMap((seq) => [
      message(0, 50000, steadyText(0, seq)),
      message(1, 50001, steadyText(1, seq)),
    ]),
    disconnect(0, 50000, "eof", 3, 300),
    disconnect(1, 50001, "eof", 3, 300),
  ];
}

/** A reset probe that sent one line and part of another. */
const RESET_BYTES = encoder.encode("r1 0 hello\nr1 partial wor");
const RESET_PROBE: ProbeExpectation = {
  name: "reset#1",
  kind: "reset",
  port: 40000,
  startMs: T - 50,
  endMs: T + 50,
  sentBytes: RESET_BYTES.length,
  expected: expectedMessages(RESET_BYTES, 4096),
  reasons: ["reset"],
  mayLoseUnread: true,
  waived: null,
};

function resetRecords(partialFlag = true): string[] {
  return [
    connect(2, 40000),
    message(2, 40000, "r1 0 hello"),
    message(2, 40000, "r1 partial wor", partialFlag ? { partial: true } : {}),
    disconnect(2, 40000, "reset", 2, RESET_BYTES.length),
  ];
}

const PLAN = { steadySent: [3, 3], probes: [RESET_PROBE] };

function facts(output: OutputAnalysis, more: Partial<SoakFacts> = {}): SoakFacts {
  return {
    output,
    steadyExitCodes: [0, 0],
    serverExits: [
      { generation: 1, stoppedBy: "SIGKILL", code: 137, signal: "SIGKILL" },
      { generation: 2, stoppedBy: "final", code: 0, signal: null },
    ],
    serverStderr: "linehub-server: listening on 127.0.0.1:40001 (json to out.jsonl)\n",
    peakRssKiB: 50 * 1024,
    rssLimitKiB: 256 * 1024,
    acceptLatencies: [{ resets: 200, latencyMs: 12, waitedMs: 30_000 }],
    acceptLatencyBoundMs: 1000,
    heapGrowth: { connections: 10_000, beforeBytes: 6_200_000, afterBytes: 6_210_000 },
    heapGrowthBoundBytes: 100,
    runErrors: [],
    ...more,
  };
}

function verdictOf(files: OutputFile[], more: Partial<SoakFacts> = {}): Verdict {
  return judge(facts(analyzeOutput(files, PLAN), more));
}

Deno.test("soak verdict passes clean output, duplicates and all", () => {
  const lines = [...steadyRecords(), message(0, 50000, steadyText(0, 1)), ...resetRecords()];
  const output = analyzeOutput([file(lines)], PLAN);
  assert.equal(output.steady.missing, 0);
  assert.equal(output.steady.duplicates, 1);
  assert.equal(output.probes.resetsSeen, 1);
  assert.equal(output.probes.resetPartials, 1);
  assert.deepEqual(judge(facts(output)), { pass: true, reasons: [] });
});

Deno.test("soak verdict fails when a steady line is missing", () => {
  const lines = steadyRecords().filter((line) => !line.includes(`"s1 2 `));
  const verdict = verdictOf([file([...lines, ...resetRecords()])]);
  assert.equal(verdict.pass, false);
  assert.match(verdict.reasons[0] ?? "", /^1 of 6 steady lines missing .*first: s1 2\)/);
});

Deno.test("soak verdict fails on a garbled JSON line", () => {
  const lines = [...steadyRecords(), ...resetRecords()];
  lines.splice(3, 0, `{"time":"${TIME}","type":"message","client":0,"text":"s0 1`);
  const verdict = verdictOf([file(lines)]);
  assert.equal(verdict.pass, false);
  assert.match(
    verdict.reasons.join("\n"),
    /1 output lines are not whole JSON records.*out\.jsonl:4/,
  );
});

Deno.test("soak verdict fails on a raw control byte in the output", () => {
  // DEL and C1 are valid inside a JSON string, so only the byte check sees
  // them; a raw ESC is also invalid JSON.
  for (const raw of ["\x7f", "\u0085", "\x1b[2J"]) {
    const line = `{"time":"${TIME}","type":"message","client":5,"port":1,"text":"a${raw}b"}`;
    const verdict = verdictOf([file([...steadyRecords(), ...resetRecords(), line])]);
    assert.equal(verdict.pass, false, JSON.stringify(raw));
    assert.match(verdict.reasons.join("\n"), /1 output lines hold a raw control byte/);
  }
});

Deno.test("soak verdict fails when a reset's partial line is not flagged", () => {
  const verdict = verdictOf([file([...steadyRecords(), ...resetRecords(false)])]);
  assert.equal(verdict.pass, false);
  assert.match(
    verdict.reasons[0] ?? "",
    /reset#1 \(port 40000\): message 2 is "r1 partial wor", expected "r1 partial wor" \(partial\)/,
  );
});

Deno.test("soak verdict accepts a reset whose unread tail the kernel dropped", () => {
  const lines = [
    ...steadyRecords(),
    connect(2, 40000),
    message(2, 40000, "r1 0 hello"),
    message(2, 40000, "r1 par", { partial: true }),
    disconnect(2, 40000, "reset", 2, 17),
  ];
  const output = analyzeOutput([file(lines)], PLAN);
  assert.equal(output.probes.lostUnread, 1);
  assert.equal(judge(facts(output)).pass, true);
});

Deno.test("soak verdict fails a fault connection missing from the output, unless waived", () => {
  const verdict = verdictOf([file(steadyRecords())]);
  assert.match(verdict.reasons[0] ?? "", /reset#1 \(port 40000\): no connect record/);
  const waived = analyzeOutput([file(steadyRecords())], {
    ...PLAN,
    probes: [{ ...RESET_PROBE, waived: "a server restart overlapped it" }],
  });
  assert.equal(judge(facts(waived)).pass, true);
});

Deno.test("soak verdict counts a record torn by SIGKILL and reads the next one", () => {
  const before = [...steadyRecords().slice(0, 4)];
  const torn = message(0, 50000, steadyText(0, 1)).slice(0, 30);
  const after = [...steadyRecords().slice(4), ...resetRecords()];
  const head = before.map((l) => l + "\n").join("") + torn;
  const bytes = encoder.encode(head + after.map((l) => l + "\n").join(""));
  const torn1 = { name: "out.jsonl", bytes, tornOffsets: [encoder.encode(head).length] };
  const output = analyzeOutput([torn1], PLAN);
  assert.equal(output.tornRecords, 1);
  assert.equal(output.badJson, 0);
  assert.equal(judge(facts(output)).pass, true);
  // The same bytes without the mark are a garbled line.
  assert.equal(analyzeOutput([{ ...torn1, tornOffsets: [] }], PLAN).badJson, 1);
});

Deno.test("soak verdict reads rotated files in order as one stream", () => {
  const lines = [...steadyRecords(), ...resetRecords()];
  const files = [file(lines.slice(0, 5), "out.jsonl.1"), file(lines.slice(5))];
  assert.deepEqual(verdictOf(files), { pass: true, reasons: [] });
});

Deno.test("soak verdict fails on how the processes ended", () => {
  const output = analyzeOutput([file([...steadyRecords(), ...resetRecords()])], PLAN);
  const cases: [Partial<SoakFacts>, RegExp][] = [
    [{ steadyExitCodes: [0, 3] }, /^steady client 1 exited with status 3$/],
    [{ steadyExitCodes: [null, 0] }, /^steady client 0 did not exit/],
    [
      { serverExits: [{ generation: 1, stoppedBy: null, code: 1, signal: null }] },
      /^server 1 exited without being stopped \(status 1\)$/,
    ],
    [
      { serverExits: [{ generation: 2, stoppedBy: "final", code: 3, signal: null }] },
      /^server 2 ended with status 3 after the final SIGTERM, expected 0$/,
    ],
    [
      { serverStderr: "linehub-server: internal error (kept running): TypeError: x\n" },
      /^server stderr reports an internal error/,
    ],
    [
      { serverStderr: "error: Uncaught TypeError: x\n    at foo (file:///x.ts:1:1)\n" },
      /^server stderr shows a stack trace/,
    ],
    [{ peakRssKiB: 300 * 1024 }, /^server RSS peaked at 300 MiB, over the 256 MiB bound$/],
    [{ runErrors: ["idle#3: not closed within 5 s of silence"] }, /^idle#3/],
  ];
  for (const [more, reason] of cases) {
    const verdict = judge(facts(output, more));
    assert.equal(verdict.pass, false, JSON.stringify(more));
    assert.match(verdict.reasons[0] ?? "", reason);
  }
  // A SIGTERM in the middle of the run may cut clients off: 3 is fine there.
  const midRun = { generation: 1, stoppedBy: "SIGTERM", code: 3, signal: null } as const;
  assert.equal(judge(facts(output, { serverExits: [midRun] })).pass, true);
});

Deno.test("soak verdict fails when a line after a burst of resets before accept is late", () => {
  const output = analyzeOutput([file([...steadyRecords(), ...resetRecords()])], PLAN);
  const late = judge(facts(output, {
    acceptLatencies: [
      { resets: 200, latencyMs: 9, waitedMs: 30_000 },
      { resets: 200, latencyMs: 20_338, waitedMs: 30_000 },
    ],
  }));
  assert.deepEqual(late.reasons, [
    "a client's line took 20,338 ms to reach the output after burst 2 of 200 resets " +
    "before accept (bound 1,000 ms)",
  ]);
  const lost = judge(facts(output, {
    acceptLatencies: [{ resets: 200, latencyMs: null, waitedMs: 30_000 }],
  }));
  assert.match(lost.reasons[0] ?? "", /^a client's line was not in the output 30,000 ms after/);
  const onTime = [{ resets: 200, latencyMs: 1000, waitedMs: 30_000 }];
  assert.equal(judge(facts(output, { acceptLatencies: onTime })).pass, true);
});

Deno.test("soak verdict fails when the heap grows with connections that ended", () => {
  const output = analyzeOutput([file([...steadyRecords(), ...resetRecords()])], PLAN);
  const leak = { connections: 10_000, beforeBytes: 7_800_000, afterBytes: 9_690_000 };
  const verdict = judge(facts(output, { heapGrowth: leak }));
  assert.deepEqual(verdict.reasons, [
    "server heap grew 1.8 MiB over 10,000 ended connections, 189 bytes per connection " +
    "after a full collection (bound 100)",
  ]);
  // Noise of a few KB over a round, or a heap that shrank, is no leak.
  const noise = { connections: 10_000, beforeBytes: 6_200_000, afterBytes: 6_230_000 };
  assert.equal(judge(facts(output, { heapGrowth: noise })).pass, true);
  const shrank = { connections: 10_000, beforeBytes: 6_200_000, afterBytes: 6_100_000 };
  assert.equal(judge(facts(output, { heapGrowth: shrank })).pass, true);
});

/** A churned connection: one line, then a graceful end or a reset. */
function churnProbe(
  port: number,
  text: string,
  reason: "eof" | "reset",
): ProbeExpectation {
  const bytes = encoder.encode(text + "\n");
  return {
    name: `churn#${port}`,
    kind: "churn",
    port,
    startMs: T - 10,
    endMs: T + 10,
    sentBytes: bytes.length,
    expected: expectedMessages(bytes, 4096),
    reasons: [reason],
    mayLoseUnread: false,
    waived: null,
  };
}

function churnRecords(client: number, port: number, text: string, reason: string): string[] {
  return [
    connect(client, port),
    message(client, port, text),
    disconnect(client, port, reason, 1, text.length + 1),
  ];
}

Deno.test("soak verdict fails a churned line missing from the output", () => {
  const probes = [churnProbe(41000, "c1.0 abc", "eof"), churnProbe(41001, "c1.1 def", "reset")];
  const plan = { steadySent: [3, 3], probes };
  const all = [
    ...steadyRecords(),
    ...churnRecords(7, 41000, "c1.0 abc", "eof"),
    ...churnRecords(8, 41001, "c1.1 def", "reset"),
  ];
  assert.equal(judge(facts(analyzeOutput([file(all)], plan))).pass, true);
  const lost = all.filter((line) => !line.includes('"c1.1 def"'));
  const verdict = judge(facts(analyzeOutput([file(lost)], plan)));
  assert.match(
    verdict.reasons[0] ?? "",
    /churn#41001 \(port 41001\): disconnect record counts 1 lines, output has 0/,
  );
  const wrongEnd = all.map((line) => line.replace('"reason":"reset"', '"reason":"eof"'));
  assert.match(
    judge(facts(analyzeOutput([file(wrongEnd)], plan))).reasons[0] ?? "",
    /churn#41001 \(port 41001\): ended with "eof", expected reset/,
  );
});

Deno.test("soak verdict counts early resets the server never accepted, even on a reused port", () => {
  const early = (port: number): ProbeExpectation => ({
    name: `early-reset#1.${port}`,
    kind: "early-reset",
    port,
    startMs: T - 10,
    endMs: T,
    sentBytes: 0,
    expected: [],
    reasons: ["reset"],
    mayLoseUnread: false,
    waived: null,
  });
  // 42000 was accepted and ended empty; 42001 never was, and its port went
  // to a churned connection at once; 42002 never was either.
  const probes = [early(42000), early(42001), early(42002), churnProbe(42001, "c1.0 x", "eof")];
  const lines = [
    ...steadyRecords(),
    connect(9, 42000),
    disconnect(9, 42000, "reset", 0, 0),
    ...churnRecords(10, 42001, "c1.0 x", "eof"),
  ];
  const output = analyzeOutput([file(lines)], { steadySent: [3, 3], probes });
  assert.equal(output.probes.neverAccepted, 2);
  assert.equal(output.probes.failures, 0);
  // One that was accepted must end as a reset.
  const eof = lines.map((line) => line.replace('"reason":"reset"', '"reason":"eof"'));
  const wrong = analyzeOutput([file(eof)], { steadySent: [3, 3], probes });
  assert.match(wrong.probes.failureExamples[0] ?? "", /early-reset#1.42000 .*ended with "eof"/);
});

Deno.test("the soak's framing model agrees with the server's framer on random bytes", () => {
  const random = seededRandom(20261124);
  const alphabet = [0x61, 0x0a, 0x0d, 0x00, 0x1b, 0xc3, 0xa9, 0xff, 0xe2, 0x82, 0xac, 0x85];
  for (let round = 0; round < 2000; round++) {
    const maxLine = randomInt(random, 1, 12);
    const bytes = new Uint8Array(randomInt(random, 0, 60));
    for (let i = 0; i < bytes.length; i++) {
      bytes[i] = alphabet[randomInt(random, 0, alphabet.length - 1)] as number;
    }
    const framer = new LineFramer({ maxLine });
    const got: ExpectedMessage[] = [];
    const sink = (line: Uint8Array, flags: LineFlags): void => {
      const [truncated, partial] = [(flags & TRUNCATED) !== 0, (flags & PARTIAL) !== 0];
      got.push({ text: JSON.parse(jsonText(line)), truncated, partial });
    };
    for (let at = 0; at < bytes.length;) {
      const size = randomInt(random, 1, 8);
      framer.push(bytes.subarray(at, at + size), sink);
      at += size;
    }
    framer.end(sink);
    assert.deepEqual(got, expectedMessages(bytes, maxLine), `maxLine ${maxLine}, ${bytes}`);
  }
});

// A real run: the server, 8 clients, a kill, rotations and fault connections,
// then a burst of resets before accept and the smallest churn.
Deno.test("a short real soak (tools/soak/main.ts --duration 8 --seed 1) passes", async () => {
  const result = await runProgram(DENO, [
    "run",
    "--allow-all",
    `${ROOT}tools/soak/main.ts`,
    ...["--duration", "8", "--seed", "1", "--early-resets", "100", "--churn", "4000"],
  ]);
  const lines = result.stdout.trimEnd().split("\n");
  assert.match(lines.at(-1) ?? "", /^soak: PASS \(/, `${result.stdout}\n${result.stderr}`);
  assert.equal(result.code, 0);
  assert.equal(lines.filter((line) => line.startsWith("soak: ")).length, 1);
  // The short phases ran, and every connection of theirs was found.
  assert.match(result.stdout, /resets before accept +100 of 100 in 1 burst /);
  assert.match(result.stdout, /churn connections +4,000 in 2 rounds/);
});
