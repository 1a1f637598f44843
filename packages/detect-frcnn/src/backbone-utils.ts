import type * as tf from '@tensorflow/tfjs-core';
import { IntermediateLayerGetter, Module, Sequential } from '@mnv3/layers';
import type { MobileNetV3 } from '@mnv3/backbone';
import { FeaturePyramidNetwork, LastLevelMaxPool, type ExtraFPNBlock, type FeatureMaps } from './ops/feature-pyramid-network.js';

/**
 * TorchVision's `BackboneWithFPN`: `body` (the backbone's `features` children up to the last
 * returned one, as `IntermediateLayerGetter` keeps them: keys `body.0.0.weight`, …) and `fpn`.
 * NHWC batch in; FPN maps by name out (`'0'`, `'1'`, …, then `'pool'`).
 */
export class BackboneWithFPN extends Module {
  readonly body: Sequential;
  readonly fpn: FeaturePyramidNetwork;
  private readonly getter: IntermediateLayerGetter;

  constructor(
    layers: Sequential['layers'],
    readonly returnLayers: Readonly<Record<string, string>>,
    inChannelsList: readonly number[],
    readonly outChannels: number,
    extraBlocks: ExtraFPNBlock | null = new LastLevelMaxPool(),
  ) {
    super();
    const last = Math.max(...Object.keys(returnLayers).map(Number));
    this.body = this.registerModule('body', new Sequential(layers.slice(0, last + 1)));
    this.getter = new IntermediateLayerGetter(this.body, returnLayers);
    this.fpn = this.registerModule('fpn', new FeaturePyramidNetwork(inChannelsList, outChannels, { extraBlocks }));
  }

  /** The FPN maps; the caller disposes them. */
  forward(x: tf.Tensor4D): FeatureMaps {
    const inner = this.getter.forward(x);
    const ordered: FeatureMaps = new Map();
    // IntermediateLayerGetter returns in the order of the children, which is the order of the names here.
    for (const name of Object.values(this.returnLayers)) ordered.set(name, inner[name]!);
    try {
      return this.fpn.forward(ordered);
    } finally {
      for (const t of ordered.values()) t.dispose();
    }
  }
}

export interface MobilenetExtractorOptions {
  /** Stages (0 = first conv … numStages-1 = last conv) fed to the FPN. Default the last two. */
  returnedLayers?: readonly number[];
  extraBlocks?: ExtraFPNBlock | null;
}

/**
 * The stage boundaries of a MobileNet's `features` (`_mobilenet_extractor`): 0, every block with
 * stride > 1 (`_is_cn`), and the last layer.
 */
export function mobilenetStageIndices(strides: readonly number[], numFeatures: number): number[] {
  const cn: number[] = [];
  strides.forEach((s, i) => {
    if (s > 1) cn.push(i + 1); // features[0] is the first conv; block i is features[i + 1]
  });
  return [0, ...cn, numFeatures - 1];
}

/**
 * TorchVision's `_mobilenet_extractor(backbone, fpn=True, trainable_layers)` for MobileNetV3:
 * returned stages default `[numStages - 2, numStages - 1]`, 256 FPN channels, `LastLevelMaxPool`.
 * `trainableLayers` only freezes weights for training in TorchVision; it is validated here.
 *
 * @param strides the stride of each inverted-residual setting (`features[1..]`)
 */
export function mobilenetExtractor(
  backbone: MobileNetV3,
  strides: readonly number[],
  trainableLayers: number,
  options: MobilenetExtractorOptions = {},
): BackboneWithFPN {
  const features = backbone.features.layers;
  const stageIndices = mobilenetStageIndices(strides, features.length);
  const numStages = stageIndices.length;
  if (!(Number.isInteger(trainableLayers) && trainableLayers >= 0 && trainableLayers <= numStages)) {
    throw new RangeError(`Trainable layers should be in the range [0,${numStages}], got ${trainableLayers}`);
  }
  const returned = options.returnedLayers ?? [numStages - 2, numStages - 1];
  if (returned.length === 0 || Math.min(...returned) < 0 || Math.max(...returned) >= numStages) {
    throw new RangeError(`Each returned layer should be in the range [0,${numStages - 1}], got [${returned.join(', ')}]`);
  }
  const returnLayers: Record<string, string> = {};
  returned.forEach((k, v) => (returnLayers[String(stageIndices[k]!)] = String(v)));
  const inChannels = returned.map((i) => backbone.featureChannels[stageIndices[i]!]!);
  return new BackboneWithFPN(features, returnLayers, inChannels, 256, options.extraBlocks === undefined ? new LastLevelMaxPool() : options.extraBlocks);
}
