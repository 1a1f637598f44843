// ↔ torch/nn/modules/loss.py CrossEntropyLoss and torch.nn.functional.cross_entropy (torch 1.13's
// cross_entropy_loss_label_smoothing, reduction 'mean', no class weights).
import * as tf from '@tensorflow/tfjs-core';

/** Options of {@link crossEntropy}. */
export interface CrossEntropyOptions {
  /** In [0, 1]: the target mixes in the uniform distribution with this weight (default 0). */
  labelSmoothing?: number;
  /** Class-index targets equal to this take no part in the loss or its mean (default -100). */
  ignoreIndex?: number;
}

/**
 * Cross-entropy of logits against class indices or class probabilities, mean over the batch, as
 * `F.cross_entropy(logits, target, label_smoothing=ε)`:
 * - index targets `[N]` (int32): `(1 − ε)·nll + ε·mean_c(−log p_c)`, each term averaged over
 *   the rows whose target is not `ignoreIndex`;
 * - probability targets `[N, C]` (float32): `−Σ_c ((1 − ε)·t_c + ε/C)·log p_c`, averaged over N.
 *
 * Built from differentiable tfjs ops (logSoftmax, one-hot products, sums), so `tf.grad` /
 * `tf.variableGrads` give its gradient, equal to torch's (softmax − smoothed target) / N.
 * Class indices are not range-checked on the host (that would read the tensor back): an index
 * outside [0, C) other than `ignoreIndex` contributes as an ignored row would, where torch throws.
 *
 * @param logits float32 `[N, C]`.
 * @param target int32 `[N]` class indices, or float32 `[N, C]` probabilities.
 * @returns a float32 scalar.
 * @example
 * const loss = crossEntropy(model.forward(x), labels, { labelSmoothing: 0.1 });
 */
export function crossEntropy(logits: tf.Tensor, target: tf.Tensor, options: CrossEntropyOptions = {}): tf.Scalar {
  const ls = options.labelSmoothing ?? 0;
  const ignoreIndex = options.ignoreIndex ?? -100;
  if (typeof ls !== 'number' || !(ls >= 0 && ls <= 1)) {
    throw new RangeError(`crossEntropy: labelSmoothing must be a number in [0, 1], got ${String(ls)} (torch: "label_smoothing must be between 0.0 and 1.0")`);
  }
  if (!Number.isInteger(ignoreIndex)) throw new RangeError(`crossEntropy: ignoreIndex must be an integer, got ${String(ignoreIndex)}`);
  if (!(logits instanceof tf.Tensor) || logits.rank !== 2 || logits.dtype !== 'float32') {
    throw new TypeError(`crossEntropy: logits must be a float32 tensor [N, C], got ${describeTensor(logits)}`);
  }
  const [n, c] = logits.shape as [number, number];
  if (!(target instanceof tf.Tensor)) throw new TypeError(`crossEntropy: target must be an int32 tensor [N] of class indices or a float32 tensor [N, C] of probabilities, got ${String(target)}`);
  return tf.tidy(() => {
    const logp = tf.logSoftmax(logits, 1);
    if (target.rank === 1) {
      if (target.dtype !== 'int32') throw new TypeError(`crossEntropy: class-index targets must be int32, got ${target.dtype}`);
      if (target.shape[0] !== n) throw new RangeError(`crossEntropy: target has ${target.shape[0]} entries, logits ${n} rows`);
      const keep = tf.cast(tf.notEqual(target, ignoreIndex), 'float32'); // [N]
      const count = tf.sum(keep);
      const oneHot = tf.oneHot(target, c, 1, 0, 'float32'); // out-of-range rows (ignored ones) are all zero
      const nll = tf.div(tf.neg(tf.sum(tf.mul(oneHot, logp))), count);
      if (ls === 0) return nll as tf.Scalar;
      // smooth_loss = -logp.sum(class dim), ignored rows zeroed, summed, divided by the kept rows
      const smooth = tf.div(tf.neg(tf.sum(tf.mul(tf.sum(logp, 1), keep))), count);
      return tf.add(tf.mul(nll, 1 - ls), tf.mul(smooth, ls / c)) as tf.Scalar;
    }
    if (target.rank === 2) {
      if (target.dtype !== 'float32') throw new TypeError(`crossEntropy: probability targets must be float32, got ${target.dtype}`);
      if (target.shape[0] !== n || target.shape[1] !== c) {
        throw new RangeError(`crossEntropy: probability targets have shape [${target.shape.join(', ')}], logits [${n}, ${c}]`);
      }
      const t = ls === 0 ? target : tf.add(tf.mul(target, 1 - ls), ls / c);
      return tf.div(tf.neg(tf.sum(tf.mul(logp, t))), n) as tf.Scalar;
    }
    throw new TypeError(`crossEntropy: target must be [N] class indices or [N, C] probabilities, got shape [${target.shape.join(', ')}]`);
  });
}

function describeTensor(t: unknown): string {
  return t instanceof tf.Tensor ? `${t.dtype} [${t.shape.join(', ')}]` : String(t);
}
