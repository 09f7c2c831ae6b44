/**
 * Integration tests for {@linkcode runClient} in this process, against TCP
 * peers the test controls on loopback port 0. The input is a fake reader
 * whose chunks (and pauses) the test chooses, so "the input has ended" and
 * "the input is still open" are facts, not timing.
 */

import assert from "node:assert/strict";
import type { ByteReader } from "../../lib/io/types.ts";
import { ClientError } from "../../lib/client/client_error.ts";
import { runClient } from "../../lib/client/plain_client.ts";
import type { ReportKind } from "../../lib/client/session_outcome.ts";
import {
  bytes,
  closeQuietly,
  concat,
  freePort,
  MemoryWriter,
  randomInt,
  readExactly,
  readToEnd,
  seededRandom,
  unansweringListener,
  waitFor,
  withTimeout,
  writeAll,
} from "../_helpers/mod.ts";

/** Longest a client session may take here before the test fails. */
const SESSION_TIMEOUT_MS = 10_000;

/** A fake stdin: hands out what `source` yields, at most `buffer.length`
 * bytes per read, and then the end of input. */
function inputFrom(source: AsyncIterable<Uint8Array>): ByteReader & { reads: number } {
  const iterator = source[Symbol.asyncIterator]();
  let left: Uint8Array = new Uint8Array(0);
  return {
    reads: 0,
    async read(buffer: Uint8Array): Promise<number | null> {
      this.reads++;
      while (left.length === 0) {
        const next = await iterator.next();
        if (next.done) return null;
        left = next.value;
      }
      const n = Math.min(buffer.length, left.length);
      buffer.set(left.subarray(0, n));
      left = left.subarray(n);
      return n;
    },
  };
}

/** A fake stdin that must not be read. */
const UNREAD_INPUT: ByteReader = {
  read(): Promise<number | null> {
    return Promise.reject(new Error("input was read"));
  },
};

/** A one-connection TCP peer on 127.0.0.1:0 running `handler`; the
 * connection and listener are closed when the handler ends, or by `close`
 * (which a test calls last, so a failed test cannot leave the peer waiting). */
function startPeer(handler: (conn: Deno.TcpConn) => Promise<void>): {
  port: number;
  done: Promise<void>;
  close(): void;
} {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0, transport: "tcp" });
  let accepted: Deno.TcpConn | null = null;
  const done = (async () => {
    const conn = await listener.accept();
    accepted = conn;
    try {
      await handler(conn);
    } finally {
      closeQuietly(conn);
      closeQuietly(listener);
    }
  })();
  // Awaited by the test; this only keeps a failure that comes before the
  // test reaches that await from counting as unhandled.
  done.catch(() => {});
  return {
    port: listener.addr.port,
    done,
    close(): void {
      closeQuietly(listener);
      if (accepted !== null) closeQuietly(accepted);
    },
  };
}

/** A promise the test resolves: a pause in the fake input. */
function gate(): { wait: Promise<void>; open(): void } {
  const { promise, resolve } = Promise.withResolvers<void>();
  return { wait: promise, open: () => resolve() };
}

Deno.test("client sends the input bytes exactly as read and finishes when the server closes", async () => {
  const random = seededRandom(7);
  const big = Uint8Array.from({ length: 150_000 }, () => randomInt(random, 0, 255));
  const chunks = [
    bytes("first line\n"),
    bytes("split "),
    bytes("line\r\n"),
    new Uint8Array([0, 255, 0x1b, 0x0a]),
    big,
    bytes("no newline at the end"),
  ];
  let received: Uint8Array = new Uint8Array(0);
  const peer = startPeer(async (conn) => {
    received = await readToEnd(conn);
  });
  const output = new MemoryWriter();
  try {
    const input = inputFrom((async function* (): AsyncGenerator<Uint8Array> {
      yield* chunks;
    })());
    await withTimeout(
      runClient({ host: "127.0.0.1", port: peer.port }, input, output),
      SESSION_TIMEOUT_MS,
      "client session",
    );
    await peer.done;
    assert.deepEqual(received, concat(chunks));
    assert.equal(output.text(), "");
  } finally {
    peer.close();
    await peer.done.catch(() => {});
  }
});

