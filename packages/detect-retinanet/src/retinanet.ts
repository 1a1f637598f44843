import * as tf from '@tensorflow/tfjs-core';
import {
  Conv2d,
  Conv2dNormActivation,
  Module,
  Sequential,
  overwriteEps,
  renameKey,
  weights,
  type NormLayer,
  type WeightsEnum,
} from '@mnv3/layers';
import { ResNet50_Weights, resnet50 } from '@mnv3/backbone';
import type { StateDict } from '@mnv3/io';
import type {
  GeneralizedRCNNTransform} from '@mnv3/detection';
import {
  AnchorGenerator,
  BoxCoder,
  COCO_CATEGORIES,
  DETECTION_MODELS,
  DetectionModel,
  checkNumberOption,
  LastLevelP6P7,
  resolveDetectorOptions,
  batchedNms,
  clipBoxesToImage,
  resnetFpnExtractor,
  sigmoid,
  topkIndices,
  type BackboneWithFPN,
  type DetectionImage,
  type DetectionModelEntry,
  type DetectorBuilderOptions,
  type Detections,
  type HostFeatureMap,
  type ImageList,
} from '@mnv3/detection';

/**
 * The four 3×3 conv + ReLU layers both RetinaNet subnets start with (`Conv2dNormActivation`
 * without norm: keys `conv.0.0.weight`, `conv.0.0.bias`, …, `conv.3.0.*`).
 */
function subnetConvs(channels: number, normLayer: NormLayer | null): Sequential {
  const convs: Conv2dNormActivation[] = [];
  for (let i = 0; i < 4; i++) convs.push(new Conv2dNormActivation(channels, channels, { kernelSize: 3, normLayer }));
  return new Sequential(convs);
}

/**
 * `_v1_to_v2_weights`: checkpoints saved before torchvision 0.13 (TorchVision's published
 * `COCO_V1` among them) hold the subnet as a plain `Sequential(conv, relu, …)`: `conv.0`, `conv.2`,
 * `conv.4`, `conv.6` become `conv.0.0` … `conv.3.0`.
 */
function upgradeSubnet(stateDict: StateDict, prefix: string): void {
  for (let i = 0; i < 4; i++) {
    for (const type of ['weight', 'bias']) renameKey(stateDict, `${prefix}conv.${2 * i}.${type}`, `${prefix}conv.${i}.0.${type}`);
  }
}

/**
 * TorchVision's `RetinaNetClassificationHead` (`_version = 2`): `conv` then a 3×3 `cls_logits`
 * with `A·K` outputs per location. NHWC in; per level `[N, H, W, A·K]` out — channel `a·K + k`, so
 * the flat `[N, H·W·A, K]` order of TorchVision's `view/permute/reshape` is the NHWC layout as is.
 */
export class RetinaNetClassificationHead extends Module {
  readonly conv: Sequential;
  readonly clsLogits: Conv2d;

  constructor(
    inChannels: number,
    readonly numAnchors: number,
    readonly numClasses: number,
    normLayer: NormLayer | null = null,
  ) {
    super();
    this.conv = this.registerModule('conv', subnetConvs(inChannels, normLayer));
    this.clsLogits = this.registerModule('cls_logits', new Conv2d(inChannels, numAnchors * numClasses, { kernelSize: 3, padding: 1 }));
  }

  protected override upgradeStateDict(stateDict: StateDict, prefix: string): void {
    upgradeSubnet(stateDict, prefix);
  }

  forward(features: readonly tf.Tensor4D[]): tf.Tensor4D[] {
    return features.map((x) => tf.tidy(() => this.clsLogits.forward(this.conv.forward(x))));
  }
}

/**
 * TorchVision's `RetinaNetRegressionHead` (`_version = 2`): `conv` then a 3×3 `bbox_reg` with
 * `A·4` outputs per location (channel `a·4 + c`, as the classification head's layout).
 */
export class RetinaNetRegressionHead extends Module {
  readonly conv: Sequential;
  readonly bboxReg: Conv2d;

