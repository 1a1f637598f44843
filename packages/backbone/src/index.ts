export { ImageClassifier } from './classifier.js';
export { IMAGENET_CATEGORIES } from './imagenet-categories.js';
export type { MobileNetV3Arch, MobileNetV3BuilderOptions, MobileNetV3ConfOptions, MobileNetV3Options } from './mobilenet-v3.js';
export {
  MobileNetV3,
  MobileNet_V3_Large_Weights,
  MobileNet_V3_Small_Weights,
  FASHION_MNIST_PRESET,
  FASHION_MNIST_RECIPE,
  mobilenetV3Conf,
  mobilenetV3Large,
  mobilenetV3Small,
} from './mobilenet-v3.js';
export type { MobileNetV2Options } from './mobilenet-v2.js';
export { InvertedResidualV2, MobileNetV2, MobileNet_V2_Weights, mobilenetV2 } from './mobilenet-v2.js';
export type { ResNetOptions } from './resnet.js';
export { BasicBlock, Bottleneck, ResNet, ResNet18_Weights, ResNet50_Weights, resnet18, resnet50 } from './resnet.js';
export type { ClassificationModelEntry, ClassifierBuildOptions } from './models.js';
export { CLASSIFICATION_MODELS, buildClassifier } from './models.js';
