// TorchVision 0.14's random transforms (↔ torchvision/transforms/transforms.py) on uint8 tensors, with
// injectable randomness: RandomResizedCrop, RandomHorizontalFlip and RandomErasing.
import { ImageError } from '@mnv3/io';
import { erase, hflip, resizedCrop, type TensorInterpolation, TENSOR_INTERPOLATIONS } from './functional.js';
import { draw, normals, randint, uniform, type Rng } from './random.js';
import { checkImage, f32, roundEven, type TensorImage } from './tensor-image.js';
import type { FloatImage } from './tensor.js';

function checkRange(v: unknown, name: string, what: string, lo = -Infinity, hi = Infinity): [number, number] {
  if (!Array.isArray(v) || v.length !== 2 || v.some((x) => typeof x !== 'number' || !Number.isFinite(x))) {
    throw new ImageError('invalid-argument', `${what}: ${name} must be [min, max] of finite numbers, got ${JSON.stringify(v)}`);
  }
  const [a, b] = v as [number, number];
  if (a > b) throw new ImageError('invalid-argument', `${what}: ${name} must be [min, max] with min ≤ max, got [${a}, ${b}]`);
  if (a < lo || b > hi) throw new ImageError('invalid-argument', `${what}: ${name} must lie within [${lo}, ${hi}], got [${a}, ${b}]`);
  return [a, b];
}

function checkProb(p: unknown, what: string): number {
  if (typeof p !== 'number' || !(p >= 0 && p <= 1)) throw new ImageError('invalid-argument', `${what}: p must be a probability in [0, 1], got ${String(p)}`);
  return p;
}

/** `torch.log(torch.tensor(ratio))` in float32. */
const logRatio = (ratio: readonly [number, number]): [number, number] => [f32(Math.log(f32(ratio[0]))), f32(Math.log(f32(ratio[1])))];

/**
 * `T.RandomResizedCrop.get_params`: up to 10 attempts at an area in `scale` and a log-uniform aspect
 * ratio in `ratio` that fit the image, then the central crop TorchVision falls back to.
 *
 * @returns `[top, left, height, width]` of the crop.
 * @example const [i, j, h, w] = randomResizedCropParams(480, 640, [0.08, 1], [3 / 4, 4 / 3], seededRng(0));
 */
