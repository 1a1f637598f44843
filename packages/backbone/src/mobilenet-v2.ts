import * as tf from '@tensorflow/tfjs-core';
import { Conv2d, Conv2dNormActivation, Dropout, Layer, Linear, Sequential, batchNorm2d, globalAvgPool, makeDivisible, weights, type NormLayer, type Weights, type WeightsEnum } from '@mnv3/layers';
import { ImageClassifier, classesFor } from './classifier.js';
import { IMAGENET_CATEGORIES } from './imagenet-categories.js';

/** `[expandRatio t, channels c, repeats n, stride s]` rows, TorchVision's default table. */
const DEFAULT_SETTING: readonly (readonly [number, number, number, number])[] = [
  [1, 16, 1, 1],
  [6, 24, 2, 2],
  [6, 32, 3, 2],
  [6, 64, 4, 2],
  [6, 96, 3, 1],
  [6, 160, 3, 2],
  [6, 320, 1, 1],
];

/**
 * MobileNetV2's inverted residual (TorchVision `mobilenetv2.InvertedResidual`): ReLU6, no SE, a
 * linear projection as a bare `Conv2d` + norm. Keys `conv.0.*`, `conv.1.*`, ….
 */
export class InvertedResidualV2 extends Layer {
  readonly conv: Sequential;
  readonly useResConnect: boolean;

  constructor(inp: number, oup: number, stride: number, expandRatio: number, normLayer: NormLayer) {
    super();
    if (stride !== 1 && stride !== 2) throw new RangeError(`stride should be 1 or 2 instead of ${stride}`);
    const hidden = Math.round(inp * expandRatio);
    this.useResConnect = stride === 1 && inp === oup;
    const layers: Layer[] = [];
    if (expandRatio !== 1) layers.push(new Conv2dNormActivation(inp, hidden, { kernelSize: 1, normLayer, activation: 'relu6' }));
    layers.push(new Conv2dNormActivation(hidden, hidden, { stride, groups: hidden, normLayer, activation: 'relu6' }));
    const project = new Conv2d(hidden, oup, { bias: false });
    const norm = normLayer(oup);
    project.absorb(norm);
    layers.push(project, norm);
    this.conv = this.registerModule('conv', new Sequential(layers));
  }

  forward(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => (this.useResConnect ? tf.add(x, this.conv.forward(x)) : this.conv.forward(x)));
  }
}

export interface MobileNetV2Options {
  numClasses?: number;
  /**
   * The checkpoint the caller will load (an entry of the weights table): fixes `numClasses` to its
   * category count, as TorchVision's builders; a different explicit `numClasses` is an error.
   */
  weights?: Weights;
  widthMult?: number;
  invertedResidualSetting?: readonly (readonly [number, number, number, number])[];
  roundNearest?: number;
  normLayer?: NormLayer;
  dropout?: number;
}

/**
 * TorchVision's `MobileNetV2`. Input NHWC float32 `[N, H, W, 3]`, output logits `[N, numClasses]`.
 */
export class MobileNetV2 extends ImageClassifier {
  readonly features: Sequential;
  readonly classifier: Sequential<tf.Tensor2D>;
  readonly numClasses: number;

  constructor(options: MobileNetV2Options = {}) {
    super();
    const widthMult = options.widthMult ?? 1.0;
    const round = options.roundNearest ?? 8;
    const normLayer = options.normLayer ?? batchNorm2d();
    const setting = options.invertedResidualSetting ?? DEFAULT_SETTING;
    if (setting.length === 0 || setting[0]!.length !== 4) {
      throw new Error(`inverted_residual_setting should be non-empty or a 4-element list, got ${JSON.stringify(setting)}`);
    }
    this.numClasses = options.numClasses ?? 1000;
    let inputChannel = makeDivisible(32 * widthMult, round);
    const lastChannel = makeDivisible(1280 * Math.max(1.0, widthMult), round);
    const features: Layer[] = [new Conv2dNormActivation(3, inputChannel, { stride: 2, normLayer, activation: 'relu6' })];
    for (const [t, c, n, s] of setting) {
      const out = makeDivisible(c * widthMult, round);
      for (let i = 0; i < n; i++) {
        features.push(new InvertedResidualV2(inputChannel, out, i === 0 ? s : 1, t, normLayer));
        inputChannel = out;
      }
    }
    features.push(new Conv2dNormActivation(inputChannel, lastChannel, { kernelSize: 1, normLayer, activation: 'relu6' }));
    this.features = this.registerModule('features', new Sequential(features));
    this.classifier = this.registerModule(
      'classifier',
      new Sequential<tf.Tensor2D>([new Dropout<tf.Tensor2D>(options.dropout ?? 0.2), new Linear(lastChannel, this.numClasses)]),
    );
  }

  forward(x: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => this.classifier.forward(globalAvgPool(this.features.forward(x))));
  }
}

const V2_META = { minSize: [1, 1] as const, categories: IMAGENET_CATEGORIES, numParams: 3504872 };
const MOBILENET_V2_V1 = weights(
  'https://download.pytorch.org/models/mobilenet_v2-b0353104.pth',
  { kind: 'ImageClassification', cropSize: 224, resizeSize: 256 },
  {
    ...V2_META,
    recipe: 'https://github.com/pytorch/vision/tree/main/references/classification#mobilenetv2',
    metrics: { 'ImageNet-1K': { 'acc@1': 71.878, 'acc@5': 90.286 } },
  },
);
const MOBILENET_V2_V2 = weights(
  'https://download.pytorch.org/models/mobilenet_v2-7ebf99e0.pth',
  { kind: 'ImageClassification', cropSize: 224, resizeSize: 232 },
  {
    ...V2_META,
    recipe: 'https://github.com/pytorch/vision/issues/3995#new-recipe-with-reg-tuning',
    metrics: { 'ImageNet-1K': { 'acc@1': 72.154, 'acc@5': 90.822 } },
  },
);
/** TorchVision's `MobileNet_V2_Weights`. */
export const MobileNet_V2_Weights: WeightsEnum<'IMAGENET1K_V1' | 'IMAGENET1K_V2'> = {
  IMAGENET1K_V1: MOBILENET_V2_V1,
  IMAGENET1K_V2: MOBILENET_V2_V2,
  DEFAULT: MOBILENET_V2_V2,
};

/** MobileNetV2, as `torchvision.models.mobilenet_v2(**kwargs)`, with no weights loaded. */
export function mobilenetV2(options: MobileNetV2Options = {}): MobileNetV2 {
  return new MobileNetV2({ ...options, numClasses: classesFor(options) });
}
