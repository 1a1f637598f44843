// TorchVision 0.14's automatic augmentation policies (↔ torchvision/transforms/autoaugment.py) on uint8
// tensors: AutoAugment (IMAGENET, CIFAR10, SVHN policies), RandAugment and TrivialAugmentWide, with the
// magnitude bins computed as torch computes them (float32 linspace) and injectable randomness.
// AugMix is not ported: it mixes chains with Dirichlet/Beta weights (torch._sample_dirichlet), which a
// uniform Rng cannot replay, and the reference recipe for MobileNetV3 does not use it.
import { ImageError } from '@mnv3/io';
import {
  adjustBrightness,
  adjustContrast,
  adjustSaturation,
  adjustSharpness,
  affine,
  autocontrast,
  equalize,
  invert,
  posterize,
  rotate,
  solarize,
  TENSOR_INTERPOLATIONS,
  type TensorInterpolation,
} from './functional.js';
import { draw, randint, type Rng } from './random.js';
import { checkFill, checkImage, f32, fma32, roundEven, type TensorImage } from './tensor-image.js';

/** The operations of TorchVision's `_apply_op`. */
export type AugmentOp =
  | 'Identity'
  | 'ShearX'
  | 'ShearY'
  | 'TranslateX'
  | 'TranslateY'
  | 'Rotate'
  | 'Brightness'
  | 'Color'
  | 'Contrast'
  | 'Sharpness'
  | 'Posterize'
  | 'Solarize'
  | 'AutoContrast'
  | 'Equalize'
  | 'Invert';

/** The names `applyOp` accepts. */
export const AUGMENT_OPS: readonly AugmentOp[] = ['Identity', 'ShearX', 'ShearY', 'TranslateX', 'TranslateY', 'Rotate', 'Brightness', 'Color', 'Contrast', 'Sharpness', 'Posterize', 'Solarize', 'AutoContrast', 'Equalize', 'Invert'];

const DEG = 180 / Math.PI;

/**
 * TorchVision's `_apply_op(img, op_name, magnitude, interpolation, fill)` on a uint8 image: shears of
 * `atan(magnitude)` degrees about the top-left pixel, translations of `int(magnitude)` pixels,
 * rotations of `magnitude` degrees, colour factors `1 + magnitude`, posterize `int(magnitude)` bits,
 * solarize at threshold `magnitude`.
 *
 * @param img uint8 HWC image, 1 or 3 channels.
 * @param fill one value per channel (or one for all), or `null` for zeros.
 * @example const out = applyOp(img, 'Rotate', -30, 'nearest', null);
 */
export function applyOp<T extends TensorImage>(img: T, op: AugmentOp, magnitude: number, interpolation: TensorInterpolation = 'nearest', fill: readonly number[] | null = null): T {
  if (typeof magnitude !== 'number' || !Number.isFinite(magnitude)) throw new ImageError('invalid-argument', `applyOp: magnitude must be a finite number, got ${String(magnitude)}`);
  switch (op) {
    case 'ShearX':
      return affine(img, { shear: [Math.atan(magnitude) * DEG, 0], center: [0, 0], interpolation, fill });
    case 'ShearY':
      return affine(img, { shear: [0, Math.atan(magnitude) * DEG], center: [0, 0], interpolation, fill });
    case 'TranslateX':
      return affine(img, { translate: [Math.trunc(magnitude), 0], interpolation, fill });
    case 'TranslateY':
      return affine(img, { translate: [0, Math.trunc(magnitude)], interpolation, fill });
    case 'Rotate':
      return rotate(img, magnitude, { interpolation, fill });
    case 'Brightness':
      return adjustBrightness(img, 1.0 + magnitude);
    case 'Color':
      return adjustSaturation(img, 1.0 + magnitude);
    case 'Contrast':
      return adjustContrast(img, 1.0 + magnitude);
    case 'Sharpness':
      return adjustSharpness(img, 1.0 + magnitude);
    case 'Posterize':
      return posterize(img, Math.trunc(magnitude));
    case 'Solarize':
      return solarize(img, magnitude);
    case 'AutoContrast':
      return autocontrast(img);
    case 'Equalize':
      return equalize(img);
    case 'Invert':
      return invert(img);
    case 'Identity':
      checkImage(img, 'applyOp');
      return img;
    default:
      throw new ImageError('invalid-argument', `applyOp: unknown operation "${String(op)}"; choose one of ${AUGMENT_OPS.join(', ')}`);
  }
}

