import * as tf from '@tensorflow/tfjs-core';
import { AdaptiveAvgPool2d, Activation, Conv2d, Conv2dNormActivation, IntermediateLayerGetter, Module, Sequential, batchNorm2d, interpolateBilinear, mobilenetStageIndices, overwriteValueParam, weights, type Weights, type WeightsEnum } from '@mnv3/layers';
import { SegmentationModel, VOC_CATEGORIES, type SegmentationBuildOptions, type SegmentationOutput } from '@mnv3/segmentation';
import { mobilenetV3Large } from '@mnv3/backbone';

/** The two feature maps LR-ASPP reads: NHWC float32, `low` at output stride 8, `high` at 16. */
export interface LRASPPFeatures {
  low: tf.Tensor4D;
  high: tf.Tensor4D;
}

/**
 * TorchVision's `LRASPPHead`: `cbr` (1x1 conv, BatchNorm, ReLU) on the high features, gated by
 * `scale` (global average pool, 1x1 conv, sigmoid), upsampled bilinearly to the low features'
 * size, then `low_classifier(low) + high_classifier(x)`. Keys `cbr.0.weight`, `cbr.1.*`,
 * `scale.1.weight`, `low_classifier.{weight,bias}`, `high_classifier.{weight,bias}`.
 * Output NHWC logits `[N, h_low, w_low, numClasses]`.
 */
export class LRASPPHead extends Module {
  readonly cbr: Conv2dNormActivation;
  readonly scale: Sequential;
  readonly lowClassifier: Conv2d;
  readonly highClassifier: Conv2d;
  private readonly scaleConv: Conv2d;

  constructor(lowChannels: number, highChannels: number, numClasses: number, interChannels: number) {
    super();
    // nn.Sequential(Conv2d(bias=False), BatchNorm2d, ReLU): Conv2dNormActivation has the same keys.
    this.cbr = this.registerModule('cbr', new Conv2dNormActivation(highChannels, interChannels, { kernelSize: 1, normLayer: batchNorm2d() }));
    this.scaleConv = new Conv2d(highChannels, interChannels, { kernelSize: 1, bias: false, activation: 'sigmoid' });
    this.scale = this.registerModule('scale', new Sequential([new AdaptiveAvgPool2d(1), this.scaleConv, new Activation('sigmoid')]));
    this.lowClassifier = this.registerModule('low_classifier', new Conv2d(lowChannels, numClasses, { kernelSize: 1 }));
    this.highClassifier = this.registerModule('high_classifier', new Conv2d(interChannels, numClasses, { kernelSize: 1 }));
  }

  /** NHWC features in; NHWC logits at the low features' resolution out. */
  forward(input: LRASPPFeatures): tf.Tensor4D {
    const { low, high } = input;
    return tf.tidy(() => {
      const x = this.cbr.forward(high);
      // The sigmoid is fused into the 1x1 conv, so the Sequential's own Sigmoid is not applied again.
      const s = this.scaleConv.forward(tf.mean(high, [1, 2], true));
      const up = interpolateBilinear(tf.mul(x, s), [low.shape[1], low.shape[2]]);
      return tf.add(this.lowClassifier.forward(low), this.highClassifier.forward(up));
    });
  }
}

/**
 * TorchVision's `LRASPP` (Lite R-ASPP, "Searching for MobileNetV3"): `backbone` returns the
 * `low` and `high` feature maps, `classifier` is an `LRASPPHead`, and the logits are upsampled
 * bilinearly (`align_corners=False`) to the input's size. Input NHWC float32 `[N, H, W, 3]`;
 * output `{ out }`, NHWC float32 logits `[N, H, W, numClasses]`.
 */
export class LRASPP extends SegmentationModel {
  readonly backbone: IntermediateLayerGetter;
  readonly classifier: LRASPPHead;

  /**
   * @param backbone returns `{ low, high }`; registered as `backbone` (keys `backbone.*`).
   * @param interChannels the head's intermediate width (default 128, as TorchVision).
   */
  constructor(
    backbone: IntermediateLayerGetter,
    lowChannels: number,
    highChannels: number,
    readonly numClasses: number,
    interChannels = 128,
  ) {
    super();
    checkNumClasses(numClasses);
    this.backbone = this.registerModule('backbone', backbone);
    this.classifier = this.registerModule('classifier', new LRASPPHead(lowChannels, highChannels, numClasses, interChannels));
  }

  forward(x: tf.Tensor4D): SegmentationOutput {
    return tf.tidy(() => {
      const features = this.backbone.forward(x);
      const { low, high } = features;
      if (!low || !high) throw new Error('the LR-ASPP backbone must return "low" and "high" feature maps');
      const out = interpolateBilinear(this.classifier.forward({ low, high }), [x.shape[1], x.shape[2]]);
      return { out };
    }) as SegmentationOutput;
  }
}

