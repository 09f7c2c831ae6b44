/**
 * `deno task bench`: linehub against the naive Deno port (bench/naive_server.ts),
 * `ncat -lk`, `socat ... fork`, rsyslog (imptcp) and syslog-ng (network()),
 * and the runtime's own floors (bench/floor_server.ts), side by side in one
 * run, on loopback. A contender that cannot run here is skipped, with why.
 * The fair configurations of rsyslog and syslog-ng are stated in
 * bench/syslog_configs.ts.
 *
 * Fan-in: C clients each send L lines of 100 bytes as fast as they can, from
 * a Worker (bench/load_worker.ts); the server's stdout is a pipe read by this
 * process, which counts `#` bytes with SIMD (bench/byte_count.ts) so that the
 * measuring takes little from the server's cores. Every client's last line is
 * made of `#`, a byte found nowhere else in the input or in any server's
 * labels, so the run is complete when all C of those lines have come out: the
 * clock runs from the first connect until then. Lines/s counts input lines
 * (the naive port and ncat do not output lines one for one). The rounds
 * alternate the contenders (one run of each per round), so that the other
 * work of a shared machine falls on all of them alike; the table gives
 * medians and, for the CPU per line, the spread over the rounds. With
 * `--baseline DIR`, linehub is also run from another checkout (DIR), in the
 * same rounds: a change measured side by side with what it changes.
 *
 * Scale: N clients connect and stay idle; the server's RSS above its
 * baseline is divided by N; then every client sends one `#` line and the run
 * waits until all N came out (the server still serves each of them).
 *
 * Workers scaling (`--workers-scaling`, alone): the fan-in scenario against
 * linehub text (server.ts) with `--workers 1` (one thread, the default), 2
 * and 4 (Workers need Linux), with the ratio to `--workers 1`.
 *
 * Into a broker: "linehub -> redis" is linehub json with `--sink` into a
 * redis-server of its own (started for each run, on a free port, keeping
 * nothing on disk, the stream trimmed to about 100,000 entries); its run is
 * complete once every line is on stdout and Redis has added every one
 * (XINFO STREAM's entries-added). Compare it with "linehub json", whose
 * output is the same: the difference is the sink's cost. "linehub -> nats"
 * is the same into a nats-server -js of its own, the stream kept in memory
 * and trimmed to 100,000 messages, complete once its last sequence number
 * is the count of lines. The broker's own CPU is printed with each run,
 * apart from the server's.
 *
 * Peak RSS is sampled every 20 ms over the server's whole process tree.
 * Usage: deno task bench [--quick] [--only NAME,...] [--fanin-clients C]
 * [--fanin-lines L] [--idle N] [--repeat R] [--workers-scaling]
 * [--framing lf|auto] (given to each linehub; the load sends lines ending in \n)
 * [--baseline DIR] [--skip-scale] [--skip-bounded]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { hostname } from "node:os";
import { hasCommand, NatsPeer, RedisPeer } from "../tests/_helpers/mod.ts";
import { ByteCounter } from "./byte_count.ts";
import { writeAll } from "../lib/io/write_all.ts";
import { clientPayload, HASH, LINE_BYTES } from "./load.ts";
import {
  rsyslogCommand,
  rsyslogConfig,
  SYSLOG_NG_CACHE,
  syslogNgCommand,
  syslogNgConfig,
  syslogNgRoot,
} from "./syslog_configs.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const DENO = Deno.execPath();

interface Contender {
  name: string;
  /** argv to start it listening on 127.0.0.1:port, output on stdout; `dir`
   * is a temporary directory of its own, for a config file; `extra`, the
   * arguments that point it at its peer */
  command(port: number, dir: string, extra?: string[]): string[];
  /** environment it needs on top of this process's */
  env?: Record<string, string>;
  /** why it cannot run here, or null when it can */
  unavailable(): Promise<string | null>;
  /** only for the fan-in: a floor, which serves no one line by line */
  floor?: boolean;
  /** started once it listens, before the load: what watches it (a browser
   * on its live page); returns how to stop that */
  attach?(): Promise<() => Promise<void>>;
  /** a program it sends to, started before it for each fan-in run */
  peer?: () => Promise<Peer>;
}

/** A broker a contender delivers to. */
interface Peer {
  /** arguments that point the contender at it */
  readonly args: string[];
  /** lines it has taken so far */
  taken(): Promise<number>;
  /** CPU seconds it has used so far */
  cpuSeconds(): number;
  stop(): Promise<void>;
}

