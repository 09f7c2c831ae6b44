/**
 * Human-facing wording: untrusted bytes and strings made safe for a terminal
 * and for JSON, errors described in a few words, counts with their nouns,
 * and the error a bad command line throws. Imports nothing of lib/.
 *
 * @module
 */

export * from "./count_of.ts";
export * from "./error_text.ts";
export * from "./safe_text.ts";
export * from "./usage_error.ts";
