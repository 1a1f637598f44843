import { readBrowserImage, type BrowserImageSource } from './browser.js';
import { decodeImage } from './decode.js';
import { ImageError, checkImageSize, type RgbImage } from './image.js';

/**
 * Anything a user may hold an image as: a file path (Node), an http(s) URL, encoded PNG/JPEG bytes
 * (`Uint8Array`, `Buffer`, `ArrayBuffer`), a browser image source (`Blob`, `ImageData`,
 * `HTMLImageElement`, `HTMLCanvasElement`, `HTMLVideoElement`, `ImageBitmap`, `OffscreenCanvas`),
 * or an `RgbImage`. (The task pipelines in `@mnv3/layers` also take an RGB tfjs tensor.)
 */
export type ImageSource = string | URL | Uint8Array | ArrayBuffer | ArrayBufferView | BrowserImageSource | RgbImage;

// Checked through globalThis so the module type-checks and runs without Node's types.
const isNode = !!(globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node;
// Kept out of bundlers' sight: the Node-only module is loaded only under Node.
const NODE_ENTRY = '../node.js';

function isRgbImage(v: unknown): v is RgbImage {
  const o = v as RgbImage;
  return typeof v === 'object' && v !== null && o.data instanceof Uint8Array && typeof o.width === 'number' && typeof o.height === 'number' && !('colorSpace' in o);
}

/**
 * Loads an image from any `ImageSource` into an 8-bit RGB image, decoding PNG and JPEG as
 * Pillow's `Image.open(...).convert('RGB')` does.
 *
 * @returns uint8 HWC RGB image.
 * @example const img = await loadImage('cat.png'); // Node; in browsers: await loadImage(imgElement)
 */
export async function loadImage(source: ImageSource): Promise<RgbImage> {
  if (typeof source === 'string' || source instanceof URL) {
    const s = String(source);
    if (/^https?:\/\//i.test(s) || !isNode) {
      let response: Response;
      try {
        response = await fetch(s);
      } catch (e) {
        throw new ImageError('invalid-argument', `could not fetch image ${s}: ${(e as Error).message}`);
      }
      if (!response.ok) throw new ImageError('invalid-argument', `could not fetch image ${s}: HTTP ${response.status}`);
      return decodeImage(new Uint8Array(await response.arrayBuffer()));
    }
    const node = (await import(/* @vite-ignore */ NODE_ENTRY)) as { readImageFile(path: string): Promise<RgbImage> };
    const path = s.startsWith('file:') ? decodeURIComponent(new URL(s).pathname) : s;
    try {
      return await node.readImageFile(path);
    } catch (e) {
      if (e instanceof ImageError) throw new ImageError(e.code, `${path}: ${e.message}`);
      const code = (e as { code?: string }).code;
      if (code === 'ENOENT') throw new ImageError('invalid-argument', `${path}: no such file`);
      throw new ImageError('invalid-argument', `${path}: cannot read: ${(e as Error).message}`);
    }
  }
  if (isRgbImage(source)) {
    checkImageSize(source.width, source.height, 'RgbImage');
    if (source.data.length !== source.width * source.height * 3) {
      throw new ImageError('invalid-argument', `RgbImage ${source.width}×${source.height} needs ${source.width * source.height * 3} bytes, got ${source.data.length}`);
    }
    return source;
  }
  if (source instanceof ArrayBuffer) return decodeImage(new Uint8Array(source));
  if (ArrayBuffer.isView(source)) return decodeImage(source);
  return readBrowserImage(source as BrowserImageSource);
}