export function randomResizedCropParams(
  height: number,
  width: number,
  scale: readonly [number, number],
  ratio: readonly [number, number],
  rng: Rng,
): [number, number, number, number] {
  const area = height * width;
  const lr = logRatio(ratio);
  for (let attempt = 0; attempt < 10; attempt++) {
    const targetArea = area * uniform(rng, scale[0], scale[1]);
    const aspect = f32(Math.exp(uniform(rng, lr[0], lr[1])));
    const w = roundEven(Math.sqrt(targetArea * aspect));
    const h = roundEven(Math.sqrt(targetArea / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const i = randint(rng, 0, height - h + 1);
      const j = randint(rng, 0, width - w + 1);
      return [i, j, h, w];
    }
  }
  const inRatio = width / height;
  let w: number;
  let h: number;
  if (inRatio < Math.min(ratio[0], ratio[1])) {
    w = width;
    h = roundEven(w / Math.min(ratio[0], ratio[1]));
  } else if (inRatio > Math.max(ratio[0], ratio[1])) {
    h = height;
    w = roundEven(h * Math.max(ratio[0], ratio[1]));
  } else {
    w = width;
    h = height;
  }
  return [Math.floor((height - h) / 2), Math.floor((width - w) / 2), h, w];
}

/** Options of `RandomResizedCrop` (TorchVision's keywords). */
export interface RandomResizedCropOptions {
  /** Output size: `n` (square) or `[height, width]`. */
  size: number | readonly [number, number];
  /** Area range relative to the image. Default `[0.08, 1]`. */
  scale?: readonly [number, number];
  /** Aspect-ratio range (width / height). Default `[3/4, 4/3]`. */
  ratio?: readonly [number, number];
  /** `bilinear` (default) or `nearest`; resized without antialiasing, as 0.14 does for tensors. */
  interpolation?: TensorInterpolation;
}

/** A random transform of uint8 images: `apply(img, rng)` draws its parameters from `rng`. */
export interface RandomImageTransform {
  apply<T extends TensorImage>(img: T, rng?: Rng): T;
}

/**
 * `T.RandomResizedCrop` on a uint8 tensor: a random crop (see `randomResizedCropParams`) resized to
 * `size` with `F.resized_crop`.
 *
 * @returns the transform; `apply(img, rng = Math.random)` gives a uint8 image of `size`.
 * @example
 * const rrc = RandomResizedCrop({ size: 224 });
 * const out = rrc.apply(img, seededRng(1)); // 224×224
 */
export function RandomResizedCrop(options: RandomResizedCropOptions): RandomImageTransform & { readonly size: [number, number]; readonly scale: [number, number]; readonly ratio: [number, number]; readonly interpolation: TensorInterpolation } {
  const what = 'RandomResizedCrop';
  const s = options?.size;
  const size: [number, number] = typeof s === 'number' ? [s, s] : Array.isArray(s) && s.length === 2 ? [s[0], s[1]] : [NaN, NaN];
  if (size.some((v) => !Number.isInteger(v) || v < 1)) throw new ImageError('invalid-argument', `${what}: size must be a positive integer or [height, width], got ${JSON.stringify(s)}`);
  const scale = checkRange(options.scale ?? [0.08, 1.0], 'scale', what, 0);
  const ratio = checkRange(options.ratio ?? [3 / 4, 4 / 3], 'ratio', what, Number.MIN_VALUE);
  const interpolation = options.interpolation ?? 'bilinear';
  if (!TENSOR_INTERPOLATIONS.includes(interpolation)) {
    throw new ImageError('invalid-argument', `${what}: interpolation "${String(interpolation)}" is not supported on uint8 tensors; choose one of ${TENSOR_INTERPOLATIONS.join(', ')}`);
  }
  return Object.freeze({
    size,
    scale,
    ratio,
    interpolation,
    apply<T extends TensorImage>(img: T, rng: Rng = Math.random): T {
      checkImage(img, what);
      const [i, j, h, w] = randomResizedCropParams(img.height, img.width, scale, ratio, rng);
      return resizedCrop(img, i, j, h, w, size, interpolation);
    },
  });
}

/**
 * `T.RandomHorizontalFlip(p)`: flips when `rng() < p` (one draw per call, as `torch.rand(1) < p`).
 *
 * @example const flip = RandomHorizontalFlip(0.5); const out = flip.apply(img, rng);
 */
export function RandomHorizontalFlip(p = 0.5): RandomImageTransform & { readonly p: number } {
  const prob = checkProb(p, 'RandomHorizontalFlip');
  return Object.freeze({
    p: prob,
    apply<T extends TensorImage>(img: T, rng: Rng = Math.random): T {
      checkImage(img, 'RandomHorizontalFlip');
      return draw(rng) < f32(prob) ? hflip(img) : img;
    },
  });
}

/** Options of `RandomErasing` (TorchVision's keywords). */
export interface RandomErasingOptions {
  /** Probability of erasing. Default 0.5. */
  p?: number;
  /** Erased area relative to the image, within [0, 1]. Default `[0.02, 0.33]`. */
  scale?: readonly [number, number];
  /** Aspect-ratio range of the box. Default `[0.3, 3.3]`. */
  ratio?: readonly [number, number];
  /** A number, one per channel, or `'random'` (standard normal values). Default 0. */
  value?: number | readonly number[] | 'random';
}

/**
 * `T.RandomErasing` on a float image (the normalised tensor, after `Normalize`): with probability `p`,
 * a box of random area and aspect ratio (TorchVision's 10 attempts; none fitting leaves the image
 * alone) is set to `value`. `'random'` fills with standard normal values drawn by Box–Muller from
 * `rng`, not torch's `normal_` stream.
 *
 * @returns the transform; `apply(x, rng)` gives a new float32 HWC image.
 * @example const re = RandomErasing({ p: 0.25 }); const y = re.apply(x, rng);
 */
export function RandomErasing(options: RandomErasingOptions = {}): {
  readonly p: number;
  readonly scale: [number, number];
  readonly ratio: [number, number];
  readonly value: number | readonly number[] | 'random';
  apply(image: FloatImage, rng?: Rng): FloatImage;
} {
  const what = 'RandomErasing';
  const p = checkProb(options.p ?? 0.5, what);
  const scale = checkRange(options.scale ?? [0.02, 0.33], 'scale', what, 0, 1);
  const ratio = checkRange(options.ratio ?? [0.3, 3.3], 'ratio', what, Number.MIN_VALUE);
  const value = options.value ?? 0;
  if (typeof value === 'string' ? value !== 'random' : typeof value === 'number' ? !Number.isFinite(value) : !Array.isArray(value) || value.some((v) => !Number.isFinite(v))) {
    throw new ImageError('invalid-argument', `${what}: value must be a number, one number per channel, or 'random', got ${JSON.stringify(value)}`);
  }
  return Object.freeze({
    p,
    scale,
    ratio,
    value,
    apply(image: FloatImage, rng: Rng = Math.random): FloatImage {
      const [H, W, C] = image.shape;
      if (image.data.length !== H * W * C) throw new ImageError('invalid-argument', `${what}: shape [${image.shape.join(', ')}] needs ${H * W * C} values, got ${image.data.length}`);
      if (!(draw(rng) < f32(p))) return image;
      if (Array.isArray(value) && value.length !== 1 && value.length !== C) {
        throw new ImageError('invalid-argument', `${what}: value needs a single number or ${C} (one per channel), got ${value.length}`);
      }
      const area = H * W;
      const lr = logRatio(ratio);
      for (let attempt = 0; attempt < 10; attempt++) {
        const eraseArea = area * uniform(rng, scale[0], scale[1]);
        const aspect = f32(Math.exp(uniform(rng, lr[0], lr[1])));
        const h = roundEven(Math.sqrt(eraseArea * aspect));
        const w = roundEven(Math.sqrt(eraseArea / aspect));
        if (!(h < H && w < W)) continue;
        const v = value === 'random' ? normals(rng, C * h * w) : typeof value === 'number' ? [f32(value)] : value.map((x) => f32(x));
        const i = randint(rng, 0, H - h + 1);
        const j = randint(rng, 0, W - w + 1);
        return erase(image, i, j, h, w, v);
      }
      return image;
    },
  });
}
