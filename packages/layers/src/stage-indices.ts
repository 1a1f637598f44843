import { InvertedResidual } from './inverted-residual.js';
import type { Sequential } from './module.js';

/**
 * TorchVision's stage indices of a MobileNet's `features` sequence (`_mobilenet_extractor`), as its detection and
 * segmentation builders compute them: `[0] + [i for blocks with _is_cn] + [len(features) - 1]`,
 * i.e. the first conv (C0), every strided block (C1 … Cn−1) and the last conv (Cn). For the
 * dilated MobileNetV3-Large this is `[0, 2, 4, 7, 13, 16]`: `[-4]` is C2 (output stride 8, 40
 * channels), `[-1]` C5 (output stride 16, 960 channels).
 */
export function mobilenetStageIndices(features: Sequential): number[] {
  const strided = features.layers.flatMap((layer, i) => (layer instanceof InvertedResidual && layer.isCn ? [i] : []));
  return [0, ...strided, features.layers.length - 1];
}
