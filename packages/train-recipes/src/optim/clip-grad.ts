// ↔ torch/nn/utils/clip_grad.py: clip_grad_norm_ with the 2-norm, as train.py's --clip-grad-norm
// calls it between backward and the optimiser step.
import * as tf from '@tensorflow/tfjs-core';
import type { Gradients } from './optimizer.js';

/**
 * `torch.nn.utils.clip_grad_norm_(parameters, maxNorm)`: the total norm is the 2-norm of the
 * per-gradient 2-norms; every gradient is multiplied by min(maxNorm / (total + 1e-6), 1) (by 1 too,
 * as torch does). Returns the scaled gradients, in the form given (new tensors: the caller still
 * owns the inputs), and the total norm before clipping.
 *
 * @example const { grads: clipped } = clipGradNorm(tf.variableGrads(loss).grads, 1.0);
 */
export function clipGradNorm<G extends Gradients>(grads: G, maxNorm: number): { grads: G; totalNorm: tf.Scalar } {
  if (!(typeof maxNorm === 'number' && Number.isFinite(maxNorm) && maxNorm > 0)) {
    throw new RangeError(`clipGradNorm: maxNorm (--clip-grad-norm) must be a finite number > 0, got ${String(maxNorm)}`);
  }
  const entries: [unknown, tf.Tensor][] = grads instanceof Map ? [...grads] : Object.entries(grads);
  const totalNorm = tf.tidy(() =>
    entries.length === 0 ? tf.scalar(0) : (tf.sqrt(tf.sum(tf.square(tf.stack(entries.map(([, g]) => tf.sqrt(tf.sum(tf.square(g)))))))) as tf.Scalar),
  );
  const coef = tf.tidy(() => tf.minimum(tf.div(tf.scalar(maxNorm), tf.add(totalNorm, tf.scalar(1e-6))), tf.scalar(1)));
  // One op per gradient, outside tidy: tidy would not keep tensors held in a Map.
  const scaled = entries.map(([k, g]) => [k, tf.mul(g, coef)] as const);
  coef.dispose();
  const out = grads instanceof Map ? new Map(scaled as [tf.Variable, tf.Tensor][]) : Object.fromEntries(scaled);
  return { grads: out as G, totalNorm };
}
