import { overwriteEps, weights, type WeightsEnum } from '@mnv3/layers';
import { MobileNet_V3_Large_Weights, ResNet50_Weights, mobilenetV3Large, resnet50 } from '@mnv3/backbone';
import type {
  GeneralizedRCNNTransform} from '@mnv3/detection';
import {
  AnchorGenerator,
  COCO_CATEGORIES,
  DETECTION_MODELS,
  DetectionModel,
  checkNumberOption,
  MultiScaleRoIAlign,
  resolveDetectorOptions,
  mobilenetExtractor,
  resnetFpnExtractor,
  type BackboneWithFPN,
  type DetectionImage,
  type DetectionModelEntry,
  type DetectorBuilderOptions,
  type Detections,
  type HostFeatureMap,
  type ImageList,
} from '@mnv3/detection';
import { FastRCNNPredictor, RoIHeads, TwoMLPHead } from './roi-heads.js';
import { RPNHead, RegionProposalNetwork, type Proposals } from './rpn.js';

/** Everything one forward pass computes, stage by stage (for inspection and parity tests). */
export interface FasterRCNNTrace {
  imageList: ImageList;
  originalSizes: [number, number][];
  /** FPN maps by name, NHWC host arrays. */
  features: Map<string, HostFeatureMap>;
  proposals: Proposals[];
  /** Detections in resized-image coordinates, before `postprocess`. */
  detectionsResized: Detections[];
  detections: Detections[];
}

/**
 * TorchVision's `FasterRCNN` (a `GeneralizedRCNN`) at inference: `transform`, `backbone`
 * (`BackboneWithFPN`), `rpn`, `roi_heads`, then boxes mapped back to the original image sizes.
 * State dict keys as TorchVision's: `backbone.body.*`, `backbone.fpn.*`, `rpn.head.*`,
 * `roi_heads.box_head.*`, `roi_heads.box_predictor.*`.
 */
export class FasterRCNN extends DetectionModel {
  readonly backbone: BackboneWithFPN;
  readonly rpn: RegionProposalNetwork;
  readonly roiHeads: RoIHeads;

