// A port of Pillow 9.4's src/libImaging/Resample.c (ImagingResample for 8-bit RGB): the separable
// convolution resampler behind `Image.resize`, which TorchVision calls for PIL images. Coefficients
// are computed in float64 exactly as the C code does, quantised to 22-bit fixed point, and applied
// in integer arithmetic, so results are bit-identical to Pillow's.
import { ImageError, MAX_IMAGE_PIXELS, assertRgbImage, type RgbImage } from '@mnv3/io';

/**
 * Resampling filters, named as TorchVision's `InterpolationMode` (lower case). All but `nearest`
 * are Pillow's antialiased convolution filters (the kernel widens by the downscale factor);
 * `nearest` is Pillow's nearest-neighbour scaling (`ImagingScaleAffine`).
 */
export type Interpolation = 'nearest' | 'bilinear' | 'bicubic' | 'box' | 'hamming' | 'lanczos';

/** The interpolation modes `resize` accepts. */
export const INTERPOLATIONS: readonly Interpolation[] = ['nearest', 'bilinear', 'bicubic', 'box', 'hamming', 'lanczos'];

type FilterName = Exclude<Interpolation, 'nearest'>;

interface Filter {
  readonly fn: (x: number) => number;
  readonly support: number;
}

function sinc(x: number): number {
  if (x === 0) return 1;
  x = x * Math.PI;
  return Math.sin(x) / x;
}

const F054 = Math.fround(0.54);
const F046 = Math.fround(0.46);

const FILTERS: Readonly<Record<FilterName, Filter>> = {
  box: { support: 0.5, fn: (x) => (x > -0.5 && x <= 0.5 ? 1 : 0) },
  bilinear: {
    support: 1,
    fn: (x) => {
      if (x < 0) x = -x;
      return x < 1 ? 1 - x : 0;
    },
  },
  hamming: {
    support: 1,
    fn: (x) => {
      if (x < 0) x = -x;
      if (x === 0) return 1;
      if (x >= 1) return 0;
      x = x * Math.PI;
      return (Math.sin(x) / x) * (F054 + F046 * Math.cos(x));
    },
  },
  bicubic: {
    support: 2,
    fn: (x) => {
      const a = -0.5;
      if (x < 0) x = -x;
      if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
      if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
      return 0;
    },
  },
  lanczos: { support: 3, fn: (x) => (-3 <= x && x < 3 ? sinc(x) * sinc(x / 3) : 0) },
};

/** Pillow's fixed-point precision for 8-bit images: 32 − 8 − 2 bits. */
const PRECISION_BITS = 32 - 8 - 2;
const ONE = 1 << PRECISION_BITS;
const HALF = 1 << (PRECISION_BITS - 1);

/** Coefficients of one resampling pass: for output index i, `ksize` weights starting at `bounds[2i]`. */
interface Coeffs {
  ksize: number;
  /** Pairs (first input index, number of taps). */
  bounds: Int32Array;
  /** Fixed-point weights, `ksize` per output index. */
  kk: Int32Array;
}

