/**
 * Unit tests for the operator console: how typed lines are read as
 * commands, what each command does to the clients and shows the operator,
 * and the reading loop over a scripted stdin (chunk boundaries, the line
 * cap, abort, read errors), all without a terminal or sockets.
 */

import assert from "node:assert/strict";
import type { ClientHandle } from "../../lib/server/client_handle.ts";
import {
  CONSOLE_HELP,
  CONSOLE_MAX_LINE,
  type ConsoleCommand,
  type ConsoleContext,
  type ConsoleTarget,
  formatAge,
  parseConsoleLine,
  runConsoleCommand,
  runOperatorConsole,
} from "../../lib/server/operator_console.ts";
import type { ClientInfo } from "../../lib/format/message_formatter.ts";
import { bytes, waitFor, withTimeout } from "../_helpers/mod.ts";

/** A client handle that remembers whether it was kicked. */
function fakeClient(
  client: ClientInfo,
  connectedAt = 0,
  linesIn = 0,
  linesOut = 0,
): ClientHandle & { kicked: number } {
  return {
    client,
    connectedAt,
    linesIn,
    linesOut,
    kicked: 0,
    send: () => true,
    kick(): void {
      this.kicked++;
    },
  };
}

/** A console target over fixed clients that records what it is asked. */
class FakeTarget implements ConsoleTarget {
  readonly broadcasts: string[] = [];
  readonly messages: Array<[number, string]> = [];
  /** Numbers of clients whose queue refuses messages. */
  readonly refusing = new Set<number>();
  readonly #clients: ClientHandle[];

  constructor(clients: ClientHandle[] = []) {
    this.#clients = clients;
  }

  clients(): ClientHandle[] {
    return this.#clients;
  }

  client(id: number): ClientHandle | undefined {
    return this.#clients.find((handle) => handle.client.id === id);
  }

  broadcast(text: string): number {
    this.broadcasts.push(text);
    return this.#clients.length;
  }

  message(id: number, text: string): boolean {
    if (this.client(id) === undefined || this.refusing.has(id)) return false;
    this.messages.push([id, text]);
    return true;
  }
}

function contextFor(target: ConsoleTarget, now = 0): ConsoleContext {
  return { target, statsText: () => "3 clients, 10 lines", now: () => now };
}

/** Parses and runs one line. */
function run(line: string, context: ConsoleContext): string {
  return runConsoleCommand(parseConsoleLine(line), context);
}

/** A stdin that hands out the given chunks, one per read, then ends. */
function scriptedInput(chunks: Array<string | Uint8Array>): {
  read(buffer: Uint8Array): Promise<number | null>;
} {
  const queue = chunks.map((chunk) => typeof chunk === "string" ? bytes(chunk) : chunk);
  return {
    read(buffer: Uint8Array): Promise<number | null> {
      const chunk = queue.shift();
      if (chunk === undefined) return Promise.resolve(null);
      if (chunk.length > buffer.length) {
        queue.unshift(chunk.subarray(buffer.length));
        buffer.set(chunk.subarray(0, buffer.length));
        return Promise.resolve(buffer.length);
      }
      buffer.set(chunk);
      return Promise.resolve(chunk.length);
    },
  };
}

/** Runs the console over `chunks`; returns what it showed. */
async function consoleOver(
  chunks: Array<string | Uint8Array>,
  context: ConsoleContext,
): Promise<string> {
  let shown = "";
  await runOperatorConsole(scriptedInput(chunks), context, (text) => shown += text);
  return shown;
}

// --- parseConsoleLine ---

Deno.test("parseConsoleLine reads a plain line as text for every client, as typed", () => {
  assert.deepEqual(parseConsoleLine("hello all"), { kind: "say", text: "hello all" });
  assert.deepEqual(parseConsoleLine("  indented  "), { kind: "say", text: "  indented  " });
  assert.deepEqual(parseConsoleLine("caf\u00e9\r"), { kind: "say", text: "caf\u00e9" });
  assert.deepEqual(parseConsoleLine("not /a command"), { kind: "say", text: "not /a command" });
});

Deno.test("parseConsoleLine sends a line starting with // with one slash", () => {
  assert.deepEqual(parseConsoleLine("//list"), { kind: "say", text: "/list" });
  assert.deepEqual(parseConsoleLine("//"), { kind: "say", text: "/" });
  assert.deepEqual(parseConsoleLine("///x"), { kind: "say", text: "//x" });
});

