/**
 * The fault connections the soak opens during the load, drawn from a seeded
 * PRNG: (c) resets mid-line, (d) half-closes that hold the socket open,
 * (e) silence until `--idle-timeout` closes it, (f) floods of connects, and
 * (g) hostile bytes, lettered as the reliability issue lists them. Each
 * files what the output must show for the bytes it sent (probe.ts).
 *
 * @module
 */

import net from "node:net";
import { concatBytes as concat } from "../../lib/io/concat_bytes.ts";
import { AckParser } from "../../lib/wire/ack_protocol.ts";
import { forkRandom, randomInt } from "../seeded_random.ts";
import { describe, HOST, letters, PROBE_IO_TIMEOUT_MS, sleep, within } from "./_common.ts";
import { hostileSegment } from "./hostile_bytes.ts";
import { connectFailed, fileProbe, probe, type ProbeContext, type ProbeShape } from "./probe.ts";
import { readToClose, readToEnd } from "./read_to_end.ts";
import { IDLE_TIMEOUT_S } from "./server_control.ts";

/** How long fault connections still open at the end get to finish. */
const PROBES_TIMEOUT_MS = 30_000;

/** Most fault connections open at once (a flood counts as one). */
const MAX_PROBES_IN_FLIGHT = 12;

/** Connects in flight at once during a flood. */
const FLOOD_CONCURRENCY = 50;

const encoder = new TextEncoder();

/**
 * (c) Sends whole lines, waits until they are acknowledged, sends one more
 * and part of another, and resets the connection. The part must come out
 * flagged partial (unless the kernel dropped it unread, which is counted).
 * The socket is a `node:net` one: its `resetAndDestroy()` closes with
 * SO_LINGER 0, a real reset, whereas Deno's own `conn.close()` shuts the
 * write side down first, so the server would see the end of the stream
 * before the reset, and closing with unread data would not help.
 */
async function resetProbe(ctx: ProbeContext, random: () => number, id: number): Promise<void> {
  const shape: ProbeShape = {
    kind: "reset",
    name: `reset#${id}`,
    reasons: ["reset"],
    mayLoseUnread: true,
  };
  const whole = randomInt(random, 1, 4);
  const lines = Array.from(
    { length: whole },
    (_, j) => `r${id} ${j} ${letters(random, 5, 60)}\n`,
  );
  const tail = `r${id} last ${letters(random, 5, 60)}\n`;
  const part = `r${id} partial ${letters(random, 1, 40)}`;
  const pause = randomInt(random, 200, 400);
  const epoch = ctx.server.epoch;
  const startMs = Date.now();
  const parser = new AckParser();
  let socketError: unknown = null;
  const socket = net.connect({ host: HOST, port: ctx.server.port });
  // An "error" event without a listener would throw out of the event loop.
  socket.on("error", (error) => socketError = error);
  socket.on("data", (chunk: Uint8Array) => {
    try {
      parser.push(chunk, () => {}, () => {});
    } catch (error) {
      socketError = error;
    }
  });
  const connected = await within(
    new Promise<boolean>((resolve) => {
      socket.once("connect", () => resolve(true));
      socket.once("error", () => resolve(false));
    }),
    PROBE_IO_TIMEOUT_MS,
    false,
  );
  if (!connected) {
    socket.destroy();
    connectFailed(ctx, shape, epoch, socketError ?? new Error("timed out"));
    return;
  }
  const port = socket.localPort ?? 0;
  const sent: Uint8Array[] = [];
  const write = (bytes: Uint8Array): Promise<void> => {
    sent.push(bytes);
    return new Promise((resolve, reject) => {
      socket.write(bytes, (error) => error ? reject(error) : resolve());
    });
  };
  let failure: string | null = null;
  try {
    await write(encoder.encode(lines.join("")));
    const deadline = Date.now() + PROBE_IO_TIMEOUT_MS;
    while (parser.acknowledged < whole && socketError === null && Date.now() < deadline) {
      await sleep(10);
    }
    if (parser.acknowledged < whole) {
      throw new Error(
        `${parser.acknowledged} of ${whole} lines acknowledged` +
          (socketError === null ? "" : `: ${describe(socketError)}`),
      );
    }
    await write(encoder.encode(tail + part));
    await sleep(pause);
    ctx.counts.reset++;
  } catch (error) {
    failure = describe(error);
  } finally {
    socket.resetAndDestroy();
  }
  fileProbe(ctx, shape, { epoch, startMs, endMs: Date.now(), port, sent, failure });
}

