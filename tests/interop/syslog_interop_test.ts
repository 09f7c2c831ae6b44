/**
 * Real syslog senders to `linehub-server --framing octet` and `auto`:
 * rsyslog's `omfwd` with `TCP_Framing="octet-counted"` and syslog-ng's
 * `syslog()` destination (octet-counted by default), each forwarding with
 * the README's config block ("rsyslog forward", "syslog-ng forward") to
 * linehub on 127.0.0.1. Each runs as its own instance, in the foreground,
 * with its config, work directory, pid file (and, for syslog-ng, persist
 * file and control socket) in a temporary directory, reading a log file the
 * test wrote before starting it, where an indented line continues the
 * message before it: so one message holds a newline, which octet counting
 * carries and linehub must show as part of that one message.
 *
 * rsyslog is installed as a Debian package (`rsyslogd`, on PATH or in
 * /usr/sbin). syslog-ng conflicts with it as an install, so .ci/run unpacks
 * `syslog-ng-core` and the libraries it lacks with `apt-get download` and
 * `dpkg -x` into `$LINEHUB_SYSLOG_NG`, by default
 * `${XDG_CACHE_HOME:-$HOME/.cache}/linehub/syslog-ng`; an installed
 * `syslog-ng` is used when there is no unpacked one. A test whose sender is
 * missing is registered as ignored, with the reason in its name.
 *
 * Facts these tests rely on (rsyslog 8.2302, syslog-ng 3.38, Debian 12):
 * rsyslog's imfile reads a new file from its start, joins lines by
 * `startmsg.regex`, keeps their newlines with `escapeLF="off"`, and sends a
 * held last message after `readTimeout` only when the file changes again,
 * so the log ends with a line that may or may not come; rsyslog's default
 * forwarding format is `<PRI>Mmm dd hh:mm:ss HOST TAG MSG`. syslog-ng's
 * file source in a multi-line mode keeps each message's last newline and
 * sends a held message after `multi-line-timeout`; `syslog()` sends RFC
 * 5424 (`<PRI>1 TIME HOST PROGRAM - - [meta sequenceId="N"] MSG`).
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  hasCommand,
  nameUnless,
  readmeBlock,
  readmeBlocks,
  type RunningProgram,
  runProgram,
  type ServerProcess,
  spawnProgram,
  startServer,
  waitFor,
} from "../_helpers/mod.ts";

/** How long a sender may take to forward the whole log: it starts, reads
 * the file and connects, on a machine that may be busy. */
const FORWARD_TIMEOUT_MS = 30_000;

/** The program name both senders give the test's messages. */
const TAG = "linehub-test";

/** The log the senders read: an indented line continues the message above. */
const LOG = [
  "first message",
  "second line",
  "  continued, indented",
  'third: a tab\there, "quotes", caf\u00e9 \u20ac',
  // Held until another line or a timeout that only a later change ends:
  // it may come or not, and is not checked.
  "end of test",
  "",
].join("\n");

/** What linehub must show of the log, message by message. */
const MESSAGES = [
  "first message",
  "second line\n  continued, indented",
  'third: a tab\there, "quotes", caf\u00e9 \u20ac',
];

/** A syslog sender the tests can run, or why not. */
interface Sender {
  readonly name: string;
  /** Why it cannot run here; null when it can. */
  readonly skip: string | null;
  /** What comes before each message in what it sends, and after. */
  readonly header: RegExp;
  readonly trailer: string;
  /** Starts it in `dir`, reading `log`, forwarding to linehub on `port`. */
  start(dir: string, log: string, port: number): Promise<RunningProgram>;
}

const blocks = await readmeBlocks();

/** The README's config block `name` with its port 8888 (written as
 * `pattern` says) made `port`. */
function forwardConfig(name: string, pattern: RegExp, port: number): string {
  const { body } = readmeBlock(blocks, name);
  assert.equal(body.match(pattern)?.length, 1, `README block "${name}" names port 8888 once`);
  return body.replace(pattern, (found) => found.replace("8888", String(port)));
}

// --- rsyslog ---

/** The rsyslogd command, or null. */
async function findRsyslogd(): Promise<string | null> {
  if (await hasCommand("rsyslogd")) return "rsyslogd";
  try {
    return (await Deno.stat("/usr/sbin/rsyslogd")).isFile ? "/usr/sbin/rsyslogd" : null;
  } catch {
    return null;
  }
}

const RSYSLOGD = await findRsyslogd();

const rsyslog: Sender = {
  name: "rsyslog",
  skip: RSYSLOGD === null ? "rsyslogd not installed (Debian package rsyslog)" : null,
  header: new RegExp(`^<133>[A-Z][a-z]{2} [ 1-3][0-9] \\d\\d:\\d\\d:\\d\\d \\S+ ${TAG}: `),
  trailer: "",
  async start(dir, log, port): Promise<RunningProgram> {
    const config = join(dir, "rsyslog.conf");
    await Deno.writeTextFile(
      config,
      `global(workDirectory="${dir}")\n` +
        'module(load="imfile")\n' +
        // facility local0, severity notice: <133>.
        `input(type="imfile" file="${log}" tag="${TAG}:" startmsg.regex="^[^ ]"\n` +
        '      escapeLF="off" readTimeout="1")\n' +
        forwardConfig("rsyslog forward", /port="8888"/g, port),
    );
    return spawnProgram(
      RSYSLOGD as string,
      ["-f", config, "-i", join(dir, "rsyslogd.pid"), "-n"],
      { timeoutMs: Infinity },
    );
  },
};

