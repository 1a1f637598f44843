import { assertClassMap, paletteRows, type ClassMap, type RgbImage } from '@mnv3/io';

// torchvision.utils' mask drawing: class maps painted with a palette, or blended over a photo.

/**
 * The PASCAL VOC colormap (the devkit's `VOClabelcolormap.m` / `labelcolormap`): entry `i` spreads
 * the bits of `i` over R, G and B from the most significant bit down (`bitget`), so 0 is black,
 * 1 (aeroplane) `[128, 0, 0]`, 15 (person) `[192, 128, 128]` and 255 (ignore) the near-white
 * `[224, 224, 192]`.
 *
 * @param n how many entries (default 256, every uint8 label).
 * @returns uint8 `[n, 3]` RGB, row-major.
 */
export function vocColormap(n = 256): Uint8Array {
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new RangeError(`colormap size must be an integer in 1..256, got ${n}`);
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    let r = 0;
    let g = 0;
    let b = 0;
    let c = i;
    for (let j = 0; j < 8; j++) {
      r |= (c & 1) << (7 - j);
      g |= ((c >> 1) & 1) << (7 - j);
      b |= ((c >> 2) & 1) << (7 - j);
      c >>= 3;
    }
    out.set([r, g, b], i * 3);
  }
  return out;
}

/** `vocColormap(256)`: uint8 `[256, 3]` RGB, the palette VOC's `SegmentationClass` PNGs carry. */
export const VOC_PALETTE: Uint8Array = vocColormap(256);

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

/**
 * Paints a class map with a palette: pixel `i` gets `palette[class]`. A class with no palette
 * entry is an error naming it.
 *
 * @returns uint8 HWC RGBA (default) or RGB image of the map's size.
 * @example colorizeMask({ data: classes, width: 520, height: 520 }) // VOC colours, RGBA
 */
export function colorizeMask(mask: ClassMap, options: ColorizeOptions = {}): RgbImage {
  assertClassMap(mask);
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
export function overlayMask(image: RgbImage, mask: ClassMap, options: OverlayOptions = {}): RgbImage {
  assertClassMap(mask);
  if (image.width !== mask.width || image.height !== mask.height) {
    throw new RangeError(`image is ${image.width}x${image.height} but the class map ${mask.width}x${mask.height}: resize one to the other first`);
  }
  const ch = image.channels ?? 3;
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
