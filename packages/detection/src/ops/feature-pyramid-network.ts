import * as tf from '@tensorflow/tfjs-core';
import { Conv2dNormActivation, Module, ModuleList, interpolateNearest, type NormLayer } from '@mnv3/layers';

/** Ordered feature maps by name, NHWC float32, as TorchVision's `OrderedDict[str, Tensor]`. */
export type FeatureMaps = Map<string, tf.Tensor4D>;

/** An extra block after the FPN (`ExtraFPNBlock`): appends maps to the results. */
export interface ExtraFPNBlock {
  forward(results: tf.Tensor4D[], inputs: tf.Tensor4D[], names: string[]): { results: tf.Tensor4D[]; names: string[] };
}

/**
 * `LastLevelMaxPool`: appends `max_pool2d(P_last, kernel 1, stride 2)` — i.e. every second row
 * and column of the last map — as `pool`.
 */
export class LastLevelMaxPool implements ExtraFPNBlock {
  forward(results: tf.Tensor4D[], _inputs: tf.Tensor4D[], names: string[]): { results: tf.Tensor4D[]; names: string[] } {
    const last = results[results.length - 1]!;
    const [n, h, w, c] = last.shape;
    const pooled = tf.stridedSlice(last, [0, 0, 0, 0], [n, h, w, c], [1, 2, 2, 1]) as tf.Tensor4D;
    return { results: [...results, pooled], names: [...names, 'pool'] };
  }
}

export interface FeaturePyramidNetworkOptions {
  extraBlocks?: ExtraFPNBlock | null;
  /** Norm layer of the FPN convolutions; default none (biased convolutions), as TorchVision. */
  normLayer?: NormLayer | null;
}

/**
 * TorchVision's `FeaturePyramidNetwork` (0.14, `_version = 2`): per input a 1×1 lateral
 * `inner_blocks.i` and a 3×3 output `layer_blocks.i` (`Conv2dNormActivation` without activation:
 * keys `inner_blocks.0.0.weight`, `inner_blocks.0.0.bias`, …), top-down nearest upsampling and
 * addition, then the extra block. Input and output NHWC maps by name, highest resolution first.
 */
export class FeaturePyramidNetwork extends Module {
  readonly innerBlocks: ModuleList<Conv2dNormActivation>;
  readonly layerBlocks: ModuleList<Conv2dNormActivation>;
  readonly extraBlocks: ExtraFPNBlock | null;

  constructor(
    readonly inChannelsList: readonly number[],
    readonly outChannels: number,
    options: FeaturePyramidNetworkOptions = {},
  ) {
    super();
    const normLayer = options.normLayer ?? null;
    const inner: Conv2dNormActivation[] = [];
    const layer: Conv2dNormActivation[] = [];
    for (const c of inChannelsList) {
      if (c === 0) throw new Error('in_channels=0 is currently not supported');
      inner.push(new Conv2dNormActivation(c, outChannels, { kernelSize: 1, padding: 0, normLayer, activation: null }));
      layer.push(new Conv2dNormActivation(outChannels, outChannels, { kernelSize: 3, normLayer, activation: null }));
    }
    this.innerBlocks = this.registerModule('inner_blocks', new ModuleList(inner));
    this.layerBlocks = this.registerModule('layer_blocks', new ModuleList(layer));
    this.extraBlocks = options.extraBlocks === undefined ? null : options.extraBlocks;
  }

  forward(x: FeatureMaps): FeatureMaps {
    const names = [...x.keys()];
    const inputs = [...x.values()];
    if (inputs.length !== this.inChannelsList.length) {
      throw new RangeError(`expected ${this.inChannelsList.length} feature maps, got ${inputs.length} (${names.join(', ')})`);
    }
    const out: FeatureMaps = new Map();
    const kept = tf.tidy(() => {
      const last = inputs.length - 1;
      let lastInner = this.innerBlocks.items[last]!.forward(inputs[last]!);
      let results: tf.Tensor4D[] = [this.layerBlocks.items[last]!.forward(lastInner)];
      for (let idx = last - 1; idx >= 0; idx--) {
        const lateral = this.innerBlocks.items[idx]!.forward(inputs[idx]!);
        const topDown = interpolateNearest(lastInner, [lateral.shape[1], lateral.shape[2]]);
        lastInner = tf.add(lateral, topDown);
        results.unshift(this.layerBlocks.items[idx]!.forward(lastInner));
      }
      let outNames = names;
      if (this.extraBlocks) ({ results, names: outNames } = this.extraBlocks.forward(results, inputs, [...names]));
      outNames.forEach((n, i) => out.set(n, results[i]!));
      return results;
    });
    void kept;
    return out;
  }
}
