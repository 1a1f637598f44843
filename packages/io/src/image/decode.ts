// Encoded bytes → RgbImage, converting to RGB exactly as Pillow 9.4's `Image.open(f).convert('RGB')`
// does. PNG goes through ./png.ts (fflate's inflate), JPEG through jpeg-js: both pure JS, so this
// runs unchanged in Node and browsers. Sizes are checked on the header before any pixel memory is
// allocated.
import { decode as decodeJpegData } from 'jpeg-js';
import { ImageError, MAX_IMAGE_PIXELS, checkImageSize, type RgbImage } from './image.js';
import { decodePng, isPng, readPngHeader } from './png.js';

/** Image formats `decodeImage` reads. */
export type ImageFormat = 'png' | 'jpeg';

/** What an image's header says, read without decoding any pixels. */
export interface ImageHeader {
  readonly format: ImageFormat;
  readonly width: number;
  readonly height: number;
}

/** Options of `decodeImage`. */
export interface DecodeImageOptions {
  /**
   * Refuse images with more pixels than this (checked on the header, before allocating); default
   * `MAX_IMAGE_PIXELS`, Pillow's decompression-bomb limit.
   */
  maxPixels?: number;
}

function asBytes(bytes: Uint8Array | ArrayBuffer | ArrayBufferView): Uint8Array {
  if (bytes instanceof Uint8Array) return bytes;
  if (bytes instanceof ArrayBuffer) return new Uint8Array(bytes);
  if (ArrayBuffer.isView(bytes)) return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  throw new ImageError('invalid-argument', `decodeImage: expected a Uint8Array, ArrayBuffer or ArrayBufferView of encoded bytes, got ${typeof bytes}`);
}

/**
 * Which format the bytes are in, from their magic number; `null` when neither PNG nor JPEG.
 *
 * @example
 * sniffImageFormat(bytes); // 'png'
 */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | null {
  if (isPng(bytes)) return 'png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  return null;
}

const SOF_MARKERS = new Set([0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf]);

function readJpegHeader(b: Uint8Array): ImageHeader {
  let o = 2;
  for (;;) {
    while (o < b.length && b[o] === 0xff && b[o + 1] === 0xff) o++; // fill bytes
    if (o + 4 > b.length) throw new ImageError('truncated', 'JPEG is truncated: it ends before its SOF (frame header) marker');
    if (b[o] !== 0xff) throw new ImageError('corrupt', `JPEG is corrupt: expected a marker at offset ${o}, found byte 0x${b[o]!.toString(16)}`);
    const marker = b[o + 1]!;
    if (marker === 0xd9 || marker === 0xda) throw new ImageError('corrupt', 'JPEG is corrupt: no SOF (frame header) before the image data');
    if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      o += 2;
      continue;
    }
    const length = (b[o + 2]! << 8) | b[o + 3]!;
    if (length < 2) throw new ImageError('corrupt', `JPEG is corrupt: segment 0x${marker.toString(16)} has length ${length}`);
    if (SOF_MARKERS.has(marker)) {
      if (o + 9 > b.length) throw new ImageError('truncated', 'JPEG is truncated inside its SOF (frame header)');
      const height = (b[o + 5]! << 8) | b[o + 6]!;
      const width = (b[o + 7]! << 8) | b[o + 8]!;
      if (height === 0) throw new ImageError('unsupported', 'JPEG with the height defined by a DNL marker (height 0 in SOF) is not supported');
      return { format: 'jpeg', width, height };
    }
    o += 2 + length;
  }
}

/**
 * Reads format, width and height from the first bytes of a PNG or JPEG without decoding pixels.
 *
 * @example
 * const { format, width, height } = readImageHeader(bytes);
 */
export function readImageHeader(bytes: Uint8Array | ArrayBuffer | ArrayBufferView): ImageHeader {
  const b = asBytes(bytes);
  const format = sniffImageFormat(b);
  if (format === 'png') {
    const { width, height } = readPngHeader(b);
    return { format, width, height };
  }
  if (format === 'jpeg') return readJpegHeader(b);
  if (b.length === 0) throw new ImageError('empty', 'decodeImage: got 0 bytes; expected a PNG or JPEG file');
  throw new ImageError('unknown-format', 'decodeImage: the bytes are neither PNG (\\x89PNG…) nor JPEG (\\xFF\\xD8\\xFF…); supported formats: png, jpeg');
}

function decodeJpegRgb(b: Uint8Array, maxPixels: number): RgbImage {
  const { width, height } = readJpegHeader(b);
  checkImageSize(width, height, 'JPEG', maxPixels);
  let img: { width: number; height: number; data: Uint8Array };
  try {
    img = decodeJpegData(b, {
      useTArray: true,
      formatAsRGBA: false,
      tolerantDecoding: false,
      maxResolutionInMP: Math.ceil(maxPixels / 1e6) + 1,
      maxMemoryUsageInMB: Math.max(512, Math.ceil((maxPixels * 8) / 2 ** 20)),
    });
  } catch (e) {
    const msg = (e as Error).message ?? String(e);
    const truncated = /end of|eof|out of bounds|undefined|marker was not found/i.test(msg);
    throw new ImageError(truncated ? 'truncated' : 'corrupt', `JPEG is ${truncated ? 'truncated or corrupt' : 'corrupt'}: ${msg}`, { cause: e });
  }
  if (img.width !== width || img.height !== height || img.data.length !== width * height * 3) {
    throw new ImageError('corrupt', `JPEG is corrupt: decoded ${img.width}×${img.height}, header says ${width}×${height}`);
  }
  return { width, height, data: img.data };
}

/**
 * Decodes a PNG or JPEG file to an 8-bit RGB image, converting as Pillow 9.4's
 * `Image.open(f).convert('RGB')` (TorchVision's image loader) does: greyscale replicated, palette
 * looked up (transparency dropped), alpha dropped without compositing, 16-bit samples reduced to
 * their high byte (16-bit greyscale clipped to 255, as Pillow's mode "I"), 1-bit as 0/255, no
 * EXIF rotation and no colour management. PNG output is bit-exact with Pillow. JPEG (jpeg-js) is
 * not: its IDCT and chroma upsampling differ from libjpeg-turbo's, by up to 3–4 levels on photos
 * and more along sharp colour edges in 4:2:0 files (jpeg-js replicates chroma samples where
 * libjpeg-turbo interpolates them).
 *
 * Throws `ImageError` naming the problem: `unknown-format`, `truncated`, `corrupt`, `too-large`
 * (checked on the header before allocating), `empty`, `unsupported`.
 *
 * @param bytes the encoded file.
 * @returns uint8 HWC RGB image.
 * @example
 * const img = decodeImage(new Uint8Array(await (await fetch(url)).arrayBuffer()));
 * const x = ImageClassification({ cropSize: 224 }).apply(img);
 */
export function decodeImage(bytes: Uint8Array | ArrayBuffer | ArrayBufferView, options: DecodeImageOptions = {}): RgbImage {
  const b = asBytes(bytes);
  const maxPixels = options.maxPixels ?? MAX_IMAGE_PIXELS;
  const { format } = readImageHeader(b);
  return format === 'png' ? decodePng(b, maxPixels) : decodeJpegRgb(b, maxPixels);
}
