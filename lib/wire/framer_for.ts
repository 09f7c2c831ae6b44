/**
 * What `--framing` may say, and the framer each choice gives a connection:
 * `lf`, a {@linkcode LineFramer} (a `\n` ends each message, the default);
 * `octet`, an {@linkcode OctetFramer} (RFC 6587 octet counting, what
 * rsyslog's `omfwd` with `TCP_Framing="octet-counted"` and syslog-ng's
 * `syslog()` destination send); `auto`, an {@linkcode AutoFramer}, which
 * lets each connection's first byte choose. A server makes the choice once
 * per connection, when its pipeline is built, so nothing on a line's path
 * asks which framing it has: `lf` is the same framer, and the same fast
 * path, as before there was a choice.
 *
 * @module
 */

import { AutoFramer } from "./auto_framer.ts";
import type { Framer } from "./framer.ts";
import { LineFramer } from "./line_framer.ts";
import { OctetFramer, type OctetFramerOptions } from "./octet_framer.ts";

/** The names `--framing` takes. */
export const FRAMING_CHOICES = ["lf", "octet", "auto"] as const;

/** One of {@linkcode FRAMING_CHOICES}. */
export type FramingChoice = typeof FRAMING_CHOICES[number];

/** The framing unless told otherwise: lines ending in `\n`, as `nc` sends. */
export const DEFAULT_FRAMING: FramingChoice = "lf";

/** Options for {@linkcode framerFor}: those of the framers. `keepCr` is for
 * lines framed by LF, `onFramingError` for octet counting; each framer
 * takes what applies to it. */
export type FramerForOptions = OctetFramerOptions;

/**
 * A new framer for one connection, as `choice` says.
 *
 * @example
 * ```ts
 * import { framerFor } from "./framer_for.ts";
 * import { LineFramer } from "./line_framer.ts";
 * import assert from "node:assert/strict";
 *
 * assert.ok(framerFor("lf", { maxLine: 100 }) instanceof LineFramer);
 * assert.throws(() => framerFor("cr" as "lf"), /Invalid framing "cr": must be one of lf, octet, auto/);
 * ```
 *
 * @throws {RangeError} for a choice that is none of {@linkcode FRAMING_CHOICES}
 */
export function framerFor(choice: FramingChoice, options: FramerForOptions = {}): Framer {
  switch (choice) {
    case "lf":
      return new LineFramer(options);
    case "octet":
      return new OctetFramer(options);
    case "auto":
      return new AutoFramer(options);
    default:
      throw new RangeError(
        `Invalid framing "${choice}": must be one of ${FRAMING_CHOICES.join(", ")}`,
      );
  }
}