Deno.test("parseConsoleLine ignores a blank line", () => {
  for (const line of ["", "\r", "   ", "\t "]) {
    assert.deepEqual(parseConsoleLine(line), { kind: "empty" }, JSON.stringify(line));
  }
});

Deno.test("parseConsoleLine reads /msg N TEXT, keeping the text as typed", () => {
  assert.deepEqual(parseConsoleLine("/msg 3 hi there"), { kind: "msg", id: 3, text: "hi there" });
  assert.deepEqual(parseConsoleLine("/msg 0 /x  y "), { kind: "msg", id: 0, text: "/x  y " });
  assert.deepEqual(parseConsoleLine("/msg   12\tok\r"), { kind: "msg", id: 12, text: "ok" });
});

Deno.test("parseConsoleLine says what /msg lacks or what is wrong with its number", () => {
  const needs = { kind: "invalid", message: "/msg needs a client number and text" };
  assert.deepEqual(parseConsoleLine("/msg"), needs);
  assert.deepEqual(parseConsoleLine("/msg 3"), needs);
  assert.deepEqual(parseConsoleLine("/msg 3   "), needs);
  const invalid = (text: string): ConsoleCommand => ({
    kind: "invalid",
    message: `Invalid client number "${text}"`,
  });
  assert.deepEqual(parseConsoleLine("/msg x hi"), invalid("x"));
  assert.deepEqual(parseConsoleLine("/msg -1 hi"), invalid("-1"));
  assert.deepEqual(parseConsoleLine("/msg 1.5 hi"), invalid("1.5"));
  assert.deepEqual(
    parseConsoleLine("/msg 99999999999999999999 hi"),
    invalid("99999999999999999999"),
  );
});

Deno.test("parseConsoleLine reads /kick N and refuses anything but one number", () => {
  assert.deepEqual(parseConsoleLine("/kick 7"), { kind: "kick", id: 7 });
  assert.deepEqual(parseConsoleLine("/kick 7 \r"), { kind: "kick", id: 7 });
  const needs = { kind: "invalid", message: "/kick needs one client number" };
  assert.deepEqual(parseConsoleLine("/kick"), needs);
  assert.deepEqual(parseConsoleLine("/kick 1 2"), needs);
  assert.deepEqual(parseConsoleLine("/kick one"), {
    kind: "invalid",
    message: 'Invalid client number "one"',
  });
});

Deno.test("parseConsoleLine reads /list, /stats and /help, which take no arguments", () => {
  for (const kind of ["list", "stats", "help"] as const) {
    assert.deepEqual(parseConsoleLine(`/${kind}`), { kind });
    assert.deepEqual(parseConsoleLine(`/${kind}  `), { kind });
    assert.deepEqual(parseConsoleLine(`/${kind} all`), {
      kind: "invalid",
      message: `/${kind} takes no arguments`,
    });
  }
});

Deno.test("parseConsoleLine names an unknown command and points to /help", () => {
  assert.deepEqual(parseConsoleLine("/foo bar"), {
    kind: "invalid",
    message: 'Unknown command "/foo"; /help lists them',
  });
  assert.deepEqual(parseConsoleLine("/"), {
    kind: "invalid",
    message: 'Unknown command "/"; /help lists them',
  });
  assert.deepEqual(parseConsoleLine("/LIST"), {
    kind: "invalid",
    message: 'Unknown command "/LIST"; /help lists them',
  });
  const long = parseConsoleLine(`/${"x".repeat(1000)}`);
  assert.deepEqual(long, {
    kind: "invalid",
    message: `Unknown command "/${"x".repeat(39)}..."; /help lists them`,
  });
});

// --- runConsoleCommand ---

Deno.test("A typed line goes to every client and the operator sees how many got it", () => {
  const one = new FakeTarget([fakeClient({ id: 0, address: "127.0.0.1", port: 1 })]);
  assert.equal(run("hello", contextFor(one)), "sent to 1 client\n");
  assert.deepEqual(one.broadcasts, ["hello"]);
  const none = new FakeTarget();
  assert.equal(run("//help", contextFor(none)), "sent to 0 clients\n");
  assert.deepEqual(none.broadcasts, ["/help"]);
});

