/**
 * Differentiable ops of the training path, each with a fast form (our WASM SIMD kernels, whose
 * gradients are registered by `@mnv3/layers/train`) and a plain form (tfjs ops, any backend, the
 * reference the fast form is tested against). Gradients follow torch's, kinks included.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ActivationName } from '../activations.js';
import { fastBackend, runKernel } from '../kernels/fast.js';
import { Mnv3Activation, Mnv3BatchNormTrain, Mnv3RmspropStep, Mnv3RunningStats, Mnv3ScaleChannels, Mnv3SgdStep } from '../kernels/names.js';
import type { RmspropStepAttrs, SgdStepAttrs } from '../kernels/train/Mnv3OptimizerSteps.js';

/** Uses our kernels (and their registered gradients) when training on the fast path. */
const fast = (x: tf.Tensor) => x.dtype === 'float32' && fastBackend() !== null;

type Derivative = (x: tf.Tensor) => tf.Tensor;

/** `f` with the derivative `df` (elementwise), as tfjs' customGrad. */
function withDerivative(f: (x: tf.Tensor) => tf.Tensor, df: Derivative): (x: tf.Tensor) => tf.Tensor {
  return tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
    save([x]);
    return { value: f(x), gradFunc: (dy, saved) => tf.mul(dy, df(saved[0]!)) };
  }) as (x: tf.Tensor) => tf.Tensor;
}

// torch's derivatives: hardswish 0 below −3, x/3 + 1/2 on [−3, 3), 1 from 3 on (−1/2 at −3; at 3,
// torch 1.13's vectorised loop says 1 and its scalar tail 3/2: we follow the loop, which covers all
// but the last < 16 elements of a contiguous run);
// hardsigmoid 1/6 on (−3, 3) only; relu6 1 on (0, 6) only.
const plainHardswish = withDerivative(
  (x) => tf.mul(x, tf.div(tf.relu6(tf.add(x, 3)), 6)),
  (x) => tf.where(tf.less(x, -3), tf.zerosLike(x), tf.where(tf.less(x, 3), tf.add(tf.div(x, 3), 0.5), tf.onesLike(x))),
);
const plainHardsigmoid = withDerivative(
  (x) => tf.div(tf.relu6(tf.add(x, 3)), 6),
  (x) => tf.mul(tf.cast(tf.logicalAnd(tf.greater(x, -3), tf.less(x, 3)), 'float32'), 1 / 6),
);
const plainRelu6 = withDerivative(
  (x) => tf.relu6(x),
  (x) => tf.cast(tf.logicalAnd(tf.greater(x, 0), tf.less(x, 6)), 'float32'),
);

/** The identity, with a zero gradient (TensorFlow's `stop_gradient`). */
const stopGradient = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const x = args[0] as tf.Tensor;
  return { value: tf.clone(x), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) };
}) as (x: tf.Tensor) => tf.Tensor;

/**
 * An activation by name, differentiable with torch's gradients (`null`: the identity).
 *
 * @example const y = activateTrain(x, 'hardswish'); // dy/dx at −3 is −0.5, as torch's
 */
export function activateTrain<T extends tf.Tensor>(x: T, activation: ActivationName | null): T {
  if (activation === null) return x;
  if (activation === 'sigmoid') return tf.sigmoid(x);
  if (fast(x)) return runKernel<T>(Mnv3Activation, { x }, { activation });
  switch (activation) {
    case 'relu':
      return tf.relu(x);
    case 'relu6':
      return plainRelu6(x) as T;
    case 'hardswish':
      return plainHardswish(x) as T;
    case 'hardsigmoid':
      return plainHardsigmoid(x) as T;
  }
}

/**
 * BatchNorm with batch statistics over every axis but the last (NHWC), then `activation` (fused
 * into the same kernels on the fast path): returns `y`, the batch `mean` and the biased
 * `variance` (what normalises; torch's running variance takes the unbiased one). Differentiable
 * in `x`, `gamma` and `beta`.
 */
