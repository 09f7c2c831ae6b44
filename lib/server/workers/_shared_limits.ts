/**
 * `--max-clients` and `--max-per-ip` for a pool: one set of counts in a
 * `SharedArrayBuffer` that every Worker reads and changes, so a limit of 10
 * admits 10 clients in all, not 10 per Worker.
 *
 * The buffer is an `Int32Array`: a header (a lock word, the number of
 * Workers, both limits, the table's size and how many addresses it holds),
 * each Worker's count of admitted clients, then, with a per-address limit,
 * an open-addressing hash table (linear probing, deleted by shifting back,
 * so no tombstones) of the addresses that have clients now: up to
 * {@linkcode DEFAULT_MAX_ADDRESSES}, fewer where the table would take more
 * than {@linkcode MAX_TABLE_BYTES} (many Workers). A slot holds the
 * address's length, a hash of it, its first {@linkcode KEY_CHARS} characters
 * (an address as linehub shows it, IPv4 or RFC 5952 IPv6, is at most 39) and
 * one count per Worker.
 *
 * Counts are kept per Worker so that the pool can take back a failed
 * Worker's share ({@linkcode SharedLimits.forget}): its connections ended
 * with it, and its counts must not hold the limits down for good. A Worker
 * forgotten is marked so (its admitted count is -1): if it still runs for a
 * moment before it is ended, it can neither count a connection in (refused
 * as full) nor take one out twice.
 *
 * Every change takes the lock: a word that holds 0 when free and the
 * holder's number otherwise. Held only for a few table probes, with no
 * await inside, it is taken by spinning on `Atomics.compareExchange`,
 * sleeping in `Atomics.wait` for a millisecond at a time when another
 * thread holds it.
 *
 * @module
 */

import type { ClientLimits, LimitRefusal } from "../client_limits.ts";

const LOCK = 0;
const WORKERS = 1;
const MAX_CLIENTS = 2;
const MAX_PER_IP = 3;
const SLOTS = 4;
const ADDRESSES = 5;
/** Where the Workers' admitted counts start. */
const HEADER = 6;

/** Characters of an address kept in a slot, 4 to an `Int32`; longer ones
 * are told apart by length and hash beyond them. */
const KEY_CHARS = 40;
const KEY_INTS = KEY_CHARS / 4;
/** Slot fields before the key: the address's length (0: the slot is empty)
 * and its hash. */
const LENGTH = 0;
const HASH = 1;
const KEY = 2;
/** Slot fields before the Workers' counts. */
const SLOT_HEAD = KEY + KEY_INTS;

/** Most addresses with clients at once that the table holds; a new address
 * beyond is refused as full. A smaller `--max-clients` makes it smaller. */
export const DEFAULT_MAX_ADDRESSES = 65536;
/** Most bytes the table may take: with many Workers (a count each in every
 * slot) it holds fewer addresses rather than grow past this. */
export const MAX_TABLE_BYTES = 16 * 1024 * 1024;

/** How long one wait for the lock sleeps before looking again. */
const LOCK_WAIT_MS = 1;
/** How long {@linkcode SharedLimits.forget} lets a Worker being ended finish
 * a change it is making: far longer than a change takes. */
const FORGET_WAIT_MS = 100;

/** What {@linkcode SharedLimits.create} sizes the counts for. */
export interface SharedLimitsOptions {
  /** Most clients at once, in all Workers; 0 for no limit. */
  readonly maxClients: number;
  /** Most clients at once from one address, in all Workers; 0 for no limit. */
  readonly maxPerIp: number;
  /** How many Workers share the counts, from 1. */
  readonly workers: number;
}

/** FNV-1a over the char codes of `text`, as an unsigned 32-bit number. */
function hashOf(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  }
  return hash >>> 0;
}

/** The smallest power of two at or above `n`. */
function powerOfTwoAtLeast(n: number): number {
  let power = 1;
  while (power < n) power *= 2;
  return power;
}

/**
 * One Worker's view of counts that all the Workers of a pool share.
 *
 * @example
 * ```ts
 * import { SharedLimits } from "./_shared_limits.ts";
 * import assert from "node:assert/strict";
 *
 * const buffer = SharedLimits.create({ maxClients: 2, maxPerIp: 0, workers: 2 });
 * const first = new SharedLimits(buffer, 0);
 * const second = new SharedLimits(buffer, 1);
 * assert.equal(first.admit("192.0.2.1"), null);
 * assert.equal(second.admit("192.0.2.2"), null);
 * assert.deepEqual(first.admit("192.0.2.3"), { reason: "full", limit: 2 });
 * ```
 */
export class SharedLimits implements ClientLimits {
  readonly #words: Int32Array;
  readonly #worker: number;
  readonly #workers: number;
  readonly #maxClients: number;
  readonly #maxPerIp: number;
  readonly #slots: number;
  readonly #slotInts: number;
  readonly #table: number;