// --- syslog-ng ---

/** How to run syslog-ng: unpacked (as .ci/run leaves it) or installed. */
interface SyslogNg {
  readonly command: string;
  /** Flags for an unpacked one: where its modules are. */
  readonly args: string[];
  /** For an unpacked one: where its libraries are. */
  readonly env: Record<string, string>;
  /** What its config's `@version` says: the config version it speaks. */
  readonly configVersion: string;
}

/** Where .ci/run unpacks syslog-ng-core. */
function syslogNgRoot(): string {
  const given = Deno.env.get("LINEHUB_SYSLOG_NG");
  if (given !== undefined && given !== "") return given;
  const cache = Deno.env.get("XDG_CACHE_HOME") || join(Deno.env.get("HOME") ?? "/", ".cache");
  return join(cache, "linehub", "syslog-ng");
}

/** The names in `dir` that `pattern` matches, or none if it cannot be read. */
function entries(dir: string, pattern: RegExp): string[] {
  try {
    return [...Deno.readDirSync(dir)].map((entry) => entry.name).filter((n) => pattern.test(n));
  } catch {
    return [];
  }
}

/** syslog-ng unpacked under `root`, or installed; or why neither runs. */
async function findSyslogNg(root: string): Promise<SyslogNg | string> {
  let found: Omit<SyslogNg, "configVersion">;
  const unpacked = join(root, "usr/sbin/syslog-ng");
  if (entries(join(root, "usr/sbin"), /^syslog-ng$/).length === 1) {
    const modules = entries(join(root, "usr/lib/syslog-ng"), /^\d+\.\d+$/)[0];
    const libraries = [
      join(root, "usr/lib/syslog-ng"),
      ...entries(join(root, "usr/lib"), /-linux-gnu$/).map((d) => join(root, "usr/lib", d)),
      ...entries(join(root, "lib"), /-linux-gnu$/).map((d) => join(root, "lib", d)),
    ];
    found = {
      command: unpacked,
      args: modules === undefined
        ? []
        : [`--module-path=${join(root, "usr/lib/syslog-ng", modules)}`],
      env: { LD_LIBRARY_PATH: libraries.join(":") },
    };
  } else if (await hasCommand("syslog-ng")) {
    found = { command: "syslog-ng", args: [], env: {} };
  } else {
    return `syslog-ng not found in ${root} (.ci/run unpacks it there; or set LINEHUB_SYSLOG_NG)`;
  }
  const { code, stdout, stderr } = await runProgram(found.command, ["--version"], undefined, {
    env: found.env,
  });
  const configVersion = /^Config version: (\d+\.\d+)$/m.exec(stdout)?.[1];
  if (code !== 0 || configVersion === undefined) {
    return `${found.command} --version failed: ${(stderr || stdout).trim().split("\n")[0]}`;
  }
  return { ...found, configVersion };
}

const SYSLOG_NG = await findSyslogNg(syslogNgRoot());

const syslogNg: Sender = {
  name: "syslog-ng",
  skip: typeof SYSLOG_NG === "string" ? SYSLOG_NG : null,
  header: new RegExp(`^<13>1 \\S+ \\S+ ${TAG} - - \\[meta sequenceId="\\d+"\\] `),
  trailer: "\n",
  async start(dir, log, port): Promise<RunningProgram> {
    const program = SYSLOG_NG as SyslogNg;
    const config = join(dir, "syslog-ng.conf");
    await Deno.writeTextFile(
      config,
      `@version: ${program.configVersion}\n` +
        "options { stats-freq(0); };\n" +
        // user.notice: <13>. flags(no-parse): each line is the message.
        `source s_src { file("${log}" follow-freq(0.1) flags(no-parse)\n` +
        `  multi-line-mode(indented) multi-line-timeout(1) program-override("${TAG}")); };\n` +
        forwardConfig("syslog-ng forward", /port\(8888\)/g, port),
    );
    return spawnProgram(program.command, [
      ...program.args,
      "--foreground",
      "--stderr",
      "--no-caps",
      `--cfgfile=${config}`,
      `--persist-file=${join(dir, "syslog-ng.persist")}`,
      `--control=${join(dir, "syslog-ng.ctl")}`,
      `--pidfile=${join(dir, "syslog-ng.pid")}`,
    ], { timeoutMs: Infinity, env: program.env });
  },
};

// --- what linehub received ---

/** A message record of linehub's JSON output. */
interface Message {
  client: number;
  text: string;
}

function messagesIn(stdout: string): Message[] {
  return stdout.split("\n").filter((line) => line.startsWith("{")).map((line) => JSON.parse(line))
    .filter((record) => record.type === "message");
}

