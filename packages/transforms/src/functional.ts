// TorchVision 0.14's functional transforms on uint8 tensors (↔ torchvision/transforms/functional.py and
// functional_tensor.py, the TENSOR path): what `T.AutoAugment()` and friends compute on a `torch.uint8`
// image. Float arithmetic is reproduced in float32 step by step (torch's separate mul/add kernels round
// after each op; `.to(torch.uint8)` truncates), so results equal TorchVision's bytes; where torch's CPU
// kernels fuse a multiply-add (OpenBLAS's sgemm for the affine grid) we fuse it too.
import { ImageError } from '@mnv3/io';
import { checkFill, checkImage, f32, fma32, like, roundEven, type TensorImage } from './tensor-image.js';
import type { FloatImage } from './tensor.js';

/** Interpolations of TorchVision's tensor grid transforms (affine, rotate) and of `resizedCrop` here. */
export type TensorInterpolation = 'nearest' | 'bilinear';
/** The values `TensorInterpolation` takes. */
export const TENSOR_INTERPOLATIONS: readonly TensorInterpolation[] = ['nearest', 'bilinear'];

function checkInterp(v: unknown, what: string): TensorInterpolation {
  if (v !== 'nearest' && v !== 'bilinear') {
    throw new ImageError('invalid-argument', `${what}: interpolation "${String(v)}" is not supported on uint8 tensors; choose one of ${TENSOR_INTERPOLATIONS.join(', ')}`);
  }
  return v;
}

function checkFactor(v: number, name: string, what: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new ImageError('invalid-argument', `${what}: ${name} (${v}) is not a non-negative finite number`);
  return v;
}

function checkInt(v: number, name: string, what: string): number {
  if (!Number.isInteger(v)) throw new ImageError('invalid-argument', `${what}: ${name} must be an integer, got ${v}`);
  return v;
}

/**
 * `F.hflip`: mirrors the image left to right.
 *
 * @param img uint8 HWC image, 1 or 3 channels.
 * @returns a new image of the same size and kind.
 * @example const flipped = hflip(img);
 */
export function hflip<T extends TensorImage>(img: T): T {
  const c = checkImage(img, 'hflip');
  const { width: w, height: h, data } = img;
  const out = new Uint8Array(data.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const s = (y * w + x) * c;
      const d = (y * w + (w - 1 - x)) * c;
      for (let k = 0; k < c; k++) out[d + k] = data[s + k]!;
    }
  }
  return like(img, out);
}

/**
 * `F.crop` on a tensor: the `height × width` window at (`top`, `left`); parts outside the image are
 * zero-padded, as TorchVision pads.
 *
 * @param img uint8 HWC image, 1 or 3 channels.
 * @returns uint8 image of `height × width`.
 * @example const patch = cropImage(img, 10, 20, 64, 48);
 */
export function cropImage<T extends TensorImage>(img: T, top: number, left: number, height: number, width: number): T {
  const c = checkImage(img, 'crop');
  for (const [k, v] of Object.entries({ top, left, height, width })) checkInt(v, k, 'crop');
  if (height < 1 || width < 1) throw new ImageError('invalid-argument', `crop: height and width must be at least 1, got ${height}×${width}`);
  const out = new Uint8Array(height * width * c);
  const x0 = Math.max(0, left);
  const x1 = Math.min(img.width, left + width);
  if (x1 > x0) {
    for (let y = Math.max(0, top); y < Math.min(img.height, top + height); y++) {
      const src = (y * img.width + x0) * c;
      out.set(img.data.subarray(src, src + (x1 - x0) * c), ((y - top) * width + (x0 - left)) * c);
    }
  }
  return like(img, out, width, height);
}

interface Taps {
  i0: Int32Array;
  i1: Int32Array;
  l0: Float32Array;
  l1: Float32Array;
}