/**
 * `torch.linspace(start, end, steps)` in float32, as torch 1.13's AVX2 CPU kernel fills it (checked
 * against every table TorchVision builds here): `start + step·i` for the first half and
 * `end − step·(steps − 1 − i)` for the rest, each a fused multiply-add, except the leading multiples
 * of 16 elements, which the vectorised path fills 8 at a time as `base + k·step` (not fused) from the
 * chunk's first value.
 *
 * @returns `steps` float32 values (as numbers).
 * @example linspace32(0, 0.3, 10)[9]; // 0.30000001192092896
 */
export function linspace32(start: number, end: number, steps: number): number[] {
  const s = f32(start);
  const e = f32(end);
  if (steps === 1) return [s];
  const step = f32(f32(e - s) / (steps - 1));
  const half = Math.floor(steps / 2);
  const scalar = (i: number): number => (i < half ? fma32(step, i, s) : fma32(-step, steps - i - 1, e));
  const out: number[] = [];
  const vec = Math.floor(steps / 16) * 16;
  for (let base = 0; base < vec; base += 8) {
    const b = scalar(base);
    for (let k = 0; k < 8; k++) out.push(k === 0 ? b : f32(b + f32(k * step)));
  }
  for (let i = vec; i < steps; i++) out.push(scalar(i));
  return out;
}

/** One op's magnitude bins and whether a random sign applies (TorchVision's `_augmentation_space`). */
export interface OpMagnitudes {
  /** float32 values (a single 0 for ops without magnitude). */
  readonly magnitudes: readonly number[];
  /** False for ops without bins (TorchVision's 0-d tensor). */
  readonly binned: boolean;
  readonly signed: boolean;
}

function posterizeBins(numBins: number, divisor: number, top: number): number[] {
  const d = f32((numBins - 1) / divisor);
  return Array.from({ length: numBins }, (_, i) => top - roundEven(f32(i / d)));
}

type Space = ReadonlyMap<AugmentOp, OpMagnitudes>;

function space(entries: [AugmentOp, number[] | null, boolean][]): Space {
  return new Map(entries.map(([op, m, signed]) => [op, { magnitudes: m ?? [0], binned: m !== null, signed }]));
}

/**
 * The magnitude bins of `AutoAugment` (10 bins), `RandAugment` (`numBins`) or `TrivialAugmentWide`,
 * in TorchVision's op order, for an image of `height × width`.
 *
 * @example augmentationSpace('RandAugment', 31, 224, 224).get('Rotate')!.magnitudes[9]; // 9.0
 */
export function augmentationSpace(kind: 'AutoAugment' | 'RandAugment' | 'TrivialAugmentWide', numBins: number, height: number, width: number): Space {
  if (!Number.isInteger(numBins) || numBins < 2) throw new ImageError('invalid-argument', `${kind}: num_magnitude_bins must be an integer ≥ 2, got ${numBins}`);
  const lin = (end: number): number[] => linspace32(0, end, numBins);
  if (kind === 'TrivialAugmentWide') {
    return space([
      ['Identity', null, false],
      ['ShearX', lin(0.99), true],
      ['ShearY', lin(0.99), true],
      ['TranslateX', lin(32.0), true],
      ['TranslateY', lin(32.0), true],
      ['Rotate', lin(135.0), true],
      ['Brightness', lin(0.99), true],
      ['Color', lin(0.99), true],
      ['Contrast', lin(0.99), true],
      ['Sharpness', lin(0.99), true],
      ['Posterize', posterizeBins(numBins, 6, 8), false],
      ['Solarize', linspace32(255.0, 0.0, numBins), false],
      ['AutoContrast', null, false],
      ['Equalize', null, false],
    ]);
  }
  const entries: [AugmentOp, number[] | null, boolean][] = [
    ['ShearX', lin(0.3), true],
    ['ShearY', lin(0.3), true],
    ['TranslateX', lin((150.0 / 331.0) * width), true],
    ['TranslateY', lin((150.0 / 331.0) * height), true],
    ['Rotate', lin(30.0), true],
    ['Brightness', lin(0.9), true],
    ['Color', lin(0.9), true],
    ['Contrast', lin(0.9), true],
    ['Sharpness', lin(0.9), true],
    ['Posterize', posterizeBins(numBins, 4, 8), false],
    ['Solarize', linspace32(255.0, 0.0, numBins), false],
    ['AutoContrast', null, false],
    ['Equalize', null, false],
  ];
  if (kind === 'RandAugment') return space([['Identity', null, false], ...entries]);
  return space([...entries, ['Invert', null, false]]);
}

