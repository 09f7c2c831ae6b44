/**
 * The server's `--format json` output (JSON Lines) read back as records, for
 * the tests that check it.
 *
 * @module
 */

/** Each line of `text` parsed as JSON, blank space at either end ignored;
 * a line that is not JSON (or no line at all) throws. Records are what
 * `JSON.parse` gives, for the test to inspect. */
export function jsonLines(text: string): ReturnType<typeof JSON.parse>[] {
  return text.trim().split("\n").map((line) => JSON.parse(line));
}
