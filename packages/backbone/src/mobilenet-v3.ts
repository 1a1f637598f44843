import * as tf from '@tensorflow/tfjs-core';
import { Activation, Conv2dNormActivation, Dropout, InvertedResidual, Linear, Sequential, adjustChannels, batchNorm2d, globalAvgPool, invertedResidualConfig, weights, type InvertedResidualConfig, type Layer, type NormLayer, type Weights, type WeightsEnum } from '@mnv3/layers';
import { ImageClassifier, classesFor } from './classifier.js';
import { FASHION_MNIST_CLASSES } from '@mnv3/io';
import { IMAGENET_CATEGORIES } from './imagenet-categories.js';

// ---------------------------------------------------------------------------------------------
// Configuration: TorchVision's `_mobilenet_v3_conf`, row for row.

/** `[input, kernel, expanded, out, useSe, activation, stride, dilation]`, unscaled channels. */
type Row = readonly [number, number, number, number, boolean, 'HS' | 'RE', number, number];

export type MobileNetV3Arch = 'mobilenet_v3_large' | 'mobilenet_v3_small';

export interface MobileNetV3ConfOptions {
  /** Scales every layer's channels, rounded to a multiple of 8. Default 1.0. */
  widthMult?: number;
  /** Halves the channels of the last stage (detection and segmentation backbones). */
  reducedTail?: boolean;
  /** Dilation 2 instead of stride 2 in the last stage (output stride 16, for segmentation). */
  dilated?: boolean;
}

/**
 * The inverted-residual settings and the classifier's hidden width for Large or Small, as
 * TorchVision's `_mobilenet_v3_conf`.
 */
export function mobilenetV3Conf(
  arch: MobileNetV3Arch,
  options: MobileNetV3ConfOptions = {},
): { settings: InvertedResidualConfig[]; lastChannel: number } {
  const widthMult = options.widthMult ?? 1.0;
  if (!(widthMult > 0)) throw new RangeError(`widthMult must be positive, got ${widthMult}`);
  const r = options.reducedTail ? 2 : 1;
  const d = options.dilated ? 2 : 1;
  const div = (c: number) => Math.floor(c / r);
  let rows: Row[];
  let lastChannel: number;
  if (arch === 'mobilenet_v3_large') {
    rows = [
      [16, 3, 16, 16, false, 'RE', 1, 1],
      [16, 3, 64, 24, false, 'RE', 2, 1], // C1
      [24, 3, 72, 24, false, 'RE', 1, 1],
      [24, 5, 72, 40, true, 'RE', 2, 1], // C2
      [40, 5, 120, 40, true, 'RE', 1, 1],
      [40, 5, 120, 40, true, 'RE', 1, 1],
      [40, 3, 240, 80, false, 'HS', 2, 1], // C3
      [80, 3, 200, 80, false, 'HS', 1, 1],
      [80, 3, 184, 80, false, 'HS', 1, 1],
      [80, 3, 184, 80, false, 'HS', 1, 1],
      [80, 3, 480, 112, true, 'HS', 1, 1],
      [112, 3, 672, 112, true, 'HS', 1, 1],
      [112, 5, 672, div(160), true, 'HS', 2, d], // C4
      [div(160), 5, div(960), div(160), true, 'HS', 1, d],
      [div(160), 5, div(960), div(160), true, 'HS', 1, d],
    ];
    lastChannel = adjustChannels(div(1280), widthMult); // C5
  } else if (arch === 'mobilenet_v3_small') {
    rows = [
      [16, 3, 16, 16, true, 'RE', 2, 1], // C1
      [16, 3, 72, 24, false, 'RE', 2, 1], // C2
      [24, 3, 88, 24, false, 'RE', 1, 1],
      [24, 5, 96, 40, true, 'HS', 2, 1], // C3
      [40, 5, 240, 40, true, 'HS', 1, 1],
      [40, 5, 240, 40, true, 'HS', 1, 1],
      [40, 5, 120, 48, true, 'HS', 1, 1],
      [48, 5, 144, 48, true, 'HS', 1, 1],
      [48, 5, 288, div(96), true, 'HS', 2, d], // C4
      [div(96), 5, div(576), div(96), true, 'HS', 1, d],
      [div(96), 5, div(576), div(96), true, 'HS', 1, d],
    ];
    lastChannel = adjustChannels(div(1024), widthMult); // C5
  } else {
    throw new Error(`Unsupported model type ${String(arch)}; valid: mobilenet_v3_large, mobilenet_v3_small`);
  }
  return { settings: rows.map((row) => invertedResidualConfig(...row, widthMult)), lastChannel };
}

