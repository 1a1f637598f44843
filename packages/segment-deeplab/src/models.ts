import { loadSegmenter, type LoadSegmenterOptions, type Segmenter, type SegmentationModelEntry } from '@mnv3/layers';
import { DeepLabV3_MobileNet_V3_Large_Weights, deeplabv3MobileNetV3Large } from './deeplabv3.js';
import { fcnMobileNetV3Large } from './fcn.js';

/**
 * DeepLabV3 and FCN on MobileNetV3-Large by TorchVision name: builder, weights table (`null`:
 * none published) and whether an aux head is available. Merge with `LRASPP_MODELS` for a registry
 * of every segmentation model.
 */
export const DEEPLAB_MODELS = {
  deeplabv3_mobilenet_v3_large: { build: deeplabv3MobileNetV3Large, weights: DeepLabV3_MobileNet_V3_Large_Weights, auxLoss: true },
  fcn_mobilenet_v3_large: { build: fcnMobileNetV3Large, weights: null, auxLoss: true },
} as const satisfies Record<string, SegmentationModelEntry>;

/** TorchVision names of the DeepLabV3 / FCN models. */
export type DeepLabModelName = keyof typeof DEEPLAB_MODELS;

/**
 * Builds a DeepLabV3 or FCN model by TorchVision name, loads its weights and wraps it with
 * TorchVision's eval preset (520, or 320 for speed).
 *
 * @example const s = await load('deeplabv3_mobilenet_v3_large', { weights: 'COCO_WITH_VOC_LABELS_V1' });
 */
export async function load(name: string, options: LoadSegmenterOptions): Promise<Segmenter> {
  if (!Object.prototype.hasOwnProperty.call(DEEPLAB_MODELS, name)) {
    throw new Error(`unknown model "${name}"; valid: ${Object.keys(DEEPLAB_MODELS).join(', ')}`);
  }
  return loadSegmenter(name, DEEPLAB_MODELS[name as DeepLabModelName], options);
}
