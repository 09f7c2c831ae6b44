/**
 * The server's TLS files, read at start-up and again on SIGHUP:
 * {@linkcode readTlsCredentials} reads and checks `--tls-cert`, `--tls-key`
 * and `--tls-client-ca`, and {@linkcode TlsReloader} re-reads them on each
 * SIGHUP, so that a renewed certificate is served without a restart: new
 * handshakes get it, connected clients stay as they are. A bad new file
 * changes nothing; the one line it is reported in names it.
 *
 * @module
 */

import { certificateSummary, readCertificates, readKeyPair } from "../net/mod.ts";
import type { TlsCredentials } from "../server/mod.ts";
import { describeError } from "../text/mod.ts";

/** The files the TLS flags name. */
export interface TlsFiles {
  /** `--tls-cert`: the certificate (chain), PEM. */
  readonly cert: string;
  /** `--tls-key`: its private key, PEM. */
  readonly key: string;
  /** `--tls-client-ca`: the CAs client certificates must come from. */
  readonly clientCa: string | undefined;
}

/**
 * Reads and checks `files`: the certificate parses and the key belongs to
 * it, and the client CA file holds certificates. Given `validAt`, a
 * certificate not valid then (expired, not yet valid) is refused too.
 * Throws `TlsFileError` naming the file.
 */
export async function readTlsCredentials(
  files: TlsFiles,
  validAt?: Date,
): Promise<TlsCredentials> {
  const keyPair = await readKeyPair(
    files.cert,
    files.key,
    validAt === undefined ? {} : { validAt },
  );
  if (files.clientCa === undefined) return { keyPair };
  return { keyPair, clientCa: await readCertificates(files.clientCa) };
}

/** Re-reads the TLS files on request and has the server serve them. */
export class TlsReloader {
  readonly #files: TlsFiles;
  readonly #apply: (credentials: TlsCredentials) => void | Promise<void>;
  readonly #say: (line: string) => void;
  /** The reload in progress, if any: the next waits for it, so two quick
   * SIGHUPs cannot apply their files in the wrong order. */
  #last: Promise<void> = Promise.resolve();

  /**
   * @param files the files to read again each time
   * @param apply has the server serve what they hold (a `TlsAcceptor`'s
   * `reload`, or a pool's `reloadTls`, which resolves once every Worker has it)
   * @param say reports the outcome, one line without its newline
   */
  constructor(
    files: TlsFiles,
    apply: (credentials: TlsCredentials) => void | Promise<void>,
    say: (line: string) => void,
  ) {
    this.#files = files;
    this.#apply = apply;
    this.#say = say;
  }

  /** Reads the files again and, if they are good, serves them from the next
   * handshake on; either way says so once done. Resolves then. */
  reload(): Promise<void> {
    this.#last = this.#last.then(() => this.#reloadNow());
    return this.#last;
  }

  async #reloadNow(): Promise<void> {
    let credentials: TlsCredentials;
    try {
      // A certificate outside its dates is refused here, not at start-up:
      // there is one in use that may still work, and it is kept.
      credentials = await readTlsCredentials(this.#files, new Date());
      await this.#apply(credentials);
    } catch (error) {
      this.#say(
        "Cannot reload the TLS files, still serving the old certificate: " +
          (error instanceof Error ? error.message : describeError(error)),
      );
      return;
    }
    this.#say(
      `reloaded the TLS files; new handshakes get ${certificateSummary(credentials.keyPair.cert)}`,
    );
  }
}
