/**
 * The live page in a real browser: headless Chromium, driven by
 * playwright-core in a process of its own (`_live_page_driver.ts`), opens
 * the page of a running `server.ts --http` while two clients send, sees
 * both in the table and their lines in the tail, a hostile line shown as
 * text, and only one client's lines once the page follows that client. It
 * keeps a screenshot in tests/artifacts/ (not committed) and says where.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  bytes,
  connectTo,
  DENO,
  nameUnless,
  ROOT,
  runProgram,
  sleep,
  startHttpServer,
  writeAll,
} from "../_helpers/mod.ts";

const CHROMIUM = "/usr/bin/chromium";
const SCREENSHOT = `${ROOT}tests/artifacts/http_live_page.png`;

function noChromiumReason(): string | null {
  try {
    return Deno.statSync(CHROMIUM).isFile ? null : `${CHROMIUM} is not a file`;
  } catch {
    return `no Chromium at ${CHROMIUM} (Debian package chromium)`;
  }
}

const SKIP = noChromiumReason();

Deno.test({
  name: nameUnless(
    SKIP,
    "the live page shows the connected clients, their lines as text, and one client's alone when followed",
  ),
  ignore: SKIP !== null,
  async fn(): Promise<void> {
    const { server, url } = await startHttpServer();
    await using _ = server;
    using alpha = await connectTo(server.port);
    using beta = await connectTo(server.port);
    await writeAll(alpha, bytes("alpha starts\n"));
    await server.waitForStdout("[client 0] alpha starts");
    await writeAll(beta, bytes("beta starts\n"));
    await server.waitForStdout("[client 1] beta starts");
    // Both clients keep sending while the browser looks; bounded by the
    // driver's end and a count.
    let sending = true;
    const send = (async () => {
      for (let i = 0; i < 2000 && sending; i++) {
        await writeAll(alpha, bytes(`alpha line ${i}\n`));
        await writeAll(
          beta,
          bytes(
            i % 5 === 0 ? `<img src=x onerror=alert(1)> \x1b[31m<b>beta</b> ${i}\n` : `beta ${i}\n`,
          ),
        );
        await sleep(20);
      }
    })();
    await Deno.mkdir(`${ROOT}tests/artifacts`, { recursive: true });
    let driven;
    try {
      driven = await runProgram(
        DENO,
        [
          "run",
          "--allow-all",
          `${ROOT}tests/e2e/_live_page_driver.ts`,
          `${url}/`,
          SCREENSHOT,
          CHROMIUM,
        ],
        undefined,
        { timeoutMs: 90_000 },
      );
    } finally {
      sending = false;
      await send;
    }
    assert.equal(driven.code, 0, driven.stderr);
    const seen = JSON.parse(driven.stdout);
    assert.deepEqual(seen.errors, []);
    assert.deepEqual(seen.rows.map((row: string[]) => [row[0], row[2]]), [
      ["0", `127.0.0.1:${alpha.localAddr.port}`],
      ["1", `127.0.0.1:${beta.localAddr.port}`],
    ]);
    // Markup as text, and the escape shown as the text output shows it.
    assert.match(seen.hostileText, /<img src=x onerror=alert\(1\)> \\x1b\[31m<b>beta<\/b> \d+/);
    assert.equal(seen.markupInTail, 0);
    assert.ok(seen.filtered.length >= 3 && seen.filtered.every((id: string) => id === "0"));
    console.log(`screenshot: ${SCREENSHOT}`);
  },
});
