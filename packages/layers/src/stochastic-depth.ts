import * as tf from '@tensorflow/tfjs-core';
import { bernoulliMask } from './activations.js';
import { Layer } from './module.js';
import { seededRng, type Rng } from './random.js';

export type StochasticDepthMode = 'row' | 'batch';

let seeds = 0;

/**
 * `torchvision.ops.stochastic_depth(input, p, mode, training)`: in training, drops the whole input
 * (`batch`) or each image of the batch (`row`, a mask of shape `[N, 1, 1, 1]`) with probability
 * `p`, scaling the survivors by `1 / (1 − p)`; the identity when not training or `p = 0`. From
 * "Deep Networks with Stochastic Depth"; TorchVision's EfficientNet applies it to a residual
 * block's branch before the add.
 *
 * @example const y = stochasticDepth(branch, 0.2, 'row', true, seededRng(0)); // NHWC [N,H,W,C]
 */
export function stochasticDepth<T extends tf.Tensor>(input: T, p: number, mode: StochasticDepthMode, training: boolean, rng: Rng): T {
  if (p < 0 || p > 1) throw new RangeError(`drop probability has to be between 0 and 1, but got ${p}`);
  if (mode !== 'batch' && mode !== 'row') throw new RangeError(`mode has to be either 'batch' or 'row', but got ${String(mode)}`);
  if (!training || p === 0) return input;
  const shape = mode === 'row' ? [input.shape[0]!, ...input.shape.slice(1).map(() => 1)] : input.shape.map(() => 1);
  return tf.tidy(() => tf.mul(input, tf.tensor(bernoulliMask(rng, shape, p), shape)));
}

/** `torchvision.ops.StochasticDepth(p, mode)` as a module (no weights): live in train mode only. */
export class StochasticDepth<T extends tf.Tensor = tf.Tensor4D> extends Layer<T> {
  rng: Rng;
  constructor(
    readonly p: number,
    readonly mode: StochasticDepthMode,
    options: { seed?: number } = {},
  ) {
    super();
    if (p < 0 || p > 1) throw new RangeError(`drop probability has to be between 0 and 1, but got ${p}`);
    this.rng = seededRng(options.seed ?? 0x5d000000 + seeds++);
  }
  forward(x: T): T {
    return stochasticDepth(x, this.p, this.mode, this.training, this.rng);
  }
}