  /** A buffer of counts for a pool of `options.workers` Workers, every count 0. */
  static create(options: SharedLimitsOptions): SharedArrayBuffer {
    const { maxClients, maxPerIp, workers } = options;
    for (
      const [name, value, least] of [
        ["maxClients", maxClients, 0],
        ["maxPerIp", maxPerIp, 0],
        ["workers", workers, 1],
      ] as const
    ) {
      if (!Number.isSafeInteger(value) || value < least || value > 0x7fffffff) {
        throw new RangeError(`Invalid ${name} "${value}": must be an integer from ${least}`);
      }
    }
    // At most one address per client: --max-clients bounds the addresses.
    const addresses = maxPerIp === 0
      ? 0
      : maxClients > 0
      ? Math.min(maxClients, DEFAULT_MAX_ADDRESSES)
      : DEFAULT_MAX_ADDRESSES;
    // At most half full, so that probes stay short.
    let slots = addresses === 0 ? 0 : powerOfTwoAtLeast(addresses * 2);
    const slotBytes = (SLOT_HEAD + workers) * Int32Array.BYTES_PER_ELEMENT;
    while (slots > 2 && slots * slotBytes > MAX_TABLE_BYTES) slots /= 2;
    const ints = HEADER + workers + slots * (SLOT_HEAD + workers);
    const buffer = new SharedArrayBuffer(ints * Int32Array.BYTES_PER_ELEMENT);
    const words = new Int32Array(buffer);
    words[WORKERS] = workers;
    words[MAX_CLIENTS] = maxClients;
    words[MAX_PER_IP] = maxPerIp;
    words[SLOTS] = slots;
    return buffer;
  }

  /**
   * Takes back everything Worker `worker` had counted in, as if each of its
   * connections had ended, and counts nothing more for it: for the pool, as
   * it ends that Worker. A Worker being ended may still be in the middle
   * of a change for a moment: it is given {@linkcode FORGET_WAIT_MS} to let
   * go of the lock, and a lock it still holds then (it was ended inside
   * the change) is taken from it.
   */
  static forget(buffer: SharedArrayBuffer, worker: number): void {
    const limits = new SharedLimits(buffer, worker);
    const words = limits.#words;
    const owner = limits.#owner();
    const deadline = performance.now() + FORGET_WAIT_MS;
    while (Atomics.load(words, LOCK) === owner && performance.now() < deadline) {
      Atomics.wait(words, LOCK, owner, LOCK_WAIT_MS);
    }
    Atomics.compareExchange(words, LOCK, owner, 0);
    limits.#locked(() => limits.#forgetWorker());
  }

  /**
   * @param buffer from {@linkcode SharedLimits.create}, the same for all
   * @param worker this Worker's number in the pool, from 0
   */
  constructor(buffer: SharedArrayBuffer, worker: number) {
    this.#words = new Int32Array(buffer);
    this.#workers = this.#words[WORKERS] ?? 0;
    if (!Number.isSafeInteger(worker) || worker < 0 || worker >= this.#workers) {
      throw new RangeError(
        `Invalid worker "${worker}": must be an integer from 0 to ${this.#workers - 1}`,
      );
    }
    this.#worker = worker;
    this.#maxClients = this.#words[MAX_CLIENTS] ?? 0;
    this.#maxPerIp = this.#words[MAX_PER_IP] ?? 0;
    this.#slots = this.#words[SLOTS] ?? 0;
    this.#slotInts = SLOT_HEAD + this.#workers;
    this.#table = HEADER + this.#workers;
  }

  admit(address: string): LimitRefusal | null {
    return this.#locked(() => {
      if (
        this.#forgotten() || (this.#maxClients > 0 && this.#admittedInAll() >= this.#maxClients)
      ) {
        return { reason: "full", limit: this.#maxClients };
      }
      if (this.#maxPerIp > 0) {
        const hash = hashOf(address);
        let slot = this.#find(address, hash);
        if (slot >= 0 && this.#countInAll(slot) >= this.#maxPerIp) {
          return { reason: "per-ip", limit: this.#maxPerIp };
        }
        if (slot < 0) {
          // The table fills only where --max-clients does not bound the
          // addresses below its size: the addresses with clients are then
          // themselves a count of clients.
          if (this.#at(ADDRESSES) >= this.#slots / 2) {
            return { reason: "full", limit: this.#slots / 2 };
          }
          slot = this.#insert(address, hash);
        }
        this.#bump(slot + SLOT_HEAD + this.#worker, 1);
      }
      this.#bump(HEADER + this.#worker, 1);
      return null;
    });
  }

  release(address: string): void {
    this.#locked(() => {
      if (this.#forgotten()) return;
      this.#bump(HEADER + this.#worker, -1);
      if (this.#maxPerIp === 0) return;
      const slot = this.#find(address, hashOf(address));
      if (slot < 0 || this.#at(slot + SLOT_HEAD + this.#worker) <= 0) return;
      this.#bump(slot + SLOT_HEAD + this.#worker, -1);
      if (this.#countInAll(slot) <= 0) this.#remove(slot);
    });
  }

  /** The word at `index`. */
  #at(index: number): number {
    return this.#words[index] ?? 0;
  }

  /** Adds `delta` to the word at `index`. */
  #bump(index: number, delta: number): void {
    this.#words[index] = this.#at(index) + delta;
  }

  /** This Worker's number on the lock: 0 means free. */
  #owner(): number {
    return this.#worker + 1;
  }

