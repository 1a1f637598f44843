import { decode as decodePng, encode as encodePng } from 'fast-png';
import { VOC_PALETTE } from './voc.js';

/** A label map: one class index per pixel, row-major `[height, width]` (uint8 for VOC's 0..20 and 255). */
export interface ClassMap {
  /** Class indices, row-major; length `width · height`. */
  data: Uint8Array | Int32Array | Uint16Array;
  width: number;
  height: number;
}

/** An 8-bit image, row-major HWC: RGB (`channels` 3) or RGBA (4). */
export interface PixelImage {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 3 | 4;
}

/** Options of `colorizeMask`. */
export interface ColorizeOptions {
  /** uint8 `[k, 3]` RGB rows, indexed by class; default `VOC_PALETTE` (256 entries). */
  palette?: Uint8Array;
  /** `rgba` (default) or `rgb`. */
  format?: 'rgb' | 'rgba';
  /** Alpha of the class pixels in RGBA output, 0..255; default 255. */
  alpha?: number;
  /** Classes drawn fully transparent in RGBA output (e.g. `[0]` for the background). Default none. */
  transparent?: readonly number[];
}

function checkMap(mask: ClassMap): void {
  const { width, height } = mask;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`class map size must be positive integers, got ${width}x${height}`);
  }
  if (mask.data.length !== width * height) {
    throw new RangeError(`class map has ${mask.data.length} values, ${width}x${height} needs ${width * height}`);
  }
}

function paletteRows(palette: Uint8Array): number {
  if (palette.length === 0 || palette.length % 3 !== 0) throw new RangeError(`palette must hold RGB triples, got ${palette.length} bytes`);
  return palette.length / 3;
}

/**
 * Paints a class map with a palette: pixel `i` gets `palette[class]`. A class with no palette
 * entry is an error naming it.
 *
 * @returns uint8 HWC RGBA (default) or RGB image of the map's size.
 * @example colorizeMask({ data: classes, width: 520, height: 520 }) // VOC colours, RGBA
 */
export function colorizeMask(mask: ClassMap, options: ColorizeOptions = {}): PixelImage {
  checkMap(mask);
  const palette = options.palette ?? VOC_PALETTE;
  const rows = paletteRows(palette);
  const channels = options.format === 'rgb' ? 3 : 4;
  if (options.format !== undefined && options.format !== 'rgb' && options.format !== 'rgba') {
    throw new RangeError(`unknown format "${String(options.format)}"; valid: rgb, rgba`);
  }
  const alpha = options.alpha ?? 255;
  if (!Number.isInteger(alpha) || alpha < 0 || alpha > 255) throw new RangeError(`alpha must be an integer in 0..255, got ${alpha}`);
  const transparent = new Set(options.transparent ?? []);
  const out = new Uint8Array(mask.width * mask.height * channels);
  for (let i = 0; i < mask.data.length; i++) {
    const c = mask.data[i]!;
    if (c < 0 || c >= rows) throw new RangeError(`class ${c} at pixel ${i} has no palette entry (palette has ${rows})`);
    const o = i * channels;
    out[o] = palette[c * 3]!;
    out[o + 1] = palette[c * 3 + 1]!;
    out[o + 2] = palette[c * 3 + 2]!;
    if (channels === 4) out[o + 3] = transparent.has(c) ? 0 : alpha;
  }
  return { data: out, width: mask.width, height: mask.height, channels };
}

/** Options of `overlayMask`. */
export interface OverlayOptions {
  /** Weight of the mask colour, 0..1; default 0.5: `round((1 − α)·photo + α·colour)`. */
  alpha?: number;
  /** uint8 `[k, 3]` RGB rows; default `VOC_PALETTE`. */
  palette?: Uint8Array;
  /** Classes left as the photo (default `[0]`, the background; `[]` to tint every pixel). */
  skip?: readonly number[];
}

/**
 * Alpha-blends a class map's colours over a photo of the same size: each channel becomes
 * `round((1 − alpha)·photo + alpha·palette[class])`; pixels of `skip` classes keep the photo.
 * An RGBA photo keeps its alpha.
 *
 * @param image uint8 HWC RGB or RGBA.
 * @returns uint8 HWC image with the photo's channels.
 */
