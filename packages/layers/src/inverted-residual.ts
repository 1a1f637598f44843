import * as tf from '@tensorflow/tfjs-core';
import type { ActivationName } from './activations.js';
import { fastBackend } from './kernels/fast.js';
import { makeDivisible } from './make-divisible.js';
import { Conv2dNormActivation, SqueezeExcitation } from './misc.js';
import { Layer, Sequential } from './module.js';
import type { NormLayer } from './nn.js';
import { seededRng, type Rng } from './random.js';
import { stochasticDepth } from './stochastic-depth.js';

/**
 * One row of MobileNetV3's Tables 1 and 2, with channels already scaled by `widthMult`
 * (TorchVision's `InvertedResidualConfig`).
 */
export interface InvertedResidualConfig {
  readonly inputChannels: number;
  readonly kernel: number;
  readonly expandedChannels: number;
  readonly outChannels: number;
  readonly useSe: boolean;
  /** `HS` (hardswish) or `RE` (ReLU). */
  readonly activation: 'HS' | 'RE';
  readonly stride: number;
  readonly dilation: number;
}

/** TorchVision's `InvertedResidualConfig.adjust_channels`. */
export function adjustChannels(channels: number, widthMult: number): number {
  return makeDivisible(channels * widthMult, 8);
}

/** Builds a config from a table row of unscaled channels, as TorchVision's `bneck_conf`. */
export function invertedResidualConfig(
  inputChannels: number,
  kernel: number,
  expandedChannels: number,
  outChannels: number,
  useSe: boolean,
  activation: 'HS' | 'RE',
  stride: number,
  dilation: number,
  widthMult: number,
): InvertedResidualConfig {
  return {
    inputChannels: adjustChannels(inputChannels, widthMult),
    kernel,
    expandedChannels: adjustChannels(expandedChannels, widthMult),
    outChannels: adjustChannels(outChannels, widthMult),
    useSe,
    activation,
    stride,
    dilation,
  };
}

let blockSeeds = 0;

/**
 * MobileNetV3's inverted residual block (TorchVision `mobilenetv3.InvertedResidual`): optional 1x1
 * expansion, depthwise conv (dilated instead of strided when `dilation > 1`), activation before
 * squeeze-and-excite, 1x1 projection, and the residual when stride is 1 and channels match.
 * Keys `block.0.*`, `block.1.*`, ….
 */
export class InvertedResidual extends Layer {
  readonly block: Sequential;
  /** The 1x1 projection (last layer of `block`), which takes the residual add on the fast path. */
  private readonly project: Conv2dNormActivation;
  readonly useResConnect: boolean;
  readonly outChannels: number;
  /** TorchVision's `_is_cn`: the block is strided (stride > 1 in its config, even when dilated instead). */
  readonly isCn: boolean;

  /**
   * The probability of `StochasticDepth(p, 'row')` on the block's branch before the residual add,
   * in train mode (as TorchVision's EfficientNet blocks; TorchVision's MobileNetV3 has none: 0,
   * the default). It holds no weights, so the state dict keys stay TorchVision's.
   */
  stochasticDepthProb: number;
  /** The generator of the stochastic depth masks (seeded per block; set it to reseed). */
  rng: Rng;

  constructor(cnf: InvertedResidualConfig, normLayer: NormLayer, options: { stochasticDepthProb?: number } = {}) {
    super();
    this.stochasticDepthProb = options.stochasticDepthProb ?? 0;
    if (!(this.stochasticDepthProb >= 0 && this.stochasticDepthProb <= 1)) throw new RangeError(`stochasticDepthProb has to be between 0 and 1, got ${this.stochasticDepthProb}`);
    this.rng = seededRng(0x1b000000 + blockSeeds++);
    if (!(cnf.stride >= 1 && cnf.stride <= 2)) throw new RangeError(`illegal stride value ${cnf.stride}: valid are 1 and 2`);
    this.useResConnect = cnf.stride === 1 && cnf.inputChannels === cnf.outChannels;
    const activation: ActivationName = cnf.activation === 'HS' ? 'hardswish' : 'relu';
    const layers: Layer[] = [];
    if (cnf.expandedChannels !== cnf.inputChannels) {
      layers.push(new Conv2dNormActivation(cnf.inputChannels, cnf.expandedChannels, { kernelSize: 1, normLayer, activation }));
    }
    layers.push(
      new Conv2dNormActivation(cnf.expandedChannels, cnf.expandedChannels, {
        kernelSize: cnf.kernel,
        stride: cnf.dilation > 1 ? 1 : cnf.stride,
        dilation: cnf.dilation,
        groups: cnf.expandedChannels,
        normLayer,
        activation,
      }),
    );
    if (cnf.useSe) {
      const squeeze = makeDivisible(Math.floor(cnf.expandedChannels / 4), 8);
      layers.push(new SqueezeExcitation(cnf.expandedChannels, squeeze, { scaleActivation: 'hardsigmoid' }));
    }
    this.project = new Conv2dNormActivation(cnf.expandedChannels, cnf.outChannels, { kernelSize: 1, normLayer, activation: null });
    layers.push(this.project);
    this.block = this.registerModule('block', new Sequential(layers));
    this.outChannels = cnf.outChannels;
    this.isCn = cnf.stride > 1;
  }

  forward(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      if (!this.useResConnect) return this.block.forward(x);
      if (this.training) return tf.add(stochasticDepth(this.block.forward(x), this.stochasticDepthProb, 'row', true, this.rng), x);
      if (x.dtype === 'float32' && fastBackend()) {
        // The residual add fused into the projection (a 1x1 conv): one pass less.
        let y = x;
        for (const layer of this.block.layers) y = layer === this.project ? this.project.conv.forwardWithResidual(y, x) : layer.forward(y);
        return y;
      }
      return tf.add(this.block.forward(x), x);
    });
  }
}