  constructor(
    inChannels: number,
    readonly numAnchors: number,
    normLayer: NormLayer | null = null,
  ) {
    super();
    this.conv = this.registerModule('conv', subnetConvs(inChannels, normLayer));
    this.bboxReg = this.registerModule('bbox_reg', new Conv2d(inChannels, numAnchors * 4, { kernelSize: 3, padding: 1 }));
  }

  protected override upgradeStateDict(stateDict: StateDict, prefix: string): void {
    upgradeSubnet(stateDict, prefix);
  }

  forward(features: readonly tf.Tensor4D[]): tf.Tensor4D[] {
    return features.map((x) => tf.tidy(() => this.bboxReg.forward(this.conv.forward(x))));
  }
}

/** TorchVision's `RetinaNetHead`: `classification_head` and `regression_head` over every level. */
export class RetinaNetHead extends Module {
  readonly classificationHead: RetinaNetClassificationHead;
  readonly regressionHead: RetinaNetRegressionHead;

  constructor(inChannels: number, numAnchors: number, numClasses: number, normLayer: NormLayer | null = null) {
    super();
    this.classificationHead = this.registerModule('classification_head', new RetinaNetClassificationHead(inChannels, numAnchors, numClasses, normLayer));
    this.regressionHead = this.registerModule('regression_head', new RetinaNetRegressionHead(inChannels, numAnchors, normLayer));
  }

  /** Per level, host copies: class logits `[N, H, W, A·K]` and box deltas `[N, H, W, A·4]`. */
  async forward(features: readonly tf.Tensor4D[]): Promise<{ clsLogits: Float32Array[]; bboxRegression: Float32Array[] }> {
    const read = async (maps: tf.Tensor4D[]) => {
      try {
        return await Promise.all(maps.map(async (t) => (await t.data()) as Float32Array));
      } finally {
        tf.dispose(maps);
      }
    };
    const clsLogits = await read(this.classificationHead.forward(features));
    const bboxRegression = await read(this.regressionHead.forward(features));
    return { clsLogits, bboxRegression };
  }
}

/** RetinaNet's postprocessing settings (TorchVision's `RetinaNet` keyword arguments). */
export interface RetinaNetPostprocessOptions {
  /** Minimum class probability (`score_thresh`, default 0.05). */
  scoreThresh: number;
  /** IoU threshold of the per-class NMS (`nms_thresh`, default 0.5). */
  nmsThresh: number;
  /** Detections kept per image (`detections_per_img`, default 300). */
  detectionsPerImg: number;
  /** Candidates kept per level before NMS (`topk_candidates`, default 1000). */
  topkCandidates: number;
}

/** Everything one forward pass computes, stage by stage (for inspection and parity tests). */
export interface RetinaNetTrace {
  imageList: ImageList;
  originalSizes: [number, number][];
  /** FPN maps by name (`'0'`, `'1'`, `'2'`, `'p6'`, `'p7'`), NHWC host arrays. */
  features: Map<string, HostFeatureMap>;
  /** Per level, `[N, H, W, A·K]` class logits and `[N, H, W, A·4]` deltas. */
  clsLogits: Float32Array[];
  bboxRegression: Float32Array[];
  /** Detections in resized-image coordinates, before `postprocess`. */
  detectionsResized: Detections[];
  detections: Detections[];
}

/**
 * TorchVision's `RetinaNet` at inference: `transform`, `backbone` (`BackboneWithFPN` with
 * `LastLevelP6P7`), `head`, `anchor_generator`, `postprocess_detections`, then boxes mapped back to
 * the original image sizes. Labels are sigmoid classes: every index, 0 included, can be returned.
 * State dict keys as TorchVision's: `backbone.body.*`, `backbone.fpn.*` (with
 * `backbone.fpn.extra_blocks.p6.*`, `.p7.*`), `head.classification_head.*`, `head.regression_head.*`.
 */
