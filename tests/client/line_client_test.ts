/**
 * Integration tests for {@linkcode runReconnectingClient} (`--retry`,
 * `--ack`) in this process, against scripted servers on loopback (see
 * `tests/_helpers/fake_server.ts`). The input is a fake reader fed line by line by the
 * test, so "typed while the server is down" and "the input has ended" are
 * facts, not timing. Backoff is 10 ms to 40 ms with a fixed random source,
 * so retries are quick and their messages exact.
 */

import assert from "node:assert/strict";
import { ClientError, type ClientFailure } from "../../lib/client/client_error.ts";
import type { ReportKind } from "../../lib/client/session_outcome.ts";
import {
  type ReconnectingClientOptions,
  runReconnectingClient,
} from "../../lib/client/line_client.ts";
import {
  bytes,
  closeQuietly,
  FakeLineServer,
  freePort,
  MemoryWriter,
  readToEnd,
  sleep,
  waitFor,
  withTimeout,
} from "../_helpers/mod.ts";

/** Longest a client session may take here before the test fails. */
const SESSION_TIMEOUT_MS = 15_000;

/** Quick, deterministic backoff: delays of 5, 10, 20, 20... ms. */
const FAST: ReconnectingClientOptions = {
  backoffBaseMs: 10,
  backoffMaxMs: 40,
  random: () => 0,
};

/** A fake stdin the test writes lines into and ends; counts the lines taken. */
class TypedInput {
  #chunks: Uint8Array[] = [];
  #ended = false;
  #wake: (() => void) | null = null;
  /** Reads the client has made that returned data. */
  taken = 0;

  /** Makes `text` readable, as one read. */
  type(text: string): void {
    this.#chunks.push(bytes(text));
    this.#poke();
  }

  /** Types each of `lines` as its own read, with a newline. */
  typeLines(lines: readonly string[]): void {
    for (const line of lines) this.type(`${line}\n`);
  }

  /** Ends the input (Ctrl-D). */
  end(): void {
    this.#ended = true;
    this.#poke();
  }

