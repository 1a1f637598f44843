// ↔ torch/optim/rmsprop.py (torch 1.13, `_single_tensor_rmsprop`), with TensorFlow's epsilon
// placement as an option.
import * as tf from '@tensorflow/tfjs-core';
import { fusedRmspropStep } from '@mnv3/layers/train';
import { Optimizer, checkBoolean, checkNonNegative, type GroupBase, type OptionSpec, type ParamGroupInit, type StateValue } from './optimizer.js';

/** Where RMSprop adds epsilon: PyTorch's `sqrt(v) + eps` or TensorFlow's `sqrt(v + eps)`. */
export type EpsPlacement = 'outside' | 'inside';
export const EPS_PLACEMENTS: readonly EpsPlacement[] = ['outside', 'inside'];

/** Options of {@link RMSprop}, as torch's keyword arguments in camelCase. */
export interface RMSpropOptions {
  /** Learning rate (default 0.01). */
  lr: number;
  /** Smoothing constant of the squared-gradient average (default 0.99; TF calls it `rho` / `decay`). */
  alpha: number;
  /** Added to the denominator (default 1e-8); see `epsPlacement`. */
  eps: number;
  /** L2 penalty added to the gradient (default 0). */
  weightDecay: number;
  /** Momentum factor (default 0). */
  momentum: number;
  /** Divide by an estimate of the gradient's variance, `v − mean(g)²` (default false). */
  centered: boolean;
  /** Maximise the objective instead (default false). */
  maximize: boolean;
  /**
   * `'outside'` (default, torch): `avg = sqrt(v) + eps`. `'inside'` (TensorFlow's
   * `tf.train.RMSPropOptimizer` / Keras `RMSprop`): `avg = sqrt(v + eps)`. For the same
   * effect near v = 0, `eps_outside ≈ sqrt(eps_inside)`: TorchVision's 0.0316 is √0.001.
   * Only the epsilon moves: the momentum buffer stays torch's (`lr` applied outside it), which
   * equals TF's `mom = momentum·mom + lr·g/avg` while the learning rate is constant.
   */
  epsPlacement: EpsPlacement;
}

const OPTIONS: readonly OptionSpec[] = [
  { key: 'lr', torch: 'lr', check: checkNonNegative('learning rate (lr)') },
  { key: 'alpha', torch: 'alpha', check: checkNonNegative('alpha') },
  { key: 'eps', torch: 'eps', check: checkNonNegative('epsilon (eps)') },
  { key: 'weightDecay', torch: 'weight_decay', check: checkNonNegative('weight_decay (weightDecay)') },
  { key: 'momentum', torch: 'momentum', check: checkNonNegative('momentum') },
  { key: 'centered', torch: 'centered', check: checkBoolean('centered') },
  { key: 'maximize', torch: 'maximize', check: checkBoolean('maximize') },
  {
    key: 'epsPlacement',
    torch: 'eps_placement',
    check: (v, where) => {
      if (v !== 'outside' && v !== 'inside') {
        throw new RangeError(`${where}: epsPlacement must be 'outside' (PyTorch: sqrt(v) + eps) or 'inside' (TensorFlow: sqrt(v + eps)), got ${JSON.stringify(v)}`);
      }
    },
  },
];

/**
 * torch.optim.RMSprop on tf.Variables, torch 1.13's arithmetic in float32:
 * `g = g + wd·p; v = alpha·v + (1 − alpha)·g·g; avg = sqrt(v) + eps` (centered: `a = alpha·a +
 * (1 − alpha)·g; avg = sqrt(v − a·a) + eps`); with momentum `buf = momentum·buf + g/avg;
 * p = p − lr·buf`, else `p = p − lr·g/avg`. State: `step`, `square_avg`, `momentum_buffer`
 * (momentum > 0), `grad_avg` (centered), as torch names them.
 *
 * TorchVision's MobileNetV3 recipe: `new RMSprop(params, { lr: 0.064, alpha: 0.9, eps: 0.0316,
 * momentum: 0.9, weightDecay: 1e-5 })`.
 *
 * @example
 * const opt = new RMSprop(params, { lr: 0.064, alpha: 0.9, eps: 0.0316, momentum: 0.9, weightDecay: 1e-5 });
 * opt.step(grads);
 */