/** TorchVision's `AutoAugmentPolicy` values. */
export type AutoAugmentPolicy = 'imagenet' | 'cifar10' | 'svhn';
/** The policies `AutoAugment` accepts. */
export const AUTO_AUGMENT_POLICIES: readonly AutoAugmentPolicy[] = ['imagenet', 'cifar10', 'svhn'];

/** One sub-policy: two `[op, probability, magnitude bin or null]` steps. */
export type SubPolicy = readonly [readonly [AugmentOp, number, number | null], readonly [AugmentOp, number, number | null]];

type P = SubPolicy;
/** The 25 sub-policies of each policy, as `AutoAugment._get_policies` lists them. */
export const AUTO_AUGMENT_SUBPOLICIES: Readonly<Record<AutoAugmentPolicy, readonly SubPolicy[]>> = {
  imagenet: [
    [['Posterize', 0.4, 8], ['Rotate', 0.6, 9]],
    [['Solarize', 0.6, 5], ['AutoContrast', 0.6, null]],
    [['Equalize', 0.8, null], ['Equalize', 0.6, null]],
    [['Posterize', 0.6, 7], ['Posterize', 0.6, 6]],
    [['Equalize', 0.4, null], ['Solarize', 0.2, 4]],
    [['Equalize', 0.4, null], ['Rotate', 0.8, 8]],
    [['Solarize', 0.6, 3], ['Equalize', 0.6, null]],
    [['Posterize', 0.8, 5], ['Equalize', 1.0, null]],
    [['Rotate', 0.2, 3], ['Solarize', 0.6, 8]],
    [['Equalize', 0.6, null], ['Posterize', 0.4, 6]],
    [['Rotate', 0.8, 8], ['Color', 0.4, 0]],
    [['Rotate', 0.4, 9], ['Equalize', 0.6, null]],
    [['Equalize', 0.0, null], ['Equalize', 0.8, null]],
    [['Invert', 0.6, null], ['Equalize', 1.0, null]],
    [['Color', 0.6, 4], ['Contrast', 1.0, 8]],
    [['Rotate', 0.8, 8], ['Color', 1.0, 2]],
    [['Color', 0.8, 8], ['Solarize', 0.8, 7]],
    [['Sharpness', 0.4, 7], ['Invert', 0.6, null]],
    [['ShearX', 0.6, 5], ['Equalize', 1.0, null]],
    [['Color', 0.4, 0], ['Equalize', 0.6, null]],
    [['Equalize', 0.4, null], ['Solarize', 0.2, 4]],
    [['Solarize', 0.6, 5], ['AutoContrast', 0.6, null]],
    [['Invert', 0.6, null], ['Equalize', 1.0, null]],
    [['Color', 0.6, 4], ['Contrast', 1.0, 8]],
    [['Equalize', 0.8, null], ['Equalize', 0.6, null]],
  ] as P[],
  cifar10: [
    [['Invert', 0.1, null], ['Contrast', 0.2, 6]],
    [['Rotate', 0.7, 2], ['TranslateX', 0.3, 9]],
    [['Sharpness', 0.8, 1], ['Sharpness', 0.9, 3]],
    [['ShearY', 0.5, 8], ['TranslateY', 0.7, 9]],
    [['AutoContrast', 0.5, null], ['Equalize', 0.9, null]],
    [['ShearY', 0.2, 7], ['Posterize', 0.3, 7]],
    [['Color', 0.4, 3], ['Brightness', 0.6, 7]],
    [['Sharpness', 0.3, 9], ['Brightness', 0.7, 9]],
    [['Equalize', 0.6, null], ['Equalize', 0.5, null]],
    [['Contrast', 0.6, 7], ['Sharpness', 0.6, 5]],
    [['Color', 0.7, 7], ['TranslateX', 0.5, 8]],
    [['Equalize', 0.3, null], ['AutoContrast', 0.4, null]],
    [['TranslateY', 0.4, 3], ['Sharpness', 0.2, 6]],
    [['Brightness', 0.9, 6], ['Color', 0.2, 8]],
    [['Solarize', 0.5, 2], ['Invert', 0.0, null]],
    [['Equalize', 0.2, null], ['AutoContrast', 0.6, null]],
    [['Equalize', 0.2, null], ['Equalize', 0.6, null]],
    [['Color', 0.9, 9], ['Equalize', 0.6, null]],
    [['AutoContrast', 0.8, null], ['Solarize', 0.2, 8]],
    [['Brightness', 0.1, 3], ['Color', 0.7, 0]],
    [['Solarize', 0.4, 5], ['AutoContrast', 0.9, null]],
    [['TranslateY', 0.9, 9], ['TranslateY', 0.7, 9]],
    [['AutoContrast', 0.9, null], ['Solarize', 0.8, 3]],
    [['Equalize', 0.8, null], ['Invert', 0.1, null]],
    [['TranslateY', 0.7, 9], ['AutoContrast', 0.9, null]],
  ] as P[],
  svhn: [
    [['ShearX', 0.9, 4], ['Invert', 0.2, null]],
    [['ShearY', 0.9, 8], ['Invert', 0.7, null]],
    [['Equalize', 0.6, null], ['Solarize', 0.6, 6]],
    [['Invert', 0.9, null], ['Equalize', 0.6, null]],
    [['Equalize', 0.6, null], ['Rotate', 0.9, 3]],
    [['ShearX', 0.9, 4], ['AutoContrast', 0.8, null]],
    [['ShearY', 0.9, 8], ['Invert', 0.4, null]],
    [['ShearY', 0.9, 5], ['Solarize', 0.2, 6]],
    [['Invert', 0.9, null], ['AutoContrast', 0.8, null]],
    [['Equalize', 0.6, null], ['Rotate', 0.9, 3]],
    [['ShearX', 0.9, 4], ['Solarize', 0.3, 3]],
    [['ShearY', 0.8, 8], ['Invert', 0.7, null]],
    [['Equalize', 0.9, null], ['TranslateY', 0.6, 6]],
    [['Invert', 0.9, null], ['Equalize', 0.6, null]],
    [['Contrast', 0.3, 3], ['Rotate', 0.8, 4]],
    [['Invert', 0.8, null], ['TranslateY', 0.0, 2]],
    [['ShearY', 0.7, 6], ['Solarize', 0.4, 8]],
    [['Invert', 0.6, null], ['Rotate', 0.8, 4]],
    [['ShearY', 0.3, 7], ['TranslateX', 0.9, 3]],
    [['ShearX', 0.1, 6], ['Invert', 0.6, null]],
    [['Solarize', 0.7, 2], ['TranslateY', 0.6, 7]],
    [['ShearY', 0.8, 4], ['Invert', 0.8, null]],
    [['ShearX', 0.7, 9], ['TranslateY', 0.8, 3]],
    [['ShearY', 0.8, 5], ['AutoContrast', 0.7, null]],
    [['ShearX', 0.7, 2], ['Invert', 0.1, null]],
  ] as P[],
};

