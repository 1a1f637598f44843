import * as tf from '@tensorflow/tfjs-core';
import { Activation, AdaptiveAvgPool2d, Conv2d, Layer, Linear, MaxPool2d, Sequential, batchNorm2d, globalAvgPool, weights, type NormLayer, type Weights, type WeightsEnum } from '@mnv3/layers';
import { ImageClassifier, classesFor } from './classifier.js';
import { IMAGENET_CATEGORIES } from './imagenet-categories.js';

function conv3x3(inPlanes: number, outPlanes: number, stride = 1, dilation = 1): Conv2d {
  return new Conv2d(inPlanes, outPlanes, { kernelSize: 3, stride, padding: dilation, dilation, bias: false });
}

function conv1x1(inPlanes: number, outPlanes: number, stride = 1): Conv2d {
  return new Conv2d(inPlanes, outPlanes, { kernelSize: 1, stride, bias: false });
}

/** `downsample`: conv1x1 + norm, folded. Keys `0.weight`, `1.*`. */
function downsample(inPlanes: number, outPlanes: number, stride: number, normLayer: NormLayer): Sequential {
  const conv = conv1x1(inPlanes, outPlanes, stride);
  const norm = normLayer(outPlanes);
  conv.absorb(norm);
  return new Sequential([conv, norm]);
}

/** TorchVision's `BasicBlock` (ResNet-18/34). Keys `conv1`, `bn1`, `conv2`, `bn2`, `downsample`. */
export class BasicBlock extends Layer {
  static readonly expansion = 1;
  private readonly conv1: Conv2d;
  private readonly conv2: Conv2d;
  private readonly downsample: Sequential | null;

  constructor(inplanes: number, planes: number, stride: number, down: Sequential | null, normLayer: NormLayer, dilation = 1) {
    super();
    if (dilation > 1) throw new RangeError('Dilation > 1 not supported in BasicBlock (TorchVision dilates Bottleneck ResNets only)');
    this.conv1 = this.registerModule('conv1', conv3x3(inplanes, planes, stride));
    this.conv1.absorb(this.registerModule('bn1', normLayer(planes)), 'relu');
    this.registerModule('relu', new Activation('relu'));
    this.conv2 = this.registerModule('conv2', conv3x3(planes, planes));
    this.conv2.absorb(this.registerModule('bn2', normLayer(planes)));
    this.downsample = down ? this.registerModule('downsample', down) : null;
  }

  forward(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      const out = this.conv2.forward(this.conv1.forward(x));
      const identity = this.downsample ? this.downsample.forward(x) : x;
      return tf.relu(tf.add(out, identity)) as tf.Tensor4D;
    });
  }
}

/**
 * TorchVision's `Bottleneck` (ResNet-50+), stride and dilation on the 3x3. Keys `conv1..3`,
 * `bn1..3`, `downsample`.
 */
export class Bottleneck extends Layer {
  static readonly expansion = 4;
  private readonly convs: Conv2d[];
  private readonly downsample: Sequential | null;

  constructor(inplanes: number, planes: number, stride: number, down: Sequential | null, normLayer: NormLayer, dilation = 1) {
    super();
    const width = planes;
    const c1 = this.registerModule('conv1', conv1x1(inplanes, width));
    c1.absorb(this.registerModule('bn1', normLayer(width)), 'relu');
    const c2 = this.registerModule('conv2', conv3x3(width, width, stride, dilation));
    c2.absorb(this.registerModule('bn2', normLayer(width)), 'relu');
    const c3 = this.registerModule('conv3', conv1x1(width, planes * Bottleneck.expansion));
    c3.absorb(this.registerModule('bn3', normLayer(planes * Bottleneck.expansion)));
    this.registerModule('relu', new Activation('relu'));
    this.convs = [c1, c2, c3];
    this.downsample = down ? this.registerModule('downsample', down) : null;
  }

  forward(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      let out = x;
      for (const c of this.convs) out = c.forward(out);
      const identity = this.downsample ? this.downsample.forward(x) : x;
      return tf.relu(tf.add(out, identity)) as tf.Tensor4D;
    });
  }
}

type Block = typeof BasicBlock | typeof Bottleneck;

export interface ResNetOptions {
  numClasses?: number;
  /**
   * The checkpoint the caller will load (an entry of the weights table): fixes `numClasses` to its
   * category count, as TorchVision's builders; a different explicit `numClasses` is an error.
   */
  weights?: Weights;
  normLayer?: NormLayer;
  /**
   * TorchVision's `replace_stride_with_dilation`: for `layer2`..`layer4`, whether to keep the
   * resolution and dilate instead of striding (segmentation uses `[false, true, true]`: output
   * stride 8). Default all false.
   */
  replaceStrideWithDilation?: readonly [boolean, boolean, boolean];
}

/** TorchVision's `ResNet`. Input NHWC float32 `[N, H, W, 3]`, output logits `[N, numClasses]`. */
export class ResNet extends ImageClassifier {
  readonly numClasses: number;
  /** Channels of `layer4`'s output (TorchVision's final `inplanes`): 2048 for ResNet-50, 512 for ResNet-18. */
  readonly outChannels: number;
  private readonly conv1: Conv2d;
  private readonly maxpool: MaxPool2d;
  private readonly stages: Sequential[];
  private readonly fc: Linear;

