/**
 * The soak's verdict (`tools/soak/`), as pure functions over what the run
 * left behind: the server's JSON Lines output files, what the soak sent, and
 * what it saw of the processes. Nothing here touches a socket, a process or
 * the clock, so the checks that decide PASS or FAIL are tested with crafted
 * bytes (`tests/e2e/soak_test.ts`) instead of being trusted because a run passed.
 *
 * {@linkcode analyzeOutput} reads the output: every line must parse as JSON
 * (output is line-atomic) and hold no raw control byte, every line of every
 * steady sender must be there at least once (duplicates are allowed and
 * counted: delivery is at-least-once), and each fault connection the soak
 * made must show up with exactly the messages and flags the server's framing
 * rules give for the bytes it sent. {@linkcode judge} turns that analysis
 * and the facts about the processes into a list of reasons to fail.
 *
 * @module
 */

import { utf8CutPoint } from "../../lib/wire/_utf8_cut.ts";
import { count } from "./_count.ts";

/** One message as the server should write it: `text` is what `JSON.parse`
 * gives back for the record's `text` field. */
export interface ExpectedMessage {
  readonly text: string;
  readonly truncated: boolean;
  readonly partial: boolean;
}

/** The kinds of fault connection the soak makes, besides its steady senders:
 * `churn` is one of the thousands of one-line connections, `early-reset` one
 * reset before the server could accept it, `after-burst` the ordinary client
 * that follows a burst of those. */
export type ProbeKind =
  | "reset"
  | "half-open"
  | "idle"
  | "flood"
  | "hostile"
  | "drain"
  | "churn"
  | "early-reset"
  | "after-burst";

/** What one fault connection sent and what the output must show for it. */
export interface ProbeExpectation {
  /** Short name for reports, e.g. `reset#3`. */
  readonly name: string;
  readonly kind: ProbeKind;
  /** The connection's local port: the `port` field of its records. */
  readonly port: number;
  /** Wall-clock milliseconds just before connecting and just after closing;
   * the server's connect record must fall in between (give or take a
   * little), which tells apart two connections that reused a port. */
  readonly startMs: number;
  readonly endMs: number;
  /** Bytes written to the socket. */
  readonly sentBytes: number;
  /** The messages the server must write for them, in order. */
  readonly expected: readonly ExpectedMessage[];
  /** Acceptable `reason` values of the disconnect record. */
  readonly reasons: readonly string[];
  /** True for a connection closed with a reset: the kernel may drop what it
   * had received and the server had not read yet, so when the disconnect
   * record counts fewer bytes than were sent, a prefix of `expected` is
   * enough. */
  readonly mayLoseUnread: boolean;
  /** Why nothing is promised for this connection (a server restart
   * overlapped it, it never connected), or null when it is checked. */
  readonly waived: string | null;
}

/** One output file, in the order the server wrote them. */
export interface OutputFile {
  /** File name, for reports. */
  readonly name: string;
  readonly bytes: Uint8Array;
  /** Offsets where the file ended without a newline when a server was
   * killed (SIGKILL can stop a write half way): the torn record before such
   * an offset is counted, not failed, and what follows it is read as the
   * start of a new line. */
  readonly tornOffsets: readonly number[];
}

/** What the soak sent, for {@linkcode analyzeOutput}. */
export interface OutputPlan {
  /** Lines written to each steady sender's stdin: sender k sent sequence
   * numbers 0 to `steadySent[k] - 1`. */
  readonly steadySent: readonly number[];
  readonly probes: readonly ProbeExpectation[];
}

/** What the output showed. Lists of examples are capped at
 * {@linkcode MAX_EXAMPLES}; the counts are complete. */
export interface OutputAnalysis {
  readonly files: number;
  readonly bytes: number;
  /** Output lines, torn fragments included. */
  readonly lines: number;
  readonly messages: number;
  readonly badJson: number;
  readonly badJsonExamples: readonly string[];
  readonly controlBytes: number;
  readonly controlByteExamples: readonly string[];
  /** Records cut short by a SIGKILL (see {@linkcode OutputFile.tornOffsets}). */
  readonly tornRecords: number;
  readonly steady: SteadyAnalysis;
  readonly probes: ProbeAnalysis;
}

