import * as tf from '@tensorflow/tfjs-core';
import { fastBackend, runKernel } from './kernels/fast.js';
import { Mnv3Activation } from './kernels/names.js';
import { Layer } from './module.js';
import { seededRng, type Rng } from './random.js';
import { activateTrain } from './train/ops.js';

/** The activations TorchVision's blocks use, by name (`null`: none). */
export type ActivationName = 'relu' | 'relu6' | 'hardswish' | 'hardsigmoid' | 'sigmoid';

export const ACTIVATIONS: readonly ActivationName[] = ['relu', 'relu6', 'hardswish', 'hardsigmoid', 'sigmoid'];

/**
 * PyTorch's `hardswish`: `x · min(max(x + 3, 0), 6) / 6`, elementwise, any shape and float32.
 *
 * @example hardswish(tf.tensor([-4, 0, 1])) // [0, 0, 0.6667]
 */
export function hardswish<T extends tf.Tensor>(x: T): T {
  if (x.dtype === 'float32' && fastBackend()) return runKernel<T>(Mnv3Activation, { x }, { activation: 'hardswish' });
  return tf.tidy(() => tf.mul(x, hardsigmoid(x)));
}

/** PyTorch's `hardsigmoid`: `min(max(x + 3, 0), 6) / 6`, elementwise, any shape and float32. */
export function hardsigmoid<T extends tf.Tensor>(x: T): T {
  if (x.dtype === 'float32' && fastBackend()) return runKernel<T>(Mnv3Activation, { x }, { activation: 'hardsigmoid' });
  return tf.tidy(() => tf.div(tf.relu6(tf.add(x, 3)), 6));
}

/** Applies an activation by name; `null` returns `x` itself. */
export function activate<T extends tf.Tensor>(x: T, activation: ActivationName | null): T {
  switch (activation) {
    case null:
      return x;
    case 'relu':
      return tf.relu(x);
    case 'relu6':
      return tf.relu6(x);
    case 'sigmoid':
      return tf.sigmoid(x);
    case 'hardswish':
      return hardswish(x);
    case 'hardsigmoid':
      return hardsigmoid(x);
  }
}

/**
 * The part of an activation tfjs can fuse into a convolution or matmul, and what must follow it.
 * WASM fuses linear/relu/relu6/sigmoid/…, not hardswish or hardsigmoid.
 */
export function splitFusable(activation: ActivationName | null): {
  fused: 'linear' | 'relu' | 'relu6' | 'sigmoid';
  after: ActivationName | null;
} {
  if (activation === 'relu' || activation === 'relu6' || activation === 'sigmoid') return { fused: activation, after: null };
  return { fused: 'linear', after: activation };
}

/** An activation as a module (`nn.ReLU`, `nn.Hardswish`, …): no parameters, any tensor rank. */
export class Activation<T extends tf.Tensor = tf.Tensor4D> extends Layer<T> {
  /** Set when the preceding conv applies this activation itself: forward is then the identity. */
  absorbed = false;
  constructor(readonly activation: ActivationName) {
    super();
  }
  forward(x: T): T {
    if (this.training) return activateTrain(x, this.activation);
    return this.absorbed ? x : activate(x, this.activation);
  }
}

let dropoutSeeds = 0;

/**
 * A seeded Bernoulli mask for `x`, scaled by `1 / (1 − p)` where kept (torch's dropout mask), of
 * the given shape (broadcast over `x`). `p = 1` gives zeros.
 */
export function bernoulliMask(rng: Rng, shape: number[], p: number): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  const keep = p < 1 ? 1 / (1 - p) : 0;
  for (let i = 0; i < n; i++) out[i] = rng.next() < p ? 0 : keep;
  return out;
}

/**
 * `nn.Dropout(p)`: the identity in eval mode; in train mode each element is zeroed with
 * probability `p` and the rest scaled by `1 / (1 − p)`, from a seeded generator (`rng`: set it, or
 * pass `seed`, for reproducible masks; by default each instance gets its own seed).
 */
export class Dropout<T extends tf.Tensor = tf.Tensor4D> extends Layer<T> {
  rng: Rng;
  constructor(
    readonly p: number,
    options: { seed?: number } = {},
  ) {
    super();
    if (!(p >= 0 && p <= 1)) throw new RangeError(`dropout probability has to be between 0 and 1, but got ${p}`);
    this.rng = seededRng(options.seed ?? 0x5eed0000 + dropoutSeeds++);
  }
  forward(x: T): T {
    if (!this.training || this.p === 0) return x;
    return tf.tidy(() => tf.mul(x, tf.tensor(bernoulliMask(this.rng, x.shape, this.p), x.shape)));
  }
}
