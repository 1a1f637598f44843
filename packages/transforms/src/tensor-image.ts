// Shared by the tensor-path transforms (↔ torchvision's checks in functional_tensor.py): a uint8 image
// with 1 (grayscale) or 3 (RGB) channels, its validation, and float32 helpers that reproduce torch's
// single-precision arithmetic.
import { ImageError, type GrayImage, type RgbImage } from '@mnv3/io';

/**
 * A uint8 image as TorchVision's tensor transforms take it (`[1 or 3, H, W]` uint8 tensor), held in
 * HWC order: an `RgbImage` (3 channels) or a `GrayImage` (`channels: 1`).
 */
export type TensorImage = RgbImage | GrayImage;

/** @internal The channel count of a valid 1- or 3-channel uint8 image, or an ImageError naming the problem. */
export function checkImage(img: TensorImage, what: string): 1 | 3 {
  if (img === null || typeof img !== 'object' || !(img.data instanceof Uint8Array)) {
    throw new ImageError('invalid-argument', `${what}: expected a uint8 image { width, height, data: Uint8Array, channels?: 1 | 3 }`);
  }
  const c = img.channels ?? 3;
  if (c !== 1 && c !== 3) throw new ImageError('invalid-argument', `${what}: images must have 1 (grayscale) or 3 (RGB) channels, got ${String(c)}`);
  const { width, height } = img;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new ImageError('empty', `${what}: image size must be at least 1×1, got ${width}×${height}`);
  }
  if (img.data.length !== width * height * c) {
    throw new ImageError('invalid-argument', `${what}: a ${width}×${height} image with ${c} channel(s) needs ${width * height * c} bytes (HWC), got ${img.data.length}`);
  }
  return c;
}

/** @internal An image of the same kind (gray or RGB) as `img` with new pixels and size. */
export function like<T extends TensorImage>(img: T, data: Uint8Array, width: number = img.width, height: number = img.height): T {
  return ((img.channels ?? 3) === 1 ? { width, height, channels: 1, data } : { width, height, data }) as T;
}

export const f32 = Math.fround;

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/** The float32 next to `x` (a float32) in the direction of `dir` (±1). */
function nextFloat32(x: number, dir: number): number {
  if (x === 0) return dir > 0 ? 1.401298464324817e-45 : -1.401298464324817e-45;
  F32[0] = x;
  U32[0]! += (x > 0) === dir > 0 ? 1 : -1;
  return F32[0]!;
}

/**
 * @internal Fused multiply-add rounded once to float32, `fl32(a·b + c)`, for float32 inputs: what
 * AVX2's vfmadd computes (OpenBLAS's sgemm kernel, GCC-contracted kernels).
 */
export function fma32(a: number, b: number, c: number): number {
  const p = a * b; // exact: two 24-bit significands fit in 53 bits
  const s = p + c;
  const r = f32(s);
  if (r === s) return r;
  // The double sum may itself be rounded; only an exact float32 tie can then round the wrong way.
  const bb = s - p;
  const err = p - (s - bb) + (c - bb);
  if (err === 0) return r;
  const other = nextFloat32(r, r > s ? -1 : 1);
  if ((r + other) / 2 !== s) return r;
  return err > 0 ? Math.max(r, other) : Math.min(r, other);
}

/** @internal Python's round() / torch.round: halves to even. */
export function roundEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** @internal The fill of TorchVision's grid transforms: `null`, or one value per channel (a single value broadcasts). */
export function checkFill(fill: number | readonly number[] | null | undefined, channels: number, what: string): number[] | null {
  if (fill === null || fill === undefined) return null;
  const v = typeof fill === 'number' ? [fill] : [...fill];
  if (v.length !== 1 && v.length !== channels) {
    throw new ImageError('invalid-argument', `${what}: fill needs 1 value or one per channel (${channels}), got ${v.length}`);
  }
  if (v.some((x) => typeof x !== 'number' || !Number.isFinite(x) || x < 0 || x > 255)) {
    throw new ImageError('invalid-argument', `${what}: fill values must be numbers in [0, 255] for uint8 images, got ${JSON.stringify(fill)}`);
  }
  return v.length === 1 ? new Array<number>(channels).fill(v[0]!) : v;
}