/** ATen's `compute_source_index_and_lambda` (align_corners=False) for one axis, in float32. */
function linearTaps(inSize: number, outSize: number): Taps {
  const t: Taps = { i0: new Int32Array(outSize), i1: new Int32Array(outSize), l0: new Float32Array(outSize), l1: new Float32Array(outSize) };
  const scale = f32(inSize / outSize);
  for (let o = 0; o < outSize; o++) {
    if (inSize === outSize) {
      t.i0[o] = o;
      t.i1[o] = o;
      t.l0[o] = 1;
      t.l1[o] = 0;
      continue;
    }
    // float scale, source index kept in double (measured against torch 1.13: a float32 index leaves
    // hundreds of off-by-one bytes, this leaves 2 in 3.1 million), lambda stored as float32.
    let real = scale * (o + 0.5) - 0.5;
    if (real < 0) real = 0;
    const i0 = Math.min(Math.floor(real), inSize - 1);
    const l1 = Math.min(Math.max(f32(real - i0), 0), 1);
    t.i0[o] = i0;
    t.i1[o] = i0 + (i0 < inSize - 1 ? 1 : 0);
    t.l1[o] = l1;
    t.l0[o] = f32(1 - l1);
  }
  return t;
}

/** ATen's `nearest_idx` for one axis. */
function nearestTaps(inSize: number, outSize: number): Int32Array {
  const idx = new Int32Array(outSize);
  const scale = f32(inSize / outSize);
  for (let o = 0; o < outSize; o++) {
    if (outSize === inSize) idx[o] = o;
    else if (outSize === 2 * inSize) idx[o] = o >> 1;
    else idx[o] = Math.min(Math.floor(f32(o * scale)), inSize - 1);
  }
  return idx;
}

/**
 * `F.resize(img, [height, width])` on a uint8 tensor in TorchVision 0.14: `F.interpolate` with
 * `align_corners=False` and no antialiasing (0.14's tensor default, `antialias=None` → False), in
 * float32, then rounded half to even. Unlike the PIL-path `resize`, downscaling does not low-pass
 * filter: this is what `T.RandomResizedCrop` computes on tensors.
 *
 * @param img uint8 HWC image, 1 or 3 channels.
 * @param size `[height, width]` of the output.
 * @returns uint8 image of that size.
 * @example const small = resizeTensor(img, [64, 64], 'bilinear');
 */
export function resizeTensor<T extends TensorImage>(img: T, size: readonly [number, number], interpolation: TensorInterpolation = 'bilinear'): T {
  const c = checkImage(img, 'resizeTensor');
  const [oh, ow] = checkOutSize(size, 'resizeTensor');
  checkInterp(interpolation, 'resizeTensor');
  const { width: w, height: h, data } = img;
  if (oh === h && ow === w) return like(img, data.slice());
  const out = new Uint8Array(oh * ow * c);
  if (interpolation === 'nearest') {
    const ys = nearestTaps(h, oh);
    const xs = nearestTaps(w, ow);
    for (let y = 0; y < oh; y++) {
      for (let x = 0; x < ow; x++) {
        const s = (ys[y]! * w + xs[x]!) * c;
        const d = (y * ow + x) * c;
        for (let k = 0; k < c; k++) out[d + k] = data[s + k]!;
      }
    }
    return like(img, out, ow, oh);
  }
  const ty = linearTaps(h, oh);
  const tx = linearTaps(w, ow);
  for (let y = 0; y < oh; y++) {
    const r0 = ty.i0[y]! * w;
    const r1 = ty.i1[y]! * w;
    const h0 = ty.l0[y]!;
    const h1 = ty.l1[y]!;
    for (let x = 0; x < ow; x++) {
      const a = tx.i0[x]!;
      const b = tx.i1[x]!;
      const w0 = tx.l0[x]!;
      const w1 = tx.l1[x]!;
      const d = (y * ow + x) * c;
      for (let k = 0; k < c; k++) {
                // t0·w0 + t1·w1 as GCC contracts it on AVX2: fma(t0, w0, t1·w1), rows then columns.
        const t0 = fma32(data[(r0 + a) * c + k]!, w0, f32(data[(r0 + b) * c + k]! * w1));
        const t1 = fma32(data[(r1 + a) * c + k]!, w0, f32(data[(r1 + b) * c + k]! * w1));
        const v = roundEven(fma32(t0, h0, f32(t1 * h1)));
        out[d + k] = v < 0 ? 0 : v > 255 ? 255 : v;
      }
    }
  }
  return like(img, out, ow, oh);
}

