// The trainer's per-sample pipelines against the plain composition of @mnv3/transforms' ops (each
// held to torchvision by the transforms suites): grayscale is made RGB first, then the train order
// Resize → RandomCrop(padding) → flip → policy → ToTensor → Normalize → RandomErasing, or the
// weights' eval preset. The pipelines take short cuts (grayscale resized before it becomes RGB,
// ToTensor and Normalize by table); the bits must not change.
import { describe, expect, it } from 'vitest';
import {
  AutoAugment,
  ImageClassification,
  RandAugment,
  RandomErasing,
  TrivialAugmentWide,
  cropImage,
  hflip,
  normalize,
  resizeTensor,
  seededRng,
  toTensor,
  type AutoAugmentPolicy,
  type FloatImage,
  type TensorImage,
} from '@mnv3/transforms';
import type { RgbImage } from '@mnv3/io';
import { readFashionMnist } from '@mnv3/io/node';
import { getRecipe, makeTransform, packUniform, pipelineSpec, type PackedImages, type PipelineSpec } from '../src/index.js';

function rgbAt(images: PackedImages, i: number): RgbImage {
  const data = images.data.slice(images.offsets[i]!, images.offsets[i + 1]!);
  const [width, height] = [images.widths[i]!, images.heights[i]!];
  if (images.channels === 3) return { width, height, data };
  const rgb = new Uint8Array(width * height * 3);
  for (let p = 0; p < width * height; p++) rgb[3 * p] = rgb[3 * p + 1] = rgb[3 * p + 2] = data[p]!;
  return { width, height, data: rgb };
}

/** The Fashion-MNIST recipe's transforms, op by op on RGB (square images). */
function reference(spec: PipelineSpec, images: PackedImages, i: number, seed: number): FloatImage {
  const img = rgbAt(images, i);
  if (spec.mode === 'eval') {
    return ImageClassification({ resizeSize: spec.valResizeSize, cropSize: spec.valCropSize, interpolation: spec.interpolation, mean: spec.mean, std: spec.std, inputType: 'tensor' }).apply(img);
  }
  const rng = seededRng(seed);
  const size = spec.trainCropSize;
  let x: TensorImage = resizeTensor(img, [size, size], spec.interpolation);
  const pad = spec.randomCropPadding;
  const top = Math.floor(rng() * (2 * pad + 1)) - pad;
  const left = Math.floor(rng() * (2 * pad + 1)) - pad;
  x = cropImage(x, top, left, size, size);
  if (rng() < Math.fround(spec.hflipProb)) x = hflip(x);
  const p = spec.autoAugment;
  const interpolation = spec.interpolation;
  if (p === 'ta_wide') x = TrivialAugmentWide({ interpolation }).apply(x, rng);
  else if (p === 'ra') x = RandAugment({ interpolation, magnitude: spec.raMagnitude }).apply(x, rng);
  else if (p) x = AutoAugment({ interpolation, policy: p as AutoAugmentPolicy }).apply(x, rng);
  const f = normalize(toTensor(x as RgbImage), spec.mean, spec.std, true);
  return spec.randomErase > 0 ? RandomErasing({ p: spec.randomErase }).apply(f, rng) : f;
}

describe('the Fashion-MNIST pipelines', () => {
  const SAMPLES = 40;
  const fm = readFashionMnist({ train: false }).then((te) => packUniform(te.images.subarray(0, SAMPLES * 784), te.labels.subarray(0, SAMPLES), 28, 28, 1));
  const plain = getRecipe('mobilenet_v3_small-fashion-mnist');
  const cases: [string, PipelineSpec][] = [
    ['eval', pipelineSpec(plain, 'eval')],
    ['eval at 40 from a resize to 48', pipelineSpec(getRecipe(plain.name, { valResizeSize: 48, valCropSize: 40 }), 'eval')],
    ['plain train', pipelineSpec(plain, 'train')],
    ['full train (TrivialAugmentWide, RandomErasing)', pipelineSpec(getRecipe('mobilenet_v3_small-fashion-mnist-full'), 'train')],
    ['full train, AutoAugment imagenet', pipelineSpec(getRecipe('mobilenet_v3_small-fashion-mnist-full', { autoAugment: 'imagenet' }), 'train')],
    ['full train, RandAugment', pipelineSpec(getRecipe('mobilenet_v3_small-fashion-mnist-full', { autoAugment: 'ra', raMagnitude: 12 }), 'train')],
    ['full train, no policy', pipelineSpec(getRecipe('mobilenet_v3_small-fashion-mnist-full', { autoAugment: null }), 'train')],
  ];
  it.each(cases)('%s: bit for bit the composition of the ops', async (_, spec) => {
    const images = await fm;
    const transform = makeTransform(spec);
    for (let i = 0; i < SAMPLES; i++) {
      const seed = 1000 + 17 * i;
      const got = transform(images, i, seed);
      const want = reference(spec, images, i, seed);
      expect(got.shape).toEqual(want.shape);
      expect(Buffer.from(got.data.buffer).equals(Buffer.from(want.data.buffer)), `sample ${i}`).toBe(true);
    }
  });

  it('eval: a grayscale image that is not square, and an RGB image, as the preset gives them', () => {
    const rng = seededRng(5);
    const gray = new Uint8Array(30 * 21).map(() => Math.floor(rng() * 256));
    const rgb = new Uint8Array(19 * 26 * 3).map(() => Math.floor(rng() * 256));
    const offsets = Float64Array.from([0, gray.length, gray.length + rgb.length]);
    // Packed sets hold one channel count; two sets, one image each.
    const g: PackedImages = { data: gray, offsets: offsets.subarray(0, 2), widths: Uint32Array.of(21), heights: Uint32Array.of(30), channels: 1, labels: Int32Array.of(0), length: 1 };
    const c: PackedImages = { data: rgb, offsets: Float64Array.of(0, rgb.length), widths: Uint32Array.of(26), heights: Uint32Array.of(19), channels: 3, labels: Int32Array.of(0), length: 1 };
    const spec = pipelineSpec(getRecipe('mobilenet_v3_small-fashion-mnist', { valResizeSize: 24, valCropSize: 21 }), 'eval');
    for (const images of [g, c]) {
      const got = makeTransform(spec)(images, 0, 0);
      const want = reference(spec, images, 0, 0);
      expect(got.shape).toEqual(want.shape);
      expect(Buffer.from(got.data.buffer).equals(Buffer.from(want.data.buffer))).toBe(true);
    }
  });
});