export function batchNormTrain(
  x: tf.Tensor4D,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  eps: number,
  activation: ActivationName | null = null,
): { y: tf.Tensor4D; mean: tf.Tensor1D; variance: tf.Tensor1D } {
  if (fast(x) && activation !== 'sigmoid') {
    const [y, mean, variance, invstd] = tf.engine().runKernel(Mnv3BatchNormTrain, { x, gamma, beta }, { eps, activation: activation ?? 'linear' }) as tf.Tensor1D[];
    invstd!.dispose(); // kept by the tape for the backward
    return { y: y as unknown as tf.Tensor4D, mean: mean!, variance: variance! };
  }
  // Centred on the first pixel (a constant to the gradient) first: float32 sums of a large mean
  // lose the digits that matter.
  const first = stopGradient(tf.reshape(tf.slice(x, [0, 0, 0, 0], [1, 1, 1, x.shape[3]]), [x.shape[3]]));
  const mean = tf.add(first, tf.mean(tf.sub(x, first), [0, 1, 2])) as tf.Tensor1D;
  const centred = tf.sub(x, mean);
  const variance = tf.mean(tf.square(centred), [0, 1, 2]) as tf.Tensor1D;
  const y = tf.add(tf.mul(centred, tf.mul(gamma, tf.rsqrt(tf.add(variance, eps)))), beta) as tf.Tensor4D;
  return { y: activateTrain(y, activation), mean, variance };
}

/** `x · gate` per image and channel: `x` `[N,H,W,C]`, `gate` `[N,C]` (squeeze-and-excitation). */
export function scaleChannels(x: tf.Tensor4D, gate: tf.Tensor2D): tf.Tensor4D {
  if (fast(x)) return runKernel<tf.Tensor4D>(Mnv3ScaleChannels, { x, gate });
  return tf.mul(x, tf.reshape(gate, [x.shape[0], 1, 1, x.shape[3]]));
}

/**
 * One RMSprop step of a parameter by our fused kernel (one pass instead of ~14 tfjs ops), or null
 * where it cannot run (another backend, `plain` kernel mode): the optimiser then composes the same
 * arithmetic from tfjs ops. Returns the new `param`, `squareAvg`, then `momentumBuffer` and
 * `gradAvg` where given.
 */
export function fusedRmspropStep(
  tensors: { param: tf.Tensor; grad: tf.Tensor; squareAvg: tf.Tensor; momentumBuffer?: tf.Tensor; gradAvg?: tf.Tensor },
  attrs: RmspropStepAttrs,
): tf.Tensor[] | null {
  if (!fast(tensors.param) || tensors.grad.dtype !== 'float32') return null;
  return tf.engine().runKernel(Mnv3RmspropStep, tensors as unknown as tf.NamedTensorMap, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
}

/**
 * One SGD step of a parameter by our fused kernel, or null where it cannot run (see
 * {@link fusedRmspropStep}). Returns the new `param`, then the `momentumBuffer` when momentum ≠ 0
 * (started as the gradient when none is given, torch's first step).
 */
export function fusedSgdStep(tensors: { param: tf.Tensor; grad: tf.Tensor; momentumBuffer?: tf.Tensor }, attrs: SgdStepAttrs): tf.Tensor[] | null {
  if (!fast(tensors.param) || tensors.grad.dtype !== 'float32') return null;
  return tf.engine().runKernel(Mnv3SgdStep, tensors as unknown as tf.NamedTensorMap, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
}

/**
 * BatchNorm's running statistics after a train-mode batch of `count` values per channel:
 * `(1 − momentum)·running + momentum·batch`, the variance unbiased. One kernel of ours (float64, as
 * torch's CPU kernel) on the fast path, tfjs ops (float32) otherwise. Returns the new mean and variance.
 */
export function updateRunningStats(runningMean: tf.Tensor1D, runningVar: tf.Tensor1D, mean: tf.Tensor1D, variance: tf.Tensor1D, momentum: number, count: number): [tf.Tensor1D, tf.Tensor1D] {
  if (fast(runningMean)) return tf.engine().runKernel(Mnv3RunningStats, { runningMean, runningVar, mean, variance }, { momentum, count }) as [tf.Tensor1D, tf.Tensor1D];
  return [tf.add(tf.mul(runningMean, 1 - momentum), tf.mul(mean, momentum)), tf.add(tf.mul(runningVar, 1 - momentum), tf.mul(variance, (momentum * count) / (count - 1)))];
}