// ---------------------------------------------------------------------------------------------
// Modules.

export interface MobileNetV3Options {
  numClasses?: number;
  /** Dropout before the last linear layer (identity at inference). Default 0.2. */
  dropout?: number;
  /** Default `BatchNorm2d(eps=0.001, momentum=0.01)`, as TorchVision. */
  normLayer?: NormLayer;
  /**
   * Stochastic depth in train mode (not in TorchVision's MobileNetV3; TorchVision's EfficientNet
   * schedule): block i of n drops its residual branch per image with probability `p · i / n`.
   * Default 0. Blocks without a residual connection are never dropped.
   */
  stochasticDepthProb?: number;
}

/**
 * TorchVision's `MobileNetV3`: `features` (first conv, inverted residual blocks, last conv
 * expanding 6x), global average pool, and `classifier` (Linear, hardswish, dropout, Linear).
 * Input NHWC float32 `[N, H, W, 3]`, output logits `[N, numClasses]`.
 */
export class MobileNetV3 extends ImageClassifier {
  readonly features: Sequential;
  readonly classifier: Sequential<tf.Tensor2D>;
  readonly numClasses: number;
  /** Channels of each `features` entry's output, by index. */
  readonly featureChannels: readonly number[];

  constructor(settings: readonly InvertedResidualConfig[], lastChannel: number, options: MobileNetV3Options = {}) {
    super();
    if (settings.length === 0) throw new Error('The inverted_residual_setting should not be empty');
    const normLayer = options.normLayer ?? batchNorm2d({ eps: 0.001, momentum: 0.01 });
    this.numClasses = options.numClasses ?? 1000;
    if (!Number.isInteger(this.numClasses) || this.numClasses < 1) {
      throw new RangeError(`numClasses must be a positive integer, got ${options.numClasses}`);
    }
    const layers: Layer[] = [];
    const first = settings[0]!.inputChannels;
    layers.push(new Conv2dNormActivation(3, first, { kernelSize: 3, stride: 2, normLayer, activation: 'hardswish' }));
    const sd = options.stochasticDepthProb ?? 0;
    settings.forEach((cnf, i) => layers.push(new InvertedResidual(cnf, normLayer, { stochasticDepthProb: (sd * i) / settings.length })));
    const lastIn = settings[settings.length - 1]!.outChannels;
    const lastOut = 6 * lastIn;
    layers.push(new Conv2dNormActivation(lastIn, lastOut, { kernelSize: 1, normLayer, activation: 'hardswish' }));
    this.features = this.registerModule('features', new Sequential(layers));
    this.featureChannels = [first, ...settings.map((s) => s.outChannels), lastOut];
    this.classifier = this.registerModule(
      'classifier',
      new Sequential<tf.Tensor2D>([
        new Linear(lastOut, lastChannel),
        new Activation<tf.Tensor2D>('hardswish'),
        new Dropout<tf.Tensor2D>(options.dropout ?? 0.2),
        new Linear(lastChannel, this.numClasses),
      ]),
    );
  }

  forward(x: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => this.classifier.forward(globalAvgPool(this.features.forward(x))));
  }
}

// ---------------------------------------------------------------------------------------------
// Weights: TorchVision's `MobileNet_V3_Large_Weights` and `MobileNet_V3_Small_Weights`.

const COMMON_META = { minSize: [1, 1] as const, categories: IMAGENET_CATEGORIES };
/** FASHION_MNIST_V1's preset: grayscale, resized to 64×64 on the uint8-tensor path, as our trainer evaluates. */
export const FASHION_MNIST_PRESET = Object.freeze({ kind: 'ImageClassification', cropSize: 64, resizeSize: 64, grayscale: true, inputType: 'tensor' } as const);
/** Where FASHION_MNIST_V1's recipe and model card are (in this repository). */
export const FASHION_MNIST_RECIPE = 'packages/quantize/weights/FASHION_MNIST_V1.md';
const RECIPE = 'https://github.com/pytorch/vision/tree/main/references/classification#mobilenetv3-large--small';