export class RetinaNet extends DetectionModel {
  readonly backbone: BackboneWithFPN;
  readonly head: RetinaNetHead;
  readonly boxCoder = new BoxCoder([1, 1, 1, 1]);

  constructor(
    backbone: BackboneWithFPN,
    head: RetinaNetHead,
    readonly anchorGenerator: AnchorGenerator,
    readonly transform: GeneralizedRCNNTransform,
    readonly options: RetinaNetPostprocessOptions,
    /** Class names by label, when known (COCO's for the COCO builder). */
    readonly categories: readonly string[] | null = null,
  ) {
    super();
    this.backbone = this.registerModule('backbone', backbone);
    this.head = this.registerModule('head', head);
  }

  /**
   * Detects objects in each image: float32 `[H, W, 3]` (HWC, RGB) in [0, 1], any size. Returns per
   * image `{ boxes [K, 4] (x1, y1, x2, y2) in the image's pixels, labels, scores }` by decreasing
   * score, as TorchVision's `model(images)` in eval mode. Input tensors are not disposed.
   */
  async forward(images: readonly DetectionImage[]): Promise<Detections[]> {
    return (await this.run(images, false)).detections;
  }

  /** `forward`, keeping every stage's result (`imageList.tensors` is disposed; its sizes remain). */
  trace(images: readonly DetectionImage[]): Promise<RetinaNetTrace> {
    return this.run(images, true);
  }

  private async run(images: readonly DetectionImage[], keepFeatures: boolean): Promise<RetinaNetTrace> {
    if (!Array.isArray(images)) throw new TypeError('images must be an array of [H, W, 3] float32 images');
    const originalSizes = images.map((im) => [im.shape[0], im.shape[1]] as [number, number]);
    const imageList = await this.transform.forward(images);
    try {
      const featureTensors = this.backbone.forward(imageList.tensors);
      const features = new Map<string, HostFeatureMap>();
      let head: { clsLogits: Float32Array[]; bboxRegression: Float32Array[] };
      let grid: [number, number][];
      try {
        const maps = [...featureTensors.values()];
        grid = maps.map((t) => [t.shape[1], t.shape[2]]);
        head = await this.head.forward(maps);
        if (keepFeatures) for (const [name, t] of featureTensors) features.set(name, { data: (await t.data()) as Float32Array, shape: t.shape });
      } finally {
        for (const t of featureTensors.values()) t.dispose();
      }
      const [, H, W] = imageList.tensors.shape;
      const detectionsResized = this.postprocessDetections(head.clsLogits, head.bboxRegression, [H, W], grid, imageList.imageSizes);
      const detections = this.transform.postprocess(detectionsResized, imageList.imageSizes, originalSizes);
      return { imageList, originalSizes, features, ...head, detectionsResized, detections };
    } finally {
      imageList.tensors.dispose();
    }
  }

