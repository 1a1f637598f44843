/**
 * Downloads checkpoints into the cache: the analogue of torch.hub's `load_state_dict_from_url`
 * (the caching part) and `download_url_to_file`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheDir } from './cache-dir.js';
import { abortedError, expectedLength, isAbort, readBody } from './body.js';
import { HubError } from './errors.js';
import { cacheFileName, digestMatches, expectedHashPrefix, parseHttpUrl } from './hash.js';
import type { ProgressCallback } from './hash.js';
import { startTerminalProgress } from './terminal-progress.js';
import type { ProgressBar } from './terminal-progress.js';

/** Options for {@link downloadWeights}. */
export interface DownloadOptions {
  /**
   * The expected prefix of the file's SHA-256 hex digest. Default: taken from the cache file name by
   * torch.hub's rule (`mobilenet_v3_large-8738ca79.pth` → `8738ca79`, see `hashPrefixFromFileName`);
   * no check when the name carries none. `false` skips the check.
   */
  sha256Prefix?: string | false;
  /** The cache file name. Default: the last segment of the URL's path. */
  fileName?: string;
  /** The cache directory. Default: {@link cacheDir}(). */
  dir?: string;
  /**
   * Progress display. Default (`undefined`): a bar on stderr when stderr is a TTY. `true`: a bar on
   * stderr even when it is not a TTY (one line per update). `false`: nothing. A function: called with
   * `(received, total)` instead of drawing anything.
   */
  progress?: boolean | ProgressCallback;
  /** Cancels the download; the partial file is removed and nothing is cached. */
  signal?: AbortSignal;
  /** The `fetch` to use (default: the global one, Node's undici). */
  fetch?: typeof globalThis.fetch;
}

/**
 * A weights entry whose file ships inside a package (`file:` URL, e.g. `FASHION_MNIST_V1`): nothing
 * to download or cache, but its bytes are checked against the hash prefix all the same, so a
 * damaged install fails loudly instead of giving wrong answers.
 */
async function checkBundled(url: string | URL, sha256Prefix: string | false | undefined): Promise<string> {
  let path: string;
  try {
    path = fileURLToPath(url);
  } catch (e) {
    throw new HubError('invalid-source', `cannot use ${String(url)} as a file: ${(e as Error).message}`, { cause: e });
  }
  const prefix = expectedHashPrefix(basename(path), sha256Prefix);
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new HubError('not-found', `the bundled weights file ${path} cannot be read (${(e as Error).message}): reinstall the package that ships it`, { path, cause: e });
  }
  if (prefix !== undefined) {
    const digest = createHash('sha256').update(bytes).digest('hex');
    if (!digestMatches(digest, prefix)) {
      throw new HubError('hash-mismatch', `the bundled weights file ${path} is damaged: its SHA-256 is ${digest}, which does not start with "${prefix}"; reinstall the package that ships it`, { path });
    }
  }
  return path;
}

/** Network error codes that mean the server could not be reached at all. */
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ENETDOWN',
  'EHOSTDOWN',
  'ETIMEDOUT',
  'ECONNRESET',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
]);

