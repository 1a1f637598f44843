/** One class of a classification result. */
export interface Prediction {
  /** Class index in the model's output. */
  index: number;
  /** Class name from the weights' categories (the index as text when there are none). */
  label: string;
  /** Softmax probability. */
  score: number;
}

/** Softmax over one row of logits, in float64 for stability. */
export function softmax(logits: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]!);
  const out = new Float64Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += out[i] = Math.exp(logits[i]! - max);
  for (let i = 0; i < out.length; i++) out[i]! /= sum;
  return out;
}

/**
 * The `k` most probable classes of one row of logits, best first; ties keep the lower index
 * first, as `torch.topk` does on CPU for distinct values.
 */
export function topk(logits: ArrayLike<number>, k: number, categories?: readonly string[]): Prediction[] {
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`topk must be a positive integer, got ${k}`);
  const probs = softmax(logits);
  const order = Array.from(probs.keys()).sort((a, b) => probs[b]! - probs[a]! || a - b);
  return order.slice(0, Math.min(k, probs.length)).map((index) => ({
    index,
    label: categories?.[index] ?? String(index),
    score: probs[index]!,
  }));
}