export function overlayMask(image: PixelImage, mask: ClassMap, options: OverlayOptions = {}): PixelImage {
  checkMap(mask);
  if (image.width !== mask.width || image.height !== mask.height) {
    throw new RangeError(`image is ${image.width}x${image.height} but the class map ${mask.width}x${mask.height}: resize one to the other first`);
  }
  const ch = image.channels;
  if (ch !== 3 && ch !== 4) throw new RangeError(`image must be RGB or RGBA (3 or 4 channels), got ${String(ch)}`);
  if (image.data.length !== image.width * image.height * ch) {
    throw new RangeError(`image has ${image.data.length} bytes, ${image.width}x${image.height}x${ch} needs ${image.width * image.height * ch}`);
  }
  const alpha = options.alpha ?? 0.5;
  if (!(alpha >= 0 && alpha <= 1)) throw new RangeError(`alpha must be in [0, 1], got ${alpha}`);
  const palette = options.palette ?? VOC_PALETTE;
  const rows = paletteRows(palette);
  const skip = new Set(options.skip ?? [0]);
  const out = new Uint8Array(image.data);
  for (let i = 0; i < mask.data.length; i++) {
    const c = mask.data[i]!;
    if (skip.has(c)) continue;
    if (c < 0 || c >= rows) throw new RangeError(`class ${c} at pixel ${i} has no palette entry (palette has ${rows})`);
    const o = i * ch;
    for (let k = 0; k < 3; k++) out[o + k] = Math.round((1 - alpha) * image.data[o + k]! + alpha * palette[c * 3 + k]!);
  }
  return { data: out, width: image.width, height: image.height, channels: ch };
}

/**
 * Encodes an 8-bit RGB or RGBA image as PNG (fast-png).
 *
 * @returns the PNG file's bytes.
 */
export function encodeImagePng(image: PixelImage): Uint8Array {
  return encodePng({ width: image.width, height: image.height, data: image.data, channels: image.channels, depth: 8 });
}

/**
 * Encodes a class map as an 8-bit palette PNG, as VOC's `SegmentationClass` masks: pixel values
 * are the class indices, the palette carries the colours (default `VOC_PALETTE`). Classes must be
 * 0..255 and within the palette.
 */
export function encodeMaskPng(mask: ClassMap, palette: Uint8Array = VOC_PALETTE): Uint8Array {
  checkMap(mask);
  const rows = paletteRows(palette);
  if (rows > 256) throw new RangeError(`a PNG palette holds at most 256 colours, got ${rows}`);
  const data = new Uint8Array(mask.data.length);
  for (let i = 0; i < data.length; i++) {
    const c = mask.data[i]!;
    if (!(c >= 0 && c < rows)) throw new RangeError(`class ${c} at pixel ${i} has no palette entry (palette has ${rows})`);
    data[i] = c;
  }
  const colors: number[][] = [];
  for (let i = 0; i < rows; i++) colors.push([palette[i * 3]!, palette[i * 3 + 1]!, palette[i * 3 + 2]!]);
  return encodePng({ width: mask.width, height: mask.height, data, channels: 1, depth: 8, palette: colors });
}

/**
 * Reads a label PNG (VOC `SegmentationClass`) to its class indices: the raw palette indices of an
 * indexed PNG (1, 2, 4 or 8 bits), or the values of an 8-bit greyscale PNG. The palette is
 * returned too (uint8 `[k, 3]`), when there is one. Any other PNG type is an error.
 *
 * @param png the file's bytes.
 */
export function decodeMaskPng(png: Uint8Array): ClassMap & { data: Uint8Array; palette: Uint8Array | null } {
  const img = decodePng(png);
  const { width, height, depth } = img;
  if (img.palette) {
    const data = new Uint8Array(width * height);
    const src = img.data as Uint8Array;
    if (depth === 8) {
      data.set(src.subarray(0, width * height));
    } else {
      // fast-png leaves sub-byte indices packed, each row starting on a byte boundary.
      const perByte = 8 / depth;
      const stride = Math.ceil(width / perByte);
      const maskBits = (1 << depth) - 1;
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          const byte = src[y * stride + Math.floor(x / perByte)]!;
          const shift = 8 - depth * ((x % perByte) + 1);
          data[y * width + x] = (byte >> shift) & maskBits;
        }
      }
    }
    const palette = new Uint8Array(img.palette.length * 3);
    img.palette.forEach((rgb, i) => palette.set(rgb.slice(0, 3), i * 3));
    return { data, width, height, palette };
  }
  if (img.channels === 1 && depth === 8) {
    return { data: new Uint8Array(img.data as Uint8Array), width, height, palette: null };
  }
  throw new Error(
    `not a label PNG: expected an indexed (palette) or 8-bit greyscale PNG, got ${img.channels} channel(s) at ${depth} bits`,
  );
}
