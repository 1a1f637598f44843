// @mnv3/segmentation (↔ torchvision.models.segmentation's shared parts): the model bases, one
// registry and load() for every segmentation model, the Segmenter pipeline, VOC's classes.
// Evaluation (confusion matrix, VOC reader) is in `@mnv3/segmentation/eval`.
export type { SegmentationBuildOptions, SegmentationModelEntry, SegmentationOutput } from './segmentation-model.js';
export { SegmentationModel } from './segmentation-model.js';
export { SimpleSegmentationModel } from './simple-segmentation-model.js';
export type { ClassShare, LoadSegmenterOptions, SegmentOptions, SegmentationResult } from './pipeline.js';
export { SEGMENTATION_MODELS, SEGMENTATION_RESIZE_SIZES, Segmenter, classShares, load } from './pipeline.js';
export { logitsToClassMaps } from './class-map.js';
export { VOC_CATEGORIES, VOC_IGNORE_INDEX } from './voc.js';
