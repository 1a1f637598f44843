export { SimpleSegmentationModel } from './simple-segmentation-model.js';
export type { DeepLabBuildOptions } from './deeplabv3.js';
export {
  ASPP,
  ASPPConv,
  ASPPPooling,
  DeepLabHead,
  DeepLabV3,
  DeepLabV3_MobileNet_V3_Large_Weights,
  deeplabv3MobileNetV3Large,
} from './deeplabv3.js';
export { FCN, FCNHead, fcnMobileNetV3Large } from './fcn.js';
export { deeplabMobileNetV3Backbone } from './mobilenet-backbone.js';
export type { DeepLabModelName } from './models.js';
export { DEEPLAB_MODELS, load } from './models.js';
