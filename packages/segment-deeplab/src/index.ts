export type { DeepLabBuildOptions } from './deeplabv3.js';
export {
  ASPP,
  ASPPConv,
  ASPPPooling,
  DeepLabHead,
  DeepLabV3,
  DeepLabV3_MobileNet_V3_Large_Weights,
  deeplabv3MobilenetV3Large,
} from './deeplabv3.js';
export { FCN, FCNHead, fcnMobilenetV3Large } from './fcn.js';
export { deeplabMobilenetV3Backbone } from './mobilenet-backbone.js';
export { DeepLabV3_ResNet50_Weights, FCN_ResNet50_Weights, deeplabv3Resnet50, fcnResnet50, segmentationResnet50Backbone } from './resnet50.js';
export type { DeepLabModelName } from './models.js';
export { DEEPLAB_MODELS } from './models.js';
export { load } from '@mnv3/segmentation';
