/**
 * Random ids for what must not collide across restarts: a server run
 * (`"run"` in every JSON record) and a client session (the `session` of its
 * hello). 64 random bits, as 16 lowercase hex digits: short enough for every
 * record, and two runs or sessions sharing one is not a real risk.
 *
 * @module
 */

/** Random bytes in an id; it has twice as many hex digits. */
const ID_BYTES = 8;

/**
 * A new random id: 16 lowercase hex digits from `crypto.getRandomValues`.
 *
 * @example
 * ```ts
 * import { randomId } from "./random_id.ts";
 * import assert from "node:assert/strict";
 *
 * assert.match(randomId(), /^[0-9a-f]{16}$/);
 * assert.notEqual(randomId(), randomId());
 * ```
 */
export function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(ID_BYTES));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}
