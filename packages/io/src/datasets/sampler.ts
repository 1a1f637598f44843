// Seeded sample order for a training loop (↔ the index side of torch.utils.data's RandomSampler and
// BatchSampler), pure and platform-free. Not torch's randperm stream: the order is reproducible from
// the caller's Rng, not from torch's generator.

/**
 * A permutation of `0 … n−1` by Fisher–Yates with `rng` (uniform numbers in [0, 1)).
 *
 * @returns Uint32Array of length n.
 * @example const order = shuffledIndices(60000, seededRng(epoch));
 */
export function shuffledIndices(n: number, rng: () => number): Uint32Array {
  if (!Number.isInteger(n) || n < 0 || n > 2 ** 32 - 1) throw new RangeError(`shuffledIndices: n must be a non-negative integer, got ${n}`);
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const u = rng();
    if (!(u >= 0 && u < 1)) throw new RangeError(`shuffledIndices: rng must return numbers in [0, 1), got ${u}`);
    const j = Math.floor(u * (i + 1));
    const t = out[i]!;
    out[i] = out[j]!;
    out[j] = t;
  }
  return out;
}

/** Options of `batches`, BatchSampler's keywords. */
export interface BatchOptions {
  /** Drop a last batch smaller than `batchSize` (default false). */
  dropLast?: boolean;
}

/**
 * Splits `indices` into consecutive batches of `batchSize`, as `BatchSampler(sampler, batch_size, drop_last)`.
 *
 * @returns arrays of indices (views, no copies).
 * @example for (const b of batches(shuffledIndices(n, rng), 128)) train(b);
 */
export function batches(indices: Uint32Array, batchSize: number, options: BatchOptions = {}): Uint32Array[] {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batches: batchSize must be a positive integer, got ${batchSize}`);
  const out: Uint32Array[] = [];
  for (let i = 0; i < indices.length; i += batchSize) {
    const b = indices.subarray(i, Math.min(indices.length, i + batchSize));
    if (b.length < batchSize && options.dropLast) break;
    out.push(b);
  }
  return out;
}
