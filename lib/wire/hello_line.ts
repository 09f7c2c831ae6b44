/**
 * The hello line a linehub client may send first: the name it chose
 * (`linehub-client --name web1`), its session id, and the number of the
 * line that follows, so that a linehub server can show the name and number
 * the client's lines across its reconnects (JSON's `session` and `seq`).
 *
 * It is one line, in one precise form, recognised only as the first line of
 * a connection:
 *
 * ```
 * \0linehub-hello session=3f2a9c0e7d1b5a68 seq=1 name=web1\n
 * ```
 *
 * The NUL byte first is what no person types and no text file holds, so a
 * line that merely looks like it is never taken for it, and a server that
 * does not know the hello (`nc -lk`, an older linehub) shows it as an odd
 * line of data rather than losing anything: `nc` prints it, NUL invisible
 * on a terminal, as `linehub-hello session=... seq=1 name=web1`. Clients that
 * never send it (`nc`, `socat`) need nothing of this. A first line that is
 * not exactly this form is data like any other.
 *
 * @module
 */

/** Most characters in a client's name. */
export const MAX_NAME_LENGTH = 64;

/** The words a `text` label uses for its flags: a name equal to one would
 * make `[client 3 truncated]` mean two things. */
const RESERVED_NAMES = ["truncated", "partial"];

/** What a name may hold: what reads as one word in a label and needs no
 * escaping anywhere (host names, `app/worker:3`, `svc@host`). */
const NAME_PATTERN = /^[A-Za-z0-9._:@\/-]+$/;

/** The hello after its NUL byte (checked on its own, as a byte). */
const HELLO_PATTERN =
  /^linehub-hello session=([0-9a-f]{16}) seq=([1-9][0-9]{0,15})(?: name=([^ ]+))?$/;

const encoder = new TextEncoder();
/** One character per byte: what is not ASCII cannot match, and cannot fail. */
const latin1 = new TextDecoder("latin1");

/** What a hello says. */
export interface HelloLine {
  /** The client's session id: 16 lowercase hex digits, the same on every
   * connection the client program makes. */
  readonly session: string;
  /** The number of the first line after the hello, from 1. */
  readonly seq: number;
  /** The client's chosen name, if it gave one. */
  readonly name?: string;
}

/**
 * Why `name` cannot be a client's name, or null if it can: 1 to 64 ASCII
 * letters, digits and `. _ - : @ /`, and not `truncated` or `partial`.
 *
 * @example
 * ```ts
 * import { nameProblem } from "./hello_line.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(nameProblem("web-1.eu"), null);
 * assert.equal(nameProblem("two words"), "must be 1 to 64 ASCII letters, digits or . _ - : @ /");
 * ```
 */
export function nameProblem(name: string): string | null {
  if (name.length > MAX_NAME_LENGTH || !NAME_PATTERN.test(name)) {
    return `must be 1 to ${MAX_NAME_LENGTH} ASCII letters, digits or . _ - : @ /`;
  }
  if (RESERVED_NAMES.includes(name)) {
    return `is a word the text label uses for its flags (${RESERVED_NAMES.join(", ")})`;
  }
  return null;
}

/**
 * The hello line, with its `\n`.
 *
 * @throws {RangeError} when a field is out of its form, naming it
 * @example
 * ```ts
 * import { encodeHelloLine, parseHelloLine } from "./hello_line.ts";
 * import assert from "node:assert/strict";
 *
 * const hello = { session: "0123456789abcdef", seq: 1, name: "web1" };
 * const line = encodeHelloLine(hello);
 * assert.equal(new TextDecoder().decode(line), "\0linehub-hello session=0123456789abcdef seq=1 name=web1\n");
 * assert.deepEqual(parseHelloLine(line.subarray(0, -1)), hello);
 * ```
 */
export function encodeHelloLine(hello: HelloLine): Uint8Array {
  if (!/^[0-9a-f]{16}$/.test(hello.session)) {
    throw new RangeError(`Invalid session "${hello.session}": must be 16 lowercase hex digits`);
  }
  if (!Number.isSafeInteger(hello.seq) || hello.seq < 1) {
    throw new RangeError(`Invalid seq "${hello.seq}": must be an integer from 1`);
  }
  const problem = hello.name === undefined ? null : nameProblem(hello.name);
  if (problem !== null) {
    throw new RangeError(`Invalid name ${JSON.stringify(hello.name)}: ${problem}`);
  }
  const name = hello.name === undefined ? "" : ` name=${hello.name}`;
  return encoder.encode(`\0linehub-hello session=${hello.session} seq=${hello.seq}${name}\n`);
}

/**
 * What the first line of a connection says, if it is a hello in the exact
 * form {@linkcode encodeHelloLine} writes (without its `\n`); null for any
 * other line, which is then data.
 */
export function parseHelloLine(line: Uint8Array): HelloLine | null {
  // Cheap refusals first: nearly every first line is data.
  if (line[0] !== 0 || line.length > 128) return null;
  const match = HELLO_PATTERN.exec(latin1.decode(line.subarray(1)));
  if (match === null) return null;
  const [, session, seqText, name] = match as unknown as [string, string, string, string?];
  const seq = Number(seqText);
  if (!Number.isSafeInteger(seq)) return null;
  if (name === undefined) return { session, seq };
  return nameProblem(name) === null ? { session, seq, name } : null;
}
