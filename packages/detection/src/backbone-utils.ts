import type * as tf from '@tensorflow/tfjs-core';
import { IntermediateLayerGetter, Module, mobilenetStageIndices } from '@mnv3/layers';
import type { MobileNetV3, ResNet } from '@mnv3/backbone';
import { FeaturePyramidNetwork, LastLevelMaxPool, type ExtraFPNBlock, type FeatureMaps } from './ops/feature-pyramid-network.js';

/**
 * TorchVision's `BackboneWithFPN`: `body` (an `IntermediateLayerGetter` over the backbone: keys
 * `body.0.0.weight`, … for MobileNet's `features`, `body.layer1.0.conv1.weight`, … for a ResNet)
 * and `fpn`. NHWC batch in; FPN maps by name out (`'0'`,
 * `'1'`, …, then `'pool'`).
 */
export class BackboneWithFPN extends Module {
  readonly body: IntermediateLayerGetter;
  readonly fpn: FeaturePyramidNetwork;

  constructor(
    features: Module,
    readonly returnLayers: Readonly<Record<string, string>>,
    inChannelsList: readonly number[],
    readonly outChannels: number,
    extraBlocks: ExtraFPNBlock | null = new LastLevelMaxPool(),
  ) {
    super();
    this.body = this.registerModule('body', new IntermediateLayerGetter(features, returnLayers));
    this.fpn = this.registerModule('fpn', new FeaturePyramidNetwork(inChannelsList, outChannels, { extraBlocks }));
  }

  /** The FPN maps; the caller disposes them. */
  forward(x: tf.Tensor4D): FeatureMaps {
    const inner = this.body.forward(x);
    const ordered: FeatureMaps = new Map();
    // The getter returns in the order of the children, which is the order of the names here.
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
 * TorchVision's `_mobilenet_extractor(backbone, fpn=True, trainable_layers)` for MobileNetV3:
 * returned stages default `[numStages - 2, numStages - 1]`, 256 FPN channels, `LastLevelMaxPool`.
 * `trainableLayers` only freezes weights for training in TorchVision; it is validated here.
 */
export function mobilenetExtractor(
  backbone: MobileNetV3,
  trainableLayers: number,
  options: MobilenetExtractorOptions = {},
): BackboneWithFPN {
  const stageIndices = mobilenetStageIndices(backbone.features);
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
  return new BackboneWithFPN(backbone.features, returnLayers, inChannels, 256, options.extraBlocks === undefined ? new LastLevelMaxPool() : options.extraBlocks);
}

/**
 * TorchVision's `_resnet_fpn_extractor(backbone, trainable_layers, returned_layers, extra_blocks)`:
 * `layer1`..`layer4` by default (FPN inputs 256, 512, 1024, 2048 channels for ResNet-50), 256 FPN
 * channels, `LastLevelMaxPool`. `trainableLayers` (0–5) only freezes weights for training in
 * TorchVision; it is validated here.
 */
export function resnetFpnExtractor(
  backbone: ResNet,
  trainableLayers: number,
  options: { returnedLayers?: readonly number[]; extraBlocks?: ExtraFPNBlock | null } = {},
): BackboneWithFPN {
  if (!(Number.isInteger(trainableLayers) && trainableLayers >= 0 && trainableLayers <= 5)) {
    throw new RangeError(`Trainable layers should be in the range [0,5], got ${trainableLayers}`);
  }
  const returned = options.returnedLayers ?? [1, 2, 3, 4];
  if (returned.length === 0 || Math.min(...returned) <= 0 || Math.max(...returned) >= 5) {
    throw new RangeError(`Each returned layer should be in the range [1,4]. Got [${returned.join(', ')}]`);
  }
  const returnLayers: Record<string, string> = {};
  returned.forEach((k, v) => (returnLayers[`layer${k}`] = String(v)));
  const inChannelsStage2 = backbone.outChannels / 8;
  const inChannels = returned.map((i) => inChannelsStage2 * 2 ** (i - 1));
  return new BackboneWithFPN(backbone, returnLayers, inChannels, 256, options.extraBlocks === undefined ? new LastLevelMaxPool() : options.extraBlocks);
}
