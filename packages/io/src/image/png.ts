// A PNG decoder for decodeImage: chunk parsing, inflate (fflate), unfiltering and Adam7 written
// here, converting every colour type and bit depth to RGB as Pillow 9.4's PngImagePlugin followed
// by `convert('RGB')` does. fast-png was tried first, but its Adam7 path mishandles bit depths
// below 8; owning the ~200 lines also lets truncation be reported as such and bounds the inflate
// output to the size the header announces (no decompression bombs).
import { unzlibSync } from 'fflate';
import { ImageError, MAX_IMAGE_PIXELS, checkImageSize, type RgbImage } from './image.js';

/** The IHDR fields that decoding needs. */
export interface PngHeader {
  readonly width: number;
  readonly height: number;
  readonly depth: number;
  readonly colorType: number;
  readonly interlace: number;
}

// Pillow's PngImagePlugin._MODES: the (colour type → bit depths) pairs it opens.
const PNG_DEPTHS: Readonly<Record<number, readonly number[]>> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };
const CHANNELS: Readonly<Record<number, number>> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const ADAM7: readonly (readonly [number, number, number, number])[] = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
];

/** True when the bytes start with the PNG signature. */
export function isPng(b: Uint8Array): boolean {
  return b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47 && b[4] === 0x0d && b[5] === 0x0a && b[6] === 0x1a && b[7] === 0x0a;
}

function u32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

let crcTable: Int32Array | null = null;