Deno.test("What the operator sends reaches clients with control, bidi and invisible characters escaped", () => {
  const target = new FakeTarget([fakeClient({ id: 1, address: "127.0.0.1", port: 1 })]);
  const context = contextFor(target);
  // A title-setting sequence, a cursor key sent by the terminal, a bidi
  // override and a zero-width space: none may act on a client's terminal.
  assert.equal(run("\x1b]0;pwned\x07hi \x1b[A\u202eolleh", context), "sent to 1 client\n");
  assert.equal(run("/msg 1 ad\u200bmin\x00", context), "sent to client 1\n");
  assert.deepEqual(target.broadcasts, ["\\x1b]0;pwned\\x07hi \\x1b[A\\u{202e}olleh"]);
  assert.deepEqual(target.messages, [[1, "ad\\u{200b}min\\x00"]]);
});

Deno.test("/msg sends to one client, or says there is no such client or it refused", () => {
  const target = new FakeTarget([
    fakeClient({ id: 2, address: "127.0.0.1", port: 1 }),
    fakeClient({ id: 5, address: "127.0.0.1", port: 2 }),
  ]);
  const context = contextFor(target);
  assert.equal(run("/msg 2 just you", context), "sent to client 2\n");
  assert.deepEqual(target.messages, [[2, "just you"]]);
  assert.equal(run("/msg 3 anyone?", context), "No client 3\n");
  target.refusing.add(5);
  assert.equal(
    run("/msg 5 full", context),
    "Cannot send to client 5: its send queue is full or it is leaving\n",
  );
  assert.deepEqual(target.messages, [[2, "just you"]]);
});

Deno.test("/kick closes one client's connection, or says there is no such client", () => {
  const a = fakeClient({ id: 1, address: "127.0.0.1", port: 1 });
  const b = fakeClient({ id: 2, address: "127.0.0.1", port: 2 });
  const context = contextFor(new FakeTarget([a, b]));
  assert.equal(run("/kick 2", context), "kicked client 2\n");
  assert.deepEqual([a.kicked, b.kicked], [0, 1]);
  assert.equal(run("/kick 9", context), "No client 9\n");
});

Deno.test("/list shows each client's number, address, connected time and age, and line counts", () => {
  const since = new Date(2024, 0, 2, 9, 5, 7).getTime(); // local time 09:05:07
  const target = new FakeTarget([
    fakeClient({ id: 3, address: "127.0.0.1", port: 40000 }, since, 120, 4),
    fakeClient({ id: 12, address: "::1", port: 5, identity: "alice\x1b[2J" }, since + 1000, 7, 0),
  ]);
  const shown = run("/list", contextFor(target, since + 125_000));
  assert.equal(
    shown,
    [
      "client  address                  connected since   lines in  lines out",
      "     3  127.0.0.1:40000          09:05:07 (2m05s)       120          4",
      "    12  [::1]:5 as alice\\x1b[2J  09:05:08 (2m04s)         7          0",
      "",
    ].join("\n"),
  );
});

Deno.test("/list shows a certificate name with bidi and zero-width characters as \\u{HHHH}", () => {
  const since = new Date(2024, 0, 2, 9, 5, 7).getTime(); // local time 09:05:07
  const target = new FakeTarget([
    fakeClient(
      { id: 4, address: "10.0.0.4", port: 6, identity: "bob\u200b\u202eecila" },
      since,
      1,
      0,
    ),
  ]);
  const shown = run("/list", contextFor(target, since + 1000));
  assert.ok(shown.includes(" 10.0.0.4:6 as bob\\u{200b}\\u{202e}ecila  09:05:07 (1s) "), shown);
  assert.doesNotMatch(shown, /[\u200b\u202e]/);
});

Deno.test("/list says when no client is connected", () => {
  assert.equal(run("/list", contextFor(new FakeTarget())), "no clients connected\n");
});

Deno.test("formatAge shows seconds, then minutes, hours and days with two-digit remainders", () => {
  assert.equal(formatAge(0), "0s");
  assert.equal(formatAge(59_999), "59s");
  assert.equal(formatAge(60_000), "1m00s");
  assert.equal(formatAge(125_000), "2m05s");
  assert.equal(formatAge((3 * 60 + 7) * 60_000 + 59_000), "3h07m");
  assert.equal(formatAge((2 * 24 + 4) * 3_600_000), "2d04h");
  assert.equal(formatAge(-5000), "0s", "a clock stepping back shows no negative age");
});

