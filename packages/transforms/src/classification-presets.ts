// The training preset of TorchVision's classification reference (↔ references/classification/presets.py,
// `ClassificationPresetTrain`, the 0.14-era file with ra_magnitude and augmix_severity), composed on a
// uint8 tensor: every augmentation runs TorchVision's tensor path, as the reference's later
// `backend="tensor"` does (in 0.14 the reference itself ran them on PIL images).
import { ImageError } from '@mnv3/io';
import { AutoAugment, AUTO_AUGMENT_POLICIES, RandAugment, TrivialAugmentWide, type AutoAugmentPolicy } from './autoaugment.js';
import { TENSOR_INTERPOLATIONS, type TensorInterpolation } from './functional.js';
import type { Rng } from './random.js';
import { checkImage, type TensorImage } from './tensor-image.js';
import { IMAGENET_MEAN, IMAGENET_STD, normalize, type FloatImage } from './tensor.js';
import { RandomErasing, RandomHorizontalFlip, RandomResizedCrop } from './transforms.js';

/** `auto_augment_policy` values: RandAugment (`ra`), TrivialAugmentWide (`ta_wide`) or an AutoAugment policy. */
export type TrainAutoAugmentPolicy = 'ra' | 'ta_wide' | AutoAugmentPolicy;
/** The policies `ClassificationPresetTrain` accepts (AugMix, the reference's `augmix`, is not ported). */
export const TRAIN_AUTO_AUGMENT_POLICIES: readonly TrainAutoAugmentPolicy[] = ['ra', 'ta_wide', ...AUTO_AUGMENT_POLICIES];

/** Options of `ClassificationPresetTrain`: the reference's keywords in camelCase. */
export interface ClassificationPresetTrainOptions {
  /** Side of the square random-resized crop (224 for MobileNetV3). */
  cropSize: number;
  /** Per-channel mean; as many values as the image has channels. Default ImageNet's. */
  mean?: readonly number[];
  std?: readonly number[];
  /** `bilinear` (default) or `nearest`, for the crop's resize and the policies' geometric ops. */
  interpolation?: TensorInterpolation;
  /** Probability of a horizontal flip; 0 leaves the flip out. Default 0.5. */
  hflipProb?: number;
  /** Automatic augmentation, or `null` (default) for none; MobileNetV3 was trained with `'imagenet'`. */
  autoAugmentPolicy?: TrainAutoAugmentPolicy | null;
  /** RandAugment's magnitude bin (`'ra'` only). Default 9. */
  raMagnitude?: number;
  /** Probability of RandomErasing on the normalised image; 0 (default) leaves it out. */
  randomEraseProb?: number;
}

/** The preset: its settings plus `apply(img, rng)`. */
export interface ClassificationPresetTrainPreset {
  readonly kind: 'ClassificationPresetTrain';
  readonly cropSize: number;
  readonly mean: readonly number[];
  readonly std: readonly number[];
  readonly interpolation: TensorInterpolation;
  readonly hflipProb: number;
  readonly autoAugmentPolicy: TrainAutoAugmentPolicy | null;
  readonly raMagnitude: number;
  readonly randomEraseProb: number;
  /**
   * RandomResizedCrop → RandomHorizontalFlip → policy → /255 → Normalize → RandomErasing.
   * @returns float32 `[cropSize, cropSize, C]`, HWC.
   */
  apply(img: TensorImage, rng?: Rng): FloatImage;
}

/**
 * The classification reference's `ClassificationPresetTrain` on uint8 images (1 or 3 channels), with
 * injectable randomness.
 *
 * @returns the preset; `apply(img, rng = Math.random)` gives float32 `[cropSize, cropSize, C]` HWC.
 * @example
 * // MobileNetV3's recipe: AutoAugment (ImageNet policy) then RandomErasing
 * const train = ClassificationPresetTrain({ cropSize: 224, autoAugmentPolicy: 'imagenet', randomEraseProb: 0.2 });
 * const x = train.apply(img, seededRng(epoch * 1_000_003 + index));
 */
export function ClassificationPresetTrain(options: ClassificationPresetTrainOptions): ClassificationPresetTrainPreset {
  const what = 'ClassificationPresetTrain';
  options = options ?? ({} as ClassificationPresetTrainOptions);
  const cropSize = options.cropSize;
  if (!Number.isInteger(cropSize) || cropSize < 1) throw new ImageError('invalid-argument', `${what}: cropSize must be a positive integer, got ${String(cropSize)}`);
  const interpolation = options.interpolation ?? 'bilinear';
  if (!TENSOR_INTERPOLATIONS.includes(interpolation)) {
    throw new ImageError('invalid-argument', `${what}: interpolation "${String(interpolation)}" is not supported on uint8 tensors; choose one of ${TENSOR_INTERPOLATIONS.join(', ')}`);
  }
  const hflipProb = options.hflipProb ?? 0.5;
  const policy = options.autoAugmentPolicy ?? null;
  if (policy !== null && !TRAIN_AUTO_AUGMENT_POLICIES.includes(policy)) {
    const hint = (policy as string) === 'augmix' ? ' (AugMix is not ported: its Dirichlet mixing weights cannot be replayed from a uniform Rng)' : '';
    throw new ImageError('invalid-argument', `${what}: unknown autoAugmentPolicy "${String(policy)}"${hint}; choose one of ${TRAIN_AUTO_AUGMENT_POLICIES.join(', ')} or null`);
  }
  const raMagnitude = options.raMagnitude ?? 9;
  const randomEraseProb = options.randomEraseProb ?? 0;
  const mean = Object.freeze([...(options.mean ?? IMAGENET_MEAN)]);
  const std = Object.freeze([...(options.std ?? IMAGENET_STD)]);

  const crop = RandomResizedCrop({ size: cropSize, interpolation });
  const flip = hflipProb > 0 ? RandomHorizontalFlip(hflipProb) : null;
  const augment =
    policy === null
      ? null
      : policy === 'ra'
        ? RandAugment({ interpolation, magnitude: raMagnitude })
        : policy === 'ta_wide'
          ? TrivialAugmentWide({ interpolation })
          : AutoAugment({ policy, interpolation });
  const erasing = randomEraseProb > 0 ? RandomErasing({ p: randomEraseProb }) : null;
  if (randomEraseProb < 0) throw new ImageError('invalid-argument', `${what}: randomEraseProb must be in [0, 1], got ${randomEraseProb}`);

  return Object.freeze({
    kind: 'ClassificationPresetTrain' as const,
    cropSize,
    mean,
    std,
    interpolation,
    hflipProb,
    autoAugmentPolicy: policy,
    raMagnitude,
    randomEraseProb,
    apply(img: TensorImage, rng: Rng = Math.random): FloatImage {
      const c = checkImage(img, what);
      if (mean.length !== c || std.length !== c) {
        throw new ImageError('invalid-argument', `${what}: mean and std need one value per channel (${c}), got ${mean.length} and ${std.length}`);
      }
      let u8 = crop.apply(img, rng);
      if (flip) u8 = flip.apply(u8, rng);
      if (augment) u8 = augment.apply(u8, rng);
      // ConvertImageDtype(torch.float): v / 255 in float32.
      const x = new Float32Array(u8.data.length);
      for (let i = 0; i < x.length; i++) x[i] = Math.fround(u8.data[i]! / 255);
      const out = normalize({ data: x, shape: [u8.height, u8.width, c] }, mean, std, true);
      return erasing ? erasing.apply(out, rng) : out;
    },
  });
}
