import { SEGMENTATION_MODELS, type SegmentationModelEntry } from '@mnv3/segmentation';
import { LRASPP_MobileNet_V3_Large_Weights, lrasppMobilenetV3Large } from './lraspp.js';

/**
 * The LR-ASPP segmentation models by TorchVision name (builder, weights table, never an aux head),
 * registered in `SEGMENTATION_MODELS` when this package is imported.
 */
export const LRASPP_MODELS = {
  lraspp_mobilenet_v3_large: { build: lrasppMobilenetV3Large, weights: LRASPP_MobileNet_V3_Large_Weights, auxLoss: false },
} as const satisfies Record<string, SegmentationModelEntry>;

/** TorchVision names of the LR-ASPP models. */
export type LRASPPModelName = keyof typeof LRASPP_MODELS;

SEGMENTATION_MODELS.register(LRASPP_MODELS);