/** Options shared by the policies: TorchVision's `interpolation` and `fill` keywords. */
export interface AugmentOptions {
  /** `nearest` (TorchVision's default) or `bilinear`, for the geometric ops. */
  interpolation?: TensorInterpolation;
  /** Fill for pixels from outside the image: one value, or one per channel; default zeros. */
  fill?: number | readonly number[] | null;
}

function checkOptions(options: AugmentOptions, what: string): { interpolation: TensorInterpolation; fill: number | readonly number[] | null } {
  const interpolation = options.interpolation ?? 'nearest';
  if (!TENSOR_INTERPOLATIONS.includes(interpolation)) {
    throw new ImageError('invalid-argument', `${what}: interpolation "${String(interpolation)}" is not supported on uint8 tensors; choose one of ${TENSOR_INTERPOLATIONS.join(', ')}`);
  }
  const fill = options.fill ?? null;
  if (fill !== null) checkFill(fill, typeof fill === 'number' ? 1 : fill.length, what);
  return { interpolation, fill };
}

function magnitudeOf(m: OpMagnitudes, bin: number): number {
  return m.binned ? m.magnitudes[bin]! : 0.0;
}

/** A policy: its settings plus `apply(img, rng)`. */
export interface AugmentPolicy<S> {
  readonly settings: Readonly<S>;
  /** Applies the policy to a uint8 image (1 or 3 channels), drawing decisions from `rng` (default `Math.random`). */
  apply<T extends TensorImage>(img: T, rng?: Rng): T;
}