function checkOutSize(size: readonly number[], what: string): [number, number] {
  if (!Array.isArray(size) || size.length !== 2 || size.some((v) => !Number.isInteger(v) || v < 1)) {
    throw new ImageError('invalid-argument', `${what}: size must be [height, width] of positive integers, got ${JSON.stringify(size)}`);
  }
  return [size[0]!, size[1]!];
}

/**
 * `F.resized_crop` on a uint8 tensor: `cropImage` then `resizeTensor` (no antialiasing, as 0.14 does
 * for tensors). The crop of `T.RandomResizedCrop`.
 *
 * @returns uint8 image of `size` = `[height, width]`.
 * @example const out = resizedCrop(img, 12, 30, 100, 80, [224, 224]);
 */
export function resizedCrop<T extends TensorImage>(
  img: T,
  top: number,
  left: number,
  height: number,
  width: number,
  size: readonly [number, number],
  interpolation: TensorInterpolation = 'bilinear',
): T {
  return resizeTensor(cropImage(img, top, left, height, width), size, interpolation);
}

/** Options of `affine`, TorchVision's `F.affine` keywords. */
export interface AffineOptions {
  /** Rotation in degrees, clockwise (`F.affine`'s convention). Default 0. */
  angle?: number;
  /** Post-rotation translation `[tx, ty]` in pixels (integers). Default `[0, 0]`. */
  translate?: readonly [number, number];
  /** Overall scale, > 0. Default 1. */
  scale?: number;
  /** Shear in degrees: `[sx, sy]` or one value for x. Default `[0, 0]`. */
  shear?: number | readonly [number, number];
  /** `nearest` (default) or `bilinear`. */
  interpolation?: TensorInterpolation;
  /** Value(s) for pixels mapped from outside the image; `null`/absent: zeros, as TorchVision. */
  fill?: number | readonly number[] | null;
  /** Centre in pixel coordinates (origin top-left); default the image centre. */
  center?: readonly [number, number];
}

/** `_get_inverse_affine_matrix` (functional.py), in float64 as Python computes it. */
export function inverseAffineMatrix(
  center: readonly [number, number],
  angle: number,
  translate: readonly [number, number],
  scale: number,
  shear: readonly [number, number],
): number[] {
  const rad = Math.PI / 180;
  const rot = angle * rad;
  const sx = shear[0] * rad;
  const sy = shear[1] * rad;
  const [cx, cy] = center;
  const [tx, ty] = translate;
  const a = Math.cos(rot - sy) / Math.cos(sy);
  const b = (-Math.cos(rot - sy) * Math.tan(sx)) / Math.cos(sy) - Math.sin(rot);
  const c = Math.sin(rot - sy) / Math.cos(sy);
  const d = (-Math.sin(rot - sy) * Math.tan(sx)) / Math.cos(sy) + Math.cos(rot);
  const m = [d, -b, 0.0, -c, a, 0.0].map((x) => x / scale);
  m[2] = m[2]! + (m[0]! * (-cx - tx) + m[1]! * (-cy - ty));
  m[5] = m[5]! + (m[3]! * (-cx - tx) + m[4]! * (-cy - ty));
  m[2] = m[2]! + cx;
  m[5] = m[5]! + cy;
  return m;
}

