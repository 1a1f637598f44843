/** Why weights could not be downloaded, verified or read. */
export type HubErrorCode =
  /** The source is not a usable URL, path or byte buffer, or the cache file name is unsafe. */
  | 'invalid-source'
  /** A local file (path or `file://` URL) does not exist. */
  | 'not-found'
  /** The server answered with an HTTP error status (404, 500, …). */
  | 'http-status'
  /** The server could not be reached at all (connection refused, DNS failure, no network). */
  | 'offline'
  /** The request failed before any response for another reason (blocked port, TLS, proxy, …). */
  | 'network'
  /** The connection closed before the whole file arrived. */
  | 'interrupted'
  /** The caller's `AbortSignal` fired. */
  | 'aborted'
  /** The cache directory cannot be created or written to. */
  | 'cache-unwritable'
  /** The downloaded bytes' SHA-256 does not start with the expected prefix. */
  | 'hash-mismatch';

/**
 * A weights download or load that failed, with a machine-readable {@link HubErrorCode} and a message
 * that names the problem and what to do about it. When it is thrown by a download, nothing was
 * cached: the temporary `.partial` file has been removed.
 */
export class HubError extends Error {
  constructor(
    readonly code: HubErrorCode,
    message: string,
    /** What failed: the URL, the local (cache) path, the HTTP status, the underlying error. */
    readonly details: { url?: string; path?: string; status?: number; cause?: unknown } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'HubError';
  }
}
