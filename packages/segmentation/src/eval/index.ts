// `@mnv3/segmentation/eval` (↔ TorchVision's references/segmentation): mIoU and pixel accuracy, and
// a VOC-style folder reader (Node: it reads the file system).
export type { SegmentationMetrics } from './confusion-matrix.js';
export { ConfusionMatrix, formatFixed1 } from './confusion-matrix.js';
export type { VocSample, VocSampleEntry, VocSegmentationOptions } from './voc-dataset.js';
export { listVocSegmentation, readVocSample, readVocSegmentation } from './voc-dataset.js';