Deno.test("/stats shows the server's totals as one line", () => {
  assert.equal(run("/stats", contextFor(new FakeTarget())), "3 clients, 10 lines\n");
  const context = { ...contextFor(new FakeTarget()), statsText: () => "done\n" };
  assert.equal(run("/stats", context), "done\n");
});

Deno.test("/help lists every command, one line each", () => {
  const shown = run("/help", contextFor(new FakeTarget()));
  assert.equal(shown, CONSOLE_HELP);
  for (const command of ["TEXT", "//TEXT", "/msg N TEXT", "/list", "/kick N", "/stats", "/help"]) {
    assert.equal(
      shown.split("\n").filter((line) => line.trimStart().startsWith(`${command} `)).length,
      1,
      command,
    );
  }
  assert.ok(shown.endsWith("\n"));
});

Deno.test("A blank line shows nothing; a bad command shows why, sending nothing", () => {
  const target = new FakeTarget([fakeClient({ id: 0, address: "127.0.0.1", port: 1 })]);
  assert.equal(run("   ", contextFor(target)), "");
  assert.equal(run("/nope", contextFor(target)), 'Unknown command "/nope"; /help lists them\n');
  assert.deepEqual(target.broadcasts, []);
});

// --- runOperatorConsole ---

Deno.test("The console runs each typed line, whatever the read boundaries", async () => {
  const target = new FakeTarget([fakeClient({ id: 1, address: "127.0.0.1", port: 1 })]);
  const shown = await consoleOver(
    ["hel", "lo\r\n\n/msg 1 caf", new Uint8Array([0xc3]), new Uint8Array([0xa9, 10]), "last"],
    contextFor(target),
  );
  assert.deepEqual(target.broadcasts, ["hello", "last"]);
  assert.deepEqual(target.messages, [[1, "caf\u00e9"]]);
  assert.equal(shown, "sent to 1 client\nsent to client 1\nsent to 1 client\n");
});

Deno.test("The console refuses a line longer than its cap and goes on with the next", async () => {
  const target = new FakeTarget();
  const huge = "y".repeat(CONSOLE_MAX_LINE + 1);
  const shown = await consoleOver(
    ["x".repeat(CONSOLE_MAX_LINE) + "\n", huge.slice(0, 30000), huge.slice(30000) + "\nafter\n"],
    contextFor(target),
  );
  assert.deepEqual(target.broadcasts, ["x".repeat(CONSOLE_MAX_LINE), "after"]);
  assert.equal(
    shown,
    "sent to 0 clients\n" +
      `Cannot run a line longer than ${CONSOLE_MAX_LINE} bytes: ignored it, nothing was sent\n` +
      "sent to 0 clients\n",
  );
});

Deno.test("The console stops when told to, even while waiting for a line", async () => {
  const controller = new AbortController();
  let reads = 0;
  const stdin = {
    read(buffer: Uint8Array): Promise<number | null> {
      reads++;
      if (reads === 1) {
        buffer.set(bytes("one\n"));
        return Promise.resolve(4);
      }
      return new Promise(() => {}); // a terminal nobody types on
    },
  };
  const target = new FakeTarget();
  const done = runOperatorConsole(stdin, contextFor(target), () => {}, controller.signal);
  await waitFor("the console to wait for its second line", () => reads === 2);
  controller.abort();
  await withTimeout(done, 2000, "the console to stop on abort");
  assert.deepEqual(target.broadcasts, ["one"]);
});

Deno.test("The console does nothing when stopped before it starts", async () => {
  const controller = new AbortController();
  controller.abort();
  const target = new FakeTarget();
  await runOperatorConsole(
    scriptedInput(["one\n"]),
    contextFor(target),
    () => {},
    controller.signal,
  );
  assert.deepEqual(target.broadcasts, []);
});

Deno.test("The console ends with a message when stdin cannot be read", async () => {
  let shown = "";
  const stdin = {
    read(): Promise<number | null> {
      return Promise.reject(new Deno.errors.BrokenPipe("os error 5"));
    },
  };
  await runOperatorConsole(stdin, contextFor(new FakeTarget()), (text) => shown += text);
  assert.equal(shown, "Operator console stopped: cannot read stdin: broken pipe\n");
  shown = "";
  const throwing = {
    read(): Promise<number | null> {
      throw new Deno.errors.BadResource("Bad resource ID");
    },
  };
  await runOperatorConsole(throwing, contextFor(new FakeTarget()), (text) => shown += text);
  assert.match(shown, /^Operator console stopped: cannot read stdin: .+\n$/);
});
