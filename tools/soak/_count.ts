/**
 * Numbers as the soak's table, progress and verdict write them: with
 * thousands separators, so that 20,000 connections read at a glance.
 *
 * @module
 */

/** `n` with thousands separators (`20,000`). */
export function count(n: number): string {
  return n.toLocaleString("en-US");
}

/** `n` and `noun`, in the plural unless `n` is 1. */
export function plural(n: number, noun: string): string {
  return `${count(n)} ${noun}${n === 1 ? "" : "s"}`;
}
