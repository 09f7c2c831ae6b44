/**
 * The version both programs report, read from `deno.json` at build time so
 * there is one place to change it (and `deno compile` embeds it).
 *
 * @module
 */

import config from "../../deno.json" with { type: "json" };

/** linehub's version, as in `deno.json`. */
export const VERSION: string = config.version;