/** The steady senders' lines in the output. */
export interface SteadyAnalysis {
  /** Lines sent, all senders together. */
  readonly sent: number;
  /** Whole steady records found, duplicates included. */
  readonly delivered: number;
  /** Distinct lines found. */
  readonly unique: number;
  /** Records beyond the first for the same line: the cost of at-least-once. */
  readonly duplicates: number;
  readonly missing: number;
  readonly missingExamples: readonly string[];
  /** Records that look like a steady line but differ from what was sent. */
  readonly corrupted: number;
  readonly corruptedExamples: readonly string[];
  /** Steady records flagged partial or truncated: a connection cut mid-line
   * (a drain deadline), sent again whole afterwards. */
  readonly fragments: number;
  /** How the steady clients' connections ended, by disconnect reason (a
   * connection the server was killed under has no disconnect record). */
  readonly ends: Readonly<Record<string, number>>;
}

/** The fault connections in the output. */
export interface ProbeAnalysis {
  readonly checked: number;
  readonly waived: number;
  readonly failures: number;
  readonly failureExamples: readonly string[];
  /** Checked `reset` probes the server saw end with a reset. */
  readonly resetsSeen: number;
  /** Of those, the ones whose unfinished last line came out flagged partial. */
  readonly resetPartials: number;
  /** Checked probes the server closed for `--idle-timeout`. */
  readonly idleClosed: number;
  /** Reset probes whose last bytes the kernel dropped before the server
   * read them (allowed, and counted). */
  readonly lostUnread: number;
  /** Early resets the output shows no connection for: the reset came before
   * the server accepted them (allowed, and counted; the others must show
   * an empty connection). */
  readonly neverAccepted: number;
}

/** How a server process ended, and who ended it. */
export interface ServerExit {
  readonly generation: number;
  /** The signal the soak sent to end it; `final` is the closing SIGTERM;
   * null when the soak did not stop it. */
  readonly stoppedBy: "SIGKILL" | "SIGTERM" | "final" | null;
  readonly code: number;
  readonly signal: string | null;
}

/** Everything {@linkcode judge} decides on. */
export interface SoakFacts {
  readonly output: OutputAnalysis;
  /** Each steady client's exit status; null if it had to be killed. */
  readonly steadyExitCodes: readonly (number | null)[];
  readonly serverExits: readonly ServerExit[];
  /** The stderr of every server process, one after another. */
  readonly serverStderr: string;
  readonly peakRssKiB: number;
  readonly rssLimitKiB: number;
  /** How long an ordinary client's line took to reach the output after
   * each burst of resets before accept, in order. */
  readonly acceptLatencies: readonly AcceptLatency[];
  /** The most any of those may take, in ms. */
  readonly acceptLatencyBoundMs: number;
  /** The server's heap across the measured churn round, or null when there
   * was no churn. */
  readonly heapGrowth: HeapGrowth | null;
  /** The most the heap may grow per churned connection, in bytes. */
  readonly heapGrowthBoundBytes: number;
  /** Problems the soak saw while running (a restart that failed, an idle
   * client not closed in time, a drain client not acknowledged). */
  readonly runErrors: readonly string[];
}

/** One burst of resets before accept, and the ordinary line after it. */
export interface AcceptLatency {
  /** Connects in the burst. */
  readonly resets: number;
  /** Milliseconds until the line was in the output; null if it never was
   * within the time the soak allowed (`waitedMs`). */
  readonly latencyMs: number | null;
  readonly waitedMs: number;
}

/** The server's V8 heap in use after a full collection, at idle, before
 * and after a round of short connections. */
export interface HeapGrowth {
  readonly connections: number;
  readonly beforeBytes: number;
  readonly afterBytes: number;
}

/** The outcome: `reasons` lists why it failed, most important first. */
export interface Verdict {
  readonly pass: boolean;
  readonly reasons: readonly string[];
}

/** Most examples kept per kind of problem. */
export const MAX_EXAMPLES = 5;