  #locked<T>(work: () => T): T {
    const owner = this.#owner();
    for (;;) {
      const holder = Atomics.compareExchange(this.#words, LOCK, 0, owner);
      if (holder === 0) break;
      Atomics.wait(this.#words, LOCK, holder, LOCK_WAIT_MS);
    }
    try {
      return work();
    } finally {
      Atomics.store(this.#words, LOCK, 0);
      Atomics.notify(this.#words, LOCK, 1);
    }
  }

  #forgotten(): boolean {
    return this.#at(HEADER + this.#worker) < 0;
  }

  #admittedInAll(): number {
    let total = 0;
    for (let w = 0; w < this.#workers; w++) total += Math.max(0, this.#at(HEADER + w));
    return total;
  }

  /** Where slot `index` starts in the words. */
  #slotAt(index: number): number {
    return this.#table + index * this.#slotInts;
  }

  #countInAll(slot: number): number {
    let total = 0;
    for (let w = 0; w < this.#workers; w++) total += this.#at(slot + SLOT_HEAD + w);
    return total;
  }

  /** Where `address`'s slot starts, or -1 when it has none. */
  #find(address: string, hash: number): number {
    const mask = this.#slots - 1;
    for (let index = hash & mask;; index = (index + 1) & mask) {
      const slot = this.#slotAt(index);
      const length = this.#at(slot + LENGTH);
      if (length === 0) return -1;
      if (length === address.length && this.#at(slot + HASH) >>> 0 === hash) {
        if (this.#keyIs(slot, address)) return slot;
      }
    }
  }

  #keyIs(slot: number, address: string): boolean {
    const chars = Math.min(address.length, KEY_CHARS);
    for (let i = 0; i < chars; i++) {
      const word = this.#at(slot + KEY + (i >> 2));
      if (((word >>> ((i & 3) * 8)) & 0xff) !== (address.charCodeAt(i) & 0xff)) return false;
    }
    return true;
  }

  /** Where the first free slot from `hash`'s home starts. */
  #freeSlotFrom(hash: number): number {
    const mask = this.#slots - 1;
    let index = (hash >>> 0) & mask;
    while (this.#at(this.#slotAt(index) + LENGTH) !== 0) index = (index + 1) & mask;
    return this.#slotAt(index);
  }

  /** Puts `address` in the first free slot from its hash; returns where. */
  #insert(address: string, hash: number): number {
    const slot = this.#freeSlotFrom(hash);
    this.#words[slot + LENGTH] = address.length;
    this.#words[slot + HASH] = hash | 0;
    for (let k = 0; k < KEY_INTS; k++) this.#words[slot + KEY + k] = 0;
    for (let i = 0; i < Math.min(address.length, KEY_CHARS); i++) {
      this.#words[slot + KEY + (i >> 2)] = this.#at(slot + KEY + (i >> 2)) |
        (address.charCodeAt(i) & 0xff) << ((i & 3) * 8);
    }
    for (let w = 0; w < this.#workers; w++) this.#words[slot + SLOT_HEAD + w] = 0;
    this.#bump(ADDRESSES, 1);
    return slot;
  }

  /** Empties the slot at `slot`, moving back the entries after it that
   * would otherwise no longer be found from their home slot. */
  #remove(slot: number): void {
    const mask = this.#slots - 1;
    let hole = (slot - this.#table) / this.#slotInts;
    let next = hole;
    for (;;) {
      next = (next + 1) & mask;
      const at = this.#slotAt(next);
      if (this.#words[at + LENGTH] === 0) break;
      const home = (this.#at(at + HASH) >>> 0) & mask;
      // An entry may fill the hole unless its home lies cyclically in (hole, next].
      const staysPut = hole <= next ? hole < home && home <= next : hole < home || home <= next;
      if (staysPut) continue;
      this.#words.copyWithin(this.#slotAt(hole), at, at + this.#slotInts);
      hole = next;
    }
    this.#words[this.#slotAt(hole) + LENGTH] = 0;
    this.#bump(ADDRESSES, -1);
  }

  #forgetWorker(): void {
    this.#words[HEADER + this.#worker] = -1;
    if (this.#slots === 0) return;
    // Zero its counts, then put back the addresses that other Workers still
    // count: simpler than removing in place while walking the table, and a
    // Worker fails seldom.
    const kept: Int32Array[] = [];
    for (let index = 0; index < this.#slots; index++) {
      const slot = this.#slotAt(index);
      if (this.#words[slot + LENGTH] === 0) continue;
      this.#words[slot + SLOT_HEAD + this.#worker] = 0;
      if (this.#countInAll(slot) > 0) {
        kept.push(this.#words.slice(slot, slot + this.#slotInts));
      }
      this.#words[slot + LENGTH] = 0;
    }
    this.#words[ADDRESSES] = 0;
    for (const words of kept) {
      this.#words.set(words, this.#freeSlotFrom(words[HASH] ?? 0));
      this.#bump(ADDRESSES, 1);
    }
  }
}
