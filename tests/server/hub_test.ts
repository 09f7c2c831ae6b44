/**
 * Unit tests for the hub behind `--mode`: who gets each client line in each
 * mode and in what form, chat announcements, operator lines, and clients
 * whose send queue is full, all with fake client handles.
 */

import assert from "node:assert/strict";
import type { ClientHandle } from "../../lib/server/client_handle.ts";
import { Hub, type Mode, MODES } from "../../lib/server/hub.ts";
import { PARTIAL, TRUNCATED } from "../../lib/wire/line_flags.ts";
import type { ClientInfo } from "../../lib/format/message_formatter.ts";
import { bytes } from "../_helpers/mod.ts";

const decoder = new TextDecoder();

/** A client handle that keeps what it is sent. */
class FakeClient implements ClientHandle {
  readonly client: ClientInfo;
  readonly connectedAt = 0;
  linesIn = 0;
  linesOut = 0;
  /** The arrays passed to `send`, as passed. */
  readonly received: Uint8Array[] = [];
  /** Makes `send` refuse, as a full queue does. */
  refuse = false;
  /** Called when `send` refuses (the server disconnecting the client). */
  onRefuse: () => void = () => {};
  kicked = false;

  constructor(id: number, address = "127.0.0.1", port = 40000 + id, identity?: string) {
    this.client = identity === undefined ? { id, address, port } : { id, address, port, identity };
  }

  send(line: Uint8Array): boolean {
    if (this.refuse) {
      this.onRefuse();
      return false;
    }
    this.received.push(line);
    this.linesOut++;
    return true;
  }

  kick(): void {
    this.kicked = true;
  }

  /** What it was sent, as text. */
  text(): string {
    return this.received.map((line) => decoder.decode(line)).join("");
  }
}

/** A hub with clients 0 .. count-1 joined. */
function hubWith(mode: Mode, count: number): { hub: Hub; clients: FakeClient[] } {
  const hub = new Hub(mode);
  const clients = Array.from({ length: count }, (_, id) => new FakeClient(id));
  for (const client of clients) hub.joined(client);
  for (const client of clients) client.received.length = 0; // forget the greetings
  return { hub, clients };
}

function say(hub: Hub, from: FakeClient, text: string | Uint8Array): void {
  from.linesIn++;
  hub.line(from, typeof text === "string" ? bytes(text) : text, 0);
}

Deno.test("Hub knows the modes log, echo, broker and chat, and rejects others by name", () => {
  assert.deepEqual([...MODES], ["log", "echo", "broker", "chat"]);
  assert.throws(
    () => new Hub("relay" as Mode),
    /^RangeError: Invalid mode "relay": must be one of log, echo, broker, chat$/,
  );
});

Deno.test("Hub in log mode sends clients nothing", () => {
  const { hub, clients: [a, b] } = hubWith("log", 2);
  assert.ok(a !== undefined && b !== undefined);
  say(hub, a, "hello");
  hub.left(b);
  assert.equal(a.text() + b.text(), "");
  assert.equal(hub.relayed, 0);
});

Deno.test("Hub in echo mode sends each line back to its sender only", () => {
  const { hub, clients: [a, b] } = hubWith("echo", 2);
  assert.ok(a !== undefined && b !== undefined);
  say(hub, a, "ping");
  say(hub, b, "pong");
  assert.equal(a.text(), "ping\n");
  assert.equal(b.text(), "pong\n");
  assert.equal(hub.relayed, 2);
});

Deno.test("Hub in broker mode relays each line byte for byte to every other client", () => {
  const { hub, clients: [a, b, c] } = hubWith("broker", 3);
  assert.ok(a !== undefined && b !== undefined && c !== undefined);
  const raw = new Uint8Array([0x1b, 0x5b, 0x32, 0x4a, 0xff, 0x68, 0x69]);
  say(hub, a, raw);
  assert.deepEqual(a.received, []);
  for (const other of [b, c]) assert.deepEqual(other.received, [new Uint8Array([...raw, 10])]);
  assert.equal(hub.relayed, 2);
});

Deno.test("Hub encodes a relayed line once and queues the same bytes to every recipient", () => {
  const { hub, clients } = hubWith("broker", 4);
  const [a, ...others] = clients;
  assert.ok(a !== undefined);
  say(hub, a, "shared");
  const first = others[0]?.received[0];
  assert.ok(first !== undefined);
  for (const other of others) assert.equal(other.received[0], first);
});

Deno.test("Hub keeps what it relays when the server reuses the line's buffer", () => {
  for (const mode of ["echo", "broker", "chat"] as const) {
    const { hub, clients: [a, b] } = hubWith(mode, 2);
    assert.ok(a !== undefined && b !== undefined);
    const buffer = bytes("original");
    say(hub, a, buffer);
    buffer.fill(0x58); // "XXXXXXXX", as the next read would
    assert.match(a.text() + b.text(), /original\n/, mode);
    assert.doesNotMatch(a.text() + b.text(), /X/, mode);
  }
});