Deno.test("client half-closes at the end of input and prints what the server sends until it closes", async () => {
  const output = new MemoryWriter();
  let received = "";
  const peer = startPeer(async (conn) => {
    await writeAll(conn, bytes("hello\n"));
    // readToEnd returns only once the client has half-closed.
    received = new TextDecoder().decode(await readToEnd(conn));
    await writeAll(conn, bytes(`got ${received.length} bytes\n`));
    await writeAll(conn, bytes("bye\n"));
  });
  try {
    const input = inputFrom((async function* (): AsyncGenerator<Uint8Array> {
      // Still sending while the server talks: the greeting is printed first.
      await waitFor("the greeting on the output", () => output.text() === "hello\n");
      yield bytes("ping\n");
    })());
    await withTimeout(
      runClient({ host: "127.0.0.1", port: peer.port }, input, output),
      SESSION_TIMEOUT_MS,
      "client session",
    );
    await peer.done;
    assert.equal(received, "ping\n");
    assert.equal(output.text(), "hello\ngot 5 bytes\nbye\n");
  } finally {
    peer.close();
    await peer.done.catch(() => {});
  }
});

Deno.test("client with messages sends each as a line and never reads the input", async () => {
  let received = "";
  const peer = startPeer(async (conn) => {
    received = new TextDecoder().decode(await readToEnd(conn));
  });
  try {
    await withTimeout(
      runClient({ host: "127.0.0.1", port: peer.port }, UNREAD_INPUT, new MemoryWriter(), {
        messages: ["one", "two words", "", "tab\there"],
      }),
      SESSION_TIMEOUT_MS,
      "client session",
    );
    await peer.done;
    assert.equal(received, "one\ntwo words\n\ntab\there\n");
  } finally {
    peer.close();
    await peer.done.catch(() => {});
  }
});

Deno.test("client with a name sends one hello line first, which a plain TCP server such as nc -lk gets as a line", async () => {
  for (const messages of [[], ["from -m"]]) {
    let received = "";
    const peer = startPeer(async (conn) => {
      received = new TextDecoder().decode(await readToEnd(conn));
    });
    try {
      const input = inputFrom((async function* (): AsyncGenerator<Uint8Array> {
        yield bytes("hello\n");
      })());
      await withTimeout(
        runClient({ host: "127.0.0.1", port: peer.port }, input, new MemoryWriter(), {
          name: "web1",
          messages,
        }),
        SESSION_TIMEOUT_MS,
        "client session",
      );
      await peer.done;
      const data = messages.length > 0 ? "from -m\n" : "hello\n";
      assert.match(received, /^\0linehub-hello session=[0-9a-f]{16} seq=1 name=web1\n/);
      assert.equal(received.slice(received.indexOf("\n") + 1), data);
    } finally {
      peer.close();
      await peer.done.catch(() => {});
    }
  }
});

Deno.test("client reports a refused connection as ClientError naming the address", async () => {
  const port = freePort();
  await assert.rejects(
    runClient({ host: "127.0.0.1", port }, UNREAD_INPUT, new MemoryWriter()),
    (error: unknown) => {
      assert.ok(error instanceof ClientError);
      assert.equal(error.message, `Cannot connect to 127.0.0.1:${port}: connection refused`);
      assert.equal(error.kind, "connect");
      return true;
    },
  );
});

Deno.test("client gives up connecting after connectTimeout seconds", async () => {
  const { listener, queued } = await unansweringListener();
  const port = listener.addr.port;
  try {
    await assert.rejects(
      withTimeout(
        runClient({ host: "127.0.0.1", port }, UNREAD_INPUT, new MemoryWriter(), {
          connectTimeout: 0.5,
        }),
        SESSION_TIMEOUT_MS,
        "client connect with a 0.5 s timeout",
      ),
      (error: unknown) => {
        assert.ok(error instanceof ClientError, `not a ClientError: ${error}`);
        assert.equal(error.message, `Cannot connect to 127.0.0.1:${port}: timed out after 0.5 s`);
        assert.equal(error.kind, "connect");
        return true;
      },
    );
  } finally {
    queued.forEach(closeQuietly);
    listener.close();
  }
});

Deno.test("client reports a server that closes before the input ended as a lost connection", async () => {
  const more = gate();
  const peer = startPeer(async (conn) => {
    await readExactly(conn, 6);
  });
  try {
    const input = inputFrom((async function* (): AsyncGenerator<Uint8Array> {
      yield bytes("first\n");
      await more.wait;
      yield bytes("never sent\n");
    })());
    await assert.rejects(
      withTimeout(
        runClient({ host: "127.0.0.1", port: peer.port }, input, new MemoryWriter()),
        SESSION_TIMEOUT_MS,
        "client session",
      ),
      (error: unknown) => {
        assert.ok(error instanceof ClientError, `not a ClientError: ${error}`);
        assert.equal(
          error.message,
          `Server 127.0.0.1:${peer.port} closed the connection before the input ended; ` +
            "the rest of the input was not sent",
        );
        assert.equal(error.kind, "lost");
        return true;
      },
    );
    await peer.done;
  } finally {
    more.open();
    peer.close();
    await peer.done.catch(() => {});
  }
});

