/**
 * Browser-safe helpers shared by the Node and browser hubs: torch.hub's file-naming rules.
 */
import { HubError } from './errors.js';

/**
 * torch.hub's `HASH_REGEX` (`-([a-f0-9]*)\.`): the first `-<hex>.` in a file name holds a prefix of
 * the file's SHA-256 digest, e.g. `mobilenet_v3_large-8738ca79.pth` → `8738ca79`.
 */
export const HASH_REGEX = /-([a-f0-9]*)\./;

/**
 * The SHA-256 prefix that a checkpoint file name carries by torch.hub's rule ({@link HASH_REGEX},
 * first match, lower-case hex only), or `undefined` when the name carries none. An empty match
 * (`name-.pth`) also gives `undefined`: torch accepts any digest for it.
 *
 * @example hashPrefixFromFileName('mobilenet_v3_small-047dcff4.pth') // '047dcff4'
 */
export function hashPrefixFromFileName(fileName: string): string | undefined {
  const m = HASH_REGEX.exec(fileName);
  const prefix = m?.[1];
  return prefix ? prefix : undefined;
}

/**
 * Checks and normalises an explicit SHA-256 prefix: hex digits only (any case, returned in lower
 * case), at most 64 of them. An empty string means "no check" and gives `undefined`.
 */
export function normalizeHashPrefix(prefix: string): string | undefined {
  if (!/^[0-9a-fA-F]{0,64}$/.test(prefix)) {
    throw new HubError(
      'invalid-source',
      `sha256Prefix "${prefix}" is not a SHA-256 hex prefix: give 1 to 64 hex digits (0-9, a-f), or false to skip the check`,
    );
  }
  return prefix === '' ? undefined : prefix.toLowerCase();
}

/** Whether a hex digest starts with the expected prefix (both compared in lower case). */
export function digestMatches(digestHex: string, prefix: string): boolean {
  return digestHex.toLowerCase().startsWith(prefix.toLowerCase());
}

/**
 * The cache file name for a URL: `fileName` when given, else the last segment of the URL's path as
 * torch.hub takes it (`os.path.basename(urlparse(url).path)`, not percent-decoded). Throws a
 * {@link HubError} for names that are empty or could escape the cache directory.
 */
export function cacheFileName(url: URL, fileName?: string): string {
  const name = fileName ?? url.pathname.slice(url.pathname.lastIndexOf('/') + 1);
  if (name === '' || name === '.' || name === '..' || /[/\\\0]/.test(name)) {
    throw new HubError(
      'invalid-source',
      fileName === undefined
        ? `cannot name the cache file for ${url.href}: its path has no file name; pass { fileName: 'name-<sha256 prefix>.pth' }`
        : `fileName "${fileName}" is not a plain file name: it must be non-empty and contain no "/", "\\" or NUL, and not be "." or ".."`,
      { url: url.href },
    );
  }
  return name;
}

/** Parses an http(s) URL for a download, with a {@link HubError} naming what is wrong otherwise. */
export function parseHttpUrl(url: string | URL): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new HubError('invalid-source', `"${String(url)}" is not a URL: weights can be downloaded from http:// or https:// URLs only`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new HubError(
      'invalid-source',
      `cannot download ${parsed.href}: only http:// and https:// URLs are supported (for a local file, pass its path instead)`,
      { url: parsed.href },
    );
  }
  return parsed;
}

/** A byte count for people: `512 B`, `21.1 MiB` (powers of 1024, like torch's tqdm bar). */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
}

/**
 * Progress reports: bytes received so far, and the total from `Content-Length` (`undefined` when the
 * server sent none). Called once with 0 when the response arrives, then after every chunk.
 */
export type ProgressCallback = (received: number, total: number | undefined) => void;

/**
 * The hash prefix a download must match: the explicit option (`false`: no check), else the one
 * in the file name by torch.hub's rule.
 */
export function expectedHashPrefix(fileName: string, option: string | false | undefined): string | undefined {
  if (option === false) return undefined;
  return option !== undefined ? normalizeHashPrefix(option) : hashPrefixFromFileName(fileName);
}

/** Where checkpoint bytes come from: a path (Node) or URL, or the bytes themselves. */
export type BytesSource = string | URL | Uint8Array | ArrayBuffer | ArrayBufferView;
