export { COCO_CATEGORIES } from './coco-categories.js';
export { boxArea, boxIou, nms, batchedNms, removeSmallBoxes, clipBoxesToImage, argsortDescending, gatherRows } from './ops/boxes.js';
export type { HostFeatureMap, RoiAlignOptions } from './ops/roi-align.js';
export { roiAlign, roiAlignSamples } from './ops/roi-align.js';
export type { FeatureMap, MultiScaleRoIAlignOptions } from './ops/poolers.js';
export { LevelMapper, MultiScaleRoIAlign, inferScale, toRoiFormat } from './ops/poolers.js';
export type { ExtraFPNBlock, FeatureMaps, FeaturePyramidNetworkOptions } from './ops/feature-pyramid-network.js';
export { FeaturePyramidNetwork, LastLevelMaxPool, interpolateNearest } from './ops/feature-pyramid-network.js';
export { BoxCoder, BBOX_XFORM_CLIP } from './box-coder.js';
export { AnchorGenerator } from './anchor-utils.js';
export type { DetectionImage, GeneralizedRCNNTransformOptions, HostImage, ImageList } from './transform.js';
export { GeneralizedRCNNTransform, resizeBilinear, resizedSize, toHostImage } from './transform.js';
export type { MobilenetExtractorOptions } from './backbone-utils.js';
export { BackboneWithFPN, mobilenetExtractor, mobilenetStageIndices } from './backbone-utils.js';
export type { Proposals, RegionProposalNetworkOptions } from './rpn.js';
export { RPNHead, RegionProposalNetwork, topK } from './rpn.js';
export type { Detections, RoIHeadsOptions } from './roi-heads.js';
export { FastRCNNPredictor, RoIHeads, TwoMLPHead, softmaxRows } from './roi-heads.js';
export type { DetectionModelEntry, DetectionModelName, FasterRCNNMobileNetV3LargeFpnOptions, FasterRCNNTrace } from './faster-rcnn.js';
export {
  DETECTION_MODELS,
  DETECTION_MODEL_NAMES,
  FasterRCNN,
  FasterRCNN_MobileNet_V3_Large_FPN_Weights,
  FasterRCNN_MobileNet_V3_Large_320_FPN_Weights,
  buildDetector,
  detectObjects,
  fasterrcnnMobileNetV3Large320Fpn,
  fasterrcnnMobileNetV3LargeFpn,
} from './faster-rcnn.js';
export type { CocoAnnotation, CocoDataset, CocoEvalAccumulated, CocoEvalParams, CocoResult, EvalImg } from './coco-eval.js';
export { COCOeval, COCO_STAT_NAMES, bboxIou, defaultCocoEvalParams, linspace, toCocoResults } from './coco-eval.js';
export type { DrawBoundingBoxesOptions, Rgb, RgbImage } from './draw.js';
export { drawBoundingBoxes, encodePng, generateColorPalette } from './draw.js';
export type { DetectionResult, LoadDetectorOptions } from './pipeline.js';
export { Detector, load, toDetectionResult } from './pipeline.js';
