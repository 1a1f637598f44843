// Browser image sources → RgbImage via a 2D canvas. Every DOM global is reached through a typeof
// check, so this module imports (and `imageDataToRgb` runs) in Node too.
import { decodeImage, sniffImageFormat } from './decode.js';
import { ImageError, MAX_IMAGE_PIXELS, checkImageSize, type RgbImage } from './image.js';

/** What `readBrowserImage` accepts. */
export type BrowserImageSource =
  | ImageData
  | HTMLImageElement
  | HTMLCanvasElement
  | HTMLVideoElement
  | ImageBitmap
  | OffscreenCanvas
  | Blob;

/** RGBA pixels as canvas `getImageData` returns them (an `ImageData` or anything shaped like one). */
export interface RgbaPixels {
  readonly width: number;
  readonly height: number;
  /** uint8, shape [height, width, 4], RGBA. */
  readonly data: Uint8ClampedArray | Uint8Array;
}

/**
 * Drops the alpha channel of RGBA pixels (no compositing, like Pillow's RGBA → RGB).
 *
 * @param image uint8 RGBA HWC pixels, e.g. `ctx.getImageData(0, 0, w, h)`.
 * @returns uint8 HWC RGB image.
 * @example
 * const img = imageDataToRgb(ctx.getImageData(0, 0, canvas.width, canvas.height));
 */
export function imageDataToRgb(image: RgbaPixels): RgbImage {
  const { width, height, data } = image;
  checkImageSize(width, height, 'imageDataToRgb');
  if (data.length !== width * height * 4) {
    throw new ImageError('invalid-argument', `imageDataToRgb: ${width}×${height} RGBA pixels need ${width * height * 4} bytes, got ${data.length}`);
  }
  const n = width * height;
  const out = new Uint8Array(n * 3);
  for (let i = 0, o = 0, p = 0; i < n; i++, p += 4) {
    out[o++] = data[p]!;
    out[o++] = data[p + 1]!;
    out[o++] = data[p + 2]!;
  }
  return { width, height, data: out };
}

function isImageDataLike(v: unknown): v is RgbaPixels {
  if (typeof ImageData !== 'undefined' && v instanceof ImageData) return true;
  if (typeof v !== 'object' || v === null) return false;
  const d = (v as { data?: unknown }).data;
  return (d instanceof Uint8ClampedArray || d instanceof Uint8Array) && typeof (v as { width?: unknown }).width === 'number';
}

function is<T>(ctor: string, v: unknown): v is T {
  const c = (globalThis as Record<string, unknown>)[ctor];
  return typeof c === 'function' && v instanceof (c as new () => unknown);
}

type Ctx2D = CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D;

/** Draws `source` at its natural size on a fresh canvas and reads the pixels back. */
function drawToRgb(source: CanvasImageSource, width: number, height: number): RgbImage {
  checkImageSize(width, height, 'readBrowserImage', MAX_IMAGE_PIXELS);
  let ctx: Ctx2D | null = null;
  if (typeof OffscreenCanvas !== 'undefined') {
    ctx = new OffscreenCanvas(width, height).getContext('2d', { willReadFrequently: true });
  } else if (typeof document !== 'undefined') {
    const canvas = document.createElement('canvas');
    canvas.width = width;
    canvas.height = height;
    ctx = canvas.getContext('2d', { willReadFrequently: true });
  }
  if (!ctx) {
    throw new ImageError('unsupported', 'readBrowserImage: no 2D canvas here (needs OffscreenCanvas or document); in Node use decodeImage or readImageFile from @mnv3/io/node');
  }
  ctx.drawImage(source, 0, 0);
  return imageDataToRgb(ctx.getImageData(0, 0, width, height));
}

/**
 * Turns a browser image source into an 8-bit RGB image.
 *
 * - `Blob`/`File` holding PNG or JPEG: decoded with `decodeImage`, so the pixels match Pillow
 *   exactly (PNG) — prefer this for parity with TorchVision.
 * - Other Blobs (WebP, GIF…): `createImageBitmap` then a canvas.
 * - Elements, bitmaps, canvases: drawn on a 2D canvas and read with `getImageData`. The browser
 *   may apply EXIF orientation and colour management, and canvases store premultiplied alpha, so
 *   translucent pixels lose precision and fully transparent ones read as black — unlike Pillow,
 *   which just drops alpha.
 * - `ImageData`: alpha dropped, no canvas needed.
 *
 * @returns uint8 HWC RGB image.
 * @example
 * const img = await readBrowserImage(document.querySelector('img')!);
 * const x = ImageClassification({ cropSize: 224 }).apply(img);
 */
export async function readBrowserImage(source: BrowserImageSource): Promise<RgbImage> {
  if (isImageDataLike(source)) return imageDataToRgb(source);
  if (is<Blob>('Blob', source)) {
    const bytes = new Uint8Array(await source.arrayBuffer());
    if (sniffImageFormat(bytes) !== null) return decodeImage(bytes);
    if (typeof createImageBitmap === 'undefined') {
      throw new ImageError('unsupported', `readBrowserImage: the Blob (type "${source.type}") is not PNG or JPEG and createImageBitmap is unavailable`);
    }
    const bitmap = await createImageBitmap(source);
    try {
      return drawToRgb(bitmap, bitmap.width, bitmap.height);
    } finally {
      bitmap.close();
    }
  }
  if (is<HTMLImageElement>('HTMLImageElement', source)) {
    if (!source.complete || source.naturalWidth === 0) await source.decode();
    return drawToRgb(source, source.naturalWidth, source.naturalHeight);
  }
  if (is<HTMLVideoElement>('HTMLVideoElement', source)) {
    if (source.readyState < 2) {
      throw new ImageError('invalid-argument', 'readBrowserImage: the video has no current frame yet (readyState < HAVE_CURRENT_DATA); wait for "loadeddata"');
    }
    return drawToRgb(source, source.videoWidth, source.videoHeight);
  }
  if (is<HTMLCanvasElement>('HTMLCanvasElement', source) || is<OffscreenCanvas>('OffscreenCanvas', source) || is<ImageBitmap>('ImageBitmap', source)) {
    return drawToRgb(source, source.width, source.height);
  }
  throw new ImageError(
    'invalid-argument',
    'readBrowserImage: unsupported source; pass ImageData, HTMLImageElement, HTMLCanvasElement, HTMLVideoElement, ImageBitmap, OffscreenCanvas or Blob',
  );
}
