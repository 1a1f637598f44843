// What the Node and browser downloads share: the response's announced length, and the read loop
// that turns a cut connection or an abort into a HubError and checks the length at the end.
import { HubError } from './errors.js';

export function isAbort(e: unknown, signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true || (e instanceof Error && e.name === 'AbortError');
}

export function abortedError(url: string, e: unknown): HubError {
  return new HubError('aborted', `download of ${url} was aborted; nothing was cached`, { url, cause: e });
}

/** `Content-Length` when it counts the body's bytes (no content encoding), else undefined. */
export function expectedLength(res: Response): number | undefined {
  const encoding = res.headers.get('content-encoding');
  if (encoding && encoding.toLowerCase() !== 'identity') return undefined;
  const header = res.headers.get('content-length');
  if (header === null || !/^\d+$/.test(header.trim())) return undefined;
  const n = Number(header.trim());
  return Number.isSafeInteger(n) ? n : undefined;
}

export interface ReadBodyOptions {
  href: string;
  total: number | undefined;
  signal: AbortSignal | undefined;
  /** Takes each chunk (write it, hash it, keep it); a throw cancels the body. */
  onChunk(chunk: Uint8Array): void | Promise<void>;
  /** Called with the bytes received so far: 0 first, then after each chunk. */
  report?: (received: number) => void;
  /** Says why a read failed, for the message. */
  describe?: (e: unknown) => string;
  /** Extra fields of the errors (the Node hub's cache path). */
  path?: string;
}

/**
 * Reads a response body to its end, chunk by chunk. Throws `HubError('interrupted')` when the
 * connection breaks or ends before `total` bytes, `HubError('aborted')` on abort.
 *
 * @returns the number of bytes received.
 */
export async function readBody(res: Response, o: ReadBodyOptions): Promise<number> {
  const reader = res.body?.getReader();
  const { href, total, signal } = o;
  let received = 0;
  o.report?.(0);
  for (;;) {
    let chunk: ReadableStreamReadResult<Uint8Array> | undefined;
    try {
      chunk = await reader?.read();
    } catch (e) {
      if (isAbort(e, signal)) throw abortedError(href, e);
      const why = o.describe ? ` (${o.describe(e)})` : '';
      throw new HubError(
        'interrupted',
        `download of ${href} was interrupted after ${received}${total === undefined ? '' : ` of ${total}`} bytes${why}; nothing was cached. Run it again to retry.`,
        { url: href, path: o.path, cause: e },
      );
    }
    if (!chunk || chunk.done) break;
    try {
      await o.onChunk(chunk.value);
    } catch (e) {
      await reader?.cancel().catch(() => undefined);
      throw e;
    }
    received += chunk.value.byteLength;
    o.report?.(received);
  }
  if (total !== undefined && received !== total) {
    throw new HubError(
      'interrupted',
      `download of ${href} ended after ${received} bytes but the server announced ${total} (Content-Length); nothing was cached. Run it again to retry.`,
      { url: href, path: o.path },
    );
  }
  if (signal?.aborted) throw abortedError(href, signal.reason);
  return received;
}
