// Encoded bytes → RgbImage, converting to RGB exactly as Pillow 9.4's `Image.open(f).convert('RGB')`
// does. PNG goes through fast-png, JPEG through jpeg-js (both pure JS, so this runs unchanged in
// Node and browsers). Sizes are checked on the header before any pixel memory is allocated.
import { decode as decodePngData, type DecodedPng } from 'fast-png';
import { decode as decodeJpegData } from 'jpeg-js';
import { ImageError, MAX_IMAGE_PIXELS, checkImageSize, type RgbImage } from './image.js';

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

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

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
  if (bytes.length >= 8 && PNG_SIGNATURE.every((b, i) => bytes[i] === b)) return 'png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  return null;
}

function readU32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

// Pillow's PngImagePlugin._MODES: the (bit depth, colour type) pairs it opens.
const PNG_DEPTHS: Readonly<Record<number, readonly number[]>> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };

interface PngHeader extends ImageHeader {
  depth: number;
  colorType: number;
}

function readPngHeader(b: Uint8Array): PngHeader {
  if (b.length < 33) throw new ImageError('truncated', `PNG is truncated: the IHDR header needs 33 bytes, got ${b.length}`);
  const type = String.fromCharCode(b[12]!, b[13]!, b[14]!, b[15]!);
  if (type !== 'IHDR' || readU32(b, 8) !== 13) throw new ImageError('corrupt', `PNG is corrupt: the first chunk must be a 13-byte IHDR, got "${type}"`);
  const width = readU32(b, 16);
  const height = readU32(b, 20);
  const depth = b[24]!;
  const colorType = b[25]!;
  const depths = PNG_DEPTHS[colorType];
  if (!depths) throw new ImageError('corrupt', `PNG is corrupt: unknown colour type ${colorType} (valid: 0, 2, 3, 4, 6)`);
  if (!depths.includes(depth)) {
    throw new ImageError('corrupt', `PNG is corrupt: bit depth ${depth} is invalid for colour type ${colorType} (valid: ${depths.join(', ')})`);
  }
  return { format: 'png', width, height, depth, colorType };
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

/** Walks the chunk list so truncation is reported as such, not as a zlib or bounds error. */
function checkPngChunks(b: Uint8Array): void {
  let o = 8;
  let sawIdat = false;
  for (;;) {
    if (o + 8 > b.length) throw new ImageError('truncated', `PNG is truncated: it ends at byte ${b.length} without an IEND chunk`);
    const length = readU32(b, o);
    const type = String.fromCharCode(b[o + 4]!, b[o + 5]!, b[o + 6]!, b[o + 7]!);
    if (!/^[A-Za-z]{4}$/.test(type)) throw new ImageError('corrupt', `PNG is corrupt: invalid chunk type at offset ${o}`);
    if (o + 12 + length > b.length) {
      throw new ImageError('truncated', `PNG is truncated: chunk ${type} at offset ${o} needs ${12 + length} bytes, only ${b.length - o} remain`);
    }
    if (type === 'IDAT') sawIdat = true;
    if (type === 'IEND') break;
    o += 12 + length;
  }
  if (!sawIdat) throw new ImageError('corrupt', 'PNG is corrupt: it has no IDAT (image data) chunk');
}

function decodePngRgb(b: Uint8Array, maxPixels: number): RgbImage {
  const header = readPngHeader(b);
  checkImageSize(header.width, header.height, 'PNG', maxPixels);
  checkPngChunks(b);
  let png: DecodedPng;
  try {
    png = decodePngData(b, { checkCrc: true });
  } catch (e) {
    const msg = (e as Error).message;
    if (/filter: undefined/.test(msg)) {
      throw new ImageError('truncated', `PNG is truncated: its image data ends before the ${header.width}×${header.height} pixels the header announces`, { cause: e });
    }
    throw new ImageError('corrupt', `PNG is corrupt: ${msg}`, { cause: e });
  }
  return pngToRgb(png, header.colorType);
}

/** Converts decoded PNG samples to RGB as Pillow's open + `convert('RGB')` does. */
function pngToRgb(png: DecodedPng, colorType: number): RgbImage {
  const { width, height, depth } = png;
  const n = width * height;
  const out = new Uint8Array(n * 3);
  const src = png.data;
  const channels = png.channels;
  if (depth < 8) {
    // Packed greyscale or palette indices, rows padded to whole bytes.
    const rowBytes = Math.ceil((width * depth) / 8);
    if (src.length < rowBytes * height) throw new ImageError('corrupt', 'PNG is corrupt: the image data is shorter than its size says');
    const mask = (1 << depth) - 1;
    const gray = colorType === 0;
    // Pillow: 1-bit greyscale is mode "1" (0 → 0, 1 → 255); 2- and 4-bit scale to 0…255.
    const scale = depth === 1 ? 255 : depth === 2 ? 0x55 : 0x11;
    const lut = gray ? null : paletteLut(png);
    let o = 0;
    for (let y = 0; y < height; y++) {
      const row = y * rowBytes;
      for (let x = 0; x < width; x++) {
        const bit = x * depth;
        const v = (src[row + (bit >> 3)]! >> (8 - depth - (bit & 7))) & mask;
        if (gray) {
          const g = v * scale;
          out[o++] = g;
          out[o++] = g;
          out[o++] = g;
        } else {
          out[o++] = lut![v * 3]!;
          out[o++] = lut![v * 3 + 1]!;
          out[o++] = lut![v * 3 + 2]!;
        }
      }
    }
    return { width, height, data: out };
  }
  if (src.length < n * channels) throw new ImageError('corrupt', 'PNG is corrupt: the image data is shorter than its size says');
  if (colorType === 3) {
    const lut = paletteLut(png);
    for (let i = 0, o = 0; i < n; i++) {
      const v = src[i]! * 3;
      out[o++] = lut[v]!;
      out[o++] = lut[v + 1]!;
      out[o++] = lut[v + 2]!;
    }
    return { width, height, data: out };
  }
  // 16-bit: Pillow keeps the high byte of RGB(A) and LA samples, but opens 16-bit greyscale as
  // mode "I", whose convert('RGB') clips values to 0…255 instead.
  const sixteen = depth === 16;
  const clipGray = sixteen && colorType === 0;
  const at = (i: number): number => {
    const v = src[i]!;
    return sixteen ? (clipGray ? (v > 255 ? 255 : v) : v >> 8) : v;
  };
  if (channels <= 2) {
    for (let i = 0, o = 0; i < n; i++) {
      const g = at(i * channels);
      out[o++] = g;
      out[o++] = g;
      out[o++] = g;
    }
  } else {
    // RGB or RGBA: alpha is dropped, not composited (Pillow's RGBA → RGB).
    for (let i = 0, o = 0; i < n; i++) {
      const p = i * channels;
      out[o++] = at(p);
      out[o++] = at(p + 1);
      out[o++] = at(p + 2);
    }
  }
  return { width, height, data: out };
}

/** A 256-entry RGB palette; indices past PLTE read as grey (i, i, i), as in Pillow. */
function paletteLut(png: DecodedPng): Uint8Array {
  if (!png.palette) throw new ImageError('corrupt', 'PNG is corrupt: a palette (colour type 3) image has no PLTE chunk');
  const lut = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    const c = png.palette[i];
    lut[i * 3] = c ? c[0]! : i;
    lut[i * 3 + 1] = c ? c[1]! : i;
    lut[i * 3 + 2] = c ? c[2]! : i;
  }
  return lut;
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
 * EXIF rotation and no colour management. PNG output is bit-exact with Pillow; JPEG decoders differ
 * from libjpeg-turbo by a level or two on some pixels.
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
  return format === 'png' ? decodePngRgb(b, maxPixels) : decodeJpegRgb(b, maxPixels);
}
