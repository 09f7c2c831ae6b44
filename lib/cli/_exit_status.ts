/**
 * The exit statuses of both programs, in one place, as their usage texts and
 * the README list them. 0, 1, 2 and 4 mean the same for both; 3 is the one
 * that differs: for the server, clients cut off at the drain deadline; for
 * the client, the server went away before its input was all delivered.
 *
 * @module
 */

/** Everything done: a clean shutdown, or all input sent (acknowledged). */
export const EXIT_OK = 0;
/** A runtime failure: cannot listen or connect, cannot open a file. */
export const EXIT_FAILURE = 1;
/** Bad usage: a flag or argument refused before any I/O. */
export const EXIT_USAGE = 2;
/** Server: the drain timeout cut clients off; everything received was
 * still written. */
export const EXIT_CUT_OFF = 3;
/** Client: the server went away (closed, reset, or cut the client off,
 * saying why) before all input was sent, or, with `--ack`, acknowledged; or,
 * without `--ack`, reset the connection before it could have read it all. */
export const EXIT_LOST = 3;
/** The output failed: the server's stdout or file while running, the
 * client's stdout (its reader went away). */
export const EXIT_OUTPUT = 4;
/** Client: the server refused it for now (full, or too many connections
 * from its address), after any retries: trying later may succeed. */
export const EXIT_BUSY = 5;
/** Client: the server refused it and trying again cannot help: denied by
 * its access rules, TLS on one side only, a client certificate refused. */
export const EXIT_REFUSED = 6;
/** Stopped by a signal: 128 + its number (SIGHUP 129, SIGINT 130, SIGTERM
 * 143); for the server, a second one that cut the drain short. */
export const EXIT_SIGHUP = 129;
export const EXIT_SIGINT = 130;
export const EXIT_SIGTERM = 143;
