/**
 * Counting clients against `--max-clients` and `--max-per-ip`: the
 * {@linkcode ClientLimits} a server asks before it takes a connection and
 * tells when the connection ends, and {@linkcode LocalLimits}, the counts of
 * one server on its own. A pool's Workers share theirs instead (see
 * `workers/_shared_limits.ts`), so that a limit means the same whatever the
 * number of Workers.
 *
 * @module
 */

/** Why a connection may not be counted in: the limit it met. */
export interface LimitRefusal {
  readonly reason: "full" | "per-ip";
  /** The limit that was reached. */
  readonly limit: number;
}

/** The counts a server keeps of the connections it has admitted. */
export interface ClientLimits {
  /** Counts in a connection from `address` and returns null, or returns
   * the limit it met and counts nothing. */
  admit(address: string): LimitRefusal | null;
  /** A connection from `address` that {@linkcode ClientLimits.admit} let in
   * has ended. */
  release(address: string): void;
}

/**
 * The counts of one server, in its own memory: how many it has admitted, and
 * how many from each address (kept only with a per-address limit, and only
 * for addresses with a connection now).
 *
 * @example
 * ```ts
 * import { LocalLimits } from "./client_limits.ts";
 * import assert from "node:assert/strict";
 *
 * const limits = new LocalLimits(3, 1);
 * assert.equal(limits.admit("192.0.2.1"), null);
 * assert.deepEqual(limits.admit("192.0.2.1"), { reason: "per-ip", limit: 1 });
 * limits.release("192.0.2.1");
 * assert.equal(limits.admit("192.0.2.1"), null);
 * ```
 */
export class LocalLimits implements ClientLimits {
  readonly #maxClients: number;
  readonly #maxPerIp: number;
  #admitted = 0;
  readonly #perIp = new Map<string, number>();

  /**
   * @param maxClients most connections at once; 0 for no limit
   * @param maxPerIp most connections at once from one address; 0 for no limit
   */
  constructor(maxClients: number, maxPerIp: number) {
    this.#maxClients = maxClients;
    this.#maxPerIp = maxPerIp;
  }

  admit(address: string): LimitRefusal | null {
    if (this.#maxClients > 0 && this.#admitted >= this.#maxClients) {
      return { reason: "full", limit: this.#maxClients };
    }
    const fromAddress = this.#perIp.get(address) ?? 0;
    if (this.#maxPerIp > 0 && fromAddress >= this.#maxPerIp) {
      return { reason: "per-ip", limit: this.#maxPerIp };
    }
    this.#admitted++;
    if (this.#maxPerIp > 0) this.#perIp.set(address, fromAddress + 1);
    return null;
  }

  release(address: string): void {
    this.#admitted--;
    if (this.#maxPerIp === 0) return;
    const left = (this.#perIp.get(address) ?? 1) - 1;
    if (left > 0) this.#perIp.set(address, left);
    else this.#perIp.delete(address);
  }
}