  constructor(block: Block, layers: readonly [number, number, number, number], options: ResNetOptions = {}) {
    super();
    const normLayer = options.normLayer ?? batchNorm2d();
    const dilate = options.replaceStrideWithDilation ?? [false, false, false];
    if (dilate.length !== 3) {
      throw new RangeError(`replace_stride_with_dilation should be null or a 3-element tuple, got ${JSON.stringify(dilate)}`);
    }
    this.numClasses = options.numClasses ?? 1000;
    // Children in TorchVision's order, so that IntermediateLayerGetter keeps its names.
    this.conv1 = this.registerModule('conv1', new Conv2d(3, 64, { kernelSize: 7, stride: 2, padding: 3, bias: false }));
    this.conv1.absorb(this.registerModule('bn1', normLayer(64)), 'relu');
    this.registerModule('relu', new Activation('relu')).absorbed = true;
    this.maxpool = this.registerModule('maxpool', new MaxPool2d(3, 2, 1));
    let inplanes = 64;
    let dilation = 1;
    this.stages = [64, 128, 256, 512].map((planes, i) => {
      let stride = i === 0 ? 1 : 2;
      const previousDilation = dilation;
      if (i > 0 && dilate[i - 1]) {
        dilation *= stride;
        stride = 1;
      }
      const out = planes * block.expansion;
      const down = stride !== 1 || inplanes !== out ? downsample(inplanes, out, stride, normLayer) : null;
      const blocks: Layer[] = [new block(inplanes, planes, stride, down, normLayer, previousDilation)];
      inplanes = out;
      for (let j = 1; j < layers[i]!; j++) blocks.push(new block(inplanes, planes, 1, null, normLayer, dilation));
      return this.registerModule(`layer${i + 1}`, new Sequential(blocks));
    });
    this.outChannels = inplanes;
    this.registerModule('avgpool', new AdaptiveAvgPool2d(1));
    this.fc = this.registerModule('fc', new Linear(this.outChannels, this.numClasses));
  }

  forward(x: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => {
      let y = this.maxpool.forward(this.conv1.forward(x));
      for (const stage of this.stages) y = stage.forward(y);
      return this.fc.forward(globalAvgPool(y));
    });
  }
}

const RESNET_META = { minSize: [1, 1] as const, categories: IMAGENET_CATEGORIES };
const RESNET_RECIPE = 'https://github.com/pytorch/vision/tree/main/references/classification#resnet';

const RESNET18_V1 = weights(
  'https://download.pytorch.org/models/resnet18-f37072fd.pth',
  { kind: 'ImageClassification', cropSize: 224, resizeSize: 256 },
  { ...RESNET_META, numParams: 11689512, recipe: RESNET_RECIPE, metrics: { 'ImageNet-1K': { 'acc@1': 69.758, 'acc@5': 89.078 } } },
);
/** TorchVision's `ResNet18_Weights`. */
export const ResNet18_Weights: WeightsEnum<'IMAGENET1K_V1'> = { IMAGENET1K_V1: RESNET18_V1, DEFAULT: RESNET18_V1 };

const RESNET50_V1 = weights(
  'https://download.pytorch.org/models/resnet50-0676ba61.pth',
  { kind: 'ImageClassification', cropSize: 224, resizeSize: 256 },
  { ...RESNET_META, numParams: 25557032, recipe: RESNET_RECIPE, metrics: { 'ImageNet-1K': { 'acc@1': 76.13, 'acc@5': 92.862 } } },
);
const RESNET50_V2 = weights(
  'https://download.pytorch.org/models/resnet50-11ad3fa6.pth',
  { kind: 'ImageClassification', cropSize: 224, resizeSize: 232 },
  {
    ...RESNET_META,
    numParams: 25557032,
    recipe: 'https://github.com/pytorch/vision/issues/3995#issuecomment-1013906621',
    metrics: { 'ImageNet-1K': { 'acc@1': 80.858, 'acc@5': 95.434 } },
  },
);
/** TorchVision's `ResNet50_Weights`. */
export const ResNet50_Weights: WeightsEnum<'IMAGENET1K_V1' | 'IMAGENET1K_V2'> = {
  IMAGENET1K_V1: RESNET50_V1,
  IMAGENET1K_V2: RESNET50_V2,
  DEFAULT: RESNET50_V2,
};

/** ResNet-18, as `torchvision.models.resnet18(**kwargs)`, with no weights loaded. */
export function resnet18(options: ResNetOptions = {}): ResNet {
  return new ResNet(BasicBlock, [2, 2, 2, 2], { ...options, numClasses: classesFor(options) });
}

/** ResNet-50, as `torchvision.models.resnet50(**kwargs)`, with no weights loaded. */
export function resnet50(options: ResNetOptions = {}): ResNet {
  return new ResNet(Bottleneck, [3, 4, 6, 3], { ...options, numClasses: classesFor(options) });
}
