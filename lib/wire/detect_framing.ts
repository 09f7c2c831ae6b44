/**
 * Which framing a connection uses, told from its first byte, for
 * `--framing auto`.
 *
 * In octet counting (RFC 6587 section 3.4.1) every frame starts with its
 * length, `MSG-LEN = NONZERO-DIGIT *DIGIT`, so a stream framed so starts
 * with a digit from 1 to 9. Syslog messages framed by LF (section 3.4.2)
 * start with `<`, the opening of their PRI, and other text rarely starts
 * with a digit. rsyslog's imtcp makes the same test (runtime/tcps_sess.c), though
 * at the start of every frame and on any digit, 0 included: a 0 can start
 * no valid length, so here it means LF, and the decision holds for the whole
 * connection, so that a line framed by LF in the middle of a stream is never
 * taken for a length because it starts with a digit.
 *
 * What is left to chance: a client framing by LF whose first line starts
 * with a digit. Its bytes are not lost: {@linkcode OctetFramer} goes over to
 * LF framing at the first byte that cannot belong to a length, and reads the
 * digits so far as the start of a line (`2024-05-01 boot` is a line), unless
 * the line starts with digits and a space (`200 OK`), which is a valid
 * octet-counting header and is read as one.
 *
 * @module
 */

/** How a connection's stream is cut into messages: `lf`, a `\n` ends each;
 * `octet`, each is preceded by its length and a space. */
export type Framing = "lf" | "octet";

const ONE = 0x31;
const NINE = 0x39;

/**
 * The framing a stream starting with `firstByte` uses: `octet` for a digit
 * from 1 to 9, else `lf`.
 *
 * @example
 * ```ts
 * import { detectFraming } from "./detect_framing.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(detectFraming("7".charCodeAt(0)), "octet"); // "73 <13>1 2024-..."
 * assert.equal(detectFraming("<".charCodeAt(0)), "lf"); // "<13>1 2024-...\n"
 * assert.equal(detectFraming("0".charCodeAt(0)), "lf"); // no length starts with 0
 * ```
 */
export function detectFraming(firstByte: number): Framing {
  if (!Number.isInteger(firstByte) || firstByte < 0 || firstByte > 0xff) {
    throw new RangeError(`Invalid first byte "${firstByte}": must be an integer from 0 to 255`);
  }
  return firstByte >= ONE && firstByte <= NINE ? "octet" : "lf";
}
