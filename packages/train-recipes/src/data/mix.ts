// ↔ references/classification/transforms.py (TorchVision 0.14): RandomMixup and RandomCutmix, the
// batch transforms of train.py's --mixup-alpha / --cutmix-alpha (p = 1; with both, one of the two
// per batch, as transforms.RandomChoice picks), on our float32 NHWC batches. The arithmetic is
// torch's: the weights rounded to float32, each product and the sum rounded to float32. The draws
// are ours, seeded per batch (a resumed run and any worker count make the same batches):
// λ ~ Beta(α, α) as torch._sample_dirichlet([α, α])[0], the box centre uniform as torch.randint.
import { seededRng, type Rng } from '@mnv3/transforms';
import { mixSeed } from './pipeline.js';

/** A standard normal draw (Box–Muller). */
function normal(rng: Rng): number {
  const u = 1 - rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

/** Gamma(shape, 1): Marsaglia and Tsang's method; a shape below 1 as Gamma(shape + 1)·U^(1/shape). */
function sampleGamma(shape: number, rng: Rng): number {
  if (shape < 1) return sampleGamma(shape + 1, rng) * Math.pow(rng(), 1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = normal(rng);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = rng();
    if (u < 1 - 0.0331 * x ** 4 || Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

/**
 * λ ~ Beta(α, α), the first coordinate of a Dirichlet([α, α]) draw (what RandomMixup and
 * RandomCutmix take from `torch._sample_dirichlet`). When both gamma draws underflow (α ≪ 1) λ is 0
 * or 1, the limits the distribution concentrates on.
 */
export function sampleBeta(alpha: number, rng: Rng): number {
  if (!(Number.isFinite(alpha) && alpha > 0)) throw new RangeError(`sampleBeta: alpha must be a finite number > 0, got ${String(alpha)}`);
  const a = sampleGamma(alpha, rng);
  const b = sampleGamma(alpha, rng);
  return a + b > 0 ? a / (a + b) : rng() < 0.5 ? 0 : 1;
}

/**
 * RandomMixup's batch step, in place: image k = λ·image k + (1 − λ)·image k − 1 (the batch rolled
 * by one, image 0 with the last), NHWC float32 `[n][per]`.
 */
export function mixupBatch(images: Float32Array, n: number, lambda: number): void {
  const per = images.length / n;
  const l = Math.fround(lambda);
  const m = Math.fround(1 - lambda);
  const last = images.slice((n - 1) * per);
  // Backwards, so that image k − 1 is still the original when image k is mixed.
  for (let k = n - 1; k >= 0; k--) {
    const src = k === 0 ? last : images.subarray((k - 1) * per, k * per);
    const o = k * per;
    for (let i = 0; i < per; i++) images[o + i] = Math.fround(Math.fround(images[o + i]! * l) + Math.fround(src[i]! * m));
  }
}

/** A CutMix box: rows [y1, y2), columns [x1, x2). */
export interface CutmixBox {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

/**
 * RandomCutmix's box for a draw λ and centre (rx, ry) on a W×H image: half-sides int(r·W), int(r·H)
 * with r = ½·√(1 − λ), clipped to the image.
 */
export function cutmixBox(lambda: number, rx: number, ry: number, width: number, height: number): CutmixBox {
  const r = 0.5 * Math.sqrt(1 - lambda);
  const rw = Math.trunc(r * width);
  const rh = Math.trunc(r * height);
  return { x1: Math.max(rx - rw, 0), y1: Math.max(ry - rh, 0), x2: Math.min(rx + rw, width), y2: Math.min(ry + rh, height) };
}

/**
 * RandomCutmix's batch step, in place: the box of image k − 1 (the batch rolled by one) pasted into
 * image k, NHWC float32 `[n][size][size][c]`. Returns the targets' weight, 1 − box area / image area.
 */
export function cutmixBatch(images: Float32Array, n: number, size: number, box: CutmixBox): number {
  const per = images.length / n;
  const c = per / (size * size);
  const rowLen = (box.x2 - box.x1) * c;
  const last = images.slice((n - 1) * per);
  for (let k = n - 1; k >= 0; k--) {
    const src = k === 0 ? last : images.subarray((k - 1) * per, k * per);
    for (let y = box.y1; y < box.y2; y++) {
      const at = (y * size + box.x1) * c;
      images.set(src.subarray(at, at + rowLen), k * per + at);
    }
  }
  return 1 - ((box.x2 - box.x1) * (box.y2 - box.y1)) / (size * size);
}

/** What `mixBatch` needs from the pipeline: train.py's two alphas (0: off). */
export interface MixSpec {
  mixupAlpha?: number;
  cutmixAlpha?: number;
}

/** The seed of the batch that starts at `first` in epoch `epoch`'s order (its mixing draws). */
export function batchMixSeed(seed: number, epoch: number, first: number): number {
  return mixSeed(seed, 0x3c, epoch, first);
}

/**
 * train.py's collate step: with --mixup-alpha and/or --cutmix-alpha, one of RandomMixup and
 * RandomCutmix (uniformly, when both) applied to the batch in place. Returns the targets' weight λ
 * (`mixedTargets`), or undefined when the spec mixes nothing.
 */
export function mixBatch(spec: MixSpec, images: Float32Array, n: number, size: number, seed: number): number | undefined {
  const kinds = [...((spec.mixupAlpha ?? 0) > 0 ? (['mixup'] as const) : []), ...((spec.cutmixAlpha ?? 0) > 0 ? (['cutmix'] as const) : [])];
  if (kinds.length === 0 || n === 0) return undefined;
  const rng = seededRng(seed);
  const kind = kinds.length === 1 ? kinds[0]! : kinds[Math.floor(rng() * kinds.length)]!;
  if (kind === 'mixup') {
    const lambda = sampleBeta(spec.mixupAlpha!, rng);
    mixupBatch(images, n, lambda);
    return lambda;
  }
  const lambda = sampleBeta(spec.cutmixAlpha!, rng);
  const rx = Math.floor(rng() * size);
  const ry = Math.floor(rng() * size);
  return cutmixBatch(images, n, size, cutmixBox(lambda, rx, ry, size, size));
}

/**
 * The soft targets of a mixed batch, float32 `[n][numClasses]`: λ·one_hot(labels) + (1 − λ)·one_hot
 * of the labels rolled by one, rounded as torch's `mul_` and `add_` round them.
 */
export function mixedTargets(labels: Int32Array, lambda: number, numClasses: number): Float32Array {
  const n = labels.length;
  const out = new Float32Array(n * numClasses);
  const l = Math.fround(lambda);
  const m = Math.fround(1 - lambda);
  for (let k = 0; k < n; k++) {
    const a = labels[k]!;
    const b = labels[(k + n - 1) % n]!;
    out[k * numClasses + a] = l;
    out[k * numClasses + b] = a === b ? Math.fround(l + m) : m;
  }
  return out;
}