/**
 * `F_t._gen_affine_grid` + `_apply_grid_transform` + `grid_sample(padding_mode='zeros',
 * align_corners=False)`, in float32 as torch 1.13's CPU kernels compute them.
 */
function gridTransform<T extends TensorImage>(img: T, matrix: readonly number[], interpolation: TensorInterpolation, fill: number[] | null): T {
  const c = img.channels ?? 3;
  const { width: w, height: h, data } = img;
  const hw = f32(0.5 * w);
  const hh = f32(0.5 * h);
  const th = matrix.map((v) => f32(v));
  const [r00, r10, r20] = [f32(th[0]! / hw), f32(th[1]! / hw), f32(th[2]! / hw)];
  const [r01, r11, r21] = [f32(th[3]! / hh), f32(th[4]! / hh), f32(th[5]! / hh)];
  const sw = f32(w / 2);
  const sh = f32(h / 2);
  const out = new Uint8Array(data.length);
  const vals = new Float64Array(c);
  for (let i = 0; i < h; i++) {
    const by = i - h * 0.5 + 0.5;
    for (let j = 0; j < w; j++) {
      const bx = j - w * 0.5 + 0.5;
      // base_grid.bmm(rescaled_theta): OpenBLAS's sgemm, x·θ0 then fused y·θ1, then + θ2.
      const gx = f32(fma32(by, r10, f32(bx * r00)) + r20);
      const gy = f32(fma32(by, r11, f32(bx * r01)) + r21);
      // grid_sample's unnormalize ((g + 1) · size / 2) − 0.5, fused by the AVX2 build.
      const ix = fma32(f32(gx + 1), sw, -0.5);
      const iy = fma32(f32(gy + 1), sh, -0.5);
      const d = (i * w + j) * c;
      if (interpolation === 'nearest') {
        const x = roundEven(ix);
        const y = roundEven(iy);
        const inside = x >= 0 && x < w && y >= 0 && y < h;
        for (let k = 0; k < c; k++) {
          if (inside) out[d + k] = data[(y * w + x) * c + k]!;
          else out[d + k] = fill ? clampRound(f32(fill[k]!)) : 0;
        }
        continue;
      }
      const xw = Math.floor(ix);
      const yn = Math.floor(iy);
      const we = f32(ix - xw);
      const e = f32(1 - we);
      const n = f32(iy - yn);
      const s = f32(1 - n);
      const nw = f32(s * e);
      const ne = f32(s * we);
      const sw_ = f32(n * e);
      const se = f32(n * we);
      const inX0 = xw >= 0 && xw < w;
      const inX1 = xw + 1 >= 0 && xw + 1 < w;
      const inY0 = yn >= 0 && yn < h;
      const inY1 = yn + 1 >= 0 && yn + 1 < h;
      for (let k = 0; k < c; k++) {
        const at = (yy: number, xx: number, ok: boolean): number => (ok ? data[(yy * w + xx) * c + k]! : 0);
        vals[k] = fma32(at(yn + 1, xw + 1, inY1 && inX1), se, fma32(at(yn + 1, xw, inY1 && inX0), sw_, fma32(at(yn, xw + 1, inY0 && inX1), ne, f32(at(yn, xw, inY0 && inX0) * nw))));
      }
      if (fill) {
        const one = (ok: boolean): number => (ok ? 1 : 0);
        const m = fma32(one(inY1 && inX1), se, fma32(one(inY1 && inX0), sw_, fma32(one(inY0 && inX1), ne, f32(one(inY0 && inX0) * nw))));
        const q = f32(1 - m);
        for (let k = 0; k < c; k++) out[d + k] = clampRound(f32(f32(vals[k]! * m) + f32(q * f32(fill[k]!))));
      } else {
        for (let k = 0; k < c; k++) out[d + k] = clampRound(vals[k]!);
      }
    }
  }
  return like(img, out);
}

function clampRound(v: number): number {
  const r = roundEven(v);
  return r < 0 ? 0 : r > 255 ? 255 : r;
}

