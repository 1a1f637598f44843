// The per-sample pipelines of the trainer, pure and platform-free (they run in the loader's worker
// threads as well as on the training thread): a packed uint8 image set, the recipe's training
// augmentation and evaluation transform, and the seeds they draw from. Every random decision of a
// sample comes from `sampleSeed(seed, epoch, position)`, so a batch is the same whichever worker
// makes it, and a resumed run replays the uninterrupted run's epochs exactly.
import {
  AutoAugment,
  ClassificationPresetTrain,
  ImageClassification,
  IMAGENET_MEAN,
  IMAGENET_STD,
  RandAugment,
  RandomErasing,
  TrivialAugmentWide,
  centerCrop,
  computeResizedOutputSize,
  cropImage,
  hflip,
  normalize,
  resizeTensor,
  toTensor,
  seededRng,
  type AutoAugmentPolicy,
  type FloatImage,
  type Rng,
  type TensorImage,
} from '@mnv3/transforms';
import type { RgbImage } from '@mnv3/io';

/** Images in one buffer: sample i is `data[offsets[i] … offsets[i+1])`, `heights[i]×widths[i]×channels` HWC uint8. */
export interface PackedImages {
  data: Uint8Array;
  offsets: Float64Array;
  widths: Uint32Array;
  heights: Uint32Array;
  channels: 1 | 3;
  labels: Int32Array;
  length: number;
}

/** A dense packing of `n` images of one size (Fashion-MNIST). */
export function packUniform(data: Uint8Array, labels: ArrayLike<number>, width: number, height: number, channels: 1 | 3): PackedImages {
  const n = labels.length;
  const per = width * height * channels;
  if (data.length !== n * per) throw new RangeError(`packUniform: ${n} images of ${width}×${height}×${channels} need ${n * per} bytes, got ${data.length}`);
  return {
    data,
    offsets: Float64Array.from({ length: n + 1 }, (_, i) => i * per),
    widths: new Uint32Array(n).fill(width),
    heights: new Uint32Array(n).fill(height),
    channels,
    labels: Int32Array.from(labels),
    length: n,
  };
}

/** Samples `indices` of a packing, as a new packing (a subset: a split or a small test set). */
export function subset(images: PackedImages, indices: ArrayLike<number>): PackedImages {
  let total = 0;
  for (let k = 0; k < indices.length; k++) total += images.offsets[indices[k]! + 1]! - images.offsets[indices[k]!]!;
  const data = new Uint8Array(total);
  const offsets = new Float64Array(indices.length + 1);
  const widths = new Uint32Array(indices.length);
  const heights = new Uint32Array(indices.length);
  const labels = new Int32Array(indices.length);
  let o = 0;
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k]!;
    const a = images.offsets[i]!;
    const b = images.offsets[i + 1]!;
    data.set(images.data.subarray(a, b), o);
    offsets[k] = o;
    o += b - a;
    widths[k] = images.widths[i]!;
    heights[k] = images.heights[i]!;
    labels[k] = images.labels[i]!;
  }
  offsets[indices.length] = o;
  return { data, offsets, widths, heights, channels: images.channels, labels, length: indices.length };
}

/** What the pipelines need from a recipe (structured-clonable, sent to the workers). */
export interface PipelineSpec {
  /** 'train' (the recipe's augmentation) or 'eval' (resize + centre crop). */
  mode: 'train' | 'eval';
  trainCrop: 'RandomResizedCrop' | 'RandomCrop';
  trainCropSize: number;
  randomCropPadding: number;
  hflipProb: number;
  autoAugment: string | null;
  raMagnitude: number;
  randomErase: number;
  valResizeSize: number;
  valCropSize: number;
  /** 'bilinear' or 'nearest'. */
  interpolation: 'bilinear' | 'nearest';
  mean: readonly number[];
  std: readonly number[];
  /** train.py's --mixup-alpha / --cutmix-alpha: batch mixing after the samples' pipeline (mix.ts; 0 or absent: off). */
  mixupAlpha?: number;
  cutmixAlpha?: number;
}

