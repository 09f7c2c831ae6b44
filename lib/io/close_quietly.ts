/**
 * {@linkcode closeQuietly}: closing a connection, listener or file that may
 * already be closed, as every cleanup path does.
 *
 * @module
 */

/** Closes `resource`, ignoring that it was closed already. */
export function closeQuietly(resource: { close(): void }): void {
  try {
    resource.close();
  } catch {
    // Already closed.
  }
}