/** How far a connect record's time may be outside a probe's own window:
 * the server stamps the record when it gets to the connection. */
const PROBE_SLACK_MS = 2000;

/** Bytes of a bad line quoted in a report. */
const QUOTE_BYTES = 80;

const LF = 10;
const CR = 13;
const STEADY = /^s(\d+) (\d+) /;
const decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

/**
 * The text of steady sender `sender`'s line number `seq`, without its
 * newline: `s<sender> <seq> <padding>`, where the padding (16 to 111 lower
 * case letters) is a function of both numbers, so a damaged or misattributed
 * line is told apart from the real one.
 *
 * @example
 * ```ts
 * import { steadyText } from "./verdict.ts";
 * import assert from "node:assert/strict";
 *
 * assert.match(steadyText(3, 17), /^s3 17 [a-z]{16,111}$/);
 * assert.equal(steadyText(3, 17), steadyText(3, 17));
 * ```
 */
export function steadyText(sender: number, seq: number): string {
  let state = (Math.imul(sender + 1, 0x9e3779b1) ^ Math.imul(seq + 1, 0x85ebca77)) >>> 0;
  const next = (): number => {
    state = (Math.imul(state ^ (state >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return state;
  };
  const length = 16 + (next() % 96);
  const codes = new Array<number>(length);
  for (let i = 0; i < length; i++) codes[i] = 97 + (next() % 26);
  return `s${sender} ${seq} ${String.fromCharCode(...codes)}`;
}

/**
 * The messages the server writes for `bytes` sent on one connection that then
 * ended, by the framing rules in the README: a line ends at `\n`, one `\r`
 * before it is removed, a line longer than `maxLine` bytes is cut there (a
 * few bytes earlier if that would split a UTF-8 character) and flagged
 * `truncated` (the rest up to its `\n` is dropped), and a last line
 * without `\n` is flagged `partial`. Texts are decoded as the server decodes
 * them (invalid UTF-8 becomes U+FFFD, a BOM is kept).
 *
 * @example
 * ```ts
 * import { expectedMessages } from "./verdict.ts";
 * import assert from "node:assert/strict";
 *
 * const bytes = new TextEncoder().encode("ab\r\nabcdef\nxy");
 * assert.deepEqual(expectedMessages(bytes, 4), [
 *   { text: "ab", truncated: false, partial: false },
 *   { text: "abcd", truncated: true, partial: false },
 *   { text: "xy", truncated: false, partial: true },
 * ]);
 * ```
 */
export function expectedMessages(bytes: Uint8Array, maxLine: number): ExpectedMessage[] {
  const out: ExpectedMessage[] = [];
  const message = (line: Uint8Array, truncated: boolean, partial: boolean): void => {
    out.push({ text: decoder.decode(line), truncated, partial });
  };
  let start = 0;
  while (start < bytes.length) {
    const newline = bytes.indexOf(LF, start);
    if (newline === -1) {
      const line = bytes.subarray(start);
      // No newline came: a CR at the end is part of the line, and a cut line
      // is written when the connection ends, so it is partial too.
      if (line.length <= maxLine) message(line, false, true);
      else message(line.subarray(0, utf8CutPoint(line, maxLine)), true, true);
      break;
    }
    let line = bytes.subarray(start, newline);
    if (line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, -1);
    if (line.length > maxLine) message(line.subarray(0, utf8CutPoint(line, maxLine)), true, false);
    else message(line, false, false);
    start = newline + 1;
  }
  return out;
}

/** One message record, as the checks need it. */
interface MessageRecord {
  readonly text: string;
  readonly truncated: boolean;
  readonly partial: boolean;
}

/** One connection as the output shows it, from its connect record on. */
interface ConnectionView {
  readonly port: number;
  readonly connectMs: number;
  readonly messages: MessageRecord[];
  disconnect: { reason: string; bytes: number; lines: number } | null;
}

/**
 * Reads the output files and checks them against what was sent.
 *
 * @example
 * ```ts
 * import { analyzeOutput, steadyText } from "./verdict.ts";
 * import assert from "node:assert/strict";
 *
 * const record = { type: "message", client: 0, port: 1, text: steadyText(0, 0) };
 * const bytes = new TextEncoder().encode(JSON.stringify(record) + "\n");
 * const analysis = analyzeOutput([{ name: "out.jsonl", bytes, tornOffsets: [] }], {
 *   steadySent: [2],
 *   probes: [],
 * });
 * assert.equal(analysis.steady.delivered, 1);
 * assert.equal(analysis.steady.missing, 1);
 * ```
 */
export function analyzeOutput(files: readonly OutputFile[], plan: OutputPlan): OutputAnalysis {
  const probePorts = new Set(plan.probes.filter((p) => p.waived === null).map((p) => p.port));
  const steady = new SteadyCounter(plan.steadySent);
  const views = new Map<number, ConnectionView[]>();
  /** The connection each client number stands for now: a restarted server
   * numbers its clients from 0 again, and its connect record takes over. */
  const open = new Map<number, ConnectionView | null>();
  /** Client numbers whose current connection carries steady lines. */
  const steadyClients = new Set<number>();
  let bytes = 0;
  let lines = 0;
  let messages = 0;
  let tornRecords = 0;
  const badJson = new Examples();
  const controlBytes = new Examples();

  const readRecord = (record: unknown, where: string, raw: string): void => {
    if (!isObject(record) || typeof record.type !== "string") {
      badJson.add(`${where}: not a record: ${quote(raw)}`);
      return;
    }
    const client = typeof record.client === "number" ? record.client : -1;
    const port = typeof record.port === "number" ? record.port : -1;
    if (record.type === "connect") {
      steadyClients.delete(client);
      const time = typeof record.time === "string" ? Date.parse(record.time) : Number.NaN;
      if (!probePorts.has(port)) {
        open.set(client, null);
        return;
      }
      const view: ConnectionView = { port, connectMs: time, messages: [], disconnect: null };
      open.set(client, view);
      const list = views.get(port) ?? [];
      list.push(view);
      views.set(port, list);
    } else if (record.type === "message") {
      if (typeof record.text !== "string") {
        badJson.add(`${where}: message without text: ${quote(raw)}`);
        return;
      }
      messages++;
      const message: MessageRecord = {
        text: record.text,
        truncated: record.truncated === true,
        partial: record.partial === true,
      };
      if (steady.see(message)) steadyClients.add(client);
      const view = open.get(client);
      if (view !== undefined && view !== null && view.port === port) view.messages.push(message);
    } else if (record.type === "disconnect") {
      if (steadyClients.delete(client)) steady.ended(String(record.reason));
      const view = open.get(client);
      if (view !== undefined && view !== null && view.port === port) {
        view.disconnect = {
          reason: String(record.reason),
          bytes: typeof record.bytes === "number" ? record.bytes : -1,
          lines: typeof record.lines === "number" ? record.lines : -1,
        };
      }
      open.delete(client);
    }
  };

  for (const file of files) {
    bytes += file.bytes.length;
    const torn = [...file.tornOffsets].sort((a, b) => a - b);
    let start = 0;
    let lineNumber = 0;
    while (start < file.bytes.length) {
      const newline = file.bytes.indexOf(LF, start);
      let end = newline === -1 ? file.bytes.length : newline;
      // A record torn by a SIGKILL runs into the next server's first record:
      // count the fragment and read on from where the next server began.
      const cut = torn.find((offset) => offset > start && offset <= end);
      const isTorn = cut !== undefined;
      if (isTorn) end = cut;
      lineNumber++;
      lines++;
      const line = file.bytes.subarray(start, end);
      const where = `${file.name}:${lineNumber}`;
      const control = findControlByte(line);
      if (control !== null) controlBytes.add(`${where}: byte 0x${control} in ${quote(line)}`);
      if (isTorn) {
        tornRecords++;
      } else if (newline === -1) {
        badJson.add(`${where}: last line has no newline: ${quote(line)}`);
      } else {
        const raw = decoder.decode(line);
        let record: unknown;
        try {
          record = JSON.parse(raw);
        } catch {
          badJson.add(`${where}: not JSON: ${quote(line)}`);
          record = undefined;
        }
        if (record !== undefined) readRecord(record, where, raw);
      }
      start = isTorn ? end : end + 1;
    }
  }

  return {
    files: files.length,
    bytes,
    lines,
    messages,
    badJson: badJson.count,
    badJsonExamples: badJson.list,
    controlBytes: controlBytes.count,
    controlByteExamples: controlBytes.list,
    tornRecords,
    steady: steady.result(),
    probes: checkProbes(plan.probes, views),
  };
}

/** Counts steady lines by sender and sequence number. */
class SteadyCounter {
  readonly #counts: Uint32Array[];
  readonly #sent: readonly number[];
  #delivered = 0;
  #fragments = 0;
  readonly #ends: Record<string, number> = {};
  readonly #corrupted = new Examples();

  constructor(sent: readonly number[]) {
    this.#sent = sent;
    this.#counts = sent.map((n) => new Uint32Array(n));
  }

  /** Counts `message` if it is a steady line; says whether it was one. */
  see(message: MessageRecord): boolean {
    const match = STEADY.exec(message.text);
    if (match === null) return false;
    const sender = Number(match[1]);
    const seq = Number(match[2]);
    const counts = this.#counts[sender];
    if (counts === undefined) return false; // not one of ours: a hostile line, say
    if (message.truncated || message.partial) {
      this.#fragments++;
    } else if (seq >= counts.length || message.text !== steadyText(sender, seq)) {
      this.#corrupted.add(quote(message.text));
    } else {
      this.#delivered++;
      counts[seq] = (counts[seq] ?? 0) + 1;
    }
    return true;
  }

  /** Counts a steady connection's end. */
  ended(reason: string): void {
    this.#ends[reason] = (this.#ends[reason] ?? 0) + 1;
  }

  result(): SteadyAnalysis {
    let unique = 0;
    const missing = new Examples();
    this.#counts.forEach((counts, sender) => {
      counts.forEach((count, seq) => {
        if (count > 0) unique++;
        else missing.add(`s${sender} ${seq}`);
      });
    });
    return {
      sent: this.#sent.reduce((sum, n) => sum + n, 0),
      delivered: this.#delivered,
      unique,
      duplicates: this.#delivered - unique,
      missing: missing.count,
      missingExamples: missing.list,
      corrupted: this.#corrupted.count,
      corruptedExamples: this.#corrupted.list,
      fragments: this.#fragments,
      ends: { ...this.#ends },
    };
  }
}

/** Matches each checked probe with its connection in the output. */
function checkProbes(
  probes: readonly ProbeExpectation[],
  views: ReadonlyMap<number, readonly ConnectionView[]>,
): ProbeAnalysis {
  let checked = 0;
  let waived = 0;
  let resetsSeen = 0;
  let resetPartials = 0;
  let idleClosed = 0;
  let lostUnread = 0;
  let neverAccepted = 0;
  const failures = new Examples();
  for (const probe of probes) {
    if (probe.waived !== null) {
      waived++;
      continue;
    }
    checked++;
    const candidates = (views.get(probe.port) ?? []).filter((view) =>
      view.connectMs >= probe.startMs - PROBE_SLACK_MS &&
      view.connectMs <= probe.endMs + PROBE_SLACK_MS &&
      (probe.kind !== "early-reset" || isEmpty(view))
    );
    if (candidates.length === 0 && probe.kind === "early-reset") {
      neverAccepted++;
      continue;
    }
    if (candidates.length === 0) {
      failures.add(`${probe.name} (port ${probe.port}): no connect record in the output`);
      continue;
    }
    // Two connections on one port in one window are very unlikely; if it
    // happens, the probe passes when either one matches.
    let problem = "";
    let match: ConnectionView | null = null;
    for (const view of candidates) {
      const found = probeProblem(probe, view);
      if (found === null) {
        match = view;
        break;
      }
      problem ||= found;
    }
    if (match === null) {
      failures.add(`${probe.name} (port ${probe.port}): ${problem}`);
      continue;
    }
    const disconnect = match.disconnect;
    if (disconnect === null) continue;
    if (disconnect.reason === "idle-timeout") idleClosed++;
    if (probe.kind === "reset" && disconnect.reason === "reset") {
      resetsSeen++;
      const last = match.messages.at(-1);
      if (disconnect.bytes === probe.sentBytes && last?.partial === true) resetPartials++;
    }
    if (probe.mayLoseUnread && disconnect.bytes < probe.sentBytes) lostUnread++;
  }
  return {
    checked,
    waived,
    failures: failures.count,
    failureExamples: failures.list,
    resetsSeen,
    resetPartials,
    idleClosed,
    lostUnread,
    neverAccepted,
  };
}

/** Whether the server read nothing on `view`. A port freed by a reset is
 * handed out again at once, so the port of an early reset the server never
 * accepted can show up, in the same window, on the next connection; an
 * early reset sends nothing, so a connection that carried bytes is not it. */
function isEmpty(view: ConnectionView): boolean {
  return view.messages.length === 0 && (view.disconnect?.bytes ?? 0) === 0;
}

/** What is wrong with `view` as the connection of `probe`, or null. */
function probeProblem(probe: ProbeExpectation, view: ConnectionView): string | null {
  const disconnect = view.disconnect;
  if (disconnect === null) return "no disconnect record";
  if (!probe.reasons.includes(disconnect.reason)) {
    return `ended with "${disconnect.reason}", expected ${probe.reasons.join(" or ")}`;
  }
  if (disconnect.lines !== view.messages.length) {
    return `disconnect record counts ${disconnect.lines} lines, output has ${view.messages.length}`;
  }
  if (disconnect.bytes > probe.sentBytes) {
    return `server counted ${disconnect.bytes} bytes, only ${probe.sentBytes} were sent`;
  }
  const complete = disconnect.bytes === probe.sentBytes;
  if (!complete && !probe.mayLoseUnread) {
    return `server read ${disconnect.bytes} of the ${probe.sentBytes} bytes sent`;
  }
  const got = view.messages;
  const want = probe.expected;
  // When the kernel dropped the unread tail, the messages are a prefix, and
  // the last of them may be the start of a longer line, flagged partial.
  const compared = complete ? Math.max(got.length, want.length) : got.length - 1;
  if (complete && got.length !== want.length) {
    return `${got.length} messages in the output, expected ${want.length}` +
      firstDifference(got, want);
  }
  if (!complete && got.length > want.length) {
    return `${got.length} messages in the output, at most ${want.length} were sent`;
  }
  for (let i = 0; i < compared; i++) {
    const a = got[i];
    const b = want[i];
    if (a === undefined || b === undefined || !sameMessage(a, b)) {
      return `message ${i + 1} is ${describe(a)}, expected ${describe(b)}`;
    }
  }
  return null;
}

function sameMessage(a: MessageRecord, b: ExpectedMessage): boolean {
  return a.text === b.text && a.truncated === b.truncated && a.partial === b.partial;
}

function firstDifference(got: readonly MessageRecord[], want: readonly ExpectedMessage[]): string {
  for (let i = 0; i < Math.max(got.length, want.length); i++) {
    const a = got[i];
    const b = want[i];
    if (a === undefined || b === undefined || !sameMessage(a, b)) {
      return `; first difference at message ${i + 1}: ${describe(a)} vs ${describe(b)}`;
    }
  }
  return "";
}

function describe(message: MessageRecord | ExpectedMessage | undefined): string {
  if (message === undefined) return "nothing";
  const flags = [message.truncated ? "truncated" : "", message.partial ? "partial" : ""]
    .filter(Boolean).join(",");
  const text = JSON.stringify(message.text);
  const shown = text.length > QUOTE_BYTES ? `${text.slice(0, QUOTE_BYTES)}...` : text;
  return flags === "" ? shown : `${shown} (${flags})`;
}

/**
 * Decides PASS or FAIL from everything the soak gathered.
 *
 * @example
 * ```ts
 * import { analyzeOutput, judge } from "./verdict.ts";
 * import assert from "node:assert/strict";
 *
 * const output = analyzeOutput([], { steadySent: [], probes: [] });
 * const verdict = judge({
 *   output,
 *   steadyExitCodes: [1],
 *   serverExits: [],
 *   serverStderr: "",
 *   peakRssKiB: 0,
 *   rssLimitKiB: 1,
 *   acceptLatencies: [],
 *   acceptLatencyBoundMs: 1000,
 *   heapGrowth: null,
 *   heapGrowthBoundBytes: 100,
 *   runErrors: [],
 * });
 * assert.equal(verdict.pass, false);
 * assert.deepEqual(verdict.reasons, ["steady client 0 exited with status 1"]);
 * ```
 */
export function judge(facts: SoakFacts): Verdict {
  const reasons: string[] = [];
  const { output } = facts;
  const { steady, probes } = output;
  if (steady.missing > 0) {
    reasons.push(
      `${steady.missing} of ${steady.sent} steady lines missing from the output ` +
        `(first: ${steady.missingExamples.join(", ")})`,
    );
  }
  if (steady.corrupted > 0) {
    reasons.push(
      `${steady.corrupted} steady lines damaged (first: ${steady.corruptedExamples.join(", ")})`,
    );
  }
  if (output.badJson > 0) {
    reasons.push(
      `${output.badJson} output lines are not whole JSON records ` +
        `(first: ${output.badJsonExamples.join("; ")})`,
    );
  }
  if (output.controlBytes > 0) {
    reasons.push(
      `${output.controlBytes} output lines hold a raw control byte ` +
        `(first: ${output.controlByteExamples.join("; ")})`,
    );
  }
  if (probes.failures > 0) {
    reasons.push(
      `${probes.failures} fault connections not as expected in the output ` +
        `(first: ${probes.failureExamples.join("; ")})`,
    );
  }
  reasons.push(...acceptLatencyProblems(facts.acceptLatencies, facts.acceptLatencyBoundMs));
  const heap = heapGrowthProblem(facts.heapGrowth, facts.heapGrowthBoundBytes);
  if (heap !== null) reasons.push(heap);
  facts.steadyExitCodes.forEach((code, k) => {
    if (code !== 0) {
      reasons.push(
        code === null
          ? `steady client ${k} did not exit (killed)`
          : `steady client ${k} exited with status ${code}`,
      );
    }
  });
  for (const exit of facts.serverExits) {
    const problem = serverExitProblem(exit);
    if (problem !== null) reasons.push(problem);
  }
  if (/internal error/.test(facts.serverStderr)) {
    reasons.push(
      `server stderr reports an internal error: ${firstLine(facts.serverStderr, /internal error/)}`,
    );
  }
  if (/^\s+at /m.test(facts.serverStderr) || facts.serverStderr.includes("error: Uncaught")) {
    reasons.push(
      `server stderr shows a stack trace: ${
        firstLine(facts.serverStderr, /^\s+at |error: Uncaught/)
      }`,
    );
  }
  if (facts.peakRssKiB > facts.rssLimitKiB) {
    reasons.push(
      `server RSS peaked at ${mib(facts.peakRssKiB)} MiB, over the ${
        mib(facts.rssLimitKiB)
      } MiB bound`,
    );
  }
  reasons.push(...facts.runErrors);
  return { pass: reasons.length === 0, reasons };
}

/** One reason per burst after which an ordinary line was late or never
 * came: a connection that died in the accept queue must cost the next
 * client nothing it would notice. */
function acceptLatencyProblems(
  latencies: readonly AcceptLatency[],
  boundMs: number,
): string[] {
  const problems: string[] = [];
  latencies.forEach(({ resets, latencyMs, waitedMs }, i) => {
    const after = `after burst ${i + 1} of ${count(resets)} resets before accept`;
    if (latencyMs === null) {
      problems.push(
        `a client's line was not in the output ${count(waitedMs)} ms ${after} ` +
          `(bound ${count(boundMs)} ms)`,
      );
    } else if (latencyMs > boundMs) {
      problems.push(
        `a client's line took ${count(Math.round(latencyMs))} ms to reach the output ${after} ` +
          `(bound ${count(boundMs)} ms)`,
      );
    }
  });
  return problems;
}

/**
 * The heap in use after a full collection may not grow by more than
 * `boundBytes` per connection over a round of connections that all ended:
 * nothing of a connection that ended should be kept.
 *
 * @example
 * ```ts
 * import { heapGrowthProblem } from "./verdict.ts";
 * import assert from "node:assert/strict";
 *
 * const round = { connections: 10_000, beforeBytes: 8_000_000, afterBytes: 8_050_000 };
 * assert.equal(heapGrowthProblem(round, 100), null);
 * assert.match(
 *   heapGrowthProblem({ ...round, afterBytes: 11_770_000 }, 100) ?? "",
 *   /377 bytes per connection/,
 * );
 * ```
 */
export function heapGrowthProblem(growth: HeapGrowth | null, boundBytes: number): string | null {
  if (growth === null || growth.connections === 0) return null;
  const grown = growth.afterBytes - growth.beforeBytes;
  const perConnection = grown / growth.connections;
  if (perConnection <= boundBytes) return null;
  return `server heap grew ${(grown / 2 ** 20).toFixed(1)} MiB over ${
    count(growth.connections)
  } ended ` +
    `connections, ${count(Math.round(perConnection))} bytes per connection after a full ` +
    `collection (bound ${count(boundBytes)})`;
}

/** Whether a server process ended the way the soak ended it. A SIGTERM in
 * the middle of the run may cut off the steady clients (still streaming,
 * their stdin open) at the drain deadline, so 3 is fine there; the final
 * SIGTERM comes after every client has left or is about to, so only 0 is. */
function serverExitProblem(exit: ServerExit): string | null {
  const status = exit.signal === null ? `status ${exit.code}` : `signal ${exit.signal}`;
  const who = `server ${exit.generation}`;
  switch (exit.stoppedBy) {
    case null:
      return `${who} exited without being stopped (${status})`;
    case "SIGKILL":
      return exit.signal === "SIGKILL" ? null : `${who} ended with ${status} instead of SIGKILL`;
    case "SIGTERM":
      return exit.signal === null && (exit.code === 0 || exit.code === 3)
        ? null
        : `${who} ended with ${status} after a mid-run SIGTERM, expected 0 or 3`;
    case "final":
      return exit.signal === null && exit.code === 0
        ? null
        : `${who} ended with ${status} after the final SIGTERM, expected 0`;
  }
}

function firstLine(text: string, pattern: RegExp): string {
  const line = text.split("\n").find((l) => pattern.test(l)) ?? "";
  return JSON.stringify(line.trim().slice(0, 200));
}

function mib(kib: number): string {
  return (kib / 1024).toFixed(0);
}

/** The hex of the first raw control byte in a JSON output line, or null:
 * C0 (a newline cannot occur inside a line), DEL, or a C1 character encoded
 * as UTF-8 (0xC2 0x80 to 0xC2 0x9F). JSON escapes all of them. */
function findControlByte(line: Uint8Array): string | null {
  for (let i = 0; i < line.length; i++) {
    const byte = line[i] as number;
    if (byte < 0x20 || byte === 0x7f) return byte.toString(16).padStart(2, "0");
    if (byte === 0xc2) {
      const next = line[i + 1] ?? 0;
      if (next >= 0x80 && next <= 0x9f) return `c2${next.toString(16)}`;
    }
  }
  return null;
}

/** A short JSON-quoted excerpt, safe to print whatever the bytes are. */
function quote(line: Uint8Array | string): string {
  const text = typeof line === "string" ? line : decoder.decode(line);
  const shown = JSON.stringify(text.slice(0, QUOTE_BYTES));
  return text.length > QUOTE_BYTES ? `${shown}...` : shown;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A count and the first few examples. */
class Examples {
  count = 0;
  readonly list: string[] = [];

  add(example: string): void {
    this.count++;
    if (this.list.length < MAX_EXAMPLES) this.list.push(example);
  }
}