/**
 * `T.AutoAugment(policy)` on a uint8 tensor: picks one of the policy's 25 sub-policies and applies each
 * of its two ops with its probability, at its magnitude bin (10 bins), with a random sign for signed ops.
 * Draws, in TorchVision's order: the sub-policy, two probabilities, two signs.
 *
 * @param policy `'imagenet'` (default; MobileNetV3's recipe), `'cifar10'` or `'svhn'`.
 * @example
 * const aa = AutoAugment({ policy: 'imagenet' });
 * const out = aa.apply(img, seededRng(7));
 */
export function AutoAugment(options: AugmentOptions & { policy?: AutoAugmentPolicy } = {}): AugmentPolicy<{ policy: AutoAugmentPolicy; interpolation: TensorInterpolation; fill: number | readonly number[] | null }> {
  const policy = options.policy ?? 'imagenet';
  if (!AUTO_AUGMENT_POLICIES.includes(policy)) {
    throw new ImageError('invalid-argument', `AutoAugment: unknown policy "${String(policy)}"; choose one of ${AUTO_AUGMENT_POLICIES.join(', ')}`);
  }
  const { interpolation, fill } = checkOptions(options, 'AutoAugment');
  const subs = AUTO_AUGMENT_SUBPOLICIES[policy];
  return Object.freeze({
    settings: Object.freeze({ policy, interpolation, fill }),
    apply<T extends TensorImage>(img: T, rng: Rng = Math.random): T {
      const c = checkImage(img, 'AutoAugment');
      const fillC = fill === null ? null : checkFill(fill, c, 'AutoAugment');
      const id = randint(rng, 0, subs.length);
      const probs = [draw(rng), draw(rng)];
      const signs = [randint(rng, 0, 2), randint(rng, 0, 2)];
      const meta = augmentationSpace('AutoAugment', 10, img.height, img.width);
      let out = img;
      subs[id]!.forEach(([op, p, bin], i) => {
        if (probs[i]! <= f32(p)) {
          const m = meta.get(op)!;
          let magnitude = bin === null ? 0.0 : magnitudeOf(m, bin);
          if (m.signed && signs[i] === 0) magnitude *= -1.0;
          out = applyOp(out, op, magnitude, interpolation, fillC);
        }
      });
      return out;
    },
  });
}

function checkBins(numBins: number, what: string): number {
  if (!Number.isInteger(numBins) || numBins < 2) throw new ImageError('invalid-argument', `${what}: numMagnitudeBins must be an integer ≥ 2, got ${numBins}`);
  return numBins;
}