/** (d) Sends lines (and maybe part of one), half-closes, and keeps the socket
 * open without reading for a while. */
function halfOpenProbe(ctx: ProbeContext, random: () => number, id: number): Promise<void> {
  const name = `half-open#${id}`;
  const count = randomInt(random, 1, 5);
  let text = "";
  for (let j = 0; j < count; j++) text += `o${id} ${j} ${letters(random, 5, 60)}\n`;
  if (random() < 0.5) text += `o${id} partial ${letters(random, 1, 30)}`;
  const hold = randomInt(random, 1000, 3000);
  return probe(
    ctx,
    { kind: "half-open", name, reasons: ["eof"], mayLoseUnread: false },
    async (conn, record) => {
      await record.send(conn, encoder.encode(text));
      await conn.closeWrite();
      ctx.counts["half-open"]++;
      await sleep(hold);
    },
  );
}

/** (e) Connects and sends nothing (or part of a line) until the server
 * closes it for `--idle-timeout`, which must happen in time and not early. */
function idleProbe(ctx: ProbeContext, random: () => number, id: number): Promise<void> {
  const name = `idle#${id}`;
  const part = random() < 0.5 ? `i${id} silent ${letters(random, 1, 30)}` : "";
  return probe(
    ctx,
    { kind: "idle", name, reasons: ["idle-timeout"], mayLoseUnread: false },
    async (conn, record) => {
      if (part !== "") await record.send(conn, encoder.encode(part));
      const since = performance.now();
      const limit = IDLE_TIMEOUT_S * 1000 + 3000;
      const closed = await readToClose(conn, limit, new AckParser());
      const after = performance.now() - since;
      ctx.counts.idle++;
      if (!closed) throw new Error(`not closed within ${limit / 1000} s of silence`);
      if (after < IDLE_TIMEOUT_S * 1000 - 100) {
        throw new Error(`closed after ${(after / 1000).toFixed(2)} s, before --idle-timeout`);
      }
    },
  );
}

/** (f) A burst of connects: each closes at once, half of them after one line. */
async function floodProbe(ctx: ProbeContext, random: () => number, id: number): Promise<void> {
  const count = randomInt(random, 200, 400);
  const withLine = Array.from({ length: count }, () => random() < 0.5);
  let next = 0;
  const began = performance.now();
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      await probe(
        ctx,
        {
          kind: "flood",
          name: `flood#${id}.${i}`,
          reasons: ["eof", "reset"],
          mayLoseUnread: false,
        },
        async (conn, record) => {
          if (withLine[i]) await record.send(conn, encoder.encode(`f${id} ${i}\n`));
        },
      );
    }
  };
  await Promise.all(Array.from({ length: FLOOD_CONCURRENCY }, worker));
  const rate = count / ((performance.now() - began) / 1000);
  ctx.counts.flood++;
  ctx.counts.floodConnects += count;
  ctx.counts.floodBestRate = Math.max(ctx.counts.floodBestRate, rate);
}

/** (g) Hostile bytes in random-sized writes; half-closes and reads its
 * acknowledgments to the end. Every message must come out exactly as the
 * framing rules say, and nothing raw may reach the output. */
