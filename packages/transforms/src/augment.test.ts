import { describe, expect, it } from 'vitest';
import {
  AutoAugment,
  ClassificationPresetTrain,
  RandAugment,
  RandomErasing,
  RandomResizedCrop,
  TrivialAugmentWide,
  adjustBrightness,
  affine,
  applyOp,
  posterize,
  rotate,
  seededRng,
  solarize,
  type TensorImage,
} from './index.js';

const img: TensorImage = { width: 5, height: 4, data: Uint8Array.from({ length: 60 }, (_, i) => (i * 37) % 256) };
const gray: TensorImage = { width: 5, height: 4, channels: 1, data: Uint8Array.from({ length: 20 }, (_, i) => i * 13) };

describe('bad input names the problem and the valid values', () => {
  it('policies and options', () => {
    expect(() => AutoAugment({ policy: 'imagnet' as never })).toThrow(/unknown policy "imagnet"; choose one of imagenet, cifar10, svhn/);
    expect(() => RandAugment({ magnitude: 31 })).toThrow(/magnitude must be an integer bin in \[0, 30\]/);
    expect(() => RandAugment({ magnitude: 3, numMagnitudeBins: 1 })).toThrow(/numMagnitudeBins must be an integer ≥ 2/);
    expect(() => TrivialAugmentWide({ interpolation: 'bicubic' as never })).toThrow(/choose one of nearest, bilinear/);
    expect(() => ClassificationPresetTrain({ cropSize: 224, autoAugmentPolicy: 'augmix' as never })).toThrow(/AugMix is not ported.*choose one of ra, ta_wide, imagenet, cifar10, svhn or null/);
    expect(() => RandomResizedCrop({ size: 0 })).toThrow(/size must be a positive integer/);
    expect(() => RandomResizedCrop({ size: 8, scale: [1, 0.5] })).toThrow(/min ≤ max/);
    expect(() => RandomErasing({ scale: [0.1, 1.5] })).toThrow(/within \[0, 1\]/);
    expect(() => RandomErasing({ value: 'noise' as never })).toThrow(/'random'/);
    expect(() => applyOp(img, 'Blur' as never, 1)).toThrow(/unknown operation "Blur"; choose one of Identity, ShearX/);
  });
  it('magnitudes and images', () => {
    expect(() => posterize(img, 9)).toThrow(/bits must be an integer in \[0, 8\]/);
    expect(() => solarize(img, 256)).toThrow(/threshold must be a number ≤ 255/);
    expect(() => adjustBrightness(img, -0.1)).toThrow(/brightness_factor \(-0.1\) is not a non-negative/);
    expect(() => affine(img, { scale: 0 })).toThrow(/scale must be positive/);
    expect(() => rotate(img, 10, { fill: [1, 2] })).toThrow(/fill needs 1 value or one per channel \(3\)/);
    expect(() => rotate({ width: 5, height: 4, data: new Uint8Array(59) }, 10)).toThrow(/needs 60 bytes/);
    expect(() => rotate({ width: 5, height: 4, channels: 4, data: new Uint8Array(80) } as never, 10)).toThrow(/1 \(grayscale\) or 3 \(RGB\) channels/);
    expect(() => ClassificationPresetTrain({ cropSize: 4 }).apply(gray, seededRng(0))).toThrow(/one value per channel \(1\)/);
    expect(() => AutoAugment().apply(img, () => 1)).toThrow(/rng must return numbers in \[0, 1\)/);
  });
});

describe('seeded randomness', () => {
  it('is reproducible and varies with the seed', () => {
    const t = ClassificationPresetTrain({ cropSize: 4, autoAugmentPolicy: 'imagenet', randomEraseProb: 0.5 });
    const a = t.apply(img, seededRng(3));
    expect(t.apply(img, seededRng(3)).data).toEqual(a.data);
    const others = [4, 5, 6, 7].map((s) => t.apply(img, seededRng(s)).data);
    expect(others.some((o) => o.some((v, i) => v !== a.data[i]))).toBe(true);
  });
  it('keeps grayscale images grayscale through every policy', () => {
    for (const p of ['ra', 'ta_wide', 'imagenet', 'cifar10', 'svhn'] as const) {
      const x = ClassificationPresetTrain({ cropSize: 3, autoAugmentPolicy: p, mean: [0.5], std: [0.25] }).apply(gray, seededRng(1));
      expect(x.shape).toEqual([3, 3, 1]);
    }
  });
});