/**
 * `F.affine` on a uint8 tensor (TorchVision 0.14): rotation, translation, scale and shear about the
 * centre, sampled with `grid_sample` (nearest or bilinear), zeros or `fill` outside.
 *
 * @param img uint8 HWC image, 1 or 3 channels.
 * @returns a new image of the same size.
 * @example
 * // AutoAugment's ShearX at magnitude 0.3: shear atan(0.3) in degrees about the top-left pixel
 * const sheared = affine(img, { shear: [Math.atan(0.3) * 180 / Math.PI, 0], center: [0, 0] });
 */
export function affine<T extends TensorImage>(img: T, options: AffineOptions = {}): T {
  const c = checkImage(img, 'affine');
  const angle = options.angle ?? 0;
  const translate = options.translate ?? [0, 0];
  const scale = options.scale ?? 1;
  const shearIn = options.shear ?? [0, 0];
  const shear: [number, number] = typeof shearIn === 'number' ? [shearIn, 0] : [shearIn[0], shearIn[1]];
  if (!Number.isFinite(angle)) throw new ImageError('invalid-argument', `affine: angle must be a finite number of degrees, got ${angle}`);
  if (!Array.isArray(translate) || translate.length !== 2 || translate.some((t) => !Number.isFinite(t))) {
    throw new ImageError('invalid-argument', `affine: translate must be [tx, ty], got ${JSON.stringify(translate)}`);
  }
  if (!(scale > 0) || !Number.isFinite(scale)) throw new ImageError('invalid-argument', `affine: scale must be positive, got ${scale}`);
  if (shear.some((s) => !Number.isFinite(s))) throw new ImageError('invalid-argument', `affine: shear must be finite degrees, got ${JSON.stringify(shearIn)}`);
  const interpolation = checkInterp(options.interpolation ?? 'nearest', 'affine');
  const fill = checkFill(options.fill, c, 'affine');
  const centerF: [number, number] = options.center ? [1.0 * (options.center[0] - img.width * 0.5), 1.0 * (options.center[1] - img.height * 0.5)] : [0, 0];
  const matrix = inverseAffineMatrix(centerF, angle, [1.0 * translate[0], 1.0 * translate[1]], scale, shear);
  return gridTransform(img, matrix, interpolation, fill);
}

/** Options of `rotate` (`F.rotate` keywords; `expand` is not supported). */
export interface RotateOptions {
  interpolation?: TensorInterpolation;
  fill?: number | readonly number[] | null;
  /** Centre of rotation in pixels (origin top-left); default the image centre. */
  center?: readonly [number, number];
}

/**
 * `F.rotate` on a uint8 tensor: counter-clockwise by `angle` degrees about the centre, same size
 * (`expand=False`), zeros or `fill` outside.
 *
 * @param img uint8 HWC image, 1 or 3 channels.
 * @example const r = rotate(img, 30, { interpolation: 'bilinear', fill: [128, 128, 128] });
 */
export function rotate<T extends TensorImage>(img: T, angle: number, options: RotateOptions = {}): T {
  const c = checkImage(img, 'rotate');
  if (typeof angle !== 'number' || !Number.isFinite(angle)) throw new ImageError('invalid-argument', `rotate: angle must be a finite number of degrees, got ${angle}`);
  const interpolation = checkInterp(options.interpolation ?? 'nearest', 'rotate');
  const fill = checkFill(options.fill, c, 'rotate');
  const centerF: [number, number] = options.center ? [1.0 * (options.center[0] - img.width * 0.5), 1.0 * (options.center[1] - img.height * 0.5)] : [0, 0];
  return gridTransform(img, inverseAffineMatrix(centerF, -angle, [0, 0], 1.0, [0, 0]), interpolation, fill);
}