/**
 * `T.RandAugment(num_ops, magnitude, num_magnitude_bins)` on a uint8 tensor: `numOps` times, a uniformly
 * chosen op (14, Identity included) at bin `magnitude`, negated on a coin flip for signed ops.
 *
 * @param options.magnitude integer bin in [0, numMagnitudeBins − 1]; default 9 of 31.
 * @example const ra = RandAugment({ numOps: 2, magnitude: 9 }); const out = ra.apply(img, rng);
 */
export function RandAugment(
  options: AugmentOptions & { numOps?: number; magnitude?: number; numMagnitudeBins?: number } = {},
): AugmentPolicy<{ numOps: number; magnitude: number; numMagnitudeBins: number; interpolation: TensorInterpolation; fill: number | readonly number[] | null }> {
  const what = 'RandAugment';
  const numOps = options.numOps ?? 2;
  if (!Number.isInteger(numOps) || numOps < 0) throw new ImageError('invalid-argument', `${what}: numOps must be a non-negative integer, got ${numOps}`);
  const numMagnitudeBins = checkBins(options.numMagnitudeBins ?? 31, what);
  const magnitude = options.magnitude ?? 9;
  if (!Number.isInteger(magnitude) || magnitude < 0 || magnitude >= numMagnitudeBins) {
    throw new ImageError('invalid-argument', `${what}: magnitude must be an integer bin in [0, ${numMagnitudeBins - 1}] (numMagnitudeBins ${numMagnitudeBins}), got ${magnitude}`);
  }
  const { interpolation, fill } = checkOptions(options, what);
  return Object.freeze({
    settings: Object.freeze({ numOps, magnitude, numMagnitudeBins, interpolation, fill }),
    apply<T extends TensorImage>(img: T, rng: Rng = Math.random): T {
      const c = checkImage(img, what);
      const fillC = fill === null ? null : checkFill(fill, c, what);
      const meta = augmentationSpace('RandAugment', numMagnitudeBins, img.height, img.width);
      const ops = [...meta.keys()];
      let out = img;
      for (let k = 0; k < numOps; k++) {
        const op = ops[randint(rng, 0, ops.length)]!;
        const m = meta.get(op)!;
        let mag = magnitudeOf(m, magnitude);
        if (m.signed && randint(rng, 0, 2) === 1) mag *= -1.0;
        out = applyOp(out, op, mag, interpolation, fillC);
      }
      return out;
    },
  });
}

/**
 * `T.TrivialAugmentWide(num_magnitude_bins)` on a uint8 tensor: one uniformly chosen op at a uniformly
 * chosen bin of TrivialAugment's wide ranges, negated on a coin flip for signed ops.
 *
 * @example const ta = TrivialAugmentWide(); const out = ta.apply(img, rng);
 */
export function TrivialAugmentWide(
  options: AugmentOptions & { numMagnitudeBins?: number } = {},
): AugmentPolicy<{ numMagnitudeBins: number; interpolation: TensorInterpolation; fill: number | readonly number[] | null }> {
  const what = 'TrivialAugmentWide';
  const numMagnitudeBins = checkBins(options.numMagnitudeBins ?? 31, what);
  const { interpolation, fill } = checkOptions(options, what);
  const meta = augmentationSpace('TrivialAugmentWide', numMagnitudeBins, 1, 1);
  const ops = [...meta.keys()];
  return Object.freeze({
    settings: Object.freeze({ numMagnitudeBins, interpolation, fill }),
    apply<T extends TensorImage>(img: T, rng: Rng = Math.random): T {
      const c = checkImage(img, what);
      const fillC = fill === null ? null : checkFill(fill, c, what);
      const op = ops[randint(rng, 0, ops.length)]!;
      const m = meta.get(op)!;
      let mag = m.binned ? m.magnitudes[randint(rng, 0, m.magnitudes.length)]! : 0.0;
      if (m.signed && randint(rng, 0, 2) === 1) mag *= -1.0;
      return applyOp(img, op, mag, interpolation, fillC);
    },
  });
}