/** `precompute_coeffs` followed by `normalize_coeffs_8bpc`. */
function precomputeCoeffs(inSize: number, in0: number, in1: number, outSize: number, filter: Filter): Coeffs {
  const scale = (in1 - in0) / outSize;
  const filterscale = scale < 1 ? 1 : scale;
  const support = filter.support * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const kk = new Int32Array(outSize * ksize);
  const bounds = new Int32Array(outSize * 2);
  const k = new Float64Array(ksize);
  const ss = 1 / filterscale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = in0 + (xx + 0.5) * scale;
    let ww = 0;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    for (let x = 0; x < xmax; x++) {
      const w = filter.fn((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    const base = xx * ksize;
    for (let x = 0; x < xmax; x++) {
      const v = ww !== 0 ? k[x]! / ww : k[x]!;
      kk[base + x] = v < 0 ? Math.trunc(-0.5 + v * ONE) : Math.trunc(0.5 + v * ONE);
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { ksize, bounds, kk };
}

function clip8(v: number): number {
  const s = v >> PRECISION_BITS;
  return s < 0 ? 0 : s > 255 ? 255 : s;
}

/** Horizontal pass over rows `offset … offset + rows − 1` of an HWC RGB buffer. */
function resampleHorizontal(src: Uint8Array, srcWidth: number, offset: number, rows: number, outWidth: number, c: Coeffs): Uint8Array {
  const out = new Uint8Array(outWidth * rows * 3);
  const { ksize, bounds, kk } = c;
  let o = 0;
  for (let yy = 0; yy < rows; yy++) {
    const row = (yy + offset) * srcWidth * 3;
    for (let xx = 0; xx < outWidth; xx++) {
      const xmin = bounds[xx * 2]!;
      const xmax = bounds[xx * 2 + 1]!;
      const kb = xx * ksize;
      let s0 = HALF;
      let s1 = HALF;
      let s2 = HALF;
      let p = row + xmin * 3;
      for (let x = 0; x < xmax; x++, p += 3) {
        const k = kk[kb + x]!;
        s0 += src[p]! * k;
        s1 += src[p + 1]! * k;
        s2 += src[p + 2]! * k;
      }
      out[o++] = clip8(s0);
      out[o++] = clip8(s1);
      out[o++] = clip8(s2);
    }
  }
  return out;
}

/** Vertical pass: every output row mixes rows `bounds[2y] …` of `src` (already shifted). */
function resampleVertical(src: Uint8Array, width: number, outHeight: number, c: Coeffs): Uint8Array {
  const stride = width * 3;
  const out = new Uint8Array(outHeight * stride);
  const { ksize, bounds, kk } = c;
  let o = 0;
  for (let yy = 0; yy < outHeight; yy++) {
    const ymin = bounds[yy * 2]!;
    const ymax = bounds[yy * 2 + 1]!;
    const kb = yy * ksize;
    for (let i = 0; i < stride; i++) {
      let s = HALF;
      let p = ymin * stride + i;
      for (let y = 0; y < ymax; y++, p += stride) s += src[p]! * kk[kb + y]!;
      out[o++] = clip8(s);
    }
  }
  return out;
}

/**
 * Pillow's NEAREST resize (`ImagingScaleAffine`): source coordinates accumulate `in / out` in
 * float64 from half a step, truncated; pixels whose source falls outside stay black.
 */
function scaleNearest(img: RgbImage, width: number, height: number): RgbImage {
  const a0 = img.width / width;
  const a4 = img.height / height;
  const xintab = new Int32Array(width);
  let xmin = width;
  let xmax = 0;
  let xo = a0 * 0.5;
  for (let x = 0; x < width; x++) {
    const xin = xo < 0 ? -1 : Math.trunc(xo);
    if (xin >= 0 && xin < img.width) {
      xmax = x + 1;
      if (x < xmin) xmin = x;
      xintab[x] = xin;
    }
    xo += a0;
  }
  const out = new Uint8Array(width * height * 3);
  const src = img.data;
  let yo = a4 * 0.5;
  for (let y = 0; y < height; y++) {
    const yi = yo < 0 ? -1 : Math.trunc(yo);
    if (yi >= 0 && yi < img.height) {
      const row = yi * img.width;
      for (let x = xmin; x < xmax; x++) {
        const s = (row + xintab[x]!) * 3;
        const o = (y * width + x) * 3;
        out[o] = src[s]!;
        out[o + 1] = src[s + 1]!;
        out[o + 2] = src[s + 2]!;
      }
    }
    yo += a4;
  }
  return { width, height, data: out };
}

/**
 * Pillow's `Image.resize((width, height), filter)` on an RGB image, bit-exact with Pillow 9.4:
 * a horizontal pass then a vertical pass, each skipped when that side keeps its size, only over the
 * rows the vertical pass needs.
 *
 * @param img uint8 HWC RGB image.
 * @param width output width in pixels (≥ 1).
 * @param height output height in pixels (≥ 1).
 * @returns a new uint8 HWC RGB image of `height × width` pixels.
 * @example
 * const small = resampleImage(img, 64, 48, 'bicubic');
 */
export function resampleImage(img: RgbImage, width: number, height: number, interpolation: Interpolation = 'bilinear'): RgbImage {
  assertRgbImage(img, 'resize');
  const filter = interpolation === 'nearest' ? null : FILTERS[interpolation];
  if (filter === undefined || !INTERPOLATIONS.includes(interpolation)) {
    throw new ImageError('invalid-argument', `resize: unknown interpolation "${String(interpolation)}"; choose one of ${INTERPOLATIONS.join(', ')}`);
  }
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new ImageError('invalid-argument', `resize: the output size must be positive integers, got ${width}×${height} (width×height)`);
  }
  if (width * height > MAX_IMAGE_PIXELS) {
    throw new ImageError('too-large', `resize: output size ${width}×${height} exceeds the limit of ${MAX_IMAGE_PIXELS} pixels`);
  }
  const needH = width !== img.width;
  const needV = height !== img.height;
  if (!needH && !needV) return { width, height, data: img.data.slice() };
  if (filter === null) return scaleNearest(img, width, height);

  const vert = precomputeCoeffs(img.height, 0, img.height, height, filter);
  let data = img.data;
  if (needH) {
    const first = vert.bounds[0]!;
    const last = vert.bounds[height * 2 - 2]! + vert.bounds[height * 2 - 1]!;
    for (let i = 0; i < height; i++) vert.bounds[i * 2] = vert.bounds[i * 2]! - first;
    const horiz = precomputeCoeffs(img.width, 0, img.width, width, filter);
    data = resampleHorizontal(data, img.width, first, last - first, width, horiz);
  }
  if (needV) data = resampleVertical(data, width, height, vert);
  return { width, height, data };
}

/** Options of `resize`, as TorchVision's `F.resize` keywords. */
export interface ResizeOptions {
  /** Default `'bilinear'`. */
  interpolation?: Interpolation;
  /** Only with an `int` size: the longer side is capped at `maxSize` (TorchVision's `max_size`). */
  maxSize?: number;
  /** Must be `true` (the default): PIL images are always resized with antialiasing. */
  antialias?: boolean;
}

/**
 * TorchVision 0.14's `_compute_resized_output_size`: with one number the shorter side becomes
 * `size` and the longer `int(size * long / short)` (then capped by `maxSize`); with two it is `[h, w]`.
 *
 * @param imageSize `[height, width]` of the input.
 * @returns `[height, width]` of the output.
 * @example
 * computeResizedOutputSize([300, 451], 256); // [256, 384]
 */
export function computeResizedOutputSize(
  imageSize: readonly [number, number],
  size: number | readonly number[],
  maxSize?: number,
): [number, number] {
  const sizes = typeof size === 'number' ? [size] : [...size];
  if (sizes.length !== 1 && sizes.length !== 2) {
    throw new ImageError('invalid-argument', `resize: size must be a number, [size] or [height, width], not a ${sizes.length}-element list`);
  }
  for (const s of sizes) {
    if (!Number.isInteger(s) || s < 1) throw new ImageError('invalid-argument', `resize: sizes must be positive integers, got ${String(s)}`);
  }
  const [h, w] = imageSize;
  if (sizes.length === 2) {
    if (maxSize !== undefined) {
      throw new ImageError('invalid-argument', 'resize: maxSize is only allowed when size gives the smaller edge (a number or [size])');
    }
    return [sizes[0]!, sizes[1]!];
  }
  if (h < 1 || w < 1) throw new ImageError('empty', `resize: cannot resize an empty ${w}×${h} image`);
  const [short, long] = w <= h ? [w, h] : [h, w];
  const requested = sizes[0]!;
  let newShort = requested;
  let newLong = Math.trunc((requested * long) / short);
  if (maxSize !== undefined) {
    if (maxSize <= requested) {
      throw new ImageError('invalid-argument', `resize: maxSize = ${maxSize} must be strictly greater than the requested size for the smaller edge = ${requested}`);
    }
    if (newLong > maxSize) {
      newShort = Math.trunc((maxSize * newShort) / newLong);
      newLong = maxSize;
    }
  }
  return w <= h ? [newLong, newShort] : [newShort, newLong];
}

/**
 * TorchVision's `F.resize` on a PIL image: `size` as a number resizes the shorter side to it
 * (keeping the aspect ratio with TorchVision's truncation), `[h, w]` resizes to exactly that.
 * Bit-exact with TorchVision 0.14 on Pillow 9.4. Returns the input unchanged (same object) when the
 * size does not change, as TorchVision does.
 *
 * @param img uint8 HWC RGB image.
 * @returns uint8 HWC RGB image.
 * @example
 * const r = resize(img, 256);                 // shorter side → 256
 * const s = resize(img, [224, 224], { interpolation: 'bicubic' });
 */
export function resize(img: RgbImage, size: number | readonly number[], options: ResizeOptions = {}): RgbImage {
  assertRgbImage(img, 'resize');
  if (options.antialias === false) {
    throw new ImageError(
      'unsupported',
      'resize: antialias: false is not supported; PIL images are always resized with antialiasing (antialias: true)',
    );
  }
  const [h, w] = computeResizedOutputSize([img.height, img.width], size, options.maxSize);
  if (h === img.height && w === img.width) return img;
  return resampleImage(img, w, h, options.interpolation ?? 'bilinear');
}
