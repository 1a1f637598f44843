// Node-only helpers (`@mnv3/layers/node`): kept out of the main entry so that it has no `node:` imports.
export type { VocSample, VocSampleEntry, VocSegmentationOptions } from './segmentation/voc-dataset.js';
export { listVocSegmentation, readVocSample, readVocSegmentation } from './segmentation/voc-dataset.js';