  async read(buffer: Uint8Array): Promise<number | null> {
    while (true) {
      const next = this.#chunks.shift();
      if (next !== undefined) {
        const n = Math.min(buffer.length, next.length);
        buffer.set(next.subarray(0, n));
        if (n < next.length) this.#chunks.unshift(next.subarray(n));
        this.taken++;
        return n;
      }
      if (this.#ended) return null;
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
  }

  #poke(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }
}

/** Numbered lines "prefix 0" .. "prefix count-1". */
function numbered(prefix: string, count: number, from = 0): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix} ${from + i}`);
}

/** A running session: `notices` are its messages of either kind, in order,
 * and `kinds` their kinds. */
interface StartedClient {
  done: Promise<void>;
  notices: string[];
  kinds: ReportKind[];
  output: MemoryWriter;
}

/** Starts a client session; the test awaits `done` (bounded) or `failure`. */
function startClient(
  port: number,
  input: TypedInput,
  options: ReconnectingClientOptions,
): StartedClient {
  const notices: string[] = [];
  const kinds: ReportKind[] = [];
  const output = new MemoryWriter();
  const done = withTimeout(
    runReconnectingClient({ host: "127.0.0.1", port }, input, output, {
      ...FAST,
      ...options,
      onNotice: (message, kind) => {
        notices.push(message);
        kinds.push(kind);
      },
    }),
    SESSION_TIMEOUT_MS,
    "client session",
  );
  // Awaited by every test; this keeps an early failure from counting as
  // unhandled before the test gets there.
  done.catch(() => {});
  return { done, notices, kinds, output };
}

/** The messages of one kind that a session told, in order. */
function noticesOf(client: StartedClient, kind: ReportKind): string[] {
  return client.notices.filter((_, i) => client.kinds[i] === kind);
}

/** Asserts that `promise` rejects with a ClientError of `kind` and `message`. */
async function assertFails(
  promise: Promise<void>,
  kind: ClientFailure,
  message: string | RegExp,
): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof ClientError, `not a ClientError: ${error}`);
    if (typeof message === "string") assert.equal(error.message, message);
    else assert.match(error.message, message);
    assert.equal(error.kind, kind, error.message);
    return true;
  });
}

Deno.test("retry: lines typed while the server is down are delivered, in order, once it is up", async () => {
  const port = freePort();
  const input = new TypedInput();
  const client = startClient(port, input, { retry: Infinity });
  let server: FakeLineServer | null = null;
  try {
    input.typeLines(numbered("early", 3));
    await waitFor(
      "three retries",
      () => client.notices.length >= 3,
      () => client.notices.join("\n"),
    );
    server = FakeLineServer.listen({ port });
    const conn = await server.connection(0);
    await conn.waitForLines(3);
    input.typeLines(numbered("late", 2));
    input.type("last without newline");
    input.end();
    await client.done;
    await conn.ended;
    assert.equal(
      conn.text(),
      [...numbered("early", 3), ...numbered("late", 2)].join("\n") + "\nlast without newline",
    );
    const where = `127.0.0.1:${port}`;
    assert.deepEqual(client.notices.slice(0, 3), [
      `Cannot connect to ${where}: connection refused; retrying in 0.005 s (retry 1)`,
      `Cannot connect to ${where}: connection refused; retrying in 0.01 s (retry 2)`,
      `Cannot connect to ${where}: connection refused; retrying in 0.02 s (retry 3)`,
    ]);
    assert.match(
      client.notices.at(-1) ?? "",
      new RegExp(`^Connected to ${where}; sending 3 lines held$`),
    );
    // Retries and the connect are connection messages, which --quiet hides.
    assert.deepEqual(noticesOf(client, "notice"), []);
    assert.equal(server.connections.length, 1);
  } finally {
    await server?.close();
    input.end();
    await client.done.catch(() => {});
  }
});

Deno.test("retry: a full queue stops reading the input, and all 50 lines still arrive in order", async () => {
  const port = freePort();
  const input = new TypedInput();
  const lines = numbered("line", 50);
  input.typeLines(lines);
  input.end();
  const client = startClient(port, input, { retry: Infinity, bufferLines: 5 });
  let server: FakeLineServer | null = null;
  try {
    await waitFor(
      "four retries",
      () => client.notices.length >= 4,
      () => client.notices.join("\n"),
    );
    // Five lines queued and one in hand waiting for room: nothing more read.
    assert.equal(input.taken, 6);
    server = FakeLineServer.listen({ port });
    await client.done;
    const conn = await server.connection(0);
    await conn.ended;
    assert.deepEqual(conn.lines(), lines);
    assert.equal(conn.partial(), null);
  } finally {
    await server?.close();
    await client.done.catch(() => {});
  }
});

Deno.test("ack: after the server drops the connection, only the unacknowledged lines are resent, in order", async () => {
  const input = new TypedInput();
  const lines = numbered("msg", 10);
  input.typeLines(lines);
  input.end();
  const server = FakeLineServer.listen({ closeOnEof: false });
  const client = startClient(server.port, input, { retry: 3, ack: true });
  try {
    const first = await server.connection(0);
    await first.waitForLines(10);
    await first.ack(2);
    await first.ack(4);
    first.close(); // before acknowledging the rest
    const second = await server.connection(1);
    await second.waitForLines(6);
    await second.ack(6);
    await withTimeout(second.ended, SESSION_TIMEOUT_MS, "the client's half-close");
    second.close();
    await client.done;
    assert.deepEqual(first.lines(), lines);
    assert.deepEqual(second.lines(), lines.slice(4));
    // Each connection's hello says where the numbering stands: a line sent
    // again has the number it had, in one session.
    const session = first.hello()?.session;
    assert.match(session ?? "", /^[0-9a-f]{16}$/);
    assert.deepEqual(first.hello(), { session, seq: 1 });
    assert.deepEqual(second.hello(), { session, seq: 5 });
    assert.deepEqual(client.notices, [
      `Connected to 127.0.0.1:${server.port}`,
      `Server 127.0.0.1:${server.port} closed the connection with 6 lines not acknowledged; ` +
      "retrying in 0.005 s (retry 1 of 3)",
      `Reconnected to 127.0.0.1:${server.port}; sending 6 lines held`,
    ]);
  } finally {
    await server.close();
    await client.done.catch(() => {});
  }
});

Deno.test("ack: a server that closes abruptly mid-stream still gets every line at least once", async () => {
  const input = new TypedInput();
  const lines = numbered("data", 200);
  const server = FakeLineServer.listen({ autoAck: true });
  // The first connection is cut after a few lines, before its acks matter.
  const client = startClient(server.port, input, { retry: 5, ack: true, bufferLines: 50 });
  try {
    input.typeLines(lines.slice(0, 20));
    const first = await server.connection(0);
    await first.waitForLines(3);
    first.close();
    input.typeLines(lines.slice(20));
    input.end();
    await client.done;
    const received = server.allLines();
    for (const line of lines) assert.ok(received.includes(line), `${line} never arrived`);
    // The last connection got a gap-free, ordered tail of the input.
    const last = server.connections.at(-1);
    const tail = last?.lines() ?? [];
    assert.deepEqual(tail, lines.slice(lines.length - tail.length));
    assert.ok(server.connections.length >= 2);
  } finally {
    await server.close();
    await client.done.catch(() => {});
  }
});

Deno.test("ack: lines leave the queue as they are acknowledged, so a small buffer does not stall", async () => {
  const input = new TypedInput();
  const lines = numbered("row", 100);
  input.typeLines(lines);
  input.type("partial end");
  input.end();
  const server = FakeLineServer.listen({ autoAck: true });
  const client = startClient(server.port, input, { ack: true, bufferLines: 2 });
  try {
    await client.done;
    const conn = await server.connection(0);
    assert.deepEqual(conn.lines(), lines);
    assert.equal(conn.partial(), "partial end");
    assert.deepEqual(client.notices, [`Connected to 127.0.0.1:${server.port}`]);
  } finally {
    await server.close();
    await client.done.catch(() => {});
  }
});

Deno.test("ack: what the server sends besides acknowledgments reaches the output exactly", async () => {
  const input = new TypedInput();
  const server = FakeLineServer.listen({ closeOnEof: false });
  const client = startClient(server.port, input, { ack: true });
  try {
    input.typeLines(["one", "two"]);
    const conn = await server.connection(0);
    await conn.waitForLines(2);
    await conn.send("hello \x06 there\n");
    await conn.ack(1);
    await conn.send("\x1b[31mred\r\n");
    input.end();
    await conn.ended;
    await conn.ack(2);
    await conn.send("no newline");
    conn.close();
    await client.done;
    assert.equal(client.output.text(), "hello \x06 there\n\x1b[31mred\r\nno newline");
  } finally {
    await server.close();
    await client.done.catch(() => {});
  }
});

Deno.test("without ack, the wire carries plain lines and a leading ACK byte is data", async () => {
  const input = new TypedInput();
  const server = FakeLineServer.listen({ closeOnEof: false });
  const client = startClient(server.port, input, { retry: 1 });
  try {
    input.type("a\r\nb\n\x06c");
    input.end();
    const conn = await server.connection(0);
    await conn.ended;
    await conn.send("\x063\n");
    conn.close();
    await client.done;
    assert.equal(conn.text(), "a\r\nb\n\x06c");
    assert.equal(client.output.text(), "\x063\n");
  } finally {
    await server.close();
    await client.done.catch(() => {});
  }
});

Deno.test("with a name, each connection starts with a hello naming the client and numbering on from the lines sent", async () => {
  const input = new TypedInput();
  const server = FakeLineServer.listen({ closeOnEof: false });
  const client = startClient(server.port, input, { retry: 1, name: "web1" });
  try {
    input.typeLines(["one", "two", "three"]);
    const first = await server.connection(0);
    await first.waitForLines(3);
    first.close();
    const second = await server.connection(1);
    input.typeLines(["four"]);
    input.end();
    await second.ended;
    second.close();
    await client.done;
    const session = first.hello()?.session;
    assert.deepEqual(first.hello(), { session, seq: 1, name: "web1" });
    assert.deepEqual(first.lines(), ["one", "two", "three"]);
    assert.deepEqual(second.hello(), { session, seq: 4, name: "web1" });
    assert.deepEqual(second.lines(), ["four"]);
  } finally {
    await server.close();
    await client.done.catch(() => {});
  }
});

Deno.test("retry N gives up after N failed attempts in a row, naming them", async () => {
  const port = freePort();
  const input = new TypedInput();
  input.typeLines(["lost"]);
  const client = startClient(port, input, { retry: 2 });
  try {
    await assertFails(
      client.done,
      "connect",
      `Cannot connect to 127.0.0.1:${port}: connection refused; gave up after 2 retries`,
    );
    assert.deepEqual(client.notices, [
      `Cannot connect to 127.0.0.1:${port}: connection refused; retrying in 0.005 s (retry 1 of 2)`,
      `Cannot connect to 127.0.0.1:${port}: connection refused; retrying in 0.01 s (retry 2 of 2)`,
    ]);
  } finally {
    input.end();
  }
});

Deno.test("retry N after a lost connection gives up as lost, counting the lines not sent", async () => {
  const input = new TypedInput();
  const server = FakeLineServer.listen();
  const port = server.port;
  // A 0.2 s pause before the retry, for the test to type into.
  const client = startClient(port, input, { retry: 1, backoffBaseMs: 400, backoffMaxMs: 400 });
  try {
    input.typeLines(["one"]);
    const conn = await server.connection(0);
    await conn.waitForLines(1);
    await server.close(); // the server is gone for good
    await waitFor("the loss to be noticed", () => client.notices.length >= 2);
    input.typeLines(["two", "three"]);
    await assertFails(
      client.done,
      "lost",
      `Cannot connect to 127.0.0.1:${port}: connection refused; gave up after 1 retry; ` +
        "2 lines not sent, input not read to the end",
    );
    assert.deepEqual(client.notices, [
      `Connected to 127.0.0.1:${port}`,
      `Server 127.0.0.1:${port} closed the connection before the input ended; ` +
      "retrying in 0.2 s (retry 1 of 1)",
    ]);
  } finally {
    input.end();
    await server.close();
  }
});

Deno.test("ack without retry: a server that closes early is lost, naming the lines not acknowledged", async () => {
  const input = new TypedInput();
  const server = FakeLineServer.listen();
  const client = startClient(server.port, input, { ack: true });
  try {
    input.typeLines(["a", "b", "c"]);
    const conn = await server.connection(0);
    await conn.waitForLines(3);
    await conn.ack(1);
    conn.close(); // after the acknowledgment, which TCP delivers first
    await assertFails(
      client.done,
      "lost",
      `Server 127.0.0.1:${server.port} closed the connection before the input ended; ` +
        "2 lines not acknowledged, input not read to the end",
    );
  } finally {
    input.end();
    await server.close();
  }
});

Deno.test("ack against a server that never acknowledges fails after its retries, with a hint", async () => {
  const input = new TypedInput();
  input.typeLines(["x", "y", "z"]);
  input.end();
  const server = FakeLineServer.listen(); // reads, never acknowledges, closes at EOF
  const client = startClient(server.port, input, { ack: true, retry: 1 });
  try {
    const hint = "(does the server run with --ack?)";
    await assertFails(
      client.done,
      "lost",
      `Server 127.0.0.1:${server.port} closed the connection with 3 lines not acknowledged ` +
        `${hint}; gave up after 1 retry`,
    );
    assert.deepEqual(client.notices, [
      `Connected to 127.0.0.1:${server.port}`,
      `Server 127.0.0.1:${server.port} closed the connection with 3 lines not acknowledged ` +
      `${hint}; retrying in 0.005 s (retry 1 of 1)`,
      `Reconnected to 127.0.0.1:${server.port}; sending 3 lines held`,
    ]);
    // At least once: each connection got every line.
    assert.deepEqual(server.allLines(), ["x", "y", "z", "x", "y", "z"]);
  } finally {
    await server.close();
  }
});

Deno.test("ack: a malformed acknowledgment ends the session, naming the byte", async () => {
  const input = new TypedInput();
  const server = FakeLineServer.listen({ closeOnEof: false });
  const client = startClient(server.port, input, { ack: true, retry: 3 });
  try {
    input.typeLines(["a"]);
    const conn = await server.connection(0);
    await conn.waitForLines(1);
    await conn.send("before\n\x061x\n");
    await assertFails(
      client.done,
      "failed",
      'Invalid acknowledgment from the server: unexpected byte 0x78 after "1" ' +
        `(server 127.0.0.1:${server.port}); 1 line not acknowledged, input not read to the end`,
    );
    assert.equal(client.output.text(), "before\n");
    assert.equal(server.connections.length, 1, "a protocol error is not retried");
  } finally {
    input.end();
    await server.close();
  }
});

Deno.test("ack: acknowledging more lines than were sent is a protocol error", async () => {
  const input = new TypedInput();
  const server = FakeLineServer.listen({ closeOnEof: false });
  const client = startClient(server.port, input, { ack: true });
  try {
    input.typeLines(["only"]);
    const conn = await server.connection(0);
    await conn.waitForLines(1);
    await conn.ack(2);
    await assertFails(
      client.done,
      "failed",
      /^Invalid acknowledgment from the server: count 2 with 1 line sent on this connection/,
    );
  } finally {
    input.end();
    await server.close();
  }
});

Deno.test("a line longer than maxLine is cut there, said once, and the next line is whole", async () => {
  const input = new TypedInput();
  input.type("x".repeat(25) + "\n" + "y".repeat(30) + "\nshort\n");
  input.end();
  const server = FakeLineServer.listen();
  const client = startClient(server.port, input, { retry: 1, maxLine: 10 });
  try {
    await client.done;
    const conn = await server.connection(0);
    await conn.ended;
    assert.deepEqual(conn.lines(), ["x".repeat(10), "y".repeat(10), "short"]);
    // A notice, not a connection message: --quiet does not hide it.
    assert.deepEqual(noticesOf(client, "notice"), [
      "Line 1 of the input is longer than 10 bytes: sending its first 10 (see --max-line); " +
      "later long lines are cut without a message",
    ]);
    assert.deepEqual(noticesOf(client, "connection"), [`Connected to 127.0.0.1:${server.port}`]);
  } finally {
    await server.close();
  }
});

Deno.test("a line cut before a UTF-8 character says how many bytes it sends", async () => {
  const input = new TypedInput();
  // Ten bytes would end inside the euro sign (e2 82 ac) at bytes 9 to 11.
  input.type("x".repeat(8) + "\u20ac and more\n");
  input.end();
  const server = FakeLineServer.listen();
  const client = startClient(server.port, input, { retry: 1, maxLine: 10 });
  try {
    await client.done;
    const conn = await server.connection(0);
    await conn.ended;
    assert.deepEqual(conn.lines(), ["x".repeat(8)]);
    assert.deepEqual(noticesOf(client, "notice"), [
      "Line 1 of the input is longer than 10 bytes: sending its first 8 (see --max-line); " +
      "later long lines are cut without a message",
    ]);
  } finally {
    await server.close();
  }
});

Deno.test("an interrupt stops the session at once, counting the lines not sent", async () => {
  const port = freePort();
  const input = new TypedInput();
  const interrupt = new AbortController();
  const client = startClient(port, input, { retry: Infinity, signal: interrupt.signal });
  try {
    input.typeLines(["a", "b"]);
    await waitFor("a retry", () => client.notices.length >= 1);
    await waitFor("both lines read", () => input.taken === 2);
    interrupt.abort("SIGINT");
    await assertFails(
      client.done,
      "interrupted",
      "Interrupted by SIGINT: 2 lines not sent, input not read to the end",
    );
  } finally {
    input.end();
  }
});

Deno.test("with messages, each is a line and the input is never read", async () => {
  const server = FakeLineServer.listen({ autoAck: true });
  const input = new TypedInput();
  const client = startClient(server.port, input, { ack: true, messages: ["one", "", "three"] });
  try {
    await client.done;
    const conn = await server.connection(0);
    assert.deepEqual(conn.lines(), ["one", "", "three"]);
    assert.equal(conn.partial(), null);
    assert.equal(input.taken, 0);
  } finally {
    input.end();
    await server.close();
  }
});

Deno.test("retry: the count starts over after a connection that delivered a line", async () => {
  const input = new TypedInput();
  const server = FakeLineServer.listen({ closeOnEof: false });
  const client = startClient(server.port, input, { retry: 1, ack: true });
  try {
    // Three connections in a row each acknowledge a line and close: with
    // --retry 1, only a count that starts over lets the client go on.
    for (let i = 0; i < 3; i++) {
      input.typeLines([`line ${i}`]);
      const conn = await server.connection(i);
      await conn.waitForLines(1);
      await conn.ack(conn.lines().length);
      conn.close();
    }
    await waitFor(
      "the third retry",
      () => client.notices.length >= 6,
      () => client.notices.join("\n"),
    );
    input.end();
    const last = await server.connection(3);
    await last.ended;
    last.close();
    await client.done;
    const where = `127.0.0.1:${server.port}`;
    const retry = `Server ${where} closed the connection before the input ended; ` +
      "retrying in 0.005 s (retry 1 of 1)";
    assert.deepEqual(client.notices.filter((notice) => notice.startsWith("Server")), [
      retry,
      retry,
      retry,
    ]);
  } finally {
    input.end();
    await server.close();
    await client.done.catch(() => {});
  }
});

Deno.test("retry: connections that deliver nothing use up the retries", async () => {
  const input = new TypedInput();
  const server = FakeLineServer.listen();
  const client = startClient(server.port, input, { retry: 2 });
  try {
    // Every connection closed at once, before a line could be delivered.
    const closing = (async () => {
      for (let i = 0; i < 3; i++) (await server.connection(i)).close();
    })();
    await assertFails(
      client.done,
      "lost",
      `Server 127.0.0.1:${server.port} closed the connection before the input ended; ` +
        "gave up after 2 retries; nothing was delivered, input not read to the end",
    );
    await closing;
    assert.equal(server.connections.length, 3);
  } finally {
    input.end();
    await server.close();
  }
});

Deno.test("ack: connections closed before anything is acknowledged use up the retries", async () => {
  const input = new TypedInput();
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0, transport: "tcp" });
  const port = listener.addr.port;
  // Accepts and, once the client's lines are in, closes without reading
  // them. (The kernel resets such a connection; Deno reads that as the end
  // of data, and a write after it fails: either is how the client learns.)
  const resetting = (async () => {
    for (let i = 0; i < 3; i++) {
      const conn = await listener.accept();
      await sleep(50);
      conn.close();
    }
  })();
  const client = startClient(port, input, { retry: 2, ack: true });
  try {
    input.typeLines(["a", "b"]);
    const where = `127.0.0.1:${port}`.replaceAll(".", "\\.");
    await assertFails(
      client.done,
      "lost",
      new RegExp(
        `^(Server ${where} closed the connection before the input ended|` +
          `Connection to ${where} lost: [a-z ]+); gave up after 2 retries; ` +
          "2 lines not acknowledged, input not read to the end$",
      ),
    );
    await resetting;
  } finally {
    input.end();
    listener.close();
    await resetting.catch(() => {});
  }
});

Deno.test("ack: a full queue that no acknowledgment ever frees says why the input stalls", async () => {
  const input = new TypedInput();
  input.typeLines(numbered("n", 5));
  const server = FakeLineServer.listen({ closeOnEof: false });
  const client = startClient(server.port, input, { ack: true, bufferLines: 2, noAckHintMs: 50 });
  try {
    const conn = await server.connection(0);
    await conn.waitForLines(2);
    await waitFor("the hint", () => noticesOf(client, "notice").length >= 1);
    assert.deepEqual(noticesOf(client, "notice"), [
      `Waiting for 127.0.0.1:${server.port} to acknowledge 2 lines before reading more input ` +
      "(does the server run with --ack?)",
    ]);
    assert.equal(input.taken, 3, "two lines queued, one in hand, the rest unread");
    // Acknowledgments free the queue, two lines at a time.
    await conn.ack(2);
    await conn.waitForLines(4);
    await conn.ack(4);
    await conn.waitForLines(5);
    await conn.ack(5);
    input.end();
    await conn.ended;
    conn.close();
    await client.done;
    assert.deepEqual(conn.lines(), numbered("n", 5));
    assert.equal(noticesOf(client, "notice").length, 1);
  } finally {
    input.end();
    await server.close();
    await client.done.catch(() => {});
  }
});

/** A server that reads the first connection's first line, then refuses it
 * with `notice`; later connections are read to the end. Returns what each
 * later connection sent. */
function refusingOnce(notice: string): {
  port: number;
  later: Promise<string[]>;
  close(): void;
} {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0, transport: "tcp" });
  const later = (async () => {
    const first = await listener.accept();
    try {
      // The line has arrived before the refusal leaves: it was sent, and
      // must not count as delivered.
      await readUntilNewline(first);
      // A refusal a little late, as over a slow network.
      await sleep(100);
      await first.write(bytes(notice));
      await first.closeWrite();
      await readToEnd(first);
    } finally {
      closeQuietly(first);
    }
    const second = await listener.accept();
    try {
      return [new TextDecoder().decode(await readToEnd(second))];
    } finally {
      closeQuietly(second);
    }
  })();
  later.catch(() => {});
  return { port: listener.addr.port, later, close: () => closeQuietly(listener) };
}

async function readUntilNewline(conn: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(256);
  for (let reads = 0; reads < 100; reads++) {
    const n = await conn.read(buffer);
    if (n === null || buffer.subarray(0, n).includes(10)) return;
  }
}

Deno.test("retry: a line sent on a connection the server then refused is sent again on the next", async () => {
  const server = refusingOnce(
    "linehub-server: refused (full): server full (1 client); try again later\n",
  );
  const input = new TypedInput();
  const client = startClient(server.port, input, { retry: 2 });
  try {
    input.typeLines(["only once"]);
    await waitFor("the retry", () => noticesOf(client, "connection").length >= 2);
    input.end();
    await client.done;
    assert.deepEqual(await server.later, ["only once\n"]);
    assert.equal(client.output.text(), "", "the refusal is not output");
    assert.match(
      noticesOf(client, "connection")[1] ?? "",
      /^Server 127\.0\.0\.1:\d+ refused the connection: server full \(1 client\); try again later; retrying in /,
    );
  } finally {
    input.end();
    server.close();
  }
});

Deno.test("ack: a refusal is the failure the session reports, not a hint about --ack", async () => {
  const server = refusingOnce("linehub-server: refused (denied): denied by --allow/--deny\n");
  const input = new TypedInput();
  const client = startClient(server.port, input, { ack: true, retry: 3 });
  try {
    input.typeLines(["a", "b"]);
    input.end();
    await assertFails(
      client.done,
      "refused",
      new RegExp(
        "^Server 127\\.0\\.0\\.1:\\d+ refused the connection: denied by --allow/--deny; " +
          "2 lines not acknowledged$",
      ),
    );
  } finally {
    input.end();
    server.close();
  }
});