Deno.test("client sends nothing and exits cleanly on empty input", async () => {
  let received: Uint8Array | null = null;
  const peer = startPeer(async (conn) => {
    received = await readToEnd(conn);
  });
  try {
    const input = inputFrom((async function* (): AsyncGenerator<Uint8Array> {})());
    await withTimeout(
      runClient({ host: "127.0.0.1", port: peer.port }, input, new MemoryWriter()),
      SESSION_TIMEOUT_MS,
      "client session",
    );
    await peer.done;
    assert.deepEqual(received, new Uint8Array(0));
    assert.equal(input.reads, 1);
  } finally {
    peer.close();
    await peer.done.catch(() => {});
  }
});

Deno.test("client stops at once when interrupted, saying whether the input was all sent", async () => {
  const more = gate();
  const peer = startPeer(async (conn) => {
    await readToEnd(conn);
  });
  try {
    const interrupt = new AbortController();
    let reads = 0;
    const input = inputFrom((async function* (): AsyncGenerator<Uint8Array> {
      reads++;
      yield bytes("sent\n");
      await more.wait;
    })());
    const session = runClient({ host: "127.0.0.1", port: peer.port }, input, new MemoryWriter(), {
      signal: interrupt.signal,
    });
    session.catch(() => {});
    await waitFor("the first read", () => reads === 1);
    interrupt.abort("SIGINT");
    await assert.rejects(
      withTimeout(session, SESSION_TIMEOUT_MS, "interrupted session"),
      (error: unknown) => {
        assert.ok(error instanceof ClientError, `not a ClientError: ${error}`);
        assert.equal(error.message, "Interrupted by SIGINT before all input was sent");
        assert.equal(error.kind, "interrupted");
        return true;
      },
    );
  } finally {
    more.open();
    peer.close();
    await peer.done.catch(() => {});
  }
});

Deno.test("client reports a failing output as its own kind of failure", async () => {
  const peer = startPeer(async (conn) => {
    await writeAll(conn, bytes("reply\n"));
    await readToEnd(conn);
  });
  const broken = {
    write(): Promise<number> {
      return Promise.reject(new Deno.errors.BrokenPipe("Broken pipe (os error 32)"));
    },
  };
  const more = gate();
  try {
    // Input that stays open until the test ends.
    const input: ByteReader = { read: () => more.wait.then(() => null) };
    await assert.rejects(
      withTimeout(
        runClient({ host: "127.0.0.1", port: peer.port }, input, broken),
        SESSION_TIMEOUT_MS,
        "client session",
      ),
      (error: unknown) => {
        assert.ok(error instanceof ClientError, `not a ClientError: ${error}`);
        assert.equal(error.message, "Cannot write to stdout: broken pipe");
        assert.equal(error.kind, "output");
        return true;
      },
    );
  } finally {
    more.open();
    peer.close();
    await peer.done.catch(() => {});
  }
});

Deno.test("client tells a connection message once connected, as a connection notice", async () => {
  const peer = startPeer(async (conn) => {
    await readToEnd(conn);
  });
  const notices: Array<[string, ReportKind]> = [];
  try {
    await withTimeout(
      runClient({ host: "127.0.0.1", port: peer.port }, UNREAD_INPUT, new MemoryWriter(), {
        messages: ["hi"],
        onNotice: (message, kind) => notices.push([message, kind]),
      }),
      SESSION_TIMEOUT_MS,
      "client session",
    );
    await peer.done;
    assert.deepEqual(notices, [[`Connected to 127.0.0.1:${peer.port}`, "connection"]]);
  } finally {
    peer.close();
    await peer.done.catch(() => {});
  }
});

Deno.test("client tells no connection message when it cannot connect", async () => {
  const notices: string[] = [];
  await assert.rejects(
    runClient({ host: "127.0.0.1", port: freePort() }, UNREAD_INPUT, new MemoryWriter(), {
      onNotice: (message) => notices.push(message),
    }),
    ClientError,
  );
  assert.deepEqual(notices, []);
});
