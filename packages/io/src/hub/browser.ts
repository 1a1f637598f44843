/**
 * `@mnv3/io/hub-browser`: download-and-cache for checkpoints in browsers, on the Cache Storage
 * API (`caches`), with the same hash rules and errors as the Node hub (`@mnv3/io/hub`). Bytes
 * are returned instead of file paths. No Node built-ins and no progress-bar dependency.
 */
import { abortedError, expectedLength, isAbort, readBody } from './body.js';
import { HubError } from './errors.js';
import { cacheFileName, digestMatches, expectedHashPrefix, parseHttpUrl } from './hash.js';
import type { BytesSource, ProgressCallback } from './hash.js';

export type { HubErrorCode } from './errors.js';
export { HubError } from './errors.js';
export type { BytesSource, ProgressCallback } from './hash.js';
export { HASH_REGEX, hashPrefixFromFileName, formatBytes } from './hash.js';

/** The Cache Storage cache that holds downloaded checkpoints unless told otherwise. */
export const DEFAULT_CACHE_NAME = 'mnv3-checkpoints';

/** Options for the browser {@link downloadWeights}. */
export interface BrowserDownloadOptions {
  /**
   * The expected prefix of the file's SHA-256 hex digest. Default: from the file name by torch.hub's
   * rule (`mobilenet_v3_large-8738ca79.pth` → `8738ca79`); `false` skips the check.
   */
  sha256Prefix?: string | false;
  /** The file name the hash prefix is read from. Default: the last segment of the URL's path. */
  fileName?: string;
  /** The Cache Storage cache to use (default {@link DEFAULT_CACHE_NAME}); `false`: no caching. */
  cacheName?: string | false;
  /** Called with `(received, total)`: once with 0 when the response arrives, then per chunk. */
  progress?: ProgressCallback;
  /** Cancels the download; nothing is cached. */
  signal?: AbortSignal;
  /** The `fetch` to use (default: the global one). */
  fetch?: typeof globalThis.fetch;
}

/** The cache to use, or `undefined` where Cache Storage is missing (insecure contexts, Node). */
async function openCache(name: string | false | undefined): Promise<Cache | undefined> {
  if (name === false || typeof caches === 'undefined') return undefined;
  try {
    return await caches.open(name ?? DEFAULT_CACHE_NAME);
  } catch {
    return undefined; // e.g. storage disabled in private browsing: download without caching
  }
}

const FILE_HINT = 'If you have the file, load it from disk instead (e.g. an <input type="file">) and pass its bytes.';

/**
 * Returns a checkpoint's bytes, from Cache Storage when they are there (no request at all),
 * otherwise downloaded, checked against the expected SHA-256 prefix and then stored in the cache.
 * A failed, interrupted, aborted or mismatching download caches nothing and throws a
 * {@link HubError}. Where Cache Storage is unavailable the file is downloaded every time.
 */