/** The side of the images a pipeline makes. */
export function outputSize(spec: PipelineSpec): number {
  return spec.mode === 'train' ? spec.trainCropSize : spec.valCropSize;
}

/** A 32-bit mix of integers (splitmix-style), for seeds derived from (seed, epoch, position, …). */
export function mixSeed(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) {
    h = Math.imul(h ^ (p >>> 0), 0x85ebca6b) >>> 0;
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
    h = (h ^ (h >>> 16)) >>> 0;
  }
  return h | 0;
}

/** The seed of the sample at `position` of epoch `epoch`'s order (its augmentation's draws). */
export function sampleSeed(seed: number, epoch: number, position: number): number {
  return mixSeed(seed, 0x5a, epoch, position);
}

/** Sample i as stored: grayscale sets stay one channel (resizes and crops treat channels alike). */
function imageAt(images: PackedImages, i: number): TensorImage {
  const data = images.data.slice(images.offsets[i]!, images.offsets[i + 1]!);
  const [width, height] = [images.widths[i]!, images.heights[i]!];
  return images.channels === 1 ? { width, height, data, channels: 1 } : { width, height, data };
}

/** Grayscale to 3 channels (torchvision's Grayscale(num_output_channels=3)): the models take RGB. */
function toRgb(img: TensorImage): RgbImage {
  if (img.channels !== 1) return img;
  const { width, height, data } = img;
  const rgb = new Uint8Array(width * height * 3);
  for (let p = 0; p < width * height; p++) rgb[3 * p] = rgb[3 * p + 1] = rgb[3 * p + 2] = data[p]!;
  return { width, height, data: rgb };
}

/**
 * `normalize(toTensor(x), mean, std)` for all 256 values of each channel, entry `3·v + c`: computed
 * by those functions themselves, so a lookup gives their float32 bits.
 */
function normalizedTable(mean: readonly number[], std: readonly number[]): Float32Array {
  const ramp = new Uint8Array(256 * 3);
  for (let k = 0; k < ramp.length; k++) ramp[k] = Math.floor(k / 3);
  return normalize(toTensor({ width: 256, height: 1, data: ramp }), mean, std, true).data;
}

function policyFor(spec: PipelineSpec): { apply(img: TensorImage, rng: Rng): TensorImage } | null {
  const p = spec.autoAugment;
  if (p === null || p === undefined) return null;
  const interpolation = spec.interpolation;
  if (p === 'ta_wide') return TrivialAugmentWide({ interpolation }) as never;
  if (p === 'ra') return RandAugment({ interpolation, magnitude: spec.raMagnitude }) as never;
  return AutoAugment({ interpolation, policy: p as AutoAugmentPolicy }) as never;
}

/** Square resize of the shorter side to `size` (torchvision's Resize(int)), then a centre crop. */
function resizeCenterCrop(img: TensorImage, resizeSize: number, cropSize: number, interpolation: 'bilinear' | 'nearest'): TensorImage {
  const { width: w, height: h } = img;
  const [oh, ow] = w <= h ? [Math.floor((resizeSize * h) / w), resizeSize] : [resizeSize, Math.floor((resizeSize * w) / h)];
  const r = oh === h && ow === w ? img : resizeTensor(img, [oh, ow], interpolation);
  const top = Math.round((oh - cropSize) / 2);
  const left = Math.round((ow - cropSize) / 2);
  return top === 0 && left === 0 && oh === cropSize && ow === cropSize ? r : cropImage(r, top, left, cropSize, cropSize);
}