/** `_blend(img1, img2, ratio)` for uint8 img1: `(r·img1 + (1−r)·img2).clamp(0, 255).to(uint8)` in float32. */
function blend(a: Uint8Array, b: ArrayLike<number>, ratio: number): Uint8Array {
  const r = f32(ratio);
  const q = f32(1.0 - ratio);
  const out = new Uint8Array(a.length);
  for (let i = 0; i < a.length; i++) {
    const v = f32(f32(r * a[i]!) + f32(q * b[i]!));
    out[i] = v <= 0 ? 0 : v >= 255 ? 255 : Math.trunc(v);
  }
  return out;
}

const G_R = f32(0.2989);
const G_G = f32(0.587);
const G_B = f32(0.114);

/** `rgb_to_grayscale` of a uint8 RGB image: one byte per pixel, `(0.2989 r + 0.587 g + 0.114 b)` truncated. */
function grayBytes(data: Uint8Array): Uint8Array {
  const n = data.length / 3;
  const out = new Uint8Array(n);
  for (let p = 0; p < n; p++) {
    out[p] = Math.trunc(f32(f32(f32(G_R * data[3 * p]!) + f32(G_G * data[3 * p + 1]!)) + f32(G_B * data[3 * p + 2]!)));
  }
  return out;
}

/**
 * `F.rgb_to_grayscale` on a uint8 tensor: ITU-R 601-2 luma `0.2989 R + 0.587 G + 0.114 B` in
 * float32, truncated to uint8. A grayscale input is returned as a copy.
 *
 * @returns a `GrayImage` (`channels: 1`).
 * @example const g = rgbToGrayscale(img);
 */
export function rgbToGrayscale(img: TensorImage): TensorImage & { channels: 1 } {
  const c = checkImage(img, 'rgbToGrayscale');
  const data = c === 1 ? img.data.slice() : grayBytes(img.data);
  return { width: img.width, height: img.height, channels: 1, data };
}

/**
 * `F.adjust_brightness` on uint8: `clamp(factor · img)`, truncated.
 *
 * @param factor ≥ 0; 0 gives black, 1 the original.
 * @example const darker = adjustBrightness(img, 0.6);
 */
export function adjustBrightness<T extends TensorImage>(img: T, factor: number): T {
  checkImage(img, 'adjustBrightness');
  checkFactor(factor, 'brightness_factor', 'adjustBrightness');
  return like(img, blend(img.data, new Uint8Array(img.data.length), factor));
}

/**
 * `F.adjust_saturation` (AutoAugment's "Color") on uint8: blends with the grayscale image; a
 * 1-channel image is returned unchanged (as TorchVision, matching PIL).
 *
 * @param factor ≥ 0; 0 gives gray, 1 the original.
 * @example const vivid = adjustSaturation(img, 1.5);
 */
export function adjustSaturation<T extends TensorImage>(img: T, factor: number): T {
  const c = checkImage(img, 'adjustSaturation');
  checkFactor(factor, 'saturation_factor', 'adjustSaturation');
  if (c === 1) return like(img, img.data.slice());
  const g = grayBytes(img.data);
  const g3 = new Uint8Array(img.data.length);
  for (let p = 0; p < g.length; p++) g3[3 * p] = g3[3 * p + 1] = g3[3 * p + 2] = g[p]!;
  return like(img, blend(img.data, g3, factor));
}

/**
 * `F.adjust_contrast` on uint8: blends with the mean of the grayscale image (float32).
 *
 * @param factor ≥ 0; 0 gives a uniform gray, 1 the original.
 * @example const flat = adjustContrast(img, 0.5);
 */
export function adjustContrast<T extends TensorImage>(img: T, factor: number): T {
  const c = checkImage(img, 'adjustContrast');
  checkFactor(factor, 'contrast_factor', 'adjustContrast');
  const g = c === 3 ? grayBytes(img.data) : img.data;
  let sum = 0;
  for (let i = 0; i < g.length; i++) sum += g[i]!;
  // torch.mean in float32: sum (exact here while below 2^24) then divide by the count.
  const mean = f32(f32(sum) / g.length);
  const m = new Float32Array(img.data.length).fill(mean);
  return like(img, blend(img.data, m, factor));
}

