// ↔ torch/optim/sgd.py (torch 1.13, `_single_tensor_sgd`).
import * as tf from '@tensorflow/tfjs-core';
import { fusedSgdStep } from '@mnv3/layers/train';
import { Optimizer, checkBoolean, checkNonNegative, type GroupBase, type OptionSpec, type ParamGroupInit, type StateValue } from './optimizer.js';

/** Options of {@link SGD}, as torch's keyword arguments in camelCase. */
export interface SGDOptions {
  /** Learning rate (torch requires it; no default). */
  lr: number;
  /** Momentum factor (default 0: plain SGD). */
  momentum: number;
  /** Dampening for momentum (default 0). */
  dampening: number;
  /** L2 penalty added to the gradient, `grad + weightDecay·param` (default 0). */
  weightDecay: number;
  /** Nesterov momentum (default false); needs momentum > 0 and dampening 0. */
  nesterov: boolean;
  /** Maximise the objective instead (default false). */
  maximize: boolean;
}

const OPTIONS: readonly OptionSpec[] = [
  { key: 'lr', torch: 'lr', check: checkNonNegative('learning rate (lr)') },
  { key: 'momentum', torch: 'momentum', check: checkNonNegative('momentum') },
  { key: 'dampening', torch: 'dampening', check: checkNonNegative('dampening') },
  { key: 'weightDecay', torch: 'weight_decay', check: checkNonNegative('weight_decay (weightDecay)') },
  { key: 'nesterov', torch: 'nesterov', check: checkBoolean('nesterov') },
  { key: 'maximize', torch: 'maximize', check: checkBoolean('maximize') },
];

/**
 * torch.optim.SGD on tf.Variables, with torch 1.13's arithmetic in float32:
 * `d = g + wd·p; buf = momentum·buf + (1 − dampening)·d` (`buf = d` at the first step);
 * `d = nesterov ? d + momentum·buf : buf; p = p − lr·d`. State: `momentum_buffer` (null without
 * momentum, as torch stores None).
 *
 * @example
 * const opt = new SGD([w, b], { lr: 0.1, momentum: 0.9, weightDecay: 1e-4 });
 * const { grads } = tf.variableGrads(() => loss(), [w, b]);
 * opt.step(grads); tf.dispose(grads);
 */
export class SGD extends Optimizer<SGDOptions> {
  constructor(params: tf.Variable[] | ParamGroupInit<SGDOptions>[], options: Partial<SGDOptions> & { lr: number }) {
    if (options === null || typeof options !== 'object' || options.lr === undefined) {
      throw new TypeError('SGD: options.lr is required (torch: "required parameter lr"), e.g. new SGD(params, { lr: 0.1 })');
    }
    super('SGD', params, { momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, maximize: false, ...options }, OPTIONS, { foreach: false, differentiable: false });
  }

  protected override checkGroup(g: SGDOptions, where: string): void {
    if (g.nesterov && (g.momentum <= 0 || g.dampening !== 0)) {
      throw new RangeError(`${where}: Nesterov momentum requires a momentum and zero dampening (got momentum ${g.momentum}, dampening ${g.dampening})`);
    }
  }

  protected update(param: tf.Variable, grad: tf.Tensor, g: GroupBase & SGDOptions, state: Record<string, StateValue>): void {
    const prev = state.momentum_buffer instanceof tf.Variable ? state.momentum_buffer : undefined;
    const fused = fusedSgdStep(
      { param, grad, ...(g.momentum !== 0 && prev ? { momentumBuffer: prev } : {}) },
      { lr: g.lr, weightDecay: g.weightDecay, momentum: g.momentum, dampening: g.dampening, nesterov: g.nesterov, maximize: g.maximize },
    );
    if (fused) {
      param.assign(fused[0]!);
      if (g.momentum === 0) state.momentum_buffer = null;
      else if (prev) prev.assign(fused[1]!);
      else state.momentum_buffer = this.buffer(fused[1]!);
      return;
    }
    // The same arithmetic from tfjs ops (any backend).
    let d = g.maximize ? tf.neg(grad) : grad;
    // torch's add(alpha=) is one fused multiply-add on AVX2; here a multiply then an add.
    if (g.weightDecay !== 0) d = tf.add(d, tf.mul(param, g.weightDecay));
    if (g.momentum !== 0) {
      let buf = state.momentum_buffer;
      if (!(buf instanceof tf.Variable)) {
        buf = this.buffer(d);
        state.momentum_buffer = buf;
      } else {
        buf.assign(tf.add(tf.mul(buf, g.momentum), tf.mul(d, 1 - g.dampening)));
      }
      d = g.nesterov ? tf.add(d, tf.mul(buf, g.momentum)) : buf;
    } else {
      state.momentum_buffer = null;
    }
    param.assign(tf.add(param, tf.mul(d, -g.lr)));
  }
}
