import * as tf from '@tensorflow/tfjs-core';
import { Activation, BatchNorm2d, Conv2d, Dropout, Layer } from '@mnv3/layers';
import { SimpleSegmentationModel } from '@mnv3/segmentation';
import type { DeepLabBuildOptions } from './deeplabv3.js';
import { resolveOptions } from './build-options.js';
import { deeplabMobilenetV3Backbone } from './mobilenet-backbone.js';

/**
 * TorchVision's `FCNHead`: 3x3 conv to `inChannels / 4` (no bias), BatchNorm, ReLU, dropout 0.1
 * (identity at inference), 1x1 conv to `channels` with bias. Keys `0.weight`, `1.*`,
 * `4.weight`, `4.bias`. NHWC in and out; the BatchNorm is folded into the first conv.
 */
export class FCNHead extends Layer {
  readonly conv: Conv2d;
  readonly norm: BatchNorm2d;
  readonly out: Conv2d;

  constructor(inChannels: number, channels: number) {
    super();
    const inter = Math.floor(inChannels / 4);
    this.conv = this.registerModule('0', new Conv2d(inChannels, inter, { kernelSize: 3, padding: 1, bias: false }));
    this.norm = this.registerModule('1', new BatchNorm2d(inter));
    this.conv.absorb(this.norm, 'relu');
    this.registerModule('2', new Activation('relu'));
    this.registerModule('3', new Dropout(0.1));
    this.out = this.registerModule('4', new Conv2d(inter, channels, { kernelSize: 1 }));
  }

  forward(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => this.out.forward(this.conv.forward(x)));
  }
}

/**
 * TorchVision's `FCN` ("Fully Convolutional Networks for Semantic Segmentation"): a
 * `_SimpleSegmentationModel` with `FCNHead` classifiers.
 */
export class FCN extends SimpleSegmentationModel {}

/**
 * FCN on the dilated MobileNetV3-Large: TorchVision publishes no such builder nor weights; this is
 * TorchVision's `FCN` laid out as `_deeplabv3_mobilenetv3` lays out DeepLabV3 — `FCNHead(960)`
 * on C5 (`classifier.*`) and, with `auxLoss`, `FCNHead(40)` on the stride-8 C2
 * (`aux_classifier.*`). 5,054,944 parameters with the aux head at 21 classes (TorchVision's own
 * modules built this way count the same), 5,051,093 without. Any `weights` is refused.
 */
export function fcnMobilenetV3Large(options: DeepLabBuildOptions = {}): FCN {
  if (options.weights) {
    throw new Error('fcn_mobilenet_v3_large has no published weights (TorchVision releases none); build it without weights');
  }
  const { numClasses, auxLoss } = resolveOptions(options, false);
  const { backbone, outChannels, auxChannels } = deeplabMobilenetV3Backbone(auxLoss);
  const aux = auxLoss ? new FCNHead(auxChannels, numClasses) : null;
  return new FCN(backbone, new FCNHead(outChannels, numClasses), aux, numClasses);
}
