import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { downloadWeights } from './download.js';
import type { DownloadOptions } from './download.js';
import { HubError } from './errors.js';
import type { BytesSource } from './hash.js';


/** A scheme such as `https://` (two or more letters, so Windows drive letters stay paths). */
const SCHEME = /^([a-zA-Z][a-zA-Z0-9+.-]+):/;

/** Bytes as a plain `Uint8Array` view (no copy). */
function asUint8Array(bytes: ArrayBuffer | ArrayBufferView): Uint8Array {
  if (bytes instanceof ArrayBuffer) return new Uint8Array(bytes);
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

async function readLocal(path: string, shownAs: string): Promise<Uint8Array> {
  try {
    return asUint8Array(await readFile(path));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new HubError('not-found', `weights file ${shownAs} does not exist: check the path (relative paths start at ${process.cwd()})`, {
        path,
        cause: e,
      });
    }
    if (code === 'EISDIR') {
      throw new HubError('invalid-source', `weights source ${shownAs} is a directory: pass the checkpoint file inside it`, { path, cause: e });
    }
    throw new HubError('invalid-source', `cannot read weights file ${shownAs}: ${(e as Error).message}`, { path, cause: e });
  }
}

/**
 * Reads weights from any {@link BytesSource} into a `Uint8Array` (what the CLI's `--weights SRC`
 * accepts):
 *
 * - `Uint8Array` / `Buffer` / other views / `ArrayBuffer`: returned as a `Uint8Array` view, no copy;
 * - `http://` / `https://` URL: through {@link downloadWeights} (cached, hash-checked), then read;
 * - `file://` URL: the file it names;
 * - any other string: a local path.
 *
 * @example const bytes = await loadBytes(process.argv[2] ?? 'https://…/mobilenet_v3_small-047dcff4.pth');
 */
export async function loadBytes(src: BytesSource, options: DownloadOptions = {}): Promise<Uint8Array> {
  if (src instanceof ArrayBuffer || ArrayBuffer.isView(src)) return asUint8Array(src);
  if (src instanceof URL || (typeof src === 'string' && SCHEME.test(src))) {
    const text = String(src);
    const scheme = (src instanceof URL ? src.protocol.slice(0, -1) : SCHEME.exec(text)?.[1] ?? '').toLowerCase();
    if (scheme === 'http' || scheme === 'https') return readLocal(await downloadWeights(src, options), text);
    if (scheme === 'file') {
      let path: string;
      try {
        path = fileURLToPath(src);
      } catch (e) {
        throw new HubError('invalid-source', `cannot use ${text} as a file: ${(e as Error).message}`, { cause: e });
      }
      return readLocal(path, text);
    }
    throw new HubError(
      'invalid-source',
      `unsupported weights source ${text}: use a local path, a file:// URL, an http(s):// URL, or the bytes themselves`,
    );
  }
  if (typeof src === 'string') {
    if (src === '') throw new HubError('invalid-source', 'the weights source is an empty string: pass a path, a URL or bytes');
    return readLocal(src, src);
  }
  throw new HubError('invalid-source', `unsupported weights source of type ${typeof src}: use a path, a URL or bytes`);
}
