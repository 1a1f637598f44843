import { SEGMENTATION_MODELS, type SegmentationModelEntry } from '@mnv3/segmentation';
import { DeepLabV3_MobileNet_V3_Large_Weights, deeplabv3MobilenetV3Large } from './deeplabv3.js';
import { fcnMobilenetV3Large } from './fcn.js';
import { DeepLabV3_ResNet50_Weights, FCN_ResNet50_Weights, deeplabv3Resnet50, fcnResnet50 } from './resnet50.js';

/**
 * DeepLabV3 and FCN on MobileNetV3-Large and ResNet-50 by TorchVision name: builder, weights table (`null`:
 * none published) and whether an aux head is available. Registered in `SEGMENTATION_MODELS` when
 * this package is imported.
 */
export const DEEPLAB_MODELS = {
  deeplabv3_mobilenet_v3_large: { build: deeplabv3MobilenetV3Large, weights: DeepLabV3_MobileNet_V3_Large_Weights, auxLoss: true },
  fcn_mobilenet_v3_large: { build: fcnMobilenetV3Large, weights: null, auxLoss: true },
  deeplabv3_resnet50: { build: deeplabv3Resnet50, weights: DeepLabV3_ResNet50_Weights, auxLoss: true },
  fcn_resnet50: { build: fcnResnet50, weights: FCN_ResNet50_Weights, auxLoss: true },
} as const satisfies Record<string, SegmentationModelEntry>;

/** TorchVision names of the DeepLabV3 / FCN models. */
export type DeepLabModelName = keyof typeof DEEPLAB_MODELS;

SEGMENTATION_MODELS.register(DEEPLAB_MODELS);
