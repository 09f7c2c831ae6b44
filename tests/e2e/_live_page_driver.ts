/// <reference lib="dom" />
/**
 * Drives the live page in headless Chromium (Debian's, never a downloaded
 * one) through playwright-core, for `http_live_page_test.ts`. Run as its own
 * process with `--allow-all`: Playwright's launcher looks at /proc (a WSL
 * check), which Deno opens only with every permission, and the test itself
 * keeps its narrow ones. Prints one JSON object of what the page showed.
 *
 * Usage: `deno run -A _live_page_driver.ts URL SCREENSHOT CHROMIUM`
 *
 * @module
 */

import { chromium } from "playwright-core";

const [url, screenshot, executablePath] = Deno.args;
if (url === undefined || screenshot === undefined || executablePath === undefined) {
  console.error("Usage: _live_page_driver.ts URL SCREENSHOT CHROMIUM");
  Deno.exit(2);
}

/** Bounds every wait, so a broken page fails the test instead of hanging it. */
const TIMEOUT_MS = 20_000;

const browser = await chromium.launch({
  executablePath,
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 720 } });
  page.setDefaultTimeout(TIMEOUT_MS);
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));
  await page.goto(url);
  // Both clients in the table, and lines of both in the tail.
  await page.waitForFunction(() => document.querySelectorAll("#clients tbody tr").length >= 2);
  await page.waitForFunction(() => {
    const who = [...document.querySelectorAll<HTMLElement>("#tail li")].map((li) =>
      li.dataset.client
    );
    return who.includes("0") && who.includes("1");
  });
  const rows = await page.$$eval(
    "#clients tbody tr",
    (trs) => trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent ?? "")),
  );
  const hostileText = await page.$$eval(
    "#tail li[data-client='1']",
    (items) => items.map((li) => li.textContent ?? "").find((text) => text.includes("<img")) ?? "",
  );
  const markupInTail = await page.$$eval(
    "#tail img, #tail b, #tail script",
    (found) => found.length,
  );
  // Follow client 0 only: the tail starts again with its lines alone.
  await page.selectOption("#filter", "0");
  await page.waitForFunction(() => {
    const who = [...document.querySelectorAll<HTMLElement>("#tail li")].map((li) =>
      li.dataset.client
    );
    return who.length >= 3 && who.every((id) => id === "0");
  });
  const filtered = await page.$$eval(
    "#tail li",
    (items) => items.map((li) => li.dataset.client ?? ""),
  );
  await page.screenshot({ path: screenshot });
  console.log(JSON.stringify({ rows, hostileText, markupInTail, filtered, errors }));
} finally {
  await browser.close();
}