/** A sample transform for a spec: image index (and its seed, in train mode) → float32 HWC. */
export function makeTransform(spec: PipelineSpec): (images: PackedImages, i: number, seed: number) => FloatImage {
  const policy = spec.mode === 'train' ? policyFor(spec) : null;
  const erase = spec.mode === 'train' && spec.randomErase > 0 ? RandomErasing({ p: spec.randomErase }) : null;
  const preset =
    spec.mode === 'train' && spec.trainCrop === 'RandomResizedCrop'
      ? ClassificationPresetTrain({
          cropSize: spec.trainCropSize,
          mean: spec.mean,
          std: spec.std,
          interpolation: spec.interpolation,
          hflipProb: spec.hflipProb,
          autoAugmentPolicy: (spec.autoAugment ?? null) as never,
          raMagnitude: spec.raMagnitude,
          randomEraseProb: spec.randomErase,
        })
      : null;
  // Evaluation is the weights' preset on the tensor path (what FASHION_MNIST_V1 declares); grayscale
  // images are resized before they become RGB, a third of the work for the same values.
  const evalPreset =
    spec.mode === 'eval' ? ImageClassification({ resizeSize: spec.valResizeSize, cropSize: spec.valCropSize, interpolation: spec.interpolation, mean: spec.mean, std: spec.std, inputType: 'tensor' }) : null;
  const table = normalizedTable(spec.mean, spec.std);
  // toTensor then normalize, by table, from 1 or 3 channels.
  const toFloat = (img: TensorImage): FloatImage => {
    const n = img.width * img.height;
    const src = img.data;
    const data = new Float32Array(n * 3);
    if (img.channels === 1) {
      for (let p = 0, o = 0; p < n; p++, o += 3) {
        const v = 3 * src[p]!;
        data[o] = table[v]!;
        data[o + 1] = table[v + 1]!;
        data[o + 2] = table[v + 2]!;
      }
    } else {
      for (let o = 0; o < 3 * n; o += 3) {
        data[o] = table[3 * src[o]!]!;
        data[o + 1] = table[3 * src[o + 1]! + 1]!;
        data[o + 2] = table[3 * src[o + 2]! + 2]!;
      }
    }
    return { data, shape: [img.height, img.width, 3] };
  };
  const evaluate = (img: TensorImage): FloatImage => {
    if (img.channels !== 1) return evalPreset!.apply(img);
    const [h, w] = computeResizedOutputSize([img.height, img.width], spec.valResizeSize);
    const resized = h === img.height && w === img.width ? img : resizeTensor(img, [h, w], spec.interpolation);
    return toFloat(centerCrop(toRgb(resized), [spec.valCropSize, spec.valCropSize]));
  };
  return (images, i, seed) => {
    const img = imageAt(images, i);
    if (evalPreset) return evaluate(img);
    const rng = seededRng(seed);
    if (preset) return preset.apply(toRgb(img), rng);
    // The Fashion-MNIST recipe: Resize(size) → RandomCrop(size, padding) → flip → policy → normalise → erase.
    const size = spec.trainCropSize;
    let x = resizeCenterCrop(img, size, size, spec.interpolation);
    const pad = spec.randomCropPadding;
    if (pad > 0) {
      const top = Math.floor(rng() * (2 * pad + 1)) - pad;
      const left = Math.floor(rng() * (2 * pad + 1)) - pad;
      x = cropImage(x, top, left, size, size);
    }
    if (spec.hflipProb > 0 && rng() < Math.fround(spec.hflipProb)) x = hflip(x);
    if (policy) x = policy.apply(toRgb(x), rng);
    const f = toFloat(x);
    return erase ? erase.apply(f, rng) : f;
  };
}

/**
 * Fills `out` (float32 NHWC `[indices.length, S, S, 3]`) with the samples `indices`, which sit at
 * positions `first, first+1, …` of the epoch's order.
 */
export function fillBatch(
  transform: ReturnType<typeof makeTransform>,
  images: PackedImages,
  indices: ArrayLike<number>,
  seed: number,
  epoch: number,
  first: number,
  out: Float32Array,
  labels: Int32Array,
): void {
  let o = 0;
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k]!;
    const f = transform(images, i, sampleSeed(seed, epoch, first + k));
    out.set(f.data, o);
    o += f.data.length;
    labels[k] = images.labels[i]!;
  }
}

export { IMAGENET_MEAN, IMAGENET_STD };