  /**
   * `postprocess_detections` with the anchors it is given by `anchor_generator`: per image and
   * level, sigmoid class probabilities above `scoreThresh`, the top `topkCandidates` of them,
   * their anchors' boxes decoded and clipped to the image; then NMS per class over all levels and
   * the first `detectionsPerImg`. Coordinates in the resized image.
   *
   * @param clsLogits per level `[N, H, W, A·K]`
   * @param bboxRegression per level `[N, H, W, A·4]`
   * @param batchShape the padded batch's `(height, width)`
   * @param gridSizes per level `(height, width)`
   * @param imageSizes per image, the resized `(height, width)`
   */
  postprocessDetections(
    clsLogits: readonly Float32Array[],
    bboxRegression: readonly Float32Array[],
    batchShape: readonly [number, number],
    gridSizes: readonly (readonly [number, number])[],
    imageSizes: readonly (readonly [number, number])[],
  ): Detections[] {
    const { scoreThresh, nmsThresh, detectionsPerImg, topkCandidates } = this.options;
    const anchors = this.anchorGenerator.forward(batchShape, gridSizes);
    const K = this.head.classificationHead.numClasses;
    // Probabilities above the threshold come from logits above its logit; a margin far wider than
    // float32 rounding keeps the exact test (`sigmoid(x) > scoreThresh`) for the survivors only.
    const logitFloor = Math.log(scoreThresh / (1 - scoreThresh)) - 1e-3;
    const out: Detections[] = [];
    for (let n = 0; n < imageSizes.length; n++) {
      const boxes: number[] = [];
      const scores: number[] = [];
      const labels: number[] = [];
      let anchorOffset = 0;
      gridSizes.forEach((_, level) => {
        const count = clsLogits[level]!.length / imageSizes.length;
        const logits = clsLogits[level]!.subarray(n * count, (n + 1) * count);
        const numAnchors = count / K;
        const deltas = bboxRegression[level]!.subarray(n * numAnchors * 4, (n + 1) * numAnchors * 4);
        const probs = new Float32Array(count);
        const kept: number[] = [];
        for (let i = 0; i < count; i++) {
          if (logits[i]! <= logitFloor) continue;
          const p = sigmoid(logits[i]!);
          if (p > scoreThresh) {
            probs[i] = p;
            kept.push(i);
          }
        }
        const top = topkIndices(probs, Math.min(topkCandidates, kept.length), kept);
        const rel = new Float32Array(top.length * 4);
        const ref = new Float32Array(top.length * 4);
        top.forEach((idx, r) => {
          const a = Math.floor(idx / K);
          for (let c = 0; c < 4; c++) {
            rel[4 * r + c] = deltas[4 * a + c]!;
            ref[4 * r + c] = anchors[4 * (anchorOffset + a) + c]!;
          }
          scores.push(probs[idx]!);
          labels.push(idx % K);
        });
        for (const v of clipBoxesToImage(this.boxCoder.decode(rel, ref), imageSizes[n] as [number, number])) boxes.push(v);
        anchorOffset += numAnchors;
      });
      const allBoxes = Float32Array.from(boxes);
      const allScores = Float32Array.from(scores);
      const keep = batchedNms(allBoxes, allScores, labels, nmsThresh).subarray(0, detectionsPerImg);
      out.push({
        boxes: Float32Array.from({ length: keep.length * 4 }, (_, i) => allBoxes[4 * keep[i >> 2]! + (i & 3)]!),
        labels: Int32Array.from(keep, (i) => labels[i]!),
        scores: Float32Array.from(keep, (i) => allScores[i]!),
      });
    }
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// Weights.

/** TorchVision's `RetinaNet_ResNet50_FPN_Weights`. */
const COCO_V1 = weights(
  'https://download.pytorch.org/models/retinanet_resnet50_fpn_coco-eeacb38b.pth',
  { kind: 'ObjectDetection' },
  {
    categories: COCO_CATEGORIES,
    minSize: [1, 1],
    numParams: 34014999,
    recipe: 'https://github.com/pytorch/vision/tree/main/references/detection#retinanet',
    metrics: { 'COCO-val2017': { box_map: 36.4 } },
  },
);
export const RetinaNet_ResNet50_FPN_Weights: WeightsEnum<'COCO_V1'> = { COCO_V1, DEFAULT: COCO_V1 };

// ---------------------------------------------------------------------------------------------
// Builder.

/**
 * Keyword arguments of `retinanet_resnet50_fpn` and `RetinaNet`, camelCased (beyond every detection
 * builder's). With `weights: COCO_V1` the backbone's FrozenBatchNorm2d use eps 0, what those
 * weights were trained with; `trainableBackboneLayers` is 0–5; the default anchors are
 * `(x, ⌊x·2^⅓⌋, ⌊x·2^⅔⌋)` for x in 32, 64, 128, 256, 512.
 */
export interface RetinaNetResnet50FpnOptions extends DetectorBuilderOptions {
  scoreThresh?: number;
  nmsThresh?: number;
  detectionsPerImg?: number;
  topkCandidates?: number;
}

/** TorchVision's `_default_anchorgen` sizes: three octave scales per level. */
export function defaultAnchorSizes(): number[][] {
  return [32, 64, 128, 256, 512].map((x) => [x, Math.trunc(x * 2 ** (1 / 3)), Math.trunc(x * 2 ** (2 / 3))]);
}

/**
 * RetinaNet with a ResNet-50 FPN backbone, as `torchvision.models.detection.retinanet_resnet50_fpn(
 * **kwargs)`: `layer2`..`layer4` into a 256-channel FPN with `LastLevelP6P7(256, 256)` (P3–P7),
 * nine anchors per location, min size 800, max 1333, 1000 candidates per level, 300 detections.
 * No weights are loaded: call `loadStateDict` with TorchVision's checkpoint (build with
 * `weights: RetinaNet_ResNet50_FPN_Weights.COCO_V1` for its key set and eps) or `initWeights`.
 *
 * @example const model = retinanetResnet50Fpn({ weights: RetinaNet_ResNet50_FPN_Weights.DEFAULT }); model.loadStateDict(sd);
 */
export function retinanetResnet50Fpn(options: RetinaNetResnet50FpnOptions = {}): RetinaNet {
  const { weights: w, numClasses, trainableBackboneLayers: trainable, normLayer, transform } = resolveDetectorOptions('retinanet_resnet50_fpn', options, {
    table: RetinaNet_ResNet50_FPN_Weights,
    backboneTable: ResNet50_Weights,
    backboneName: 'resnet50',
    maxTrainable: 5,
    minSize: 800,
    maxSize: 1333,
  });
  const backbone = resnetFpnExtractor(resnet50({ normLayer }), trainable, { returnedLayers: [2, 3, 4], extraBlocks: new LastLevelP6P7(256, 256) });

  const anchorSizes = options.anchorSizes ?? defaultAnchorSizes();
  const aspectRatios = options.aspectRatios ?? anchorSizes.map(() => [0.5, 1.0, 2.0]);
  const anchorGenerator = new AnchorGenerator(anchorSizes, aspectRatios);
  const numAnchors = anchorGenerator.numAnchorsPerLocation();
  if (numAnchors.length !== 5) throw new RangeError(`RetinaNet's FPN has 5 maps (P3–P7): give anchor sizes for 5, got ${numAnchors.length}`);
  if (new Set(numAnchors).size !== 1) throw new RangeError(`every FPN map needs the same number of anchors per location for RetinaNetHead, got [${numAnchors.join(', ')}]`);
  const post: RetinaNetPostprocessOptions = {
    scoreThresh: options.scoreThresh ?? 0.05,
    nmsThresh: options.nmsThresh ?? 0.5,
    detectionsPerImg: options.detectionsPerImg ?? 300,
    topkCandidates: options.topkCandidates ?? 1000,
  };
  checkNumberOption('scoreThresh', post.scoreThresh, false, 0, 1);
  checkNumberOption('nmsThresh', post.nmsThresh, false, 0, 1);
  checkNumberOption('detectionsPerImg', post.detectionsPerImg, true, 0);
  checkNumberOption('topkCandidates', post.topkCandidates, true, 0);
  const head = new RetinaNetHead(backbone.outChannels, numAnchors[0]!, numClasses);
  const model = new RetinaNet(backbone, head, anchorGenerator, transform, post, numClasses === COCO_CATEGORIES.length ? COCO_CATEGORIES : null);
  // As TorchVision after loading them: the COCO_V1 weights were trained with eps 0.
  if (w === COCO_V1) overwriteEps(model, 0);
  return model;
}

/** The RetinaNet builders by TorchVision name, registered in `DETECTION_MODELS` when this package is imported. */
export const RETINANET_MODELS: Readonly<Record<'retinanet_resnet50_fpn', DetectionModelEntry>> = Object.freeze({
  retinanet_resnet50_fpn: { build: retinanetResnet50Fpn, weights: RetinaNet_ResNet50_FPN_Weights, scoreThreshOption: 'scoreThresh' },
});

DETECTION_MODELS.register(RETINANET_MODELS);
