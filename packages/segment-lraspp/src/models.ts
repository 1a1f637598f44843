import type { SegmentationModelEntry } from '@mnv3/layers';
import { LRASPP_MobileNet_V3_Large_Weights, lrasppMobileNetV3Large } from './lraspp.js';

/**
 * The LR-ASPP segmentation models by TorchVision name: builder, weights table, and whether an aux
 * head exists (never, for LR-ASPP).
 */
export const LRASPP_MODELS = {
  lraspp_mobilenet_v3_large: { build: lrasppMobileNetV3Large, weights: LRASPP_MobileNet_V3_Large_Weights, auxLoss: false },
} as const satisfies Record<string, SegmentationModelEntry>;

/** TorchVision names of the LR-ASPP models. */
export type LRASPPModelName = keyof typeof LRASPP_MODELS;
