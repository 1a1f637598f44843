export type { LRASPPFeatures, LRASPPMobilenetV3LargeOptions } from './lraspp.js';
export { LRASPP, LRASPPHead, LRASPP_MobileNet_V3_Large_Weights, lrasppMobilenetV3Backbone, lrasppMobilenetV3Large } from './lraspp.js';
export type { LRASPPModelName } from './models.js';
export { LRASPP_MODELS } from './models.js';
export { load } from '@mnv3/segmentation';