/** The messages of `sender` in what linehub received, without their
 * header and trailer; fails on one of its messages that is not as it should
 * be, before or after them. */
function sent(sender: Sender, received: Message[]): string[] {
  const ours = received.filter((message) => sender.header.test(message.text));
  return ours.map(({ text }) => {
    assert.ok(text.endsWith(sender.trailer), `${sender.name} message ends as it should: ${text}`);
    const message = text.replace(sender.header, "");
    return message.slice(0, message.length - sender.trailer.length);
  });
}

/** Waits until linehub has shown every message of the log from `sender`;
 * fails at once if the sender exits first. */
function forwarded(sender: Sender, server: ServerProcess, process: RunningProgram): Promise<void> {
  let exited = false;
  process.process.status.then(() => exited = true);
  return waitFor(
    `${sender.name} to forward ${MESSAGES.length} messages`,
    () => {
      if (sent(sender, messagesIn(server.stdoutSoFar())).length >= MESSAGES.length) return true;
      if (exited) throw new Error(`${sender.name} exited: ${process.stderrSoFar()}`);
      return false;
    },
    () =>
      `linehub stdout:\n${server.stdoutSoFar()}\nlinehub stderr:\n${server.stderrSoFar()}\n` +
      `${sender.name} stderr:\n${process.stderrSoFar()}`,
    FORWARD_TIMEOUT_MS,
  );
}

/** Runs `sender` against a linehub with `args` until it has forwarded the
 * log, with `during` run meanwhile; returns linehub's messages. */
async function forward(
  sender: Sender,
  args: string[],
  during: (port: number) => Promise<() => Promise<void>> = () => Promise.resolve(async () => {}),
): Promise<{ messages: Message[]; stderr: string }> {
  const dir = await Deno.makeTempDir({ prefix: `linehub-${sender.name}-` });
  try {
    const log = join(dir, "messages.log");
    await Deno.writeTextFile(log, LOG);
    await using server = await startServer(["--format", "json", ...args]);
    const finish = await during(server.port);
    await using process = await sender.start(dir, log, server.port);
    await forwarded(sender, server, process);
    await finish();
    const stopped = await process.stop("SIGTERM");
    assert.equal(stopped.killed, false, `${sender.name} had to be killed`);
    const result = await server.stop();
    assert.equal(result.code, 0, result.stderr);
    return { messages: messagesIn(result.stdout), stderr: result.stderr };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Asserts that `messages` hold the log's messages from `sender`, whole and
 * in order, from one client, and nothing else from it but the last line. */
function assertForwarded(sender: Sender, messages: Message[]): void {
  const got = sent(sender, messages);
  assert.deepEqual(got.slice(0, MESSAGES.length), MESSAGES);
  assert.deepEqual(got.slice(MESSAGES.length).filter((text) => text !== "end of test"), []);
  const clients = new Set(messages.filter((m) => sender.header.test(m.text)).map((m) => m.client));
  assert.equal(clients.size, 1, `one connection: ${[...clients]}`);
}

for (const sender of [rsyslog, syslogNg]) {
  Deno.test({
    name: nameUnless(
      sender.skip,
      `${sender.name} forwarding octet-counted to --framing octet: each message arrives whole, ` +
        "a newline inside one included",
    ),
    ignore: sender.skip !== null,
    async fn(): Promise<void> {
      const { messages, stderr } = await forward(sender, ["--framing", "octet"]);
      assertForwarded(sender, messages);
      assert.doesNotMatch(stderr, /framing error/);
    },
  });
}

const NCAT_SKIP = await hasCommand("ncat") ? null : "ncat not installed";

for (const sender of [rsyslog, syslogNg]) {
  Deno.test({
    name: nameUnless(
      sender.skip ?? NCAT_SKIP,
      `--framing auto reads ${sender.name} (octet-counted) and ncat (lines) at once, each its own way`,
    ),
    ignore: (sender.skip ?? NCAT_SKIP) !== null,
    async fn(): Promise<void> {
      let ncat: RunningProgram | null = null;
      const lines = ["<13>from ncat", "5 digits then a space, still a line"];
      const { messages, stderr } = await forward(sender, ["--framing", "auto"], async (port) => {
        // Connected before the sender starts and open until it is done.
        ncat = spawnProgram("ncat", ["127.0.0.1", String(port)], { stdin: "piped" });
        await ncat.write(`${lines[0]}\n`);
        return async () => {
          const client = ncat as RunningProgram;
          await client.write(`${lines[1]}\n`);
          await client.closeStdin();
          const result = await client.finished();
          assert.equal(result.code, 0, result.stderr);
        };
      });
      assertForwarded(sender, messages);
      const ncatClient = messages.find((m) => m.text === lines[0])?.client;
      const fromNcat = messages.filter((m) => m.client === ncatClient).map((m) => m.text);
      assert.deepEqual(fromNcat, lines);
      assert.doesNotMatch(stderr, /framing error/);
    },
  });
}