/** Entries a broker keeps of the bench's stream: bounded, so 1 M lines do
 * not take the memory of the machine the server runs on. */
const BROKER_KEEPS = 100_000;

/** Arguments every linehub server of the run gets after its own: the
 * bench's `--framing HOW` passed on, so a run names the framing it measured.
 * Set once by `main`, before any server starts. */
const linehubExtra: string[] = [];

const always = (): Promise<string | null> => Promise.resolve(null);

/** null when `name` is on the PATH, else why a contender is skipped. */
async function needs(name: string): Promise<string | null> {
  return await hasCommand(name) ? null : `${name} not found`;
}

/** linehub itself, started as `deno task server` starts it, in `format`,
 * from the checkout at `root` (another one for `--baseline`). */
function linehub(format: "text" | "json", root = ROOT, tag = ""): Contender {
  return {
    name: `linehub ${format}${tag}`,
    command: (port, _dir, extra = []) => [
      DENO,
      ...["run", "--allow-net", "--allow-write", "--allow-sys=hostname", `${root}server.ts`],
      ...["--host", "127.0.0.1", "--port", String(port), "--format", format, ...linehubExtra],
      ...extra,
    ],
    unavailable: always,
  };
}

/** The CPU seconds, user and system, of a process tree so far. */
function cpuOf(pid: number): number {
  const { user, sys } = treeCpu(pid);
  return user + sys;
}

/** linehub json with `--sink` into a redis-server of its own. */
function linehubToRedis(): Contender {
  return {
    ...linehub("json"),
    name: "linehub -> redis",
    unavailable: () => needs("redis-server"),
    async peer(): Promise<Peer> {
      const redis = await RedisPeer.start({ durable: false });
      const pid = redis.pid as number;
      return {
        args: ["--sink", `${redis.url("bench")}?maxlen=${BROKER_KEEPS}`],
        taken: () => redis.added("bench"),
        cpuSeconds: () => cpuOf(pid),
        stop: () => redis[Symbol.asyncDispose](),
      };
    },
  };
}

/** linehub json with `--sink` into a nats-server -js of its own. */
function linehubToNats(): Contender {
  return {
    ...linehub("json"),
    name: "linehub -> nats",
    unavailable: () => needs("nats-server"),
    async peer(): Promise<Peer> {
      const nats = await NatsPeer.start();
      await nats.createStream("BENCH", "bench", { storage: "memory", max_msgs: BROKER_KEEPS });
      const pid = nats.pid as number;
      return {
        args: ["--sink", nats.url("bench")],
        taken: () => nats.lastSeq("BENCH"),
        cpuSeconds: () => cpuOf(pid),
        stop: () => nats[Symbol.asyncDispose](),
      };
    },
  };
}

/** The runtime's floor (bench/floor_server.ts): reads only, or copies raw. */
function floor(mode: "read" | "copy"): Contender {
  return {
    name: `deno ${mode} floor`,
    command: (
      port,
    ) => [DENO, "run", "--allow-net", `${ROOT}bench/floor_server.ts`, mode, String(port)],
    unavailable: always,
    floor: true,
  };
}

const RSYSLOGD = "/usr/sbin/rsyslogd";

/** The Debian Chromium the live page is opened in. */
const CHROMIUM = "/usr/bin/chromium";

/** linehub text with `--http` on a free port; with `page`, a headless
 * Chromium follows the live page (all clients) for the whole run. The
 * browser is its own process tree, so its CPU is not the server's. */
