import { decode as decodeFastPng, encode as encodeFastPng } from 'fast-png';
import { ImageError, assertClassMap, paletteRows, type ClassMap, type RgbImage } from './image.js';

// Encoding (and label-PNG reading, which needs the raw palette indices rather than RGB) goes through
// fast-png; RGB decoding stays on our Pillow-exact decoder in png.ts.

/**
 * Encodes an 8-bit RGB or RGBA image as PNG.
 *
 * @returns the PNG file's bytes.
 * @example writeFileSync('out.png', encodePng(img));
 */
export function encodePng(image: RgbImage): Uint8Array {
  const channels = image.channels ?? 3;
  if (image.data.length !== image.width * image.height * channels) {
    throw new ImageError('invalid-argument', `a ${image.width}×${image.height}×${channels} image needs ${image.width * image.height * channels} bytes, got ${image.data.length}`);
  }
  return encodeFastPng({ width: image.width, height: image.height, data: image.data, channels, depth: 8 });
}

/**
 * Encodes a class map as an 8-bit palette PNG, as VOC's `SegmentationClass` masks: pixel values
 * are the class indices, the palette (uint8 `[k, 3]`, at most 256 rows) carries the colours.
 * Classes must be within the palette.
 *
 * @example encodeMaskPng(classMap, VOC_PALETTE)
 */
export function encodeMaskPng(mask: ClassMap, palette: Uint8Array): Uint8Array {
  assertClassMap(mask);
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
  return encodeFastPng({ width: mask.width, height: mask.height, data, channels: 1, depth: 8, palette: colors });
}

/**
 * Reads a label PNG (VOC `SegmentationClass`) to its class indices: the raw palette indices of an
 * indexed PNG (1, 2, 4 or 8 bits), or the values of an 8-bit greyscale PNG. The palette is
 * returned too (uint8 `[k, 3]`), when there is one. Any other PNG type is an error.
 *
 * @param png the file's bytes.
 */
export function decodeMaskPng(png: Uint8Array): ClassMap & { data: Uint8Array; palette: Uint8Array | null } {
  const img = decodeFastPng(png);
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
