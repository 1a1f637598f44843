// @mnv3/detection (↔ torchvision.ops and torchvision.models.detection's shared parts): what every
// detector builds on, so that Faster R-CNN and the detectors to come share it without depending on
// one another. COCO evaluation is in `@mnv3/detection/eval`.
export { COCO_CATEGORIES } from './coco-categories.js';
export { boxArea, boxIou, nms, batchedNms, removeSmallBoxes, clipBoxesToImage, argsortDescending, gatherRows, topkIndices, sigmoid } from './ops/boxes.js';
export type { HostFeatureMap, RoiAlignOptions } from './ops/roi-align.js';
export { roiAlign, roiAlignSamples } from './ops/roi-align.js';
export type { FeatureMap, MultiScaleRoIAlignOptions } from './ops/poolers.js';
export { LevelMapper, MultiScaleRoIAlign } from './ops/poolers.js';
export type { ExtraFPNBlock, FeatureMaps, FeaturePyramidNetworkOptions } from './ops/feature-pyramid-network.js';
export { FeaturePyramidNetwork, LastLevelMaxPool, LastLevelP6P7 } from './ops/feature-pyramid-network.js';
export { BoxCoder } from './box-coder.js';
export { AnchorGenerator } from './anchor-utils.js';
export type { DetectionImage, GeneralizedRCNNTransformOptions, HostImage, ImageList } from './transform.js';
export { GeneralizedRCNNTransform, resizeBilinear, resizedSize } from './transform.js';
export type { MobilenetExtractorOptions } from './backbone-utils.js';
export { BackboneWithFPN, mobilenetExtractor, resnetFpnExtractor } from './backbone-utils.js';
export type { DetectionBuildOptions, DetectionModelEntry, Detections } from './detection-model.js';
export { DetectionModel } from './detection-model.js';
export type { DetectorBuilderOptions, ResolvedDetectorOptions } from './builder-options.js';
export { checkNumberOption, resolveDetectorOptions } from './builder-options.js';
export type { DetectionResult, LoadDetectorOptions } from './pipeline.js';
export { DETECTION_MODELS, Detector, load } from './pipeline.js';
