import * as tf from '@tensorflow/tfjs-core';
import { Conv2d, Conv2dNormActivation, Module, ModuleList, interpolateNearest, renameKey, type NormLayer } from '@mnv3/layers';
import type { StateDict } from '@mnv3/io';

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
 * `LastLevelP6P7(in, out)` (RetinaNet): appends `p6 = conv3x3/2(x)` and `p7 = conv3x3/2(relu(p6))`
 * as `p6`, `p7`, where `x` is the FPN's last output when `in == out` (`use_P5`) and the last
 * backbone map otherwise. Keys `p6.weight`, `p6.bias`, `p7.weight`, `p7.bias` (under the FPN's
 * `extra_blocks`).
 */
export class LastLevelP6P7 extends Module implements ExtraFPNBlock {
  readonly p6: Conv2d;
  readonly p7: Conv2d;
  readonly useP5: boolean;

  constructor(inChannels: number, outChannels: number) {
    super();
    this.p6 = this.registerModule('p6', new Conv2d(inChannels, outChannels, { kernelSize: 3, stride: 2, padding: 1 }));
    this.p7 = this.registerModule('p7', new Conv2d(outChannels, outChannels, { kernelSize: 3, stride: 2, padding: 1 }));
    this.useP5 = inChannels === outChannels;
  }

  forward(results: tf.Tensor4D[], inputs: tf.Tensor4D[], names: string[]): { results: tf.Tensor4D[]; names: string[] } {
    const x = this.useP5 ? results[results.length - 1]! : inputs[inputs.length - 1]!;
    const p6 = this.p6.forward(x);
    const p7 = this.p7.forward(tf.relu(p6));
    return { results: [...results, p6, p7], names: [...names, 'p6', 'p7'] };
  }
}

/**
 * TorchVision's `FeaturePyramidNetwork` (0.14, `_version = 2`): per input a 1×1 lateral
 * `inner_blocks.i` and a 3×3 output `layer_blocks.i` (`Conv2dNormActivation` without activation:
 * keys `inner_blocks.0.0.weight`, `inner_blocks.0.0.bias`, …), top-down nearest upsampling and
 * addition, then the extra block (a module's keys under `extra_blocks`). Input and output NHWC
 * maps by name, highest resolution first. Checkpoints saved before torchvision 0.13 (plain
 * `inner_blocks.0.weight`, as TorchVision's published detectors) load as TorchVision loads them.
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
    if (this.extraBlocks instanceof Module) this.registerModule('extra_blocks', this.extraBlocks);
  }

  /** `_version` 1 → 2: `inner_blocks.i.weight` → `inner_blocks.i.0.weight` (and `layer_blocks`, biases). */
  protected override upgradeStateDict(stateDict: StateDict, prefix: string): void {
    for (const block of ['inner_blocks', 'layer_blocks']) {
      for (let i = 0; i < this.inChannelsList.length; i++) {
        for (const type of ['weight', 'bias']) renameKey(stateDict, `${prefix}${block}.${i}.${type}`, `${prefix}${block}.${i}.0.${type}`);
      }
    }
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
