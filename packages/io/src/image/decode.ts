// Encoded bytes → RgbImage, converting to RGB exactly as Pillow 9.4's `Image.open(f).convert('RGB')`
// does. PNG goes through ./png.ts (fflate's inflate), JPEG through libjpeg-turbo in WebAssembly
// (./jpeg.ts): the same bytes in Node and browsers, never the browser's own (colour-managed)
// decoder. Sizes are checked on the header before any pixel memory is allocated.
import { ImageError, MAX_IMAGE_PIXELS, checkImageSize, type RgbImage } from './image.js';
import { decodeJpegPixels } from './jpeg.js';
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

/**
 * Decodes a PNG or JPEG file to an 8-bit RGB image, converting as Pillow 9.4's
 * `Image.open(f).convert('RGB')` (TorchVision's image loader) does: greyscale replicated, palette
 * looked up (transparency dropped), alpha dropped without compositing, 16-bit samples reduced to
 * their high byte (16-bit greyscale clipped to 255, as Pillow's mode "I"), 1-bit as 0/255, no
 * EXIF rotation and no colour management. Both formats are bit-exact with Pillow: JPEG is decoded
 * by libjpeg-turbo 2.1.5 (the library Debian's Pillow uses) compiled to WebAssembly, every
 * subsampling, progressive, arithmetic-coded, greyscale and CMYK/YCCK (Adobe polarity, Pillow's
 * CMYK→RGB formula). Warnings inside the data are ignored as Pillow ignores them; a file that ends
 * early is `truncated`.
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
  const header = readImageHeader(b);
  if (header.format === 'png') return decodePng(b, maxPixels);
  checkImageSize(header.width, header.height, 'JPEG', maxPixels);
  return decodeJpegPixels(b, maxPixels);
}
