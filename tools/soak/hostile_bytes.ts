/**
 * Hostile input for the soak's hostile fault connections: lines full of
 * terminal escape sequences, control characters and invalid UTF-8, lines at,
 * just over and far over the server's `--max-line`, and blobs of random
 * bytes. Whatever comes in, nothing raw may reach the output.
 *
 * @module
 */

import { concatBytes as concat } from "../../lib/io/concat_bytes.ts";
import { randomInt } from "../seeded_random.ts";
import { letters } from "./_common.ts";
import { MAX_LINE } from "./server_control.ts";

const encoder = new TextEncoder();

/** Escape sequences and control characters terminals obey. */
const TERMINAL_TRICKS = [
  "\x1b[2J\x1b[H",
  "\x1b]0;owned\x07",
  "\x1b]8;;http://example.invalid/\x1b\\link\x1b]8;;\x1b\\",
  "\x1b[6n",
  "\x1bP+q544e\x1b\\",
  "\x1b[31;1mred\x1b[0m",
  "\u009b31m",
  "\u0085",
  "\x00",
  "\x07\x07",
  "\x08\x08\x08",
  "\x7f",
  "\t",
  "\x1b",
];

/** Byte sequences that are not valid UTF-8, or are easy to mishandle. */
const BAD_BYTES = [
  [0xff],
  [0xc3],
  [0xe2, 0x82],
  [0xc0, 0xaf],
  [0xed, 0xa0, 0x80],
  [0x9b],
  [0xef, 0xbb, 0xbf],
  [0x0d],
  [0xf4, 0x90, 0x80, 0x80],
];

/** One hostile line (with its ending), or a blob of random bytes. */
export function hostileSegment(random: () => number, token: string): Uint8Array {
  const ending = random() < 0.3 ? "\r\n" : "\n";
  const pick = random();
  if (pick < 0.45) {
    const parts: Uint8Array[] = [encoder.encode(token)];
    for (let i = randomInt(random, 1, 5); i > 0; i--) {
      parts.push(encoder.encode(letters(random, 0, 8)));
      parts.push(
        random() < 0.6
          ? encoder.encode(TERMINAL_TRICKS[randomInt(random, 0, TERMINAL_TRICKS.length - 1)] ?? "")
          : new Uint8Array(BAD_BYTES[randomInt(random, 0, BAD_BYTES.length - 1)] ?? []),
      );
    }
    parts.push(encoder.encode(ending));
    return concat(parts);
  }
  if (pick < 0.8) {
    // Lines at, just over and far over --max-line, and one whose cut falls
    // inside a multi-byte character.
    const lengths = [
      MAX_LINE - 1,
      MAX_LINE,
      MAX_LINE + 1,
      MAX_LINE + 2,
      2 * MAX_LINE + 17,
      5 * MAX_LINE,
    ];
    const length = lengths[randomInt(random, 0, lengths.length - 1)] ?? MAX_LINE;
    const body = new Uint8Array(Math.max(length, token.length));
    body.fill(0x78); // 'x'
    body.set(encoder.encode(token));
    if (random() < 0.3 && length > MAX_LINE) body.set([0xc3, 0xa9], MAX_LINE - 1); // e-acute
    return concat([body, encoder.encode(ending)]);
  }
  const blob = new Uint8Array(randomInt(random, 256, 8192));
  for (let i = 0; i < blob.length; i++) blob[i] = randomInt(random, 0, 255);
  return blob;
}
