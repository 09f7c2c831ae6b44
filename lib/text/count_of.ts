/**
 * {@linkcode countOf}: a count with its noun, for messages people read.
 *
 * @module
 */

/**
 * `1 line`, `2 lines`: a count with its noun, the noun in the plural but
 * for one.
 *
 * @example
 * ```ts
 * import { countOf } from "./count_of.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(countOf(1, "line"), "1 line");
 * assert.equal(countOf(0, "client"), "0 clients");
 * ```
 */
export function countOf(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}