function checkNumClasses(numClasses: number): void {
  if (!Number.isInteger(numClasses) || numClasses < 1) throw new RangeError(`numClasses must be a positive integer, got ${numClasses}`);
}

// ---------------------------------------------------------------------------------------------
// Weights: TorchVision's `LRASPP_MobileNet_V3_Large_Weights`.

const COCO_WITH_VOC_LABELS_V1 = weights(
  'https://download.pytorch.org/models/lraspp_mobilenet_v3_large-d234d4ea.pth',
  { kind: 'SemanticSegmentation', resizeSize: 520 },
  {
    categories: VOC_CATEGORIES,
    numParams: 3221538,
    minSize: [1, 1],
    recipe: 'https://github.com/pytorch/vision/tree/main/references/segmentation#lraspp_mobilenet_v3_large',
    metrics: { 'COCO-val2017-VOC-labels': { miou: 57.9, pixel_acc: 91.2 } },
  },
);

/**
 * TorchVision's `LRASPP_MobileNet_V3_Large_Weights`: trained on the subset of COCO with the 20
 * Pascal VOC categories (21 outputs with the background), evaluated at resize 520.
 */
export const LRASPP_MobileNet_V3_Large_Weights: WeightsEnum<'COCO_WITH_VOC_LABELS_V1'> = {
  COCO_WITH_VOC_LABELS_V1,
  DEFAULT: COCO_WITH_VOC_LABELS_V1,
};

// ---------------------------------------------------------------------------------------------
// Builder.

/** Options of `lrasppMobilenetV3Large` (TorchVision's kwargs, camelCase). */
export interface LRASPPMobilenetV3LargeOptions extends SegmentationBuildOptions {
  /** Output classes including the background; default 21 (VOC), or the weights' category count. */
  numClasses?: number;
  /** TorchVision refuses `aux_loss=True` for LR-ASPP; so does this builder. */
  auxLoss?: boolean;
  /**
   * The checkpoint the caller will load (this builder loads nothing): as TorchVision, it fixes
   * `numClasses` to its category count, and a different explicit `numClasses` is an error.
   */
  weights?: Weights;
  /** The head's intermediate width (TorchVision's `inter_channels`, via `**kwargs`); default 128. */
  interChannels?: number;
}

/**
 * Dilated MobileNetV3-Large `features` with TorchVision's LR-ASPP taps: `low` = stage index `[-4]`
 * (C2, stride 8, 40 channels, child 4), `high` = `[-1]` (C5, stride 16, 960 channels, child 16).
 */
export function lrasppMobilenetV3Backbone(): { backbone: IntermediateLayerGetter; lowChannels: number; highChannels: number } {
  const mnv3 = mobilenetV3Large({ dilated: true });
  const stages = mobilenetStageIndices(mnv3.features);
  const lowPos = stages[stages.length - 4]!;
  const highPos = stages[stages.length - 1]!;
  const backbone = new IntermediateLayerGetter(mnv3.features, { [String(lowPos)]: 'low', [String(highPos)]: 'high' });
  return { backbone, lowChannels: mnv3.featureChannels[lowPos]!, highChannels: mnv3.featureChannels[highPos]! };
}

/**
 * LR-ASPP on the dilated MobileNetV3-Large, as `torchvision.models.segmentation.lraspp_mobilenet_v3_large(**kwargs)`
 * with no weights loaded: call `loadStateDict` (keys `backbone.0.0.weight`, `backbone.1.block.…`,
 * `classifier.cbr.0.weight`, … as TorchVision's) or `initWeights` next. 3,221,538 parameters at 21 classes.
 *
 * @example
 * const model = lrasppMobilenetV3Large();
 * model.loadStateDict(stateDict);
 * const { out } = model.forward(x); // [N, H, W, 21]
 */
export function lrasppMobilenetV3Large(options: LRASPPMobilenetV3LargeOptions = {}): LRASPP {
  if (options.auxLoss) {
    throw new Error('This model does not use auxiliary loss: lraspp_mobilenet_v3_large has no aux head (auxLoss must be false or unset)');
  }
  const numClasses = resolveNumClasses(options.numClasses, options.weights);
  const { backbone, lowChannels, highChannels } = lrasppMobilenetV3Backbone();
  return new LRASPP(backbone, lowChannels, highChannels, numClasses, options.interChannels ?? 128);
}

/** TorchVision's `_ovewrite_value_param("num_classes", …)` when weights are given, else default 21. */
function resolveNumClasses(numClasses: number | undefined, w: Weights | undefined): number {
  const n = w ? overwriteValueParam('num_classes', numClasses, w.meta.categories.length) : (numClasses ?? 21);
  checkNumClasses(n);
  return n;
}
