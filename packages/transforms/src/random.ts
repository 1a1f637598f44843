// Injectable randomness for the random transforms. TorchVision draws from torch's global generator;
// ours take an `Rng` (uniform numbers in [0, 1)), so a caller can seed it, and a test can feed the
// decisions torch took. Each torch draw maps to one `rng()` call, in torch's order:
//   torch.rand(1) < p           ↔ rng() < fround(p)      (torch compares in float32)
//   torch.randint(low, high)    ↔ low + floor(rng() · (high − low))
//   torch.empty(1).uniform_(a, b) ↔ a + rng() · (b − a), in float32 as torch's kernel
//   normal_ (RandomErasing 'random') ↔ Box–Muller, two rng() per pair of values
import { ImageError } from '@mnv3/io';
import { f32, fma32 } from './tensor-image.js';

/** A source of uniform random numbers in [0, 1), like `Math.random`. */
export type Rng = () => number;

/**
 * A small seeded generator (mulberry32) for reproducible augmentation.
 *
 * @param seed any 32-bit integer.
 * @returns an `Rng` giving uniform numbers in [0, 1) with 32 random bits each.
 * @example
 * const rng = seededRng(42);
 * const x = preset.apply(img, rng);
 */
export function seededRng(seed: number): Rng {
  if (!Number.isInteger(seed)) throw new ImageError('invalid-argument', `seededRng: seed must be an integer, got ${seed}`);
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** @internal One draw, checked: an Rng that returns anything outside [0, 1) is a bug worth naming. */
export function draw(rng: Rng): number {
  const u = rng();
  if (typeof u !== 'number' || !(u >= 0 && u < 1)) throw new ImageError('invalid-argument', `rng must return numbers in [0, 1), got ${String(u)}`);
  return u;
}

/** @internal `torch.randint(low, high)`. */
export function randint(rng: Rng, low: number, high: number): number {
  return low + Math.min(high - low - 1, Math.floor(draw(rng) * (high - low)));
}

/** @internal `torch.empty(1).uniform_(a, b).item()`: torch's CPU kernel computes `x·(b − a) + a` in float32, fused on AVX2. */
export function uniform(rng: Rng, a: number, b: number): number {
  const from = f32(a);
  const to = f32(b);
  return fma32(f32(draw(rng)), f32(to - from), from);
}

/** @internal Standard normal values by Box–Muller (two draws per pair). */
export function normals(rng: Rng, n: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u1 = 1 - draw(rng);
    const u2 = draw(rng);
    const r = Math.sqrt(-2 * Math.log(u1));
    out[i] = r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * u2);
  }
  return out;
}