Deno.test("Hub in chat mode labels each line with its sender and sends it to the others", () => {
  const { hub, clients: [a, b, c] } = hubWith("chat", 3);
  assert.ok(a !== undefined && b !== undefined && c !== undefined);
  say(hub, b, "hello");
  say(hub, b, "again");
  assert.equal(a.text(), "<client 1> hello\n<client 1> again\n");
  assert.equal(c.text(), "<client 1> hello\n<client 1> again\n");
  assert.equal(b.text(), "");
  assert.equal(hub.relayed, 4);
});

Deno.test("Hub in chat mode shows escape sequences and bad UTF-8 as harmless text", () => {
  const { hub, clients: [a, b] } = hubWith("chat", 2);
  assert.ok(a !== undefined && b !== undefined);
  say(hub, a, new Uint8Array([0x1b, 0x5d, 0x30, 0x3b, 0x70, 0x77, 0x6e, 0x07, 0xff, 0x09, 0x21]));
  say(hub, a, bytes("caf\u00e9 \u2603"));
  assert.equal(b.text(), "<client 0> \\x1b]0;pwn\\x07\ufffd\t!\n<client 0> caf\u00e9 \u2603\n");
});

Deno.test("Hub in chat mode shows bidi controls and invisible characters as \\u{HHHH}, so no line reads as another's", () => {
  const { hub, clients: [a, b] } = hubWith("chat", 2);
  assert.ok(a !== undefined && b !== undefined);
  // Shown raw, RLO would make this read "<client 1> hi" on b's terminal,
  // as if client 1 had said it.
  say(hub, a, "\u202eih >1 tneilc<");
  say(hub, a, "ad\u200bmin\u2066\u00ad\ufeff");
  say(hub, a, "line\u2028two");
  assert.equal(
    b.text(),
    "<client 0> \\u{202e}ih >1 tneilc<\n" +
      "<client 0> ad\\u{200b}min\\u{2066}\\u{00ad}\\u{feff}\n" +
      "<client 0> line\\u{2028}two\n",
  );
});

Deno.test("Hub in chat mode greets a joining client and announces it to the others", () => {
  const hub = new Hub("chat");
  const a = new FakeClient(0, "127.0.0.1", 40000);
  const b = new FakeClient(1, "::1", 40001);
  const c = new FakeClient(2, "10.0.0.7", 40002, "alice");
  hub.joined(a);
  hub.joined(b);
  hub.joined(c);
  assert.equal(
    a.text(),
    "* you are client 0; 0 other clients here\n" +
      "* client 1 joined from [::1]:40001\n" +
      "* client 2 joined from 10.0.0.7:40002 as alice\n",
  );
  assert.equal(
    b.text(),
    "* you are client 1; 1 other client here\n" +
      "* client 2 joined from 10.0.0.7:40002 as alice\n",
  );
  assert.equal(c.text(), "* you are client 2; 2 other clients here\n");
});

Deno.test("Hub in chat mode announces a leaving client to those still here", () => {
  const { hub, clients: [a, b, c] } = hubWith("chat", 3);
  assert.ok(a !== undefined && b !== undefined && c !== undefined);
  hub.left(b);
  assert.equal(a.text(), "* client 1 left\n");
  assert.equal(c.text(), "* client 1 left\n");
  assert.equal(b.text(), "");
  say(hub, a, "still here?");
  assert.equal(b.text(), "", "nothing is sent to a client that left");
  assert.equal(c.text(), "* client 1 left\n<client 0> still here?\n");
});

Deno.test("Hub in chat mode tells the others when the server closed a client, and why", () => {
  const { hub, clients: [a, b, c, d] } = hubWith("chat", 4);
  assert.ok(a !== undefined && b !== undefined && c !== undefined && d !== undefined);
  hub.left(b, "kicked");
  hub.left(c, "idle-timeout");
  hub.left(d, "reset");
  assert.equal(
    a.text(),
    "* client 1 was kicked by the operator\n" +
      "* client 2 was disconnected (idle-timeout)\n" +
      "* client 3 left\n",
  );
});

Deno.test("Hub in chat mode shows a certificate name with control bytes harmlessly", () => {
  const hub = new Hub("chat");
  const a = new FakeClient(0);
  hub.joined(a);
  hub.joined(new FakeClient(1, "127.0.0.1", 5, "evil\x1b[2J"));
  assert.equal(
    a.text(),
    "* you are client 0; 0 other clients here\n* client 1 joined from 127.0.0.1:5 as evil\\x1b[2J\n",
  );
});

Deno.test("Hub in chat mode shows a certificate name or address with bidi and zero-width characters harmlessly", () => {
  const hub = new Hub("chat");
  const a = new FakeClient(0);
  hub.joined(a);
  hub.joined(new FakeClient(1, "10.0.0.1\u202e", 5, "bob\u200b\u202eecila"));
  assert.equal(
    a.text(),
    "* you are client 0; 0 other clients here\n" +
      "* client 1 joined from 10.0.0.1\\u{202e}:5 as bob\\u{200b}\\u{202e}ecila\n",
  );
});

