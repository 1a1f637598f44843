/**
 * Gradient configs of our own kernels, so that the fast path is differentiable: the activations
 * and global average pooling the inference layers already run (Mnv3Activation,
 * Mnv3GlobalAvgPool), squeeze-and-excitation's scaling (Mnv3ScaleChannels) and BatchNorm with batch
 * statistics (Mnv3BatchNormTrain). Each backward is one of our WASM kernels (src/kernels/train).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GradConfig, NamedAttrMap, Tensor } from '@tensorflow/tfjs-core';
import {
  Mnv3Activation,
  Mnv3ActivationGrad,
  Mnv3BatchNormTrain,
  Mnv3BatchNormTrainGrad,
  Mnv3Conv2dTrain,
  Mnv3Conv2dTrainGrad,
  Mnv3DepthwiseConv2dTrain,
  Mnv3DepthwiseConv2dTrainGrad,
  Mnv3GlobalAvgPool,
  Mnv3GlobalAvgPoolFork,
  Mnv3GlobalAvgPoolGrad,
  Mnv3ScaleChannels,
  Mnv3ScaleChannelsGrad,
} from '../kernels/names.js';

const run = (name: string, inputs: tf.NamedTensorMap, attrs: object = {}) => tf.engine().runKernel(name, inputs, attrs as NamedAttrMap);
const first = (dy: Tensor | Tensor[]): Tensor => (Array.isArray(dy) ? dy[0]! : dy);

/**
 * The outputs of a multi-output gradient kernel, run once on the first input's demand. tfjs runs
 * each input's gradient function in a tidy of its own, which would dispose the outputs the other
 * inputs take: they are kept until claimed (each claim hands over a reshape, sharing the data, and
 * releases the kept tensor), and those never claimed (an input that needs no gradient) are released
 * once the synchronous backward pass is over.
 */
function shared(f: () => Tensor[]): (i: number) => Tensor {
  let kept: (Tensor | null)[] | null = null;
  return (i) => {
    if (!kept) {
      kept = f().map((t) => tf.keep(t));
      const all = kept;
      queueMicrotask(() => all.forEach((t) => t?.dispose()));
    }
    const t = kept[i];
    if (!t) throw new Error('a gradient output was claimed twice');
    kept[i] = null;
    const out = tf.reshape(t, t.shape);
    t.dispose();
    return out;
  };
}

/**
 * A train-mode convolution's gradient: its gradient kernel gives dx and the weight's gradient in one
 * call, and the bias's when the forward had one (the dense convolution's optional `bias` input,
 * flagged by its attr `bias`).
 */
function trainConvGradient(kernelName: string, gradKernel: string): GradConfig {
  return {
    kernelName,
    inputsToSave: ['x', 'filter'],
    gradFunc: (dy, saved, attrs) => {
      const [x, filter] = saved as [Tensor, Tensor];
      const grads = shared(() => run(gradKernel, { dy: first(dy), x, filter }, attrs) as Tensor[]);
      const both = { x: () => grads(0), filter: () => grads(1) };
      return (attrs as { bias?: boolean }).bias ? { ...both, bias: () => grads(2) } : both;
    },
  };
}

export const MNV3_GRADIENTS: readonly GradConfig[] = [
  trainConvGradient(Mnv3Conv2dTrain, Mnv3Conv2dTrainGrad),
  trainConvGradient(Mnv3DepthwiseConv2dTrain, Mnv3DepthwiseConv2dTrainGrad),
  {
    kernelName: Mnv3Activation,
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => ({ x: () => run(Mnv3ActivationGrad, { x: saved[0]!, dy: first(dy) }, { activation: (attrs as { activation: string }).activation }) as Tensor }),
  },
  {
    kernelName: Mnv3GlobalAvgPool,
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => ({ x: () => run(Mnv3GlobalAvgPoolGrad, { dy: first(dy) }, { inputShape: saved[0]!.shape }) as Tensor }),
  },
  {
    // The pooled mean's gradient spread over the pixels, plus the pass-through output's: one pass.
    kernelName: Mnv3GlobalAvgPoolFork,
    gradFunc: (dy) => {
      const [pooled, pass] = dy as Tensor[];
      return { x: () => run(Mnv3GlobalAvgPoolGrad, { dy: pooled!, add: pass! }, { inputShape: pass!.shape }) as Tensor };
    },
  },
  {
    kernelName: Mnv3ScaleChannels,
    inputsToSave: ['x', 'gate'],
    gradFunc: (dy, saved) => {
      const grads = shared(() => run(Mnv3ScaleChannelsGrad, { dy: first(dy), x: saved[0]!, gate: saved[1]! }) as Tensor[]);
      return { x: () => grads(0), gate: () => grads(1) };
    },
  },
  {
    kernelName: Mnv3BatchNormTrain,
    inputsToSave: ['x', 'gamma', 'beta'],
    outputsToSave: [false, true, false, true],
    gradFunc: (dy, saved, attrs) => {
      const [x, gamma, beta, mean, invstd] = saved as [Tensor, Tensor, Tensor, Tensor, Tensor];
      const { activation } = attrs as { activation?: string };
      const grads = shared(() => run(Mnv3BatchNormTrainGrad, { dy: first(dy), x, gamma, beta, mean, invstd }, { activation: activation ?? 'linear' }) as Tensor[]);
      return { x: () => grads(0), gamma: () => grads(1), beta: () => grads(2) };
    },
  },
];
