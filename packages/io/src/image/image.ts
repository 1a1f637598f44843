/**
 * An 8-bit RGB image in host memory: `data` holds `height * width * 3` bytes in HWC order
 * (row-major, then R, G, B per pixel), as PIL's `np.asarray(img.convert('RGB'))`.
 *
 * @example
 * const img: RgbImage = { width: 2, height: 1, data: new Uint8Array([255, 0, 0, 0, 0, 255]) };
 */
export interface RgbImage {
  readonly width: number;
  readonly height: number;
  /** uint8, shape [height, width, channels], HWC. */
  readonly data: Uint8Array;
  /**
   * 3 (RGB, the default when absent) or 4 (RGBA: colourised masks for overlays, canvas pixels).
   * Decoders and the transforms produce and take RGB only.
   */
  readonly channels?: 3 | 4;
}

/** A label map: one class index per pixel, row-major `[height, width]` (uint8 for VOC's 0..20 and 255). */
export interface ClassMap {
  /** Class indices, row-major; length `width · height`. */
  data: Uint8Array | Int32Array | Uint16Array;
  width: number;
  height: number;
}

/** @internal Throws a RangeError unless `mask` is a non-empty class map whose data fits its size. */
export function assertClassMap(mask: ClassMap): void {
  const { width, height } = mask;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`class map size must be positive integers, got ${width}x${height}`);
  }
  if (mask.data.length !== width * height) {
    throw new RangeError(`class map has ${mask.data.length} values, ${width}x${height} needs ${width * height}`);
  }
}

/** @internal The number of RGB rows in a palette (uint8 `[k, 3]`), or a RangeError. */
export function paletteRows(palette: Uint8Array): number {
  if (palette.length === 0 || palette.length % 3 !== 0) throw new RangeError(`palette must hold RGB triples, got ${palette.length} bytes`);
  return palette.length / 3;
}

/**
 * The largest image, in pixels, that decoding accepts by default: Pillow's
 * `DecompressionBombError` threshold, `2 * Image.MAX_IMAGE_PIXELS` = 178,956,970 pixels.
 *
 * @example
 * decodeImage(bytes, { maxPixels: MAX_IMAGE_PIXELS / 4 });
 */
export const MAX_IMAGE_PIXELS = 2 * Math.floor((1024 * 1024 * 1024) / 4 / 3);

/** Why an image could not be decoded or transformed. */
export type ImageErrorCode = 'unknown-format' | 'truncated' | 'corrupt' | 'unsupported' | 'too-large' | 'empty' | 'invalid-argument';

/**
 * An image that cannot be decoded or transformed, with a machine-readable `code`.
 *
 * @example
 * try { decodeImage(bytes); } catch (e) { if (e instanceof ImageError && e.code === 'too-large') … }
 */
export class ImageError extends Error {
  constructor(
    readonly code: ImageErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ImageError';
  }
}

/**
 * Throws an `ImageError` unless `width × height` is a non-empty image of at most `maxPixels` pixels.
 * Used on headers, before any pixel memory is allocated.
 *
 * @example
 * checkImageSize(40000, 40000, 'PNG'); // throws ImageError('too-large')
 */
export function checkImageSize(width: number, height: number, what: string, maxPixels: number = MAX_IMAGE_PIXELS): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 0 || height < 0) {
    throw new ImageError('corrupt', `${what}: invalid image size ${width}×${height}`);
  }
  if (width === 0 || height === 0) {
    throw new ImageError('empty', `${what}: the image is empty (${width}×${height}); width and height must both be at least 1`);
  }
  if (width * height > maxPixels) {
    throw new ImageError(
      'too-large',
      `${what}: image size ${width}×${height} (${width * height} pixels) exceeds the limit of ${maxPixels} pixels ` +
        '(Pillow\'s decompression-bomb threshold by default; raise it with the maxPixels option)',
    );
  }
}

/**
 * Checks that `img` is a well-formed `RgbImage` (positive integer size, `data.length === height * width * 3`)
 * and returns it.
 *
 * @example
 * const img = rgbImage(2, 1, new Uint8Array(6));
 */
export function rgbImage(width: number, height: number, data: Uint8Array): RgbImage {
  assertRgbImage({ width, height, data }, 'rgbImage');
  return { width, height, data };
}

/** @internal Throws a clear error unless `img` is a valid, non-empty RgbImage. */
export function assertRgbImage(img: RgbImage, what: string): void {
  if (img === null || typeof img !== 'object' || !(img.data instanceof Uint8Array)) {
    throw new ImageError('invalid-argument', `${what}: expected an RgbImage { width, height, data: Uint8Array }`);
  }
  const { width, height, data } = img;
  if (img.channels !== undefined && img.channels !== 3) {
    throw new ImageError('invalid-argument', `${what}: expected an RGB image, got ${img.channels} channels`);
  }
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new ImageError('empty', `${what}: image size must be at least 1×1, got ${width}×${height}`);
  }
  if (data.length !== width * height * 3) {
    throw new ImageError('invalid-argument', `${what}: a ${width}×${height} RGB image needs ${width * height * 3} bytes (HWC), got ${data.length}`);
  }
}

/**
 * An 8-bit single-channel image (PIL mode "L", a `[1, H, W]` uint8 tensor): `data` holds
 * `height * width` bytes, row-major. Fashion-MNIST's images come as these.
 *
 * @example
 * const img: GrayImage = { width: 28, height: 28, channels: 1, data: new Uint8Array(784) };
 */
export interface GrayImage {
  readonly width: number;
  readonly height: number;
  readonly channels: 1;
  /** uint8, shape [height, width], row-major. */
  readonly data: Uint8Array;
}