function hostileProbe(ctx: ProbeContext, random: () => number, id: number): Promise<void> {
  const name = `hostile#${id}`;
  const parts: Uint8Array[] = [];
  const segments = randomInt(random, 3, 10);
  for (let j = 0; j < segments; j++) parts.push(hostileSegment(random, `h${id}.${j} `));
  if (random() < 0.3) parts.push(encoder.encode(`h${id} tail \x1b[0m`));
  const payload = concat(parts);
  const chunks: number[] = [];
  for (let at = 0; at < payload.length;) {
    const size = randomInt(random, 1, 3000);
    chunks.push(size);
    at += size;
  }
  return probe(
    ctx,
    { kind: "hostile", name, reasons: ["eof"], mayLoseUnread: false },
    async (conn, record) => {
      let at = 0;
      for (const size of chunks) {
        await record.send(conn, payload.subarray(at, at + size));
        at += size;
      }
      await conn.closeWrite();
      ctx.counts.hostile++;
      if (!(await readToEnd(conn, PROBE_IO_TIMEOUT_MS * 2, new AckParser()))) {
        throw new Error("server did not close after the input ended");
      }
    },
  );
}

/** The fault connections drawn at random, and how often each is drawn. */
type FaultKind = "flood" | "reset" | "half-open" | "idle" | "hostile";

const FAULT_WEIGHTS: readonly (readonly [FaultKind, number])[] = [
  ["flood", 0.08],
  ["reset", 0.27],
  ["half-open", 0.2],
  ["idle", 0.17],
  ["hostile", 0.28],
];

/** The kind whose share of [0, 1) holds `r`. */
function weightedKind(r: number): FaultKind {
  let sum = 0;
  for (const [kind, weight] of FAULT_WEIGHTS) {
    sum += weight;
    if (r < sum) return kind;
  }
  return "hostile";
}

/** Launches fault connections until `endAt`, at most
 * {@linkcode MAX_PROBES_IN_FLIGHT} at once, then waits for them. */
export async function runFaultProbes(
  ctx: ProbeContext,
  random: () => number,
  endAt: number,
  maxFloods: number,
): Promise<void> {
  const inFlight = new Set<Promise<void>>();
  let id = 0;
  let floodRunning = false;
  let floods = 0;
  // One of each kind first, in a random order, so that even a short run
  // mixes them all; then a weighted draw.
  const firstRound = FAULT_WEIGHTS.map(([kind]) => kind);
  for (let i = firstRound.length - 1; i > 0; i--) {
    const j = randomInt(random, 0, i);
    [firstRound[i], firstRound[j]] = [firstRound[j] as FaultKind, firstRound[i] as FaultKind];
  }
  while (performance.now() < endAt) {
    await sleep(randomInt(random, 150, 600));
    if (inFlight.size >= MAX_PROBES_IN_FLIGHT) continue;
    const sub = forkRandom(random);
    let kind = firstRound.pop() ?? weightedKind(random());
    if (kind === "flood" && (floodRunning || floods >= maxFloods)) kind = "reset";
    const probeId = ++id;
    let task: Promise<void>;
    switch (kind) {
      case "flood":
        floods++;
        floodRunning = true;
        task = floodProbe(ctx, sub, probeId).finally(() => floodRunning = false);
        break;
      case "reset":
        task = resetProbe(ctx, sub, probeId);
        break;
      case "half-open":
        task = halfOpenProbe(ctx, sub, probeId);
        break;
      case "idle":
        task = idleProbe(ctx, sub, probeId);
        break;
      case "hostile":
        task = hostileProbe(ctx, sub, probeId);
        break;
    }
    const tracked = task.catch((error) => {
      ctx.errors.push(`fault connection ${probeId}: ${describe(error)}`);
    }).finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
  }
  const done = await within(Promise.all(inFlight).then(() => true), PROBES_TIMEOUT_MS, false);
  if (!done) ctx.errors.push(`${inFlight.size} fault connections still open at the end`);
}
