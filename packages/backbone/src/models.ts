import { ModelRegistry, type ModelEntry, type Weights, type WeightsEnum } from '@mnv3/layers';
import type { ImageClassifier } from './classifier.js';
import { MobileNet_V2_Weights, mobilenetV2 } from './mobilenet-v2.js';
import { MobileNet_V3_Large_Weights, MobileNet_V3_Small_Weights, mobilenetV3Large, mobilenetV3Small } from './mobilenet-v3.js';
import { ResNet18_Weights, ResNet50_Weights, resnet18, resnet50 } from './resnet.js';

/** Options every classification builder understands (MobileNetV3 takes the architecture ones). */
export interface ClassifierBuildOptions {
  numClasses?: number;
  widthMult?: number;
  reducedTail?: boolean;
  dilated?: boolean;
  dropout?: number;
  /** The checkpoint the caller will load: fixes `numClasses`. */
  weights?: Weights;
}

export interface ClassificationModelEntry extends ModelEntry<ClassifierBuildOptions, ImageClassifier> {
  weights: WeightsEnum;
  /** Which of the architecture options the model accepts. */
  options: readonly ('widthMult' | 'reducedTail' | 'dilated')[];
}

/** The classification models by TorchVision name. */
export const CLASSIFICATION_MODELS = new ModelRegistry<ClassificationModelEntry>('classification');

CLASSIFICATION_MODELS.register({
  mobilenet_v3_large: { build: mobilenetV3Large, weights: MobileNet_V3_Large_Weights, options: ['widthMult', 'reducedTail', 'dilated'] },
  mobilenet_v3_small: { build: mobilenetV3Small, weights: MobileNet_V3_Small_Weights, options: ['widthMult', 'reducedTail', 'dilated'] },
  mobilenet_v2: { build: mobilenetV2, weights: MobileNet_V2_Weights, options: ['widthMult'] },
  resnet18: { build: resnet18, weights: ResNet18_Weights, options: [] },
  resnet50: { build: resnet50, weights: ResNet50_Weights, options: [] },
});

/**
 * Builds a classification model by TorchVision name, refusing options the model does not take.
 *
 * @example const model = buildClassifier('mobilenet_v3_small', { numClasses: 10 });
 */
export function buildClassifier(name: string, options: ClassifierBuildOptions = {}): ImageClassifier {
  const entry = CLASSIFICATION_MODELS.get(name);
  for (const key of ['widthMult', 'reducedTail', 'dilated'] as const) {
    if (options[key] !== undefined && options[key] !== false && !entry.options.includes(key)) {
      throw new Error(`${name} does not take ${key}; it takes: ${entry.options.join(', ') || 'none of widthMult, reducedTail, dilated'}`);
    }
  }
  return entry.build(options);
}