export class RMSprop extends Optimizer<RMSpropOptions> {
  constructor(params: tf.Variable[] | ParamGroupInit<RMSpropOptions>[], options: Partial<RMSpropOptions> = {}) {
    super(
      'RMSprop',
      params,
      { lr: 1e-2, alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0, centered: false, maximize: false, epsPlacement: 'outside', ...options },
      OPTIONS,
      { foreach: false, differentiable: false },
    );
  }

  protected update(param: tf.Variable, grad: tf.Tensor, g: GroupBase & RMSpropOptions, state: Record<string, StateValue>): void {
    if (state.step === undefined) {
      state.step = 0;
      state.square_avg = this.buffer(tf.zerosLike(param));
      if (g.momentum > 0) state.momentum_buffer = this.buffer(tf.zerosLike(param));
      if (g.centered) state.grad_avg = this.buffer(tf.zerosLike(param));
    }
    state.step = (state.step as number) + 1;
    const squareAvg = state.square_avg as tf.Variable;
    const momentumBuffer = g.momentum > 0 ? requireState(state, 'momentum_buffer', 'momentum > 0') : undefined;
    const gradAvg = g.centered ? requireState(state, 'grad_avg', 'centered') : undefined;
    const fused = fusedRmspropStep(
      { param, grad, squareAvg, ...(momentumBuffer ? { momentumBuffer } : {}), ...(gradAvg ? { gradAvg } : {}) },
      { lr: g.lr, alpha: g.alpha, eps: g.eps, weightDecay: g.weightDecay, momentum: g.momentum, centered: g.centered, epsInside: g.epsPlacement === 'inside', maximize: g.maximize },
    );
    if (fused) {
      const [p, s, ...rest] = fused as [tf.Tensor, tf.Tensor, ...tf.Tensor[]];
      param.assign(p);
      squareAvg.assign(s);
      if (momentumBuffer) momentumBuffer.assign(rest.shift()!);
      if (gradAvg) gradAvg.assign(rest.shift()!);
      return;
    }
    // The same arithmetic from tfjs ops (any backend).
    let d = g.maximize ? tf.neg(grad) : grad;
    if (g.weightDecay !== 0) d = tf.add(d, tf.mul(param, g.weightDecay));
    // addcmul_(g, g, value=1-alpha): self + ((value·g)·g)
    squareAvg.assign(tf.add(tf.mul(squareAvg, g.alpha), tf.mul(tf.mul(d, 1 - g.alpha), d)));
    let v: tf.Tensor = squareAvg;
    if (gradAvg) {
      gradAvg.assign(tf.add(tf.mul(gradAvg, g.alpha), tf.mul(d, 1 - g.alpha)));
      v = tf.sub(squareAvg, tf.mul(gradAvg, gradAvg)); // addcmul(a, a, value=-1)
    }
    const avg = g.epsPlacement === 'inside' ? tf.sqrt(tf.add(v, g.eps)) : tf.add(tf.sqrt(v), g.eps);
    if (momentumBuffer) {
      momentumBuffer.assign(tf.add(tf.mul(momentumBuffer, g.momentum), tf.div(d, avg)));
      param.assign(tf.add(param, tf.mul(momentumBuffer, -g.lr)));
    } else {
      // addcdiv_(d, avg, value=-lr): self + value·(d / avg)
      param.assign(tf.add(param, tf.mul(tf.div(d, avg), -g.lr)));
    }
  }
}

function requireState(state: Record<string, StateValue>, key: string, why: string): tf.Variable {
  const v = state[key];
  if (!(v instanceof tf.Variable)) {
    throw new Error(`RMSprop: a parameter's state has no ${key} although ${why} (a group option changed after its first step, or the loaded state dict lacks it)`);
  }
  return v;
}
