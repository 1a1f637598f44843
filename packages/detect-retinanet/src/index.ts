// @mnv3/detect-retinanet (↔ torchvision.models.detection.retinanet): RetinaNet on a ResNet-50 FPN
// (P3–P7), its classification and regression subnets, postprocessing and weights. Importing it
// registers the builder in `DETECTION_MODELS`; `load` is `@mnv3/detection`'s, re-exported for
// convenience. What it shares with Faster R-CNN (transform, anchors, box coder, box ops, FPN,
// drawing, COCO eval) is in `@mnv3/detection`.
export type { RetinaNetPostprocessOptions, RetinaNetResnet50FpnOptions, RetinaNetTrace } from './retinanet.js';
export {
  RETINANET_MODELS,
  RetinaNet,
  RetinaNetClassificationHead,
  RetinaNetHead,
  RetinaNetRegressionHead,
  RetinaNet_ResNet50_FPN_Weights,
  defaultAnchorSizes,
  retinanetResnet50Fpn,
} from './retinanet.js';
export { load } from '@mnv3/detection';
