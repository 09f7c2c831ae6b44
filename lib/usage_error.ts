/**
 * The error for a bad command line: a flag that does not exist, a value out of
 * range, flags that conflict. The entry points print its message with the
 * usage text and exit with status 2, before any socket or file is opened.
 *
 * @module
 */

/** A problem with the command line, reported with the usage and exit status 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}
