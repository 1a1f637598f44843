// `@mnv3/detection/eval` (↔ TorchVision's references/detection): pycocotools' COCOeval for boxes.
export type { CocoAnnotation, CocoDataset, CocoEvalAccumulated, CocoEvalParams, CocoResult, EvalImg } from './coco-eval.js';
export { COCOeval, COCO_STAT_NAMES, bboxIou, defaultCocoEvalParams, linspace, toCocoResults } from './coco-eval.js';
export type { CocoErrorCode } from './coco-json.js';
export { CocoError, parseCocoDataset, parseCocoResults } from './coco-json.js';
