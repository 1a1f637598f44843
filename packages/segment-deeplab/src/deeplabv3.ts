import * as tf from '@tensorflow/tfjs-core';
import { AdaptiveAvgPool2d, Activation, BatchNorm2d, Conv2d, Conv2dNormActivation, Dropout, Layer, Sequential, batchNorm2d, globalAvgPool, weights, type WeightsEnum } from '@mnv3/layers';
import { SimpleSegmentationModel, VOC_CATEGORIES, type SegmentationBuildOptions } from '@mnv3/segmentation';
import { FCNHead } from './fcn.js';
import { resolveOptions } from './build-options.js';
import { deeplabMobilenetV3Backbone } from './mobilenet-backbone.js';

/**
 * TorchVision's `ASPPConv`: 3x3 conv with `padding = dilation = rate` (no bias), BatchNorm,
 * ReLU. Keys `0.weight`, `1.*` (same layout as `Conv2dNormActivation`).
 */
export class ASPPConv extends Conv2dNormActivation {
  constructor(inChannels: number, outChannels: number, dilation: number) {
    super(inChannels, outChannels, { kernelSize: 3, dilation, padding: dilation, normLayer: batchNorm2d() });
  }
}

/**
 * TorchVision's `ASPPPooling`: global average pool, 1x1 conv (no bias), BatchNorm, ReLU, then
 * back to the input's size — bilinear upsampling of a 1×1 map, i.e. a broadcast. Keys
 * `1.weight`, `2.*`. NHWC in and out.
 */
export class ASPPPooling extends Layer {
  readonly conv: Conv2d;
  readonly norm: BatchNorm2d;

  constructor(inChannels: number, outChannels: number) {
    super();
    this.registerModule('0', new AdaptiveAvgPool2d(1));
    this.conv = this.registerModule('1', new Conv2d(inChannels, outChannels, { kernelSize: 1, bias: false }));
    this.norm = this.registerModule('2', new BatchNorm2d(outChannels));
    this.conv.absorb(this.norm, 'relu');
    this.registerModule('3', new Activation('relu'));
  }

  forward(x: tf.Tensor4D): tf.Tensor4D {
    const [, h, w] = x.shape;
    return tf.tidy(() => {
      const y = this.conv.forward(tf.reshape(globalAvgPool(x), [x.shape[0], 1, 1, x.shape[3]]));
      // TorchVision's F.interpolate(bilinear) of the 1×1 map: a copy per pixel (and ~100× faster
      // than tf.broadcastTo, whose wasm Tile kernel indexes element by element).
      return tf.image.resizeBilinear(y, [h, w]);
    });
  }
}

/**
 * TorchVision's `ASPP` (Atrous Spatial Pyramid Pooling): a 1x1 branch, one `ASPPConv` per atrous
 * rate and an `ASPPPooling` branch (`convs.0` … `convs.4` for three rates), concatenated over
 * channels and projected by a 1x1 conv, BatchNorm, ReLU and dropout 0.5 (identity at inference):
 * keys `project.0.weight`, `project.1.*`. NHWC in, `[N, H, W, outChannels]` out.
 */
export class ASPP extends Layer {
  readonly convs: Sequential;
  readonly project: Sequential;
  private readonly projectConv: Conv2d;

  constructor(
    inChannels: number,
    readonly atrousRates: readonly number[],
    readonly outChannels = 256,
  ) {
    super();
    for (const r of atrousRates) if (!Number.isInteger(r) || r < 1) throw new RangeError(`atrous rates must be positive integers, got ${r}`);
    const branches: Layer[] = [
      new Conv2dNormActivation(inChannels, outChannels, { kernelSize: 1, normLayer: batchNorm2d() }),
      ...atrousRates.map((r) => new ASPPConv(inChannels, outChannels, r)),
      new ASPPPooling(inChannels, outChannels),
    ];
    // nn.ModuleList: children `0`, `1`, … as a Sequential registers them; run one by one below.
    this.convs = this.registerModule('convs', new Sequential(branches));
    this.projectConv = new Conv2d(branches.length * outChannels, outChannels, { kernelSize: 1, bias: false });
    const norm = new BatchNorm2d(outChannels);
    this.projectConv.absorb(norm, 'relu');
    this.project = this.registerModule('project', new Sequential([this.projectConv, norm, new Activation('relu'), new Dropout(0.5)]));
  }

  forward(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      const res = this.convs.layers.map((branch) => branch.forward(x));
      // BatchNorm and ReLU are folded into the projection conv; dropout is the identity.
      return this.projectConv.forward(tf.concat(res, 3));
    });
  }
}