/**
 * `F.adjust_sharpness` on uint8: blends with the image smoothed by TorchVision's 3×3 kernel
 * `[[1,1,1],[1,5,1],[1,1,1]] / 13` (borders kept); images of width or height ≤ 2 are returned unchanged.
 *
 * @param factor ≥ 0; 0 gives the smoothed image, 1 the original, 2 a sharpened one.
 * @example const sharp = adjustSharpness(img, 1.8);
 */
export function adjustSharpness<T extends TensorImage>(img: T, factor: number): T {
  const c = checkImage(img, 'adjustSharpness');
  checkFactor(factor, 'sharpness_factor', 'adjustSharpness');
  const { width: w, height: h, data } = img;
  if (w <= 2 || h <= 2) return like(img, data.slice());
  const blurred = data.slice();
  for (let y = 1; y < h - 1; y++) {
    for (let x = 1; x < w - 1; x++) {
      for (let k = 0; k < c; k++) {
        let s = 4 * data[(y * w + x) * c + k]!;
        for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) s += data[((y + dy) * w + x + dx) * c + k]!;
        // s / 13 is never within 0.5/13 of a half, so float32 convolution order cannot change the rounding.
        blurred[(y * w + x) * c + k] = Math.round(s / 13);
      }
    }
  }
  return like(img, blend(data, blurred, factor));
}

/**
 * `F.posterize` on uint8: keeps the `bits` high bits of every value.
 *
 * @param bits integer in [0, 8].
 * @example const p = posterize(img, 4);
 */
export function posterize<T extends TensorImage>(img: T, bits: number): T {
  checkImage(img, 'posterize');
  if (!Number.isInteger(bits) || bits < 0 || bits > 8) throw new ImageError('invalid-argument', `posterize: bits must be an integer in [0, 8], got ${bits}`);
  const mask = -(2 ** (8 - bits)) & 0xff;
  const out = new Uint8Array(img.data.length);
  for (let i = 0; i < out.length; i++) out[i] = img.data[i]! & mask;
  return like(img, out);
}

/**
 * `F.solarize` on uint8: inverts every value `>= threshold`.
 *
 * @param threshold in [0, 255] (TorchVision rejects larger ones).
 * @example const s = solarize(img, 128);
 */
export function solarize<T extends TensorImage>(img: T, threshold: number): T {
  checkImage(img, 'solarize');
  if (typeof threshold !== 'number' || Number.isNaN(threshold) || threshold > 255) {
    throw new ImageError('invalid-argument', `solarize: threshold must be a number ≤ 255 (the bound of uint8 images), got ${threshold}`);
  }
  const t = f32(threshold);
  const out = new Uint8Array(img.data.length);
  for (let i = 0; i < out.length; i++) out[i] = img.data[i]! >= t ? 255 - img.data[i]! : img.data[i]!;
  return like(img, out);
}

/**
 * `F.invert` on uint8: `255 − v`.
 *
 * @example const neg = invert(img);
 */
export function invert<T extends TensorImage>(img: T): T {
  checkImage(img, 'invert');
  const out = new Uint8Array(img.data.length);
  for (let i = 0; i < out.length; i++) out[i] = 255 - img.data[i]!;
  return like(img, out);
}

/**
 * `F.autocontrast` on uint8: stretches each channel so its minimum maps to 0 and its maximum to
 * 255 (float32 scale, truncated); constant channels are left alone.
 *
 * @example const stretched = autocontrast(img);
 */
