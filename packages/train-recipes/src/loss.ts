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
 * Differentiable (`tf.grad`, `tf.variableGrads`; the app registers tfjs' gradients, e.g. `import
 * '@tensorflow/tfjs-core/dist/register_all_gradients'`): the gradient w.r.t. the logits is torch's
 * `(softmax − smoothed target) / N`, written out with a custom gradient.
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
  if (target.rank === 1) {
    if (target.dtype !== 'int32') throw new TypeError(`crossEntropy: class-index targets must be int32, got ${target.dtype}`);
    if (target.shape[0] !== n) throw new RangeError(`crossEntropy: target has ${target.shape[0]} entries, logits ${n} rows`);
  } else if (target.rank === 2) {
    if (target.dtype !== 'float32') throw new TypeError(`crossEntropy: probability targets must be float32, got ${target.dtype}`);
    if (target.shape[0] !== n || target.shape[1] !== c) {
      throw new RangeError(`crossEntropy: probability targets have shape [${target.shape.join(', ')}], logits [${n}, ${c}]`);
    }
  } else {
    throw new TypeError(`crossEntropy: target must be [N] class indices or [N, C] probabilities, got shape [${target.shape.join(', ')}]`);
  }
  // loss = -Σ w·log p / count with per-row weights w; d loss / d logits = (p·Σ_c w − w) / count.
  // The gradient is written out (as torch's log_softmax backward computes it) so that the weights'
  // row sum can be exact: tfjs sums 1000 classes one by one in float32, an error of 1e-5.
  const forward = (x: tf.Tensor, save: tf.GradSaveFunc) => {
    const logp = tf.logSoftmax(x, 1);
    let w: tf.Tensor; // [N, C]
    let rowSum: tf.Tensor; // [N, 1], Σ_c w
    let count: tf.Tensor; // scalar
    if (target.rank === 1) {
      const keep = tf.cast(tf.notEqual(target, ignoreIndex), 'float32'); // [N]
      // int32 then cast: tfjs-backend-wasm 4.22's OneHot writes the int32 bits of 1 into a float32
      // output when asked for float32 (1.4e-45). Out-of-range rows (ignored ones) are all zero.
      const oneHot = tf.cast(tf.oneHot(target, c), 'float32');
      w = ls === 0 ? oneHot : tf.add(tf.mul(oneHot, 1 - ls), tf.mul(tf.reshape(keep, [n, 1]), ls / c));
      rowSum = tf.reshape(keep, [n, 1]); // (1 − ε) + C·ε/C = 1 for kept rows
      count = tf.sum(keep);
    } else {
      w = ls === 0 ? target : tf.add(tf.mul(target, 1 - ls), ls / c);
      rowSum = tf.sum(w, 1, true);
      count = tf.scalar(n);
    }
    // torch: (1 − ε)·nll + (ε/C)·smooth for index targets; −Σ(logp·w)/N for probabilities
    const value =
      target.rank === 1 && ls !== 0
        ? tf.add(
            tf.mul(tf.div(tf.neg(tf.sum(tf.mul(tf.cast(tf.oneHot(target, c), 'float32'), logp))), count), 1 - ls),
            tf.mul(tf.div(tf.neg(tf.sum(tf.mul(tf.sum(logp, 1), tf.reshape(rowSum, [n])))), count), ls / c),
          )
        : tf.div(tf.neg(tf.sum(tf.mul(logp, w))), count);
    save([logp, w, rowSum, count]);
    return {
      value: value as tf.Scalar,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [lp, ww, rs, cnt] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
        return tf.mul(tf.div(tf.sub(tf.mul(tf.exp(lp), rs), ww), cnt), dy);
      },
    };
  };
  // customGrad's type spreads inputs and the save function into one rest parameter.
  const f = tf.customGrad(forward as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(logits) as tf.Scalar;
}

function describeTensor(t: unknown): string {
  return t instanceof tf.Tensor ? `${t.dtype} [${t.shape.join(', ')}]` : String(t);
}