export async function downloadWeights(url: string | URL, options: BrowserDownloadOptions = {}): Promise<Uint8Array> {
  const parsed = parseHttpUrl(url);
  const href = parsed.href;
  const name = cacheFileName(parsed, options.fileName);
  const prefix = expectedHashPrefix(name, options.sha256Prefix);
  const cache = await openCache(options.cacheName);
  const hit = await cache?.match(href);
  if (hit) return new Uint8Array(await hit.arrayBuffer());

  const { signal } = options;
  if (signal?.aborted) throw abortedError(href, signal.reason);
  const doFetch = options.fetch ?? globalThis.fetch;
  let res: Response;
  try {
    res = await doFetch(href, { signal });
  } catch (e) {
    if (isAbort(e, signal)) throw abortedError(href, e);
    const offline = typeof navigator !== 'undefined' && navigator.onLine === false;
    throw new HubError(
      offline ? 'offline' : 'network',
      `could not download ${href}: ${e instanceof Error ? e.message : String(e)}. ` +
        (offline
          ? 'This browser is offline. '
          : 'The network is down, the server is unreachable, or it does not allow cross-origin requests (CORS). ') +
        FILE_HINT,
      { url: href, cause: e },
    );
  }
  if (!res.ok) {
    await res.body?.cancel().catch(() => undefined);
    throw new HubError('http-status', `could not download ${href}: the server answered HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}. ${FILE_HINT}`, {
      url: href,
      status: res.status,
    });
  }
  const total = expectedLength(res);
  const chunks: Uint8Array[] = [];
  const received = await readBody(res, { href, total, signal, report: (n) => options.progress?.(n, total), onChunk: (c) => void chunks.push(c) });
  const bytes = new Uint8Array(received);
  let off = 0;
  for (const c of chunks) {
    bytes.set(c, off);
    off += c.byteLength;
  }
  if (prefix !== undefined) {
    const digest = [...new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))].map((b) => b.toString(16).padStart(2, '0')).join('');
    if (!digestMatches(digest, prefix)) {
      throw new HubError(
        'hash-mismatch',
        `the file downloaded from ${href} is not the expected one: its SHA-256 is ${digest}, which does not start with the expected prefix "${prefix}". ` +
          'Nothing was cached. Check the URL, or pass { sha256Prefix: false } if the file is right and its name is not.',
        { url: href },
      );
    }
  }
  try {
    await cache?.put(href, new Response(bytes, { headers: { 'content-type': 'application/octet-stream', 'content-length': String(received) } }));
  } catch {
    // Quota exceeded or storage disabled: the bytes are still good, they just are not cached.
  }
  return bytes;
}

/** Removes one URL's cached checkpoint, or the whole cache when `url` is omitted. Resolves to whether anything was removed. */
export async function clearWeightsCache(url?: string | URL, cacheName: string = DEFAULT_CACHE_NAME): Promise<boolean> {
  if (typeof caches === 'undefined') return false;
  if (url === undefined) return caches.delete(cacheName);
  return (await caches.open(cacheName)).delete(String(url));
}

/** Where weights come from in a browser: a URL (absolute, or relative to the page), a `Blob`/`File`, or bytes. */
export type BrowserBytesSource = BytesSource | Blob;

/**
 * Reads weights from any {@link BrowserBytesSource} into a `Uint8Array`: bytes pass through (no
 * copy), a `Blob`/`File` is read, `http(s)` URLs (relative ones against the page) go through
 * {@link downloadWeights}, and `blob:`/`data:` URLs are fetched directly.
 */
export async function loadBytes(src: BrowserBytesSource, options: BrowserDownloadOptions = {}): Promise<Uint8Array> {
  if (src instanceof ArrayBuffer) return new Uint8Array(src);
  if (ArrayBuffer.isView(src)) return new Uint8Array(src.buffer, src.byteOffset, src.byteLength);
  if (typeof Blob !== 'undefined' && src instanceof Blob) return new Uint8Array(await src.arrayBuffer());
  let url: URL;
  try {
    url = new URL(String(src), typeof location === 'undefined' ? undefined : location.href);
  } catch {
    throw new HubError('invalid-source', `weights source "${String(src)}" is not a URL: pass an http(s) URL, a File/Blob, or the bytes themselves`);
  }
  if (url.protocol === 'http:' || url.protocol === 'https:') return downloadWeights(url, options);
  if (url.protocol === 'blob:' || url.protocol === 'data:') {
    const res = await (options.fetch ?? globalThis.fetch)(url.href, { signal: options.signal });
    if (!res.ok) throw new HubError('http-status', `could not read ${url.href}: HTTP ${res.status}`, { url: url.href, status: res.status });
    return new Uint8Array(await res.arrayBuffer());
  }
  throw new HubError(
    'invalid-source',
    `unsupported weights source ${url.href} in a browser: use an http(s), blob: or data: URL, a File/Blob, or the bytes themselves`,
  );
}