export function autocontrast<T extends TensorImage>(img: T): T {
  const c = checkImage(img, 'autocontrast');
  const { data } = img;
  const out = new Uint8Array(data.length);
  for (let k = 0; k < c; k++) {
    let lo = 255;
    let hi = 0;
    for (let i = k; i < data.length; i += c) {
      const v = data[i]!;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    const min = hi === lo ? 0 : lo;
    const scale = hi === lo ? 1 : f32(f32(1 / (hi - lo)) * 255); // 255.0 / t is t.reciprocal() * 255
    for (let i = k; i < data.length; i += c) {
      const v = f32(f32(data[i]! - min) * scale);
      out[i] = v <= 0 ? 0 : v >= 255 ? 255 : Math.trunc(v);
    }
  }
  return like(img, out);
}

/**
 * `F.equalize` on uint8: per-channel histogram equalisation with TorchVision's integer look-up table
 * (`_scale_channel`); a channel whose step is 0 is left alone.
 *
 * @example const eq = equalize(img);
 */
export function equalize<T extends TensorImage>(img: T): T {
  const c = checkImage(img, 'equalize');
  const { data } = img;
  const out = new Uint8Array(data.length);
  const hist = new Float64Array(256);
  const lut = new Uint8Array(256);
  for (let k = 0; k < c; k++) {
    hist.fill(0);
    for (let i = k; i < data.length; i += c) hist[data[i]!]!++;
    let last = 255;
    while (hist[last] === 0) last--;
    let nonzeroButLast = 0;
    for (let v = 0; v < last; v++) nonzeroButLast += hist[v]!;
    const step = Math.floor(nonzeroButLast / 255);
    if (step === 0) {
      for (let i = k; i < data.length; i += c) out[i] = data[i]!;
      continue;
    }
    // lut = (cumsum(hist) + step // 2) // step, shifted right by one (lut[0] = 0), clamped to 255.
    let cum = 0;
    lut[0] = 0;
    for (let v = 0; v < 255; v++) {
      cum += hist[v]!;
      lut[v + 1] = Math.min(255, Math.floor((cum + Math.floor(step / 2)) / step));
    }
    for (let i = k; i < data.length; i += c) out[i] = lut[data[i]!]!;
  }
  return like(img, out);
}

/**
 * `F.erase` on a float image: the `h × w` box at (`i`, `j`) set to `value` (one number, one per
 * channel, or `h·w·C` values in CHW order as TorchVision's `[C, h, w]` tensor).
 *
 * @param image float32 `[H, W, C]`, HWC (e.g. a normalised preset output).
 * @returns a new float image unless `inplace`.
 * @example const erased = erase(x, 10, 20, 30, 40, 0);
 */
export function erase(image: FloatImage, i: number, j: number, h: number, w: number, value: number | readonly number[] | Float32Array, inplace = false): FloatImage {
  const [H, W, C] = image.shape;
  if (image.data.length !== H * W * C) throw new ImageError('invalid-argument', `erase: shape [${image.shape.join(', ')}] needs ${H * W * C} values, got ${image.data.length}`);
  for (const [k, v] of Object.entries({ i, j, h, w })) checkInt(v, k, 'erase');
  const vals = typeof value === 'number' ? [value] : value;
  const perPixel = vals.length === h * w * C && !(vals.length === C || vals.length === 1);
  if (!perPixel && vals.length !== 1 && vals.length !== C) {
    throw new ImageError('invalid-argument', `erase: value needs 1 number, ${C} (one per channel) or ${h * w * C} (CHW), got ${vals.length}`);
  }
  const out = inplace ? image.data : image.data.slice();
  for (let y = Math.max(0, i); y < Math.min(H, i + h); y++) {
    for (let x = Math.max(0, j); x < Math.min(W, j + w); x++) {
      for (let k = 0; k < C; k++) {
        const v = perPixel ? vals[(k * h + (y - i)) * w + (x - j)]! : vals.length === 1 ? vals[0]! : vals[k]!;
        out[(y * W + x) * C + k] = v;
      }
    }
  }
  return { data: out, shape: [H, W, C] };
}