function linehubHttp(page: boolean): Contender {
  const httpPort = freePort();
  return {
    name: page ? "linehub text --http, page open" : "linehub text --http",
    command: (port, dir) => [
      ...linehub("text").command(port, dir),
      ...["--http", String(httpPort)],
    ],
    unavailable: () =>
      Promise.resolve(!page || existsFile(CHROMIUM) ? null : `${CHROMIUM} not found`),
    ...(page ? { attach: openPage } : {}),
  };

  async function openPage(): Promise<() => Promise<void>> {
    const browser = new Deno.Command(CHROMIUM, {
      args: [
        ...["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"],
        ...["--disable-background-networking", "--disable-component-update", "--disable-sync"],
        "--remote-debugging-port=0",
        `--user-data-dir=${Deno.makeTempDirSync()}`,
        `http://127.0.0.1:${httpPort}/`,
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    // Following once the server counts the page's event stream.
    const following = await waitFor(() => tailSubscribers(httpPort) === 1, 20_000);
    if (!following) throw new Error("the live page did not open in Chromium");
    return async () => {
      browser.kill("SIGKILL");
      await browser.status;
    };
  }
}

/** Pages following the live page on `httpPort`, from /metrics (read
 * synchronously through curl, so the bench's wait loop stays simple). */
function tailSubscribers(httpPort: number): number {
  const { stdout } = new Deno.Command("curl", {
    args: ["-s", `http://127.0.0.1:${httpPort}/metrics`],
    stdout: "piped",
    stderr: "null",
  }).outputSync();
  const match = /^linehub_http_tail_subscribers (\d+)$/m.exec(new TextDecoder().decode(stdout));
  return match === null ? -1 : Number(match[1]);
}

function existsFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

const contenders: Contender[] = [
  linehub("text"),
  linehubHttp(false),
  linehubHttp(true),
  linehub("json"),
  linehubToRedis(),
  linehubToNats(),
  {
    name: "naive deno port",
    command: (port) => [DENO, "run", "--allow-net", `${ROOT}bench/naive_server.ts`, String(port)],
    unavailable: always,
  },
  floor("read"),
  floor("copy"),
  {
    name: "ncat -lk",
    // --max-conns: its default of 100 would measure a setting, not ncat.
    command: (port) => ["ncat", "-l", "-k", "--max-conns", "100000", "127.0.0.1", String(port)],
    unavailable: () => needs("ncat"),
  },
  {
    name: "socat fork",
    command: (
      port,
    ) => ["socat", "-u", `TCP-LISTEN:${port},bind=127.0.0.1,reuseaddr,fork,backlog=4096`, "STDOUT"],
    unavailable: () => needs("socat"),
  },
  {
    name: "rsyslog imptcp",
    command: (port, dir) => {
      Deno.writeTextFileSync(`${dir}/rsyslog.conf`, rsyslogConfig(port, dir));
      return rsyslogCommand(RSYSLOGD, `${dir}/rsyslog.conf`, `${dir}/rsyslogd.pid`);
    },
    unavailable: async () => {
      try {
        await Deno.stat(RSYSLOGD);
        return null;
      } catch {
        return `${RSYSLOGD} not found (Debian package rsyslog)`;
      }
    },
  },
  syslogNg(),
];

/** syslog-ng from the PATH, or else as bench/syslog_ng_cache.ts unpacked it. */
function syslogNg(): Contender {
  const cached = syslogNgRoot(Deno.env.get("SYSLOG_NG_CACHE") ?? SYSLOG_NG_CACHE);
  const installed = { binary: "syslog-ng", modules: null, libraryPath: "" };
  let chosen = cached;
  return {
    name: "syslog-ng network()",
    command: (port, dir) => {
      Deno.writeTextFileSync(`${dir}/syslog-ng.conf`, syslogNgConfig(port));
      return syslogNgCommand(chosen ?? installed, `${dir}/syslog-ng.conf`, dir);
    },
    get env(): Record<string, string> {
      return chosen === null || chosen.libraryPath === ""
        ? {}
        : { LD_LIBRARY_PATH: chosen.libraryPath };
    },
    unavailable: async () => {
      if (await hasCommand("syslog-ng")) {
        chosen = installed;
        return null;
      }
      return cached === null
        ? "syslog-ng not found, nor unpacked (deno run -A bench/syslog_ng_cache.ts unpacks it)"
        : null;
    },
  };
}

/** linehub text with `--workers N`, with the flags Workers need (as the
 * compiled server has them, see tools/compile.ts): --unstable-net, and read
 * access to lib/ to load the Worker module. `--workers 1` is the
 * single-threaded server, started with the same flags for a like-for-like
 * comparison. */
function pooled(workers: number, root = ROOT, tag = ""): Contender {
  return {
    name: `linehub text --workers ${workers}${tag}`,
    command: (port) => [
      DENO,
      ...["run", "--allow-net", "--allow-write", `--allow-read=${root}lib`, "--unstable-net"],
      "--allow-sys=hostname",
      `${root}server.ts`,
      ...["--host", "127.0.0.1", "--port", String(port), "--workers", String(workers)],
    ],
    // Elsewhere the server would run one listener instead, which is not what
    // this row is about.
    unavailable: () =>
      Promise.resolve(workers === 1 || Deno.build.os === "linux" ? null : "needs Linux"),
  };
}

/** The fan-in scenario with `--workers` 1, 2 and 4, in alternating rounds;
 * prints the medians and the ratio to `--workers 1`. */
async function workersScaling(
  clients: number,
  lines: number,
  repeat: number,
  baseline: { root: string; tag: string } | null,
): Promise<void> {
  const chosen: Contender[] = [];
  const candidates = [1, 2, 4].flatMap((n) =>
    baseline === null ? [pooled(n)] : [pooled(n), pooled(n, baseline.root, baseline.tag)]
  );
  for (const contender of candidates) {
    const why = await contender.unavailable();
    if (why === null) chosen.push(contender);
    else console.log(`(${contender.name}: ${why}, skipped)`);
  }
  console.log(
    `## Workers scaling: fan-in, ${clients} clients x ${lines} lines x ${LINE_BYTES} bytes, ` +
      `medians of ${repeat} alternating rounds\n`,
  );
  const runs = await rounds(chosen, clients, lines, repeat);
  console.log(faninTable(runs, pooled(1).name, "CPU/line vs --workers 1"));
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** RSS in KiB of a process and all its descendants. */
function treeRss(pid: number): number {
  let total = 0;
  const stack = [pid];
  while (stack.length > 0) {
    const p = stack.pop() as number;
    try {
      const status = Deno.readTextFileSync(`/proc/${p}/status`);
      total += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
      for (const task of Deno.readDirSync(`/proc/${p}/task`)) {
        const children = Deno.readTextFileSync(`/proc/${p}/task/${task.name}/children`).trim();
        if (children !== "") stack.push(...children.split(/\s+/).map(Number));
      }
    } catch {
      // The process ended between the listing and the read.
    }
  }
  return total;
}

/** Clock ticks per second in /proc/PID/stat (USER_HZ: 100 on Linux). */
const CLOCK_TICKS = 100;

/** CPU seconds used so far by a process and its descendants, those that
 * ended included (once reaped), in user and in system (kernel) mode. */
function treeCpu(pid: number): { user: number; sys: number } {
  let user = 0;
  let sys = 0;
  const stack = [pid];
  while (stack.length > 0) {
    const p = stack.pop() as number;
    try {
      const stat = Deno.readTextFileSync(`/proc/${p}/stat`);
      // Fields after the command name, which may hold spaces: utime, stime,
      // cutime and cstime are the 12th to 15th.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      user += Number(fields[11] ?? 0) + Number(fields[13] ?? 0);
      sys += Number(fields[12] ?? 0) + Number(fields[14] ?? 0);
      for (const task of Deno.readDirSync(`/proc/${p}/task`)) {
        const children = Deno.readTextFileSync(`/proc/${p}/task/${task.name}/children`).trim();
        if (children !== "") stack.push(...children.split(/\s+/).map(Number));
      }
    } catch {
      // The process ended between the listing and the read.
    }
  }
  return { user: user / CLOCK_TICKS, sys: sys / CLOCK_TICKS };
}

interface Running {
  process: Deno.ChildProcess;
  port: number;
  /** counts of `#` bytes and all bytes seen on stdout so far */
  seen: { hashes: number; bytes: number };
  peakRss: number;
  stop(): Promise<void>;
}

/** Starts a contender; `readRate` (bytes/s) makes this process a slow reader
 * of its stdout, as a stalled pipeline or a slow disk would be. */
async function start(
  contender: Contender,
  readRate = Infinity,
  extra: string[] = [],
): Promise<Running> {
  const port = freePort();
  const dir = await Deno.makeTempDir({ prefix: "linehub-bench-" });
  const [cmd, ...args] = contender.command(port, dir, extra) as [string, ...string[]];
  const process = new Deno.Command(cmd, {
    args,
    ...(contender.env === undefined ? {} : { env: contender.env }),
    stdin: "null",
    stdout: "piped",
    stderr: Deno.env.get("BENCH_STDERR") === "1" ? "inherit" : "null",
  }).spawn();
  const seen = { hashes: 0, bytes: 0 };
  const hashes = new ByteCounter(HASH);
  const reading = (async () => {
    // One buffer, reused: a fresh one per read would make this reader, and
    // the garbage it leaves, a load on the machine the server runs on.
    const reader = process.stdout.getReader({ mode: "byob" });
    let buffer = new Uint8Array(1 << 20);
    while (true) {
      const { value: chunk, done } = await reader.read(buffer);
      if (done || chunk === undefined) break;
      buffer = new Uint8Array(chunk.buffer);
      seen.bytes += chunk.length;
      if (readRate !== Infinity) await sleep((chunk.length / readRate) * 1000);
      seen.hashes += hashes.count(chunk);
    }
  })();
  // Wait until it accepts connections (a probe client is harmless to all of them).
  for (let attempt = 0;; attempt++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      break;
    } catch {
      if (attempt > 200) throw new Error(`${contender.name} did not start listening`);
      await sleep(25);
    }
  }
  const running: Running = {
    process,
    port,
    seen,
    peakRss: 0,
    async stop(): Promise<void> {
      clearInterval(sampler);
      try {
        process.kill("SIGKILL");
      } catch {
        // gone
      }
      await process.status;
      await reading.catch(() => {});
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
  const sampler = setInterval(() => {
    running.peakRss = Math.max(running.peakRss, treeRss(process.pid));
  }, 20);
  await sleep(200); // let it settle before any baseline is read
  running.peakRss = treeRss(process.pid);
  return running;
}

async function waitFor(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) return false;
    await sleep(1);
  }
  return true;
}

interface FaninResult {
  name: string;
  seconds: number;
  complete: boolean;
  /** clients whose connection failed (reset, refused) */
  failed: number;
  /** clients whose last line came out */
  arrived: number;
  clients: number;
  linesPerSecond: number;
  mbPerSecond: number;
  peakRssMb: number;
  /** CPU seconds the server used for the run, and per input line in ns:
   * in all, in user mode and in the kernel. */
  cpuSeconds: number;
  cpuNsPerLine: number;
  userNsPerLine: number;
  sysNsPerLine: number;
}

async function fanin(contender: Contender, clients: number, lines: number): Promise<FaninResult> {
  const load = new Worker(new URL("./load_worker.ts", import.meta.url), { type: "module" });
  const answer = <T>(): Promise<T> =>
    new Promise((resolve, reject) => {
      load.onmessage = (event) => resolve(event.data);
      load.onerror = (event) => {
        event.preventDefault();
        reject(new Error(`load worker: ${event.message}`));
      };
    });
  const peer = await contender.peer?.();
  const server = await start(contender, Infinity, peer?.args);
  let detach: (() => Promise<void>) | null = null;
  try {
    detach = (await contender.attach?.()) ?? null;
    const ready = answer<string>();
    load.postMessage({ clients, lines });
    await ready;
    const expected = clients * (LINE_BYTES - 1);
    const totalLines = clients * lines;
    const cpu0 = treeCpu(server.process.pid);
    const peerCpu0 = peer?.cpuSeconds() ?? 0;
    const t0 = performance.now();
    const sent = answer<number>();
    load.postMessage({ port: server.port });
    const failed = await sent;
    // A server that loses data never shows every last line: give up after
    // 30 s, or 120 s with a broker, which takes 1 M lines in 7 to 30 s on
    // the 2-core VM (its clients' sockets hold most of their lines, so the
    // wait starts early).
    const deadlineMs = peer === undefined ? 30_000 : 120_000;
    const complete = failed === 0 &&
      await waitFor(() => server.seen.hashes >= expected, deadlineMs) &&
      (peer === undefined || await peerTook(peer, totalLines, deadlineMs));
    const seconds = (performance.now() - t0) / 1000;
    const cpu1 = treeCpu(server.process.pid);
    const cpuSeconds = cpu1.user + cpu1.sys - cpu0.user - cpu0.sys;
    if (peer !== undefined) {
      console.error(`    (the peer used ${(peer.cpuSeconds() - peerCpu0).toFixed(2)} CPU s)`);
    }
    return {
      name: contender.name,
      seconds,
      complete,
      failed,
      arrived: Math.floor(server.seen.hashes / (LINE_BYTES - 1)),
      clients,
      linesPerSecond: totalLines / seconds,
      mbPerSecond: (totalLines * LINE_BYTES) / seconds / 1e6,
      peakRssMb: server.peakRss / 1024,
      cpuSeconds,
      cpuNsPerLine: (cpuSeconds * 1e9) / totalLines,
      userNsPerLine: ((cpu1.user - cpu0.user) * 1e9) / totalLines,
      sysNsPerLine: ((cpu1.sys - cpu0.sys) * 1e9) / totalLines,
    };
  } finally {
    load.terminate();
    await detach?.();
    await server.stop();
    await peer?.stop();
  }
}

/** Waits until `peer` has taken `lines` lines, looking every 10 ms. */
async function peerTook(peer: Peer, lines: number, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while ((await peer.taken()) < lines) {
    if (performance.now() > deadline) return false;
    await sleep(10);
  }
  return true;
}

/** Says what went wrong in an incomplete fan-in run. */
function incomplete(result: FaninResult): string {
  return `${result.failed} of ${result.clients} clients failed, ` +
    `${result.arrived} clients' data arrived in full`;
}

/** Runs the fan-in `repeat` times for each contender, one of each per round,
 * in turn; returns each contender's runs, in the contenders' order. */
async function rounds(
  chosen: Contender[],
  clients: number,
  lines: number,
  repeat: number,
): Promise<Map<string, FaninResult[]>> {
  const runs = new Map<string, FaninResult[]>(chosen.map((c) => [c.name, []]));
  for (let r = 0; r < repeat; r++) {
    for (const c of chosen) {
      const result = await fanin(c, clients, lines);
      console.error(
        `  round ${r + 1}, ${c.name}: ${result.seconds.toFixed(3)} s, ` +
          `${result.cpuNsPerLine.toFixed(0)} ns/line` +
          (result.complete ? "" : `, INCOMPLETE (${incomplete(result)})`),
      );
      runs.get(c.name)?.push(result);
    }
  }
  return runs;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? sorted[mid] as number
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** The fan-in table: per contender, medians of its complete runs (of all,
 * if none was complete), the spread of the CPU per line, and the ratio of
 * each median CPU per line to `reference`'s. */
function faninTable(runs: Map<string, FaninResult[]>, reference: string, ratio: string): string {
  const summary = [...runs].filter(([, all]) => all.length > 0).map(([name, all]) => {
    const complete = all.filter((r) => r.complete);
    const used = complete.length > 0 ? complete : all;
    const cpu = used.map((r) => r.cpuNsPerLine);
    return {
      name: name +
        (complete.length === all.length
          ? ""
          : ` (INCOMPLETE in ${all.length - complete.length} of ${all.length} runs: ` +
            `${incomplete(all.find((r) => !r.complete) as FaninResult)})`),
      key: name,
      linesPerSecond: median(used.map((r) => r.linesPerSecond)),
      seconds: median(used.map((r) => r.seconds)),
      rss: median(used.map((r) => r.peakRssMb)),
      cpu: median(cpu),
      cpuMin: Math.min(...cpu),
      cpuMax: Math.max(...cpu),
      user: median(used.map((r) => r.userNsPerLine)),
      sys: median(used.map((r) => r.sysNsPerLine)),
    };
  });
  const base = summary.find((r) => r.key === reference);
  return table(
    [
      "server",
      "lines/s",
      "MB/s",
      "seconds",
      "peak RSS MB",
      "CPU ns/line",
      "(min-max)",
      "user",
      "sys",
      ratio,
      "lines/s vs it",
    ],
    summary.map((r) => [
      r.name,
      Math.round(r.linesPerSecond).toLocaleString("en-US"),
      (r.linesPerSecond * LINE_BYTES / 1e6).toFixed(0),
      r.seconds.toFixed(3),
      r.rss.toFixed(0),
      r.cpu.toFixed(0),
      `${r.cpuMin.toFixed(0)}-${r.cpuMax.toFixed(0)}`,
      r.user.toFixed(0),
      r.sys.toFixed(0),
      base === undefined ? "" : `${(r.cpu / base.cpu).toFixed(2)}x`,
      base === undefined ? "" : `${(r.linesPerSecond / base.linesPerSecond).toFixed(2)}x`,
    ]),
  );
}

interface ScaleResult {
  name: string;
  connected: number;
  connectSeconds: number;
  kbPerIdle: number;
  served: number;
  serveSeconds: number;
  peakRssMb: number;
}

async function scale(contender: Contender, count: number): Promise<ScaleResult> {
  const server = await start(contender);
  const conns: Deno.TcpConn[] = [];
  try {
    const baseline = treeRss(server.process.pid);
    const t0 = performance.now();
    const batch = 256;
    for (let i = 0; i < count; i += batch) {
      const made = await Promise.allSettled(
        Array.from(
          { length: Math.min(batch, count - i) },
          () =>
            Deno.connect({
              hostname: "127.0.0.1",
              port: server.port,
              signal: AbortSignal.timeout(5000),
            }),
        ),
      );
      for (const result of made) if (result.status === "fulfilled") conns.push(result.value);
    }
    const connectSeconds = (performance.now() - t0) / 1000;
    await sleep(1000); // let the server take every connection off the queue
    const idle = treeRss(server.process.pid);
    const line = new Uint8Array(LINE_BYTES).fill(HASH);
    line[LINE_BYTES - 1] = 10;
    const t1 = performance.now();
    await Promise.allSettled(conns.map((conn) => writeAll(conn, line)));
    await waitFor(() => server.seen.hashes >= conns.length * (LINE_BYTES - 1), 20_000);
    const serveSeconds = (performance.now() - t1) / 1000;
    return {
      name: contender.name,
      connected: conns.length,
      connectSeconds,
      kbPerIdle: (idle - baseline) / Math.max(1, conns.length),
      served: Math.floor(server.seen.hashes / (LINE_BYTES - 1)),
      serveSeconds,
      peakRssMb: server.peakRss / 1024,
    };
  } finally {
    closeAll(conns);
    await server.stop();
  }
}

interface BoundedResult {
  scenario: string;
  baselineMb: number;
  peakMb: number;
  detail: string;
}

/** One client sends `bytes` without a newline; the line is cut at --max-line. */
async function noNewline(contender: Contender, bytes: number): Promise<BoundedResult> {
  const server = await start(contender);
  try {
    const baseline = server.peakRss;
    const block = new Uint8Array(1 << 20).fill(120);
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    const t0 = performance.now();
    for (let sent = 0; sent < bytes; sent += block.length) await writeAll(conn, block);
    await writeAll(conn, new Uint8Array([10]));
    conn.close();
    const seconds = (performance.now() - t0) / 1000;
    await sleep(300);
    return {
      scenario: `1 client, ${bytes / 2 ** 30} GiB without a newline`,
      baselineMb: baseline / 1024,
      peakMb: server.peakRss / 1024,
      detail: `sent in ${seconds.toFixed(1)} s; ${server.seen.bytes} bytes of output`,
    };
  } finally {
    await server.stop();
  }
}

/** `clients` send flat out for `seconds` while stdout is read at `rate` B/s. */
async function slowReader(
  contender: Contender,
  clients: number,
  seconds: number,
  rate: number,
): Promise<BoundedResult> {
  const server = await start(contender, rate);
  const conns: Deno.TcpConn[] = [];
  try {
    const baseline = server.peakRss;
    const payload = clientPayload(0, 656).subarray(0, 655 * LINE_BYTES);
    const stopAt = performance.now() + seconds * 1000;
    const senders = Array.from({ length: clients }, async () => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
      conns.push(conn);
      try {
        // Stops when the time is up; a write that blocks (backpressure) is
        // what this scenario is about, so it is abandoned, not awaited.
        while (performance.now() < stopAt) {
          await conn.write(payload);
        }
      } catch {
        // closed below
      }
    });
    await Promise.race([Promise.all(senders), sleep(seconds * 1000 + 500)]);
    return {
      scenario: `${clients} clients flat out, stdout read at ${rate / 1e6} MB/s, ${seconds} s`,
      baselineMb: baseline / 1024,
      peakMb: server.peakRss / 1024,
      detail: `${(server.seen.bytes / 1e6).toFixed(1)} MB of labelled output read; ` +
        `the clients were held back`,
    };
  } finally {
    closeAll(conns);
    await server.stop();
  }
}

function closeAll(conns: Deno.Conn[]): void {
  for (const conn of conns) {
    try {
      conn.close();
    } catch {
      // Already closed by the server.
    }
  }
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    "| " + cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(" | ") + " |";
  return [
    line(header),
    "| " + widths.map((w) => "-".repeat(w)).join(" | ") + " |",
    ...rows.map(line),
  ].join("\n");
}

/** The checkout `--baseline` names, and the tag its rows get. */
async function baselineOf(
  dir: string | undefined,
): Promise<{ root: string; tag: string } | null> {
  if (dir === undefined) return null;
  const root = dir.endsWith("/") ? dir : `${dir}/`;
  return { root, tag: ` @${await commitOf(root)}` };
}

/** The short commit a checkout is at, or "?" if it is not one. */
async function commitOf(root: string): Promise<string> {
  const { code, stdout } = await new Deno.Command("git", {
    args: ["-C", root, "rev-parse", "--short", "HEAD"],
    stdout: "piped",
    stderr: "null",
  }).output().catch(() => ({ code: 1, stdout: new Uint8Array() }));
  return code === 0 ? new TextDecoder().decode(stdout).trim() : "?";
}

function machine(): string {
  const cpu = /model name\s*:\s*(.*)/.exec(Deno.readTextFileSync("/proc/cpuinfo"))?.[1] ??
    "unknown CPU";
  return `${hostname()}: ${navigator.hardwareConcurrency} cores, ${cpu}, Deno ${Deno.version.deno}, ${Deno.build.os}`;
}

async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      quick: { type: "boolean", default: false },
      only: { type: "string" },
      "fanin-clients": { type: "string", default: "50" },
      "fanin-lines": { type: "string", default: "20000" },
      idle: { type: "string", default: "10000" },
      repeat: { type: "string", default: "3" },
      "skip-scale": { type: "boolean", default: false },
      "skip-bounded": { type: "boolean", default: false },
      "workers-scaling": { type: "boolean", default: false },
      framing: { type: "string" },
      baseline: { type: "string" },
    },
  });
  // The load sends lines ending in \n: lf (the default) and auto are what
  // it can measure.
  if (values.framing !== undefined) linehubExtra.push("--framing", values.framing);
  const clients = Number(values["fanin-clients"]);
  const lines = values.quick ? 2000 : Number(values["fanin-lines"]);
  const idle = values.quick ? 1000 : Number(values.idle);
  const repeat = values.quick ? 1 : Number(values.repeat);
  const only = values.only?.split(",");
  if (values["workers-scaling"]) {
    console.log(`# linehub bench, ${new Date().toISOString().slice(0, 10)}\n${machine()}\n`);
    await workersScaling(clients, lines, repeat, await baselineOf(values.baseline));
    return 0;
  }
  const candidates = [...contenders];
  const baseline = await baselineOf(values.baseline);
  if (baseline !== null) {
    // The same linehub rows again, from the other checkout, right after ours.
    for (const format of ["text", "json"] as const) {
      const at = candidates.findIndex((c) => c.name === `linehub ${format}`);
      candidates.splice(at + 1, 0, linehub(format, baseline.root, baseline.tag));
    }
  }
  const chosen: Contender[] = [];
  for (const c of candidates) {
    if (only !== undefined && !only.some((o) => c.name.includes(o))) continue;
    const why = await c.unavailable();
    if (why === null) chosen.push(c);
    else console.log(`(${c.name}: ${why}, skipped)`);
  }
  console.log(`# linehub bench, ${new Date().toISOString().slice(0, 10)}\n${machine()}\n`);
  console.log(
    `## Fan-in: ${clients} clients x ${lines} lines x ${LINE_BYTES} bytes, ` +
      `medians of ${repeat} alternating rounds\n`,
  );
  const fan = await rounds(chosen, clients, lines, repeat);
  const reference = fan.has("ncat -lk") ? "ncat -lk" : "linehub text";
  console.log(faninTable(fan, reference, `CPU/line vs ${reference}`));
  console.log(
    "\n(CPU: user + system time of the server's processes during the run, from " +
      "/proc/PID/stat, in 10 ms ticks, per input line; min-max over the rounds. The load " +
      "generator (a Worker) and the stdout reader are this process and share the same cores)",
  );
  if (!values["skip-scale"]) {
    console.log(`\n## Scale: ${idle} idle clients, then one line from each\n`);
    const sc: ScaleResult[] = [];
    // A floor serves no one line by line; a sink changes nothing for idle
    // clients.
    for (const c of chosen) {
      if (c.floor !== true && c.peer === undefined) sc.push(await scale(c, idle));
    }
    console.log(table(
      [
        "server",
        "connected",
        "connect s",
        "KB per idle conn",
        "served a line",
        "serve s",
        "peak RSS MB",
      ],
      sc.map((r) => [
        r.name,
        String(r.connected),
        r.connectSeconds.toFixed(2),
        r.kbPerIdle.toFixed(1),
        String(r.served),
        r.serveSeconds.toFixed(2),
        r.peakRssMb.toFixed(0),
      ]),
    ));
  }
  const hub = chosen.find((c) => c.name === "linehub text");
  if (!values["skip-bounded"] && hub !== undefined) {
    console.log(`\n## Bounded memory (linehub text, default limits)\n`);
    const gib = values.quick ? 2 ** 28 : 2 ** 30;
    const rows = [await noNewline(hub, gib), await slowReader(hub, 20, values.quick ? 2 : 5, 2e6)];
    console.log(table(
      ["scenario", "RSS before MB", "peak RSS MB", "what happened"],
      rows.map((r) => [r.scenario, r.baselineMb.toFixed(0), r.peakMb.toFixed(0), r.detail]),
    ));
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