function crc32(b: Uint8Array, start: number, end: number): number {
  if (!crcTable) {
    crcTable = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c;
    }
  }
  let c = -1;
  for (let i = start; i < end; i++) c = crcTable[(c ^ b[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

/** Reads and validates the IHDR chunk (the 33 bytes after the signature); allocates nothing. */
export function readPngHeader(b: Uint8Array): PngHeader {
  if (b.length < 33) throw new ImageError('truncated', `PNG is truncated: the IHDR header needs 33 bytes, got ${b.length}`);
  const type = String.fromCharCode(b[12]!, b[13]!, b[14]!, b[15]!);
  if (type !== 'IHDR' || u32(b, 8) !== 13) throw new ImageError('corrupt', `PNG is corrupt: the first chunk must be a 13-byte IHDR, got "${type}"`);
  const width = u32(b, 16);
  const height = u32(b, 20);
  const depth = b[24]!;
  const colorType = b[25]!;
  const depths = PNG_DEPTHS[colorType];
  if (!depths) throw new ImageError('corrupt', `PNG is corrupt: unknown colour type ${colorType} (valid: 0, 2, 3, 4, 6)`);
  if (!depths.includes(depth)) {
    throw new ImageError('corrupt', `PNG is corrupt: bit depth ${depth} is invalid for colour type ${colorType} (valid: ${depths.join(', ')})`);
  }
  if (b[26] !== 0 || b[27] !== 0) throw new ImageError('unsupported', `PNG uses unknown compression ${b[26]} or filter method ${b[27]} (only 0 exists)`);
  if (b[28]! > 1) throw new ImageError('corrupt', `PNG is corrupt: unknown interlace method ${b[28]} (valid: 0, 1)`);
  return { width, height, depth, colorType, interlace: b[28]! };
}

/** Bytes of packed, filtered image data for a `w × h` (sub-)image, filter bytes included. */
function passBytes(w: number, h: number, bitsPerPixel: number): number {
  return w > 0 && h > 0 ? h * (1 + Math.ceil((w * bitsPerPixel) / 8)) : 0;
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Undoes one scanline's filter in place (`line` = this row's bytes, `prev` = the previous row or null). */
function unfilter(type: number, line: Uint8Array, prev: Uint8Array | null, bpp: number): void {
  const n = line.length;
  switch (type) {
    case 0:
      return;
    case 1:
      for (let i = bpp; i < n; i++) line[i] = (line[i]! + line[i - bpp]!) & 0xff;
      return;
    case 2:
      if (prev) for (let i = 0; i < n; i++) line[i] = (line[i]! + prev[i]!) & 0xff;
      return;
    case 3:
      for (let i = 0; i < n; i++) {
        const left = i >= bpp ? line[i - bpp]! : 0;
        const up = prev ? prev[i]! : 0;
        line[i] = (line[i]! + ((left + up) >> 1)) & 0xff;
      }
      return;
    case 4:
      for (let i = 0; i < n; i++) {
        const left = i >= bpp ? line[i - bpp]! : 0;
        const up = prev ? prev[i]! : 0;
        const ul = prev && i >= bpp ? prev[i - bpp]! : 0;
        line[i] = (line[i]! + paeth(left, up, ul)) & 0xff;
      }
      return;
    default:
      throw new ImageError('corrupt', `PNG is corrupt: unknown scanline filter type ${type} (valid: 0–4)`);
  }
}

/** A 256-entry RGB palette; indices past PLTE read as grey (i, i, i), as in Pillow. */
function paletteLut(plte: Uint8Array | null): Uint8Array {
  if (!plte) throw new ImageError('corrupt', 'PNG is corrupt: a palette (colour type 3) image has no PLTE chunk');
  const lut = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    const inPlte = i * 3 + 2 < plte.length;
    lut[i * 3] = inPlte ? plte[i * 3]! : i;
    lut[i * 3 + 1] = inPlte ? plte[i * 3 + 1]! : i;
    lut[i * 3 + 2] = inPlte ? plte[i * 3 + 2]! : i;
  }
  return lut;
}

/**
 * Writes one unfiltered scanline of `w` pixels as RGB at output pixels `start, start + step, …`,
 * converting like Pillow: 1-bit grey → 0/255 (mode "1"), 2/4-bit grey scaled to 0…255, 16-bit
 * grey clipped to 255 (mode "I"), other 16-bit samples → their high byte, palette looked up, alpha
 * dropped without compositing.
 */
function emitLine(line: Uint8Array, w: number, h: PngHeader, lut: Uint8Array | null, out: Uint8Array, start: number, step: number): void {
  const { depth, colorType } = h;
  let o = start * 3;
  const ostep = step * 3;
  if (depth < 8) {
    const mask = (1 << depth) - 1;
    const scale = depth === 1 ? 255 : depth === 2 ? 0x55 : 0x11;
    for (let x = 0; x < w; x++, o += ostep) {
      const bit = x * depth;
      const v = (line[bit >> 3]! >> (8 - depth - (bit & 7))) & mask;
      if (lut) {
        out[o] = lut[v * 3]!;
        out[o + 1] = lut[v * 3 + 1]!;
        out[o + 2] = lut[v * 3 + 2]!;
      } else {
        out[o] = out[o + 1] = out[o + 2] = v * scale;
      }
    }
    return;
  }
  const channels = CHANNELS[colorType]!;
  if (depth === 8) {
    if (lut) {
      for (let x = 0; x < w; x++, o += ostep) {
        const v = line[x]! * 3;
        out[o] = lut[v]!;
        out[o + 1] = lut[v + 1]!;
        out[o + 2] = lut[v + 2]!;
      }
    } else if (channels <= 2) {
      for (let x = 0, i = 0; x < w; x++, o += ostep, i += channels) out[o] = out[o + 1] = out[o + 2] = line[i]!;
    } else {
      for (let x = 0, i = 0; x < w; x++, o += ostep, i += channels) {
        out[o] = line[i]!;
        out[o + 1] = line[i + 1]!;
        out[o + 2] = line[i + 2]!;
      }
    }
    return;
  }
  // 16 bits, big-endian samples.
  const stride = channels * 2;
  if (colorType === 0) {
    for (let x = 0, i = 0; x < w; x++, o += ostep, i += 2) {
      const v = (line[i]! << 8) | line[i + 1]!;
      out[o] = out[o + 1] = out[o + 2] = v > 255 ? 255 : v;
    }
  } else if (channels === 2) {
    for (let x = 0, i = 0; x < w; x++, o += ostep, i += stride) out[o] = out[o + 1] = out[o + 2] = line[i]!;
  } else {
    for (let x = 0, i = 0; x < w; x++, o += ostep, i += stride) {
      out[o] = line[i]!;
      out[o + 1] = line[i + 2]!;
      out[o + 2] = line[i + 4]!;
    }
  }
}

/**
 * Decodes a PNG to RGB exactly as Pillow 9.4's `Image.open(f).convert('RGB')`.
 *
 * @param b the PNG file's bytes.
 * @returns uint8 HWC RGB image.
 * @example
 * const img = decodePng(bytes);
 */
export function decodePng(b: Uint8Array, maxPixels: number = MAX_IMAGE_PIXELS): RgbImage {
  if (!isPng(b)) throw new ImageError('unknown-format', 'PNG: the bytes do not start with the PNG signature \\x89PNG\\r\\n\\x1a\\n');
  const header = readPngHeader(b);
  const { width, height, depth, colorType, interlace } = header;
  checkImageSize(width, height, 'PNG', maxPixels);

  // Chunks: CRCs are checked as Pillow does (every chunk but IDAT); PLTE and IDAT collected.
  let plte: Uint8Array | null = null;
  const idat: Uint8Array[] = [];
  let idatBytes = 0;
  let o = 8;
  for (;;) {
    if (o + 8 > b.length) throw new ImageError('truncated', `PNG is truncated: it ends at byte ${b.length} without an IEND chunk`);
    const length = u32(b, o);
    const type = String.fromCharCode(b[o + 4]!, b[o + 5]!, b[o + 6]!, b[o + 7]!);
    if (!/^[A-Za-z]{4}$/.test(type)) throw new ImageError('corrupt', `PNG is corrupt: invalid chunk type at offset ${o}`);
    if (o + 12 + length > b.length) {
      throw new ImageError('truncated', `PNG is truncated: chunk ${type} at offset ${o} needs ${12 + length} bytes, only ${b.length - o} remain`);
    }
    const data = b.subarray(o + 8, o + 8 + length);
    if (type !== 'IDAT' && crc32(b, o + 4, o + 8 + length) !== u32(b, o + 8 + length)) {
      throw new ImageError('corrupt', `PNG is corrupt: bad CRC in chunk ${type} at offset ${o}`);
    }
    if (type === 'IDAT') {
      idat.push(data);
      idatBytes += length;
    } else if (type === 'PLTE') {
      if (length % 3 !== 0 || length === 0 || length > 768) throw new ImageError('corrupt', `PNG is corrupt: PLTE has ${length} bytes (must be 3 × 1…256)`);
      plte = data;
    } else if (type === 'IEND') {
      break;
    }
    o += 12 + length;
  }
  if (idat.length === 0) throw new ImageError('corrupt', 'PNG is corrupt: it has no IDAT (image data) chunk');

  const bitsPerPixel = depth * CHANNELS[colorType]!;
  const passes = interlace ? ADAM7 : ([[0, 0, 1, 1]] as const);
  const geometry = passes.map(([x0, y0, dx, dy]) => {
    const w = Math.ceil((width - x0) / dx);
    const h = Math.ceil((height - y0) / dy);
    return { x0, y0, dx, dy, w, h };
  });
  const expected = geometry.reduce((n, p) => n + passBytes(p.w, p.h, bitsPerPixel), 0);

  let compressed: Uint8Array;
  if (idat.length === 1) compressed = idat[0]!;
  else {
    compressed = new Uint8Array(idatBytes);
    let p = 0;
    for (const c of idat) {
      compressed.set(c, p);
      p += c.length;
    }
  }
  let raw: Uint8Array;
  try {
    // The output buffer is the size the header announces and never grows.
    raw = unzlibSync(compressed, { out: new Uint8Array(expected) });
  } catch (e) {
    const msg = (e as Error).message;
    const truncated = /unexpected EOF/i.test(msg);
    throw new ImageError(truncated ? 'truncated' : 'corrupt', `PNG is ${truncated ? 'truncated' : 'corrupt'}: inflating the image data failed (${msg})`, { cause: e });
  }
  if (raw.length < expected) {
    throw new ImageError('truncated', `PNG is truncated: its image data holds ${raw.length} of the ${expected} bytes a ${width}×${height} image needs`);
  }

  const lut = colorType === 3 ? paletteLut(plte) : null;
  const out = new Uint8Array(width * height * 3);
  const bpp = Math.max(1, bitsPerPixel >> 3);
  let pos = 0;
  for (const p of geometry) {
    if (p.w <= 0 || p.h <= 0) continue;
    const lineBytes = Math.ceil((p.w * bitsPerPixel) / 8);
    let prev: Uint8Array | null = null;
    for (let y = 0; y < p.h; y++) {
      const filter = raw[pos]!;
      const line = raw.subarray(pos + 1, pos + 1 + lineBytes);
      unfilter(filter, line, prev, bpp);
      emitLine(line, p.w, header, lut, out, (p.y0 + y * p.dy) * width + p.x0, p.dx);
      prev = line;
      pos += 1 + lineBytes;
    }
  }
  return { width, height, data: out };
}
