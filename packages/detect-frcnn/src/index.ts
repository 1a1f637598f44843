// @mnv3/detect-frcnn (↔ torchvision.models.detection.faster_rcnn): Faster R-CNN on MobileNetV3-Large
// and ResNet-50 FPN, its RPN and RoI heads, and its weights. Importing it registers the builders in
// `DETECTION_MODELS`; `load` is `@mnv3/detection`'s, re-exported for convenience.
export type { Proposals, RegionProposalNetworkOptions } from './rpn.js';
export { RPNHead, RegionProposalNetwork } from './rpn.js';
export type { RoIHeadsOptions } from './roi-heads.js';
export { FastRCNNPredictor, RoIHeads, TwoMLPHead } from './roi-heads.js';
export type { FasterRCNNMobilenetV3LargeFpnOptions, FasterRCNNTrace } from './faster-rcnn.js';
export {
  FASTERRCNN_MODELS,
  FasterRCNN,
  FasterRCNN_MobileNet_V3_Large_FPN_Weights,
  FasterRCNN_MobileNet_V3_Large_320_FPN_Weights,
  FasterRCNN_ResNet50_FPN_Weights,
  fasterrcnnMobilenetV3Large320Fpn,
  fasterrcnnMobilenetV3LargeFpn,
  fasterrcnnResnet50Fpn,
} from './faster-rcnn.js';
export { load } from '@mnv3/detection';