/** The first `code` (e.g. `ECONNREFUSED`) along an error's `cause` chain. */
function errorCode(e: unknown): string | undefined {
  for (let cur = e, depth = 0; cur && typeof cur === 'object' && depth < 8; depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    const errors = (cur as { errors?: unknown }).errors;
    if (Array.isArray(errors) && errors.length > 0) {
      const inner = errorCode(errors[0]);
      if (inner) return inner;
    }
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

function describe(e: unknown): string {
  const code = errorCode(e);
  const msg = e instanceof Error ? e.message : String(e);
  const cause = e instanceof Error && e.cause instanceof Error ? `: ${e.cause.message}` : '';
  return code && !`${msg}${cause}`.includes(code) ? `${msg}${cause} (${code})` : `${msg}${cause}`;
}

function unwritable(dir: string, url: string, dest: string, e: unknown): HubError {
  return new HubError(
    'cache-unwritable',
    `cannot write to the cache directory ${dir} (${describe(e)}): set MNV3_HOME to a writable directory, or pass { dir }`,
    { url, path: dest, cause: e },
  );
}

function offlineHint(url: string, dest: string): string {
  return (
    `Download ${url} on a machine with internet access and pass the file's path instead ` +
    `(e.g. the CLI's --weights FILE), or place it at ${dest}`
  );
}

/** Parses `Content-Length` when the body arrives as sent (no content coding that fetch would undo). */
/**
 * A `.partial` file untouched for this long belongs to a download that was killed (Ctrl-C, crash)
 * before it could clean up: live downloads write to theirs continuously.
 */
const STALE_PARTIAL_MS = 10 * 60 * 1000;

/** Removes `<name>.<random>.partial` files left by killed downloads (best effort). */
async function removeStalePartials(dir: string, name: string): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch {
    return;
  }
  const now = Date.now();
  for (const entry of entries) {
    if (!entry.startsWith(`${name}.`) || !/^\.[0-9a-f]{12}\.partial$/.test(entry.slice(name.length))) continue;
    const path = join(dir, entry);
    try {
      if (now - (await stat(path)).mtimeMs > STALE_PARTIAL_MS) await rm(path, { force: true });
    } catch {
      // gone already, or not ours to remove
    }
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/**
 * Returns the local path of a checkpoint, downloading it into the cache first when it is not there.
 *
 * - A cache hit (the file `<dir>/<fileName>` exists) returns at once, without any request.
 * - Otherwise the body is streamed to `<fileName>.<random>.partial` in the same directory while its
 *   SHA-256 is computed; when the whole body has arrived (as many bytes as `Content-Length` said)
 *   and the digest starts with the expected prefix, the file is renamed into place atomically.
 * - On any failure (HTTP error status, unreachable server, connection closed early, abort, hash
 *   mismatch) the partial file is deleted and a {@link HubError} is thrown: a later run never finds
 *   a broken file under the cached name. (A process killed mid-download cannot clean up; its
 *   `.partial` file is never read, and the next download of the same name removes it once it has
 *   been untouched for 10 minutes.)
 *
 * Node only (`@mnv3/io/hub`); browsers use `@mnv3/io/hub-browser`.
 *
 * @example
 * const path = await downloadWeights('https://download.pytorch.org/models/mobilenet_v3_large-8738ca79.pth');
 */
export async function downloadWeights(url: string | URL, options: DownloadOptions = {}): Promise<string> {
  if (String(url).toLowerCase().startsWith('file:')) return checkBundled(url, options.sha256Prefix);
  const parsed = parseHttpUrl(url);
  const href = parsed.href;
  const name = cacheFileName(parsed, options.fileName);
  const prefix = expectedHashPrefix(name, options.sha256Prefix);
  const dir = options.dir ?? cacheDir();
  const dest = join(dir, name);
  if (await exists(dest)) return dest;

  const { signal } = options;
  if (signal?.aborted) throw abortedError(href, signal.reason);
  try {
    await mkdir(dir, { recursive: true });
  } catch (e) {
    throw unwritable(dir, href, dest, e);
  }
  await removeStalePartials(dir, name);

  const doFetch = options.fetch ?? globalThis.fetch;
  let res: Response;
  try {
    res = await doFetch(href, { signal, redirect: 'follow', headers: { 'user-agent': 'mnv3-hub', 'accept-encoding': 'identity' } });
  } catch (e) {
    if (isAbort(e, signal)) throw abortedError(href, e);
    const code = errorCode(e);
    const offline = code !== undefined && UNREACHABLE.has(code);
    throw new HubError(
      offline ? 'offline' : 'network',
      `could not download ${href}: ${describe(e)}. ` +
        (offline ? 'This machine seems to be offline, or the server is unreachable. ' : '') +
        `${offlineHint(href, dest)}.`,
      { url: href, path: dest, cause: e },
    );
  }
  if (!res.ok) {
    await res.body?.cancel().catch(() => undefined);
    throw new HubError(
      'http-status',
      `could not download ${href}: the server answered HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}. ` +
        (res.status === 404 ? 'Check the URL (or the weights name). ' : res.status >= 500 ? 'The server failed; try again later. ' : '') +
        `If you have the file, pass its path instead (e.g. the CLI's --weights FILE), or place it at ${dest}.`,
      { url: href, path: dest, status: res.status },
    );
  }
  const total = expectedLength(res);

  const progress = options.progress;
  let report: ((received: number) => void) | undefined;
  let bar: ProgressBar | undefined;
  if (typeof progress === 'function') {
    report = (received) => progress(received, total);
  } else if (progress === true || (progress === undefined && process.stderr.isTTY)) {
    process.stderr.write(`Downloading: "${href}" to ${dest}\n`);
    bar = await startTerminalProgress(total, { label: name, stream: process.stderr, force: progress === true });
    report = bar ? (received) => bar?.update(received, total) : undefined;
  }

  const partial = join(dir, `${name}.${randomBytes(6).toString('hex')}.partial`);
  let file: FileHandle;
  try {
    file = await open(partial, 'wx');
  } catch (e) {
    bar?.stop();
    await res.body?.cancel().catch(() => undefined);
    throw unwritable(dir, href, dest, e);
  }
  let closed = false;
  let done = false;
  try {
    const hash = createHash('sha256');
    await readBody(res, {
      href,
      total,
      signal,
      path: dest,
      describe,
      report,
      onChunk: async (chunk) => {
        await file.write(chunk);
        hash.update(chunk);
      },
    });
    await file.sync();
    await file.close();
    closed = true;
    const digest = hash.digest('hex');
    if (prefix !== undefined && !digestMatches(digest, prefix)) {
      throw new HubError(
        'hash-mismatch',
        `the file downloaded from ${href} is not the expected one: its SHA-256 is ${digest}, ` +
          `which does not start with the expected prefix "${prefix}"${options.sha256Prefix === undefined ? ` (from the file name ${name})` : ''}. ` +
          'Nothing was cached. Check the URL; if the file is right and the name is not, pass { sha256Prefix: false } or the right prefix.',
        { url: href, path: dest },
      );
    }
    await rename(partial, dest);
    done = true;
    return dest;
  } finally {
    bar?.stop();
    if (!closed) await file.close().catch(() => undefined);
    if (!done) await rm(partial, { force: true }).catch(() => undefined);
  }
}