Deno.test("Hub announces joins and leaves in chat mode only", () => {
  for (const mode of ["log", "echo", "broker"] as const) {
    const hub = new Hub(mode);
    const a = new FakeClient(0);
    const b = new FakeClient(1);
    hub.joined(a);
    hub.joined(b);
    hub.left(b);
    assert.equal(a.text() + b.text(), "", mode);
  }
});

Deno.test("Hub relays a partial or truncated line as it came, with a newline", () => {
  const { hub, clients: [a, b] } = hubWith("broker", 2);
  assert.ok(a !== undefined && b !== undefined);
  hub.line(a, bytes("cut her"), TRUNCATED);
  hub.line(a, bytes("no newline"), PARTIAL);
  assert.equal(b.text(), "cut her\nno newline\n");
});

Deno.test("Hub skips and counts a client whose queue is full; the others still get the line", () => {
  const { hub, clients: [a, b, c] } = hubWith("broker", 3);
  assert.ok(a !== undefined && b !== undefined && c !== undefined);
  b.refuse = true;
  say(hub, a, "one");
  assert.equal(c.text(), "one\n");
  assert.equal(b.text(), "");
  assert.equal(hub.relayed, 1);
  assert.equal(hub.dropped, 1);
});

Deno.test("Hub copes with the server removing a refusing client during a relay", () => {
  const { hub, clients } = hubWith("chat", 4);
  const [a, b, c, d] = clients;
  assert.ok(a !== undefined && b !== undefined && c !== undefined && d !== undefined);
  // The server disconnects a client whose queue is full at once.
  b.refuse = true;
  b.onRefuse = () => hub.left(b);
  say(hub, a, "hi");
  assert.equal(c.text(), "* client 1 left\n<client 0> hi\n");
  assert.equal(d.text(), "* client 1 left\n<client 0> hi\n");
  assert.deepEqual(hub.clients().map((client) => client.client.id), [0, 2, 3]);
  assert.equal(hub.dropped, 1);
});

Deno.test("Hub lists connected clients in order of number, whatever the order they joined", () => {
  const hub = new Hub("log");
  const clients = [3, 1, 2, 0].map((id) => new FakeClient(id));
  for (const client of clients) hub.joined(client);
  assert.deepEqual(hub.clients().map((client) => client.client.id), [0, 1, 2, 3]);
  assert.equal(hub.client(2), clients[2]);
  hub.left(clients[2] as FakeClient);
  assert.equal(hub.client(2), undefined);
  assert.deepEqual(hub.clients().map((client) => client.client.id), [0, 1, 3]);
});

Deno.test("Hub ignores a leave for a client it does not hold", () => {
  const { hub, clients: [a] } = hubWith("chat", 1);
  assert.ok(a !== undefined);
  hub.left(new FakeClient(7));
  hub.left(new FakeClient(0)); // same number, another connection
  assert.equal(a.text(), "");
  assert.equal(hub.client(0), a);
});

Deno.test("Hub sends an operator line to every client as typed, or labelled in chat mode", () => {
  for (const [mode, expected] of [["broker", "hello all\n"], ["chat", "<server> hello all\n"]]) {
    const { hub, clients: [a, b] } = hubWith(mode as Mode, 2);
    assert.ok(a !== undefined && b !== undefined);
    assert.equal(hub.broadcast("hello all"), 2);
    assert.equal(a.text(), expected);
    assert.equal(b.text(), expected);
    assert.equal(a.received[0], b.received[0], "encoded once");
    assert.equal(hub.relayed, 0, "operator lines are not relayed client lines");
  }
});

Deno.test("Hub counts only the clients that took an operator line", () => {
  const { hub, clients: [a, b] } = hubWith("log", 2);
  assert.ok(a !== undefined && b !== undefined);
  b.refuse = true;
  assert.equal(hub.broadcast("notice"), 1);
  assert.equal(hub.dropped, 1);
  assert.equal(new Hub("log").broadcast("nobody"), 0);
});

Deno.test("Hub sends an operator message to one client, false when there is none or it refuses", () => {
  const { hub, clients: [a, b] } = hubWith("chat", 2);
  assert.ok(a !== undefined && b !== undefined);
  assert.equal(hub.message(1, "just you"), true);
  assert.equal(b.text(), "<server> just you\n");
  assert.equal(a.text(), "");
  assert.equal(hub.message(9, "nobody"), false);
  b.refuse = true;
  assert.equal(hub.message(1, "full"), false);
  assert.equal(hub.dropped, 1);
});

Deno.test("Hub refuses an operator line with a newline in it, which would split it", () => {
  const { hub } = hubWith("log", 1);
  assert.throws(
    () => hub.broadcast("one\ntwo"),
    /^TypeError: Invalid operator line "one\\ntwo": has a newline$/,
  );
});
