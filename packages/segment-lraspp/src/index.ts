export type { LRASPPFeatures, LRASPPMobileNetV3LargeOptions } from './lraspp.js';
export { LRASPP, LRASPPHead, LRASPP_MobileNet_V3_Large_Weights, lrasppMobileNetV3Backbone, lrasppMobileNetV3Large } from './lraspp.js';
export type { LRASPPModelName } from './models.js';
export { LRASPP_MODELS, load } from './models.js';
