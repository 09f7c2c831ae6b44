/**
 * What the end of a client session means, in both modes (plain, and the
 * line mode of `--retry`/`--ack`): what a server's notice makes of it and
 * whether trying again can help, the words for what was left undelivered,
 * and the hints added to a silent close or an interrupt.
 *
 * @module
 */

import { safeString } from "../text/mod.ts";
import type { ServerNotice } from "../wire/mod.ts";
import type { ClientFailure } from "./client_error.ts";
import type { TlsClientOptions } from "./tls_connect.ts";

/** The two kinds of message a session tells the user besides its failure. */
export type ReportKind = "connection" | "notice";

/** What a failure says was left when the server went away mid-input. */
export const REST_NOT_SENT = "the rest of the input was not sent";
/** What a failure says was left when the server reset or cut off the
 * connection after all input was sent: without acknowledgments the client
 * cannot know how much of it was read. */
export const END_MAYBE_UNREAD =
  "all input was sent, but the server may not have read the end of it";

/** Refusal reasons after which the same client may be served later. */
const REFUSED_FOR_NOW: ReadonlySet<string> = new Set(["full", "per-ip"]);

/** What a server's notice means for a session. */
export interface NoticeOutcome {
  /** The failure it makes of the session. */
  kind: ClientFailure;
  /** Its message, without what was left undelivered. */
  message: string;
  /** Whether reconnecting can help. */
  retry: boolean;
}

/**
 * What a notice from the server (see `server_notice.ts`) means: a refusal
 * for now (`full`, `per-ip`: `busy`, worth retrying), a refusal for good
 * (any other reason: `refused`), or a client cut off (`lost`, worth
 * retrying unless the operator kicked it: coming back would undo that).
 *
 * @example
 * ```ts
 * import { noticeOutcome } from "./session_outcome.ts";
 * import assert from "node:assert/strict";
 *
 * const full = { kind: "refused", reason: "full", text: "server full (1 client)" } as const;
 * assert.deepEqual(noticeOutcome(full, "127.0.0.1:8888"), {
 *   kind: "busy",
 *   message: "Server 127.0.0.1:8888 refused the connection: server full (1 client)",
 *   retry: true,
 * });
 * ```
 */
export function noticeOutcome(notice: ServerNotice, where: string): NoticeOutcome {
  // The server's words, shown as the server's text output shows a peer's.
  const text = safeString(notice.text);
  if (notice.kind === "refused") {
    const later = REFUSED_FOR_NOW.has(notice.reason);
    return {
      kind: later ? "busy" : "refused",
      message: `Server ${where} refused the connection: ${text}`,
      retry: later,
    };
  }
  return {
    kind: "lost",
    message: `Server ${where} closed the connection: ${text}`,
    retry: notice.reason !== "kicked",
  };
}

/** How soon after the handshake a silent close looks like a refused
 * client certificate rather than a server that just went away. */
const REFUSAL_WINDOW_MS = 2000;

/**
 * Why a TLS server may close at once without a word: a client certificate
 * it wanted, or refused (a server that checks it itself, like linehub's,
 * then just closes). "" unless the close came within
 * {@linkcode REFUSAL_WINDOW_MS} of connecting with nothing received.
 */
export function tlsCloseHint(
  tls: TlsClientOptions | undefined,
  received: boolean,
  connectedAt: number,
  now: number = Date.now(),
): string {
  if (tls === undefined || received || now - connectedAt > REFUSAL_WINDOW_MS) return "";
  return tls.keyPair === undefined
    ? " (with --tls: was a client certificate needed?)"
    : " (with --tls: was the client certificate refused?)";
}

/** " by SIGINT" when the abort reason is a signal name, else "". */
export function abortReason(signal: AbortSignal | undefined): string {
  return typeof signal?.reason === "string" ? ` by ${signal.reason}` : "";
}