  constructor(
    backbone: BackboneWithFPN,
    rpn: RegionProposalNetwork,
    roiHeads: RoIHeads,
    readonly transform: GeneralizedRCNNTransform,
    /** Class names by label, when known (COCO's for the COCO builders). */
    readonly categories: readonly string[] | null = null,
  ) {
    super();
    this.backbone = this.registerModule('backbone', backbone);
    this.rpn = this.registerModule('rpn', rpn);
    this.roiHeads = this.registerModule('roi_heads', roiHeads);
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
  trace(images: readonly DetectionImage[]): Promise<FasterRCNNTrace> {
    return this.run(images, true);
  }

  /** The pass; FPN maps are copied to the host only for a trace (the pooler reads them in place). */
  private async run(images: readonly DetectionImage[], keepFeatures: boolean): Promise<FasterRCNNTrace> {
    if (!Array.isArray(images)) throw new TypeError('images must be an array of [H, W, 3] float32 images');
    const originalSizes = images.map((im) => [im.shape[0], im.shape[1]] as [number, number]);
    const imageList = await this.transform.forward(images);
    try {
      const featureTensors = this.backbone.forward(imageList.tensors);
      const features = new Map<string, HostFeatureMap>();
      let proposals: Proposals[];
      let detectionsResized: Detections[];
      try {
        const [, H, W] = imageList.tensors.shape;
        proposals = await this.rpn.forward([H, W], imageList.imageSizes, [...featureTensors.values()]);
        if (keepFeatures) for (const [name, t] of featureTensors) features.set(name, { data: (await t.data()) as Float32Array, shape: t.shape });
        detectionsResized = await this.roiHeads.forward(featureTensors, proposals.map((p) => p.boxes), imageList.imageSizes);
      } finally {
        for (const t of featureTensors.values()) t.dispose();
      }
      const detections = this.transform.postprocess(detectionsResized, imageList.imageSizes, originalSizes);
      return { imageList, originalSizes, features, proposals, detectionsResized, detections };
    } finally {
      imageList.tensors.dispose();
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Weights.

/** A `COCO_V1` table as TorchVision's Faster R-CNN weights have it. */
function cocoV1Weights(file: string, numParams: number, recipe: string, boxMap: number): WeightsEnum<'COCO_V1'> {
  const v1 = weights(
    `https://download.pytorch.org/models/${file}`,
    { kind: 'ObjectDetection' },
    {
      categories: COCO_CATEGORIES,
      minSize: [1, 1],
      numParams,
      recipe: `https://github.com/pytorch/vision/tree/main/references/detection#${recipe}`,
      metrics: { 'COCO-val2017': { box_map: boxMap } },
    },
  );
  return { COCO_V1: v1, DEFAULT: v1 };
}

/** TorchVision's `FasterRCNN_MobileNet_V3_Large_FPN_Weights`. */
export const FasterRCNN_MobileNet_V3_Large_FPN_Weights = cocoV1Weights(
  'fasterrcnn_mobilenet_v3_large_fpn-fb6a3cc7.pth',
  19386354,
  'faster-r-cnn-mobilenetv3-large-fpn',
  32.8,
);

/** TorchVision's `FasterRCNN_MobileNet_V3_Large_320_FPN_Weights`. */
export const FasterRCNN_MobileNet_V3_Large_320_FPN_Weights = cocoV1Weights(
  'fasterrcnn_mobilenet_v3_large_320_fpn-907ea3f9.pth',
  19386354,
  'faster-r-cnn-mobilenetv3-large-320-fpn',
  22.8,
);

/** TorchVision's `FasterRCNN_ResNet50_FPN_Weights` (the seed's comparison model). */
export const FasterRCNN_ResNet50_FPN_Weights = cocoV1Weights('fasterrcnn_resnet50_fpn_coco-258fb6c6.pth', 41755286, 'faster-r-cnn-resnet-50-fpn', 37.0);

// ---------------------------------------------------------------------------------------------
// Builders.

/**
 * Keyword arguments of TorchVision's Faster R-CNN builders, camelCased (beyond every detection
 * builder's). `trainableBackboneLayers` is 0–6 (MobileNetV3) or 0–5 (ResNet-50); default anchors
 * `[[32, 64, 128, 256, 512]] × 3` (MobileNetV3) or `[[32], [64], [128], [256], [512]]` (ResNet-50).
 */
export interface FasterRCNNMobilenetV3LargeFpnOptions extends DetectorBuilderOptions {
  rpnPreNmsTopNTest?: number;
  rpnPostNmsTopNTest?: number;
  rpnNmsThresh?: number;
  rpnScoreThresh?: number;
  /** Feature maps the box head pools from. Default TorchVision's `['0', '1', '2', '3']`. */
  boxRoiPoolFeatmapNames?: readonly string[];
  boxScoreThresh?: number;
  boxNmsThresh?: number;
  boxDetectionsPerImg?: number;
  bboxRegWeights?: readonly [number, number, number, number];
}

type BuilderName = 'fasterrcnn_mobilenet_v3_large_fpn' | 'fasterrcnn_mobilenet_v3_large_320_fpn' | 'fasterrcnn_resnet50_fpn';

/** What differs between the builders: TorchVision's defaults for each. */
const BUILDERS: Record<BuilderName, { table: WeightsEnum<'COCO_V1'>; resnet: boolean; is320: boolean }> = {
  fasterrcnn_mobilenet_v3_large_fpn: { table: FasterRCNN_MobileNet_V3_Large_FPN_Weights, resnet: false, is320: false },
  fasterrcnn_mobilenet_v3_large_320_fpn: { table: FasterRCNN_MobileNet_V3_Large_320_FPN_Weights, resnet: false, is320: true },
  fasterrcnn_resnet50_fpn: { table: FasterRCNN_ResNet50_FPN_Weights, resnet: true, is320: false },
};

function build(name: BuilderName, options: FasterRCNNMobilenetV3LargeFpnOptions): FasterRCNN {
  const { table, resnet, is320 } = BUILDERS[name];
  const { weights: w, numClasses, trainableBackboneLayers: trainable, normLayer, transform } = resolveDetectorOptions(name, options, {
    table,
    backboneTable: resnet ? ResNet50_Weights : MobileNet_V3_Large_Weights,
    backboneName: resnet ? 'resnet50' : 'mobilenet_v3_large',
    maxTrainable: resnet ? 5 : 6,
    minSize: is320 ? 320 : 800,
    maxSize: is320 ? 640 : 1333,
  });

  const backbone = resnet ? resnetFpnExtractor(resnet50({ normLayer }), trainable) : mobilenetExtractor(mobilenetV3Large({ normLayer }), trainable);

  // FasterRCNN's own default anchors for the ResNet FPN (one size per level); the MobileNetV3
  // builders pass five sizes on each of their three maps.
  const anchorSizes = options.anchorSizes ?? (resnet ? [[32], [64], [128], [256], [512]] : [[32, 64, 128, 256, 512], [32, 64, 128, 256, 512], [32, 64, 128, 256, 512]]);
  const aspectRatios = options.aspectRatios ?? anchorSizes.map(() => [0.5, 1.0, 2.0]);
  const anchorGenerator = new AnchorGenerator(anchorSizes, aspectRatios);
  const numAnchors = anchorGenerator.numAnchorsPerLocation();
  if (new Set(numAnchors).size !== 1) throw new RangeError(`every FPN map needs the same number of anchors per location for RPNHead, got [${numAnchors.join(', ')}]`);
  const rpnOpts = {
    preNmsTopN: options.rpnPreNmsTopNTest ?? (is320 ? 150 : 1000),
    postNmsTopN: options.rpnPostNmsTopNTest ?? (is320 ? 150 : 1000),
    nmsThresh: options.rpnNmsThresh ?? 0.7,
    scoreThresh: options.rpnScoreThresh ?? (is320 ? 0.05 : 0.0),
  };
  checkNumberOption('rpnPreNmsTopNTest', rpnOpts.preNmsTopN, true, 0);
  checkNumberOption('rpnPostNmsTopNTest', rpnOpts.postNmsTopN, true, 0);
  checkNumberOption('rpnNmsThresh', rpnOpts.nmsThresh, false, 0, 1);
  checkNumberOption('rpnScoreThresh', rpnOpts.scoreThresh, false, 0, 1);
  const rpn = new RegionProposalNetwork(anchorGenerator, new RPNHead(backbone.outChannels, numAnchors[0]!), rpnOpts);

  const pool = new MultiScaleRoIAlign(options.boxRoiPoolFeatmapNames ?? ['0', '1', '2', '3'], 7, 2);
  const representationSize = 1024;
  const headOpts = {
    scoreThresh: options.boxScoreThresh ?? 0.05,
    nmsThresh: options.boxNmsThresh ?? 0.5,
    detectionsPerImg: options.boxDetectionsPerImg ?? 100,
    bboxRegWeights: options.bboxRegWeights,
  };
  checkNumberOption('boxScoreThresh', headOpts.scoreThresh, false, 0, 1);
  checkNumberOption('boxNmsThresh', headOpts.nmsThresh, false, 0, 1);
  checkNumberOption('boxDetectionsPerImg', headOpts.detectionsPerImg, true, 0);
  const roiHeads = new RoIHeads(
    pool,
    new TwoMLPHead(backbone.outChannels * 7 * 7, representationSize),
    new FastRCNNPredictor(representationSize, numClasses),
    headOpts,
  );
  const model = new FasterRCNN(backbone, rpn, roiHeads, transform, numClasses === COCO_CATEGORIES.length ? COCO_CATEGORIES : null);
  // As TorchVision after loading them: the ResNet-50 COCO_V1 weights were trained with eps 0.
  if (resnet && w === table.COCO_V1) overwriteEps(model, 0);
  return model;
}

/**
 * Faster R-CNN with a MobileNetV3-Large FPN backbone, as
 * `torchvision.models.detection.fasterrcnn_mobilenet_v3_large_fpn(**kwargs)` (min size 800, max
 * 1333, 1000 proposals per level and image). No weights are loaded: call `loadStateDict` with
 * TorchVision's checkpoint (build with `weights: FasterRCNN_MobileNet_V3_Large_FPN_Weights.COCO_V1`
 * for its FrozenBatchNorm2d keys) or `initWeights`.
 *
 * @example const model = fasterrcnnMobilenetV3LargeFpn({ weights: FasterRCNN_MobileNet_V3_Large_FPN_Weights.DEFAULT }); model.loadStateDict(sd);
 */
export function fasterrcnnMobilenetV3LargeFpn(options: FasterRCNNMobilenetV3LargeFpnOptions = {}): FasterRCNN {
  return build('fasterrcnn_mobilenet_v3_large_fpn', options);
}

/**
 * `torchvision.models.detection.fasterrcnn_mobilenet_v3_large_320_fpn(**kwargs)`: the low-resolution
 * variant (min size 320, max 640, 150 proposals, RPN score threshold 0.05).
 */
export function fasterrcnnMobilenetV3Large320Fpn(options: FasterRCNNMobilenetV3LargeFpnOptions = {}): FasterRCNN {
  return build('fasterrcnn_mobilenet_v3_large_320_fpn', options);
}

/**
 * Faster R-CNN with a ResNet-50 FPN backbone, as `torchvision.models.detection.fasterrcnn_resnet50_fpn(
 * **kwargs)`: `layer1`..`layer4` into a 256-channel FPN with `LastLevelMaxPool`, one anchor size per
 * level (32–512), min size 800, max 1333, 1000 proposals. The seed's heavier comparison model.
 *
 * @example const model = fasterrcnnResnet50Fpn({ weights: FasterRCNN_ResNet50_FPN_Weights.DEFAULT }); model.loadStateDict(sd);
 */
export function fasterrcnnResnet50Fpn(options: FasterRCNNMobilenetV3LargeFpnOptions = {}): FasterRCNN {
  return build('fasterrcnn_resnet50_fpn', options);
}

/** The Faster R-CNN builders by TorchVision name, registered in `DETECTION_MODELS` when this package is imported. */
export const FASTERRCNN_MODELS: Readonly<Record<BuilderName, DetectionModelEntry>> = Object.freeze({
  fasterrcnn_mobilenet_v3_large_fpn: { build: fasterrcnnMobilenetV3LargeFpn, weights: FasterRCNN_MobileNet_V3_Large_FPN_Weights, scoreThreshOption: 'boxScoreThresh' },
  fasterrcnn_mobilenet_v3_large_320_fpn: { build: fasterrcnnMobilenetV3Large320Fpn, weights: FasterRCNN_MobileNet_V3_Large_320_FPN_Weights, scoreThreshOption: 'boxScoreThresh' },
  fasterrcnn_resnet50_fpn: { build: fasterrcnnResnet50Fpn, weights: FasterRCNN_ResNet50_FPN_Weights, scoreThreshOption: 'boxScoreThresh' },
});

DETECTION_MODELS.register(FASTERRCNN_MODELS);
