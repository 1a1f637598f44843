// ↔ torch/optim/adamw.py (torch 1.13, `_single_tensor_adamw`, capturable=False).
import * as tf from '@tensorflow/tfjs-core';
import { Optimizer, checkBoolean, checkNonNegative, type GroupBase, type OptionSpec, type ParamGroupInit, type StateValue } from './optimizer.js';

/** Options of {@link AdamW}, as torch's keyword arguments in camelCase. */
export interface AdamWOptions {
  /** Learning rate (default 1e-3). */
  lr: number;
  /** Coefficients of the running averages of the gradient and its square (default [0.9, 0.999]). */
  betas: [number, number];
  /** Added to the denominator, outside the square root (default 1e-8). */
  eps: number;
  /** Decoupled weight decay, `p = p·(1 − lr·weightDecay)` before the update (default 1e-2). */
  weightDecay: number;
  /** AMSGrad: divide by the running maximum of the second moment (default false). */
  amsgrad: boolean;
  /** Maximise the objective instead (default false). */
  maximize: boolean;
}

const OPTIONS: readonly OptionSpec[] = [
  { key: 'lr', torch: 'lr', check: checkNonNegative('learning rate (lr)') },
  {
    key: 'betas',
    torch: 'betas',
    check: (v, where) => {
      const ok = Array.isArray(v) && v.length === 2 && v.every((b) => typeof b === 'number' && b >= 0 && b < 1);
      if (!ok) throw new RangeError(`${where}: betas must be two numbers in [0, 1), got ${JSON.stringify(v)} (torch: "Invalid beta parameter")`);
    },
  },
  { key: 'eps', torch: 'eps', check: checkNonNegative('epsilon (eps)') },
  { key: 'weightDecay', torch: 'weight_decay', check: checkNonNegative('weight_decay (weightDecay)') },
  { key: 'amsgrad', torch: 'amsgrad', check: checkBoolean('amsgrad') },
  { key: 'maximize', torch: 'maximize', check: checkBoolean('maximize') },
];

/**
 * torch.optim.AdamW on tf.Variables, torch 1.13's arithmetic in float32:
 * `step += 1; p = p·(1 − lr·wd); m = β1·m + (1 − β1)·g; v = β2·v + (1 − β2)·g·g;
 * denom = sqrt(v) / sqrt(1 − β2^step) + eps; p = p − (lr / (1 − β1^step))·m / denom`
 * (AMSGrad: `vmax = max(vmax, v)` in place of v). State: `step` (a float32 0-d tensor in
 * `stateDict()`, as torch keeps it), `exp_avg`, `exp_avg_sq`, `max_exp_avg_sq` (amsgrad).
 *
 * @example
 * const opt = new AdamW(params, { lr: 1e-3, weightDecay: 0.05 });
 * opt.step(grads);
 */
export class AdamW extends Optimizer<AdamWOptions> {
  constructor(params: tf.Variable[] | ParamGroupInit<AdamWOptions>[], options: Partial<AdamWOptions> = {}) {
    super('AdamW', params, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 1e-2, amsgrad: false, maximize: false, ...options }, OPTIONS, {
      foreach: false,
      capturable: false,
    });
  }

  protected override stepAsTensor(): boolean {
    return true;
  }

  protected update(param: tf.Variable, grad: tf.Tensor, g: GroupBase & AdamWOptions, state: Record<string, StateValue>): void {
    if (state.step === undefined) {
      state.step = 0;
      state.exp_avg = this.buffer(tf.zerosLike(param));
      state.exp_avg_sq = this.buffer(tf.zerosLike(param));
      if (g.amsgrad) state.max_exp_avg_sq = this.buffer(tf.zerosLike(param));
    }
    // torch keeps step in a float32 tensor and reads it back with .item().
    const step = Math.fround((state.step as number) + 1);
    state.step = step;
    const [beta1, beta2] = g.betas;
    const d = g.maximize ? tf.neg(grad) : grad;
    param.assign(tf.mul(param, 1 - g.lr * g.weightDecay));
    const expAvg = state.exp_avg as tf.Variable;
    const expAvgSq = state.exp_avg_sq as tf.Variable;
    expAvg.assign(tf.add(tf.mul(expAvg, beta1), tf.mul(d, 1 - beta1)));
    expAvgSq.assign(tf.add(tf.mul(expAvgSq, beta2), tf.mul(tf.mul(d, 1 - beta2), d)));
    const biasCorrection1 = 1 - beta1 ** step;
    const biasCorrection2 = 1 - beta2 ** step;
    const stepSize = g.lr / biasCorrection1;
    const biasCorrection2Sqrt = Math.sqrt(biasCorrection2);
    let second: tf.Tensor = expAvgSq;
    if (g.amsgrad) {
      const max = state.max_exp_avg_sq;
      if (!(max instanceof tf.Variable)) throw new Error('AdamW: a parameter has no max_exp_avg_sq state although amsgrad is on (turned on after its first step?)');
      max.assign(tf.maximum(max, expAvgSq));
      second = max;
    }
    const denom = tf.add(tf.div(tf.sqrt(second), biasCorrection2Sqrt), g.eps);
    param.assign(tf.add(param, tf.div(tf.mul(expAvg, -stepSize), denom)));
  }
}