/**
 * TorchVision's `DeepLabHead`: `ASPP(inChannels, [12, 24, 36])`, 3x3 conv 256→256 (no bias),
 * BatchNorm, ReLU, 1x1 conv to `numClasses`. Keys `0.*` (ASPP), `1.weight`, `2.*`, `4.weight`,
 * `4.bias`. NHWC in, logits `[N, H, W, numClasses]` out.
 */
export class DeepLabHead extends Layer {
  readonly aspp: ASPP;
  readonly conv: Conv2d;
  readonly out: Conv2d;

  constructor(inChannels: number, numClasses: number) {
    super();
    this.aspp = this.registerModule('0', new ASPP(inChannels, [12, 24, 36]));
    this.conv = this.registerModule('1', new Conv2d(256, 256, { kernelSize: 3, padding: 1, bias: false }));
    this.conv.absorb(this.registerModule('2', new BatchNorm2d(256)), 'relu');
    this.registerModule('3', new Activation('relu'));
    this.out = this.registerModule('4', new Conv2d(256, numClasses, { kernelSize: 1 }));
  }

  forward(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => this.out.forward(this.conv.forward(this.aspp.forward(x))));
  }
}

/**
 * TorchVision's `DeepLabV3` ("Rethinking Atrous Convolution for Semantic Image Segmentation"):
 * a `_SimpleSegmentationModel` with a `DeepLabHead` classifier and an optional `FCNHead` aux.
 */
export class DeepLabV3 extends SimpleSegmentationModel {}

// ---------------------------------------------------------------------------------------------
// Weights: TorchVision's `DeepLabV3_MobileNet_V3_Large_Weights`.

const COCO_WITH_VOC_LABELS_V1 = weights(
  'https://download.pytorch.org/models/deeplabv3_mobilenet_v3_large-fc3c493d.pth',
  { kind: 'SemanticSegmentation', resizeSize: 520 },
  {
    categories: VOC_CATEGORIES,
    numParams: 11029328,
    minSize: [1, 1],
    recipe: 'https://github.com/pytorch/vision/tree/main/references/segmentation#deeplabv3_mobilenet_v3_large',
    metrics: { 'COCO-val2017-VOC-labels': { miou: 60.3, pixel_acc: 91.2 } },
  },
);

/**
 * TorchVision's `DeepLabV3_MobileNet_V3_Large_Weights`: trained on the subset of COCO with the 20
 * Pascal VOC categories, evaluated at resize 520. The checkpoint includes the aux head
 * (`aux_classifier.*`; 11,029,328 parameters with it): TorchVision sets `aux_loss=True` whenever
 * these weights are used, and `deeplabv3MobilenetV3Large({ weights })` does the same.
 */
export const DeepLabV3_MobileNet_V3_Large_Weights: WeightsEnum<'COCO_WITH_VOC_LABELS_V1'> = {
  COCO_WITH_VOC_LABELS_V1,
  DEFAULT: COCO_WITH_VOC_LABELS_V1,
};

// ---------------------------------------------------------------------------------------------
// Builders.

/** Options of `deeplabv3MobilenetV3Large` and `fcnMobilenetV3Large` (TorchVision's kwargs). */
export interface DeepLabBuildOptions extends SegmentationBuildOptions {
  /** Output classes including the background; default 21 (VOC), or the weights' category count. */
  numClasses?: number;
  /** Adds the aux `FCNHead` on the stride-8 C2 features (40 channels) → `aux` output. Default false. */
  auxLoss?: boolean;
}

/**
 * DeepLabV3 on the dilated MobileNetV3-Large, as
 * `torchvision.models.segmentation.deeplabv3_mobilenet_v3_large(**kwargs)` with no weights
 * loaded: `DeepLabHead(960)` on C5, plus `FCNHead(40)` on C2 with `auxLoss`. Keys `backbone.*`,
 * `classifier.*`, `aux_classifier.*` as TorchVision's. 11,029,328 parameters with the aux head
 * at 21 classes (the published checkpoint), 11,025,477 without. Passing `weights` fixes
 * `numClasses` to 21 and `auxLoss` to true, as TorchVision (an explicit other value is an error).
 *
 * @example
 * const model = deeplabv3MobilenetV3Large({ weights: DeepLabV3_MobileNet_V3_Large_Weights.DEFAULT });
 * model.loadStateDict(stateDict);
 * const { out, aux } = model.forward(x); // [N, H, W, 21] each
 */
export function deeplabv3MobilenetV3Large(options: DeepLabBuildOptions = {}): DeepLabV3 {
  const { numClasses, auxLoss } = resolveOptions(options, true);
  const { backbone, outChannels, auxChannels } = deeplabMobilenetV3Backbone(auxLoss);
  const aux = auxLoss ? new FCNHead(auxChannels, numClasses) : null;
  return new DeepLabV3(backbone, new DeepLabHead(outChannels, numClasses), aux, numClasses);
}
