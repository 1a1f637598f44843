import * as tf from '@tensorflow/tfjs-core';
import { Activation, type ActivationName } from './activations.js';
import { fastBackend, runKernel } from './kernels/fast.js';
import { Mnv3GlobalAvgPoolFork, Mnv3SqueezeExcite } from './kernels/names.js';
import { Layer } from './module.js';
import { recordMacs } from './profiling.js';
import { BatchNorm2d, Conv2d, globalAvgPool, type FoldableNorm, type NormLayer, batchNorm2d } from './nn.js';
import { activateTrain, scaleChannels } from './train/ops.js';

export interface Conv2dNormActivationOptions {
  kernelSize?: number;
  stride?: number;
  /** Default `(kernelSize - 1) / 2 · dilation`, as TorchVision. */
  padding?: number;
  groups?: number;
  dilation?: number;
  /** `null` for no norm layer; default `nn.BatchNorm2d` (eps 1e-5). */
  normLayer?: NormLayer | null;
  /** Default `relu`; `null` for none. */
  activation?: ActivationName | null;
  /** Default: a bias only when there is no norm layer. */
  bias?: boolean;
}

/**
 * TorchVision's `Conv2dNormActivation`: conv, norm, activation, as a sequence with keys `0.*`
 * (conv), `1.*` (norm). At build time the norm is folded into the convolution, so inference runs
 * one fused conv (+ hardswish where tfjs cannot fuse it). Input and output NHWC float32.
 */
export class Conv2dNormActivation extends Layer {
  readonly conv: Conv2d;
  readonly norm: FoldableNorm | null;
  readonly outChannels: number;

  constructor(inChannels: number, outChannels: number, options: Conv2dNormActivationOptions = {}) {
    super();
    const kernelSize = options.kernelSize ?? 3;
    const dilation = options.dilation ?? 1;
    const normLayer = options.normLayer === undefined ? batchNorm2d() : options.normLayer;
    const activation = options.activation === undefined ? 'relu' : options.activation;
    this.conv = this.registerModule(
      '0',
      new Conv2d(inChannels, outChannels, {
        kernelSize,
        stride: options.stride ?? 1,
        padding: options.padding ?? Math.floor((kernelSize - 1) / 2) * dilation,
        dilation,
        groups: options.groups ?? 1,
        bias: options.bias ?? normLayer === null,
        activation,
      }),
    );
    this.norm = normLayer ? this.registerModule('1', normLayer(outChannels)) : null;
    if (this.norm) this.conv.absorb(this.norm, activation);
    // The activation holds no weights and runs inside the conv; registered so indices match TorchVision's.
    if (activation) this.registerModule(this.norm ? '2' : '1', new Activation(activation));
    this.outChannels = outChannels;
  }

  forward(x: tf.Tensor4D): tf.Tensor4D {
    if (this.conv.training && this.norm) {
      // Train mode: conv, norm with batch statistics, activation, each differentiable.
      const norm = this.norm;
      const act = this.conv.activationName;
      // BatchNorm and the activation in one kernel each way on the fast path.
      if (norm instanceof BatchNorm2d && norm.training) return tf.tidy(() => norm.forwardTrainWithActivation(this.conv.forward(x), act));
      return tf.tidy(() => activateTrain(norm.forward(this.conv.forward(x)), act));
    }
    return this.conv.forward(x);
  }
}

/**
 * TorchVision's `SqueezeExcitation`: global average pool, `fc1` (1x1 conv with bias), activation
 * (ReLU), `fc2`, scale activation (hardsigmoid in MobileNetV3), then `scale · input`.
 * Keys `fc1.weight` `[squeeze, C, 1, 1]`, `fc1.bias`, `fc2.weight`, `fc2.bias`.
 */
export class SqueezeExcitation extends Layer {
  readonly fc1: Conv2d;
  readonly fc2: Conv2d;

  constructor(
    readonly inputChannels: number,
    readonly squeezeChannels: number,
    options: { activation?: ActivationName; scaleActivation?: ActivationName } = {},
  ) {
    super();
    this.fc1 = this.registerModule('fc1', new Conv2d(inputChannels, squeezeChannels, { activation: options.activation ?? 'relu' }));
    this.fc2 = this.registerModule(
      'fc2',
      new Conv2d(squeezeChannels, inputChannels, { activation: options.scaleActivation ?? 'sigmoid' }),
    );
  }

  forward(x: tf.Tensor4D): tf.Tensor4D {
    if (this.training) {
      return tf.tidy(() => {
        const [n, , , c] = x.shape;
        // On the fast path x reaches the scaling through the pooling's pass-through output, so that
        // its gradient is one kernel (see Mnv3GlobalAvgPoolFork).
        const [mean, xs] = x.dtype === 'float32' && fastBackend() ? (tf.engine().runKernel(Mnv3GlobalAvgPoolFork, { x }) as [tf.Tensor2D, tf.Tensor4D]) : [globalAvgPool(x), x];
        const gate = this.fc2.forward(this.fc1.forward(tf.reshape(mean, [n, 1, 1, c]) as tf.Tensor4D));
        return scaleChannels(xs, tf.reshape(gate, [n, c]) as tf.Tensor2D);
      });
    }
    if (x.dtype === 'float32' && fastBackend()) {
      const k1 = this.fc1.convKernel;
      const k2 = this.fc2.convKernel;
      const b1 = k1.biasTensor;
      const b2 = k2.biasTensor;
      // One kernel for MobileNetV3's SE (ReLU, hardsigmoid); other activations take the plain path.
      if (b1 && b2 && k1.activationName === 'relu' && k2.activationName === 'hardsigmoid') {
        const [n] = x.shape;
        recordMacs(2 * n * this.inputChannels * this.squeezeChannels);
        return runKernel<tf.Tensor4D>(Mnv3SqueezeExcite, { x, w1: k1.filter, b1, w2: k2.filter, b2 });
      }
    }
    return tf.tidy(() => {
      const pooled = tf.reshape(globalAvgPool(x), [x.shape[0], 1, 1, x.shape[3]]) as tf.Tensor4D;
      const scale = this.fc2.forward(this.fc1.forward(pooled));
      return tf.mul(scale, x);
    });
  }
}
