import { loadSegmenter, type LoadSegmenterOptions, type Segmenter, type SegmentationModelEntry } from '@mnv3/layers';
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

/**
 * Builds an LR-ASPP model by TorchVision name, loads its weights and wraps it with TorchVision's
 * eval preset (520, or 320 for speed).
 *
 * @example const s = await load('lraspp_mobilenet_v3_large', { weights: 'COCO_WITH_VOC_LABELS_V1' });
 */
export async function load(name: string, options: LoadSegmenterOptions): Promise<Segmenter> {
  if (!Object.prototype.hasOwnProperty.call(LRASPP_MODELS, name)) {
    throw new Error(`unknown model "${name}"; valid: ${Object.keys(LRASPP_MODELS).join(', ')}`);
  }
  return loadSegmenter(name, LRASPP_MODELS[name as LRASPPModelName], options);
}
