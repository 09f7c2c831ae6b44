/**
 * End-to-end tests of `client.ts` as a real process with `--retry` and
 * `--ack`, against scripted servers in this process (`tests/_helpers/fake_server.ts`):
 * what reaches the server across reconnects, the one-line messages on
 * stderr, and the exit statuses 0, 1, 3, 4, 130 and 143; and, last, with a
 * real `server.ts --ack` that is killed mid-stream. The client runs with its
 * real backoff (first retries after 0.125 to 0.5 s).
 */

import assert from "node:assert/strict";
import {
  assertNoCrash,
  FakeLineServer,
  freePort,
  type ProcessResult,
  type ServerProcess,
  sleep,
  spawnClient,
  startServer,
  waitFor,
} from "../_helpers/mod.ts";

/** Numbered lines "prefix 0" .. "prefix count-1". */
function numbered(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix} ${i}`);
}

/** Checks status and stderr lines (each a string or a pattern), and no crash. */
function assertExit(result: ProcessResult, code: number, stderr: Array<string | RegExp>): void {
  assertNoCrash(result.stderr);
  const lines = result.stderr.split("\n");
  assert.equal(lines.pop(), "", `stderr ends with a newline:\n${result.stderr}`);
  assert.equal(result.code, code, `exit status; stderr:\n${result.stderr}`);
  assert.equal(result.signal, null);
  assert.equal(lines.length, stderr.length, `stderr lines:\n${result.stderr}`);
  lines.forEach((line, i) => {
    const expected = stderr[i] as string | RegExp;
    if (typeof expected === "string") assert.equal(line, expected);
    else assert.match(line, expected);
  });
}

const P = "linehub-client: ";
const DELAY = "[0-9.]+ s";

Deno.test("client --retry delivers lines typed while the server was down once it comes up, exit 0", async () => {
  const port = freePort();
  const where = `127.0.0.1:${port}`;
  const client = spawnClient(["--retry", "forever", "127.0.0.1", String(port)]);
  let server: FakeLineServer | null = null;
  try {
    await client.write("early 0\nearly 1\nearly 2\n");
    await client.waitForStderr(/\(retry 2\)\n/);
    server = FakeLineServer.listen({ port });
    const conn = await server.connection(0);
    await conn.waitForLines(3);
    await client.write("late 0\nlast");
    await client.closeStdin();
    const result = await client.finished();
    await conn.ended;
    assert.equal(conn.text(), "early 0\nearly 1\nearly 2\nlate 0\nlast");
    const refused = new RegExp(
      `^${P}Cannot connect to ${where}: connection refused; retrying in ${DELAY} \\(retry \\d+\\)$`,
    );
    const stderr = result.stderr.split("\n").slice(0, -1);
    assert.equal(stderr.at(-1), `${P}Connected to ${where}; sending 3 lines held`);
    assertExit(result, 0, [...stderr.slice(0, -1).map(() => refused), stderr.at(-1) ?? ""]);
    assert.ok(stderr.length >= 3);
  } finally {
    await client.stop();
    await server?.close();
  }
});

Deno.test("client --buffer-lines 5 stops reading stdin while the server is down and loses none of 50 lines", async () => {
  const port = freePort();
  const lines = numbered("line", 50);
  const client = spawnClient([
    "--retry",
    "forever",
    "--buffer-lines",
    "5",
    "127.0.0.1",
    String(port),
  ]);
  let server: FakeLineServer | null = null;
  try {
    await client.write(lines.join("\n") + "\n");
    await client.closeStdin();
    await client.waitForStderr(/\(retry 2\)\n/);
    server = FakeLineServer.listen({ port });
    const result = await client.finished();
    const conn = await server.connection(0);
    await conn.ended;
    assert.deepEqual(conn.lines(), lines);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /Connected to 127\.0\.0\.1:\d+; sending 5 lines held\n$/);
  } finally {
    await client.stop();
    await server?.close();
  }
});

Deno.test("client --retry 2 gives up after two retries with exit 1 when it never connected", async () => {
  const port = freePort();
  const where = `127.0.0.1:${port}`;
  const client = spawnClient(["--retry", "2", "127.0.0.1", String(port)]);
  try {
    await client.write("never sent\n");
    const result = await client.finished();
    assertExit(result, 1, [
      new RegExp(
        `^${P}Cannot connect to ${where}: connection refused; retrying in ${DELAY} \\(retry 1 of 2\\)$`,
      ),
      new RegExp(
        `^${P}Cannot connect to ${where}: connection refused; retrying in ${DELAY} \\(retry 2 of 2\\)$`,
      ),
      `${P}Cannot connect to ${where}: connection refused; gave up after 2 retries`,
    ]);
  } finally {
    await client.stop();
  }
});

Deno.test("client --ack exits 3 when the server goes away mid-send, naming the lines not acknowledged", async () => {
  const server = FakeLineServer.listen({ closeOnEof: false });
  const where = `127.0.0.1:${server.port}`;
  const client = spawnClient(["--ack", "127.0.0.1", String(server.port)]);
  try {
    await client.write("a\nb\nc\n");
    const conn = await server.connection(0);
    await conn.waitForLines(3);
    await conn.ack(1);
    conn.close();
    const result = await client.finished();
    assertExit(result, 3, [
      `${P}Connected to ${where}`,
      `${P}Server ${where} closed the connection before the input ended; ` +
      "2 lines not acknowledged, input not read to the end",
    ]);
  } finally {
    await client.stop();
    await server.close();
  }
});

Deno.test("client --ack --retry 1 against a server without --ack sends twice, then exits 3 with a hint", async () => {
  const server = FakeLineServer.listen();
  const where = `127.0.0.1:${server.port}`;
  const client = spawnClient(["--ack", "--retry", "1", "127.0.0.1", String(server.port)]);
  try {
    await client.write("x\ny\n");
    await client.closeStdin();
    const result = await client.finished();
    const unacked = `${P}Server ${where} closed the connection with 2 lines not acknowledged ` +
      "(does the server run with --ack?)";
    assertExit(result, 3, [
      `${P}Connected to ${where}`,
      new RegExp(`^${escape(unacked)}; retrying in ${DELAY} \\(retry 1 of 1\\)$`),
      `${P}Reconnected to ${where}; sending 2 lines held`,
      `${unacked}; gave up after 1 retry`,
    ]);
    assert.deepEqual(server.allLines(), ["x", "y", "x", "y"]);
  } finally {
    await client.stop();
    await server.close();
  }
});

for (const mode of [[], ["--ack"]]) {
  const name = mode.length === 0 ? "plain" : mode.join(" ");
  Deno.test(`client (${name}) exits 4 with one line when its stdout is closed`, async () => {
    const server = FakeLineServer.listen({ closeOnEof: false });
    const client = spawnClient([...mode, "127.0.0.1", String(server.port)]);
    try {
      const conn = await server.connection(0);
      await client.closeStdout();
      // Keep talking until the client notices that nobody reads its output.
      let sending = true;
      const talking = (async () => {
        while (sending) {
          await conn.send("data nobody reads\n").catch(() => sending = false);
          await sleep(20);
        }
      })();
      const result = await client.finished();
      sending = false;
      await talking;
      assertExit(result, 4, [
        `${P}Connected to 127.0.0.1:${server.port}`,
        `${P}Cannot write to stdout: broken pipe`,
      ]);
    } finally {
      await client.stop();
      await server.close();
    }
  });
}

Deno.test("client exits 130 on SIGINT with one line and no stack trace", async () => {
  const server = FakeLineServer.listen();
  const client = spawnClient(["127.0.0.1", String(server.port)]);
  try {
    await client.write("typed\n");
    const conn = await server.connection(0);
    await conn.waitForLines(1);
    client.kill("SIGINT");
    const result = await client.finished();
    assertExit(result, 130, [
      `${P}Connected to 127.0.0.1:${server.port}`,
      `${P}Interrupted by SIGINT before all input was sent`,
    ]);
  } finally {
    await client.stop();
    await server.close();
  }
});

Deno.test("client --retry exits 143 on SIGTERM, counting the lines it holds", async () => {
  const port = freePort();
  const client = spawnClient(["--retry", "forever", "127.0.0.1", String(port)]);
  try {
    await client.write("one\ntwo\n");
    // The second retry comes at least 0.125 s after the first attempt: time
    // enough for the client, which reads stdin while it retries, to read both.
    await client.waitForStderr(/\(retry 2\)\n/);
    client.kill("SIGTERM");
    const result = await client.finished();
    const lines = result.stderr.split("\n").slice(0, -1);
    assertExit(result, 143, [
      ...lines.slice(0, -1).map(() => /retrying in/),
      `${P}Interrupted by SIGTERM: 2 lines not sent, input not read to the end`,
    ]);
  } finally {
    await client.stop();
  }
});

Deno.test("client --ack --retry exits 130 on SIGINT, counting the lines not acknowledged", async () => {
  const server = FakeLineServer.listen({ closeOnEof: false });
  const client = spawnClient(["--ack", "--retry", "3", "127.0.0.1", String(server.port)]);
  try {
    await client.write("a\nb\nc\n");
    const conn = await server.connection(0);
    await conn.waitForLines(3);
    await conn.ack(2);
    await client.closeStdin();
    await waitFor("the half-close", () => conn.eof);
    client.kill("SIGINT");
    const result = await client.finished();
    assertExit(result, 130, [
      `${P}Connected to 127.0.0.1:${server.port}`,
      `${P}Interrupted by SIGINT: 1 line not acknowledged`,
    ]);
  } finally {
    await client.stop();
    await server.close();
  }
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

Deno.test("client --ack --retry with a real server killed mid-stream: every line reaches an output", async () => {
  const lines = numbered("record", 2000);
  const first = await startServer(["--ack"]);
  const port = first.port;
  const client = spawnClient(["--ack", "--retry", "forever", "127.0.0.1", String(port)]);
  let second: ServerProcess | null = null;
  try {
    await client.write(lines.slice(0, 1000).join("\n") + "\n");
    await waitFor(
      "the first server to see the client",
      () => /client 0 connected/.test(first.stderrSoFar()),
    );
    // SIGKILL: no drain, no flush; whatever it had not acknowledged is the client's to resend.
    const killed = await first.stop("SIGKILL");
    await client.write(lines.slice(1000).join("\n") + "\n");
    await client.waitForStderr(/retrying in/);
    second = await startServer(["--ack", "--port", String(port)]);
    await client.closeStdin();
    const result = await client.finished();
    assertNoCrash(result.stderr);
    assert.equal(result.code, 0, result.stderr);
    const served = await second.stop();
    // Whole output lines only: SIGKILL may cut the first server's last write.
    const messages = (stdout: string): Array<string | undefined> =>
      stdout.split("\n").slice(0, -1).map((line) => /^\[client \d+\] (.*)$/.exec(line)?.[1]);
    const fromFirst = messages(killed.stdout);
    const fromSecond = messages(served.stdout);
    // The first server's output is an ordered prefix, the second's an ordered
    // tail, and together they cover every line (overlap is the at-least-once).
    assert.deepEqual(fromFirst, lines.slice(0, fromFirst.length));
    assert.deepEqual(fromSecond, lines.slice(lines.length - fromSecond.length));
    assert.ok(
      fromFirst.length + fromSecond.length >= lines.length,
      `${fromFirst.length} + ${fromSecond.length}`,
    );
  } finally {
    await client.stop();
    await first.stop();
    await second?.stop();
  }
});

Deno.test("client --ack across a server killed mid-stream: in json, session and seq name each line, so dropping duplicates leaves every line once", async () => {
  const lines = numbered("record", 2000);
  const first = await startServer(["--ack", "--format", "json"]);
  const port = first.port;
  const client = spawnClient(["--ack", "--retry", "forever", "127.0.0.1", String(port)]);
  let second: ServerProcess | null = null;
  try {
    await client.write(lines.slice(0, 1000).join("\n") + "\n");
    // In json the connect event goes to stdout: the client's word is what can be waited for.
    await client.waitForStderr(/Connected to/);
    const killed = await first.stop("SIGKILL");
    await client.write(lines.slice(1000).join("\n") + "\n");
    await client.waitForStderr(/retrying in/);
    second = await startServer(["--ack", "--format", "json", "--port", String(port)]);
    await client.closeStdin();
    const result = await client.finished();
    assertNoCrash(result.stderr);
    assert.equal(result.code, 0, result.stderr);
    const served = await second.stop();
    // Whole output lines only: SIGKILL may cut the first server's last write.
    const records = [killed.stdout, served.stdout].flatMap((stdout) =>
      stdout.split("\n").slice(0, -1).map((line) => JSON.parse(line))
    );
    const messages = records.filter((record) => record.type === "message");
    const runs = new Set(records.map((record) => record.run));
    assert.equal(runs.size, 2, "each server start is a run of its own");
    assert.equal(new Set(messages.map((record) => record.session)).size, 1, "one session");
    // Every copy of a line has the line's own number, on either server (a
    // partial copy is the start of the line that got through).
    for (const record of messages) {
      const line = lines[record.seq - 1] ?? "";
      assert.ok(
        record.partial === true ? line.startsWith(record.text) : record.text === line,
        JSON.stringify(record),
      );
    }
    // What a pipeline does: one record per seq, a whole one where there is one.
    const kept = new Map<number, { text: string; partial?: boolean }>();
    for (const record of messages) {
      const seen = kept.get(record.seq);
      if (seen === undefined || (seen.partial === true && record.partial !== true)) {
        kept.set(record.seq, record);
      }
    }
    assert.deepEqual(
      [...kept.keys()].sort((a, b) => a - b),
      lines.map((_, i) => i + 1),
    );
    assert.ok([...kept.values()].every((record) => record.partial !== true));
  } finally {
    await client.stop();
    await first.stop();
    await second?.stop();
  }
});