const LARGE_V1 = weights(
  'https://download.pytorch.org/models/mobilenet_v3_large-8738ca79.pth',
  { kind: 'ImageClassification', cropSize: 224, resizeSize: 256 },
  { ...COMMON_META, numParams: 5483032, recipe: RECIPE, metrics: { 'ImageNet-1K': { 'acc@1': 74.042, 'acc@5': 91.34 } } },
);
const LARGE_V2 = weights(
  'https://download.pytorch.org/models/mobilenet_v3_large-5c1a4163.pth',
  { kind: 'ImageClassification', cropSize: 224, resizeSize: 232 },
  {
    ...COMMON_META,
    numParams: 5483032,
    recipe: 'https://github.com/pytorch/vision/issues/3995#new-recipe-with-reg-tuning',
    metrics: { 'ImageNet-1K': { 'acc@1': 75.274, 'acc@5': 92.566 } },
  },
);
export const MobileNet_V3_Large_Weights: WeightsEnum<'IMAGENET1K_V1' | 'IMAGENET1K_V2'> = {
  IMAGENET1K_V1: LARGE_V1,
  IMAGENET1K_V2: LARGE_V2,
  DEFAULT: LARGE_V2,
};

const SMALL_V1 = weights(
  'https://download.pytorch.org/models/mobilenet_v3_small-047dcff4.pth',
  { kind: 'ImageClassification', cropSize: 224, resizeSize: 256 },
  { ...COMMON_META, numParams: 2542856, recipe: RECIPE, metrics: { 'ImageNet-1K': { 'acc@1': 67.668, 'acc@5': 87.402 } } },
);
/**
 * Our own model, shipped inside this package so that it works offline: MobileNetV3-Small trained
 * from scratch on Fashion-MNIST by our full recipe (10 classes, grayscale 28×28 → 64×64, as trained).
 * Its provenance and test accuracy: packages/quantize/weights/FASHION_MNIST_V1.md.
 */
const SMALL_FASHION_MNIST_V1 = weights(
  new URL('../weights/mobilenet_v3_small-fashion_mnist_v1-85a14942.safetensors', import.meta.url).href,
  FASHION_MNIST_PRESET,
  { minSize: [1, 1], categories: FASHION_MNIST_CLASSES, numParams: 1528106, recipe: FASHION_MNIST_RECIPE, metrics: { 'Fashion-MNIST': { 'acc@1': 91.3 } } },
  '85a14942', // bundlers rename the file: the prefix is stated, not parsed
);
export const MobileNet_V3_Small_Weights: WeightsEnum<'IMAGENET1K_V1' | 'FASHION_MNIST_V1'> = { IMAGENET1K_V1: SMALL_V1, FASHION_MNIST_V1: SMALL_FASHION_MNIST_V1, DEFAULT: SMALL_V1 };

// ---------------------------------------------------------------------------------------------
// Builders.

export interface MobileNetV3BuilderOptions extends MobileNetV3ConfOptions, MobileNetV3Options {
  /** Custom inverted-residual settings replacing the Large/Small table (then `lastChannel` too). */
  invertedResidualSetting?: readonly InvertedResidualConfig[];
  lastChannel?: number;
  /**
   * The checkpoint the caller will load (an entry of the weights table): fixes `numClasses` to its
   * category count, as TorchVision's builders; a different explicit `numClasses` is an error.
   */
  weights?: Weights;
}

function mobilenetV3(arch: MobileNetV3Arch, options: MobileNetV3BuilderOptions): MobileNetV3 {
  const conf = mobilenetV3Conf(arch, options);
  const settings = options.invertedResidualSetting ?? conf.settings;
  const lastChannel = options.lastChannel ?? conf.lastChannel;
  return new MobileNetV3(settings, lastChannel, { ...options, numClasses: classesFor(options) });
}

/**
 * MobileNetV3-Large, as `torchvision.models.mobilenet_v3_large(**kwargs)`, with no weights
 * loaded: call `loadStateDict` (or `initWeights`) next.
 *
 * @example const model = mobilenetV3Large({ widthMult: 0.75 });
 */
export function mobilenetV3Large(options: MobileNetV3BuilderOptions = {}): MobileNetV3 {
  return mobilenetV3('mobilenet_v3_large', options);
}

/** MobileNetV3-Small, as `torchvision.models.mobilenet_v3_small(**kwargs)`. */
export function mobilenetV3Small(options: MobileNetV3BuilderOptions = {}): MobileNetV3 {
  return mobilenetV3('mobilenet_v3_small', options);
}
