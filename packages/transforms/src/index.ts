// @mnv3/transforms (↔ torchvision.transforms and torchvision.utils' drawing), without tfjs: Pillow's
// resize, crops, TorchVision's presets on host images, and boxes and masks drawn over images.
export type { Interpolation, ResizeOptions } from './resize.js';
export { INTERPOLATIONS, resize, resampleImage, computeResizedOutputSize } from './resize.js';
export { crop, centerCrop } from './crop.js';
export type { FloatImage } from './tensor.js';
export { IMAGENET_MEAN, IMAGENET_STD, toTensor, normalize, hwcToChw, chwToHwc } from './tensor.js';
export type {
  ImageClassificationOptions,
  ImageClassificationPreset,
  ObjectDetectionPreset,
  SemanticSegmentationOptions,
  SemanticSegmentationPreset,
} from './presets.js';
export { ImageClassification, ObjectDetection, SemanticSegmentation } from './presets.js';
export type { DrawBoundingBoxesOptions, Rgb } from './draw-boxes.js';
export { drawBoundingBoxes, generateColorPalette } from './draw-boxes.js';
export type { ColorizeOptions, OverlayOptions } from './draw-masks.js';
export { VOC_PALETTE, colorizeMask, overlayMask, vocColormap } from './draw-masks.js';
export type { TensorImage } from './tensor-image.js';
export type { AffineOptions, RotateOptions, TensorInterpolation } from './functional.js';
export {
  TENSOR_INTERPOLATIONS,
  adjustBrightness,
  adjustContrast,
  adjustSaturation,
  adjustSharpness,
  affine,
  autocontrast,
  cropImage,
  equalize,
  erase,
  hflip,
  inverseAffineMatrix,
  invert,
  posterize,
  resizeTensor,
  resizedCrop,
  rgbToGrayscale,
  rotate,
  solarize,
} from './functional.js';
export type { Rng } from './random.js';
export { seededRng } from './random.js';
export type { RandomErasingOptions, RandomImageTransform, RandomResizedCropOptions } from './transforms.js';
export { RandomErasing, RandomHorizontalFlip, RandomResizedCrop, randomResizedCropParams } from './transforms.js';
export type { AugmentOp, AugmentOptions, AugmentPolicy, AutoAugmentPolicy, OpMagnitudes, SubPolicy } from './autoaugment.js';
export {
  AUGMENT_OPS,
  AUTO_AUGMENT_POLICIES,
  AUTO_AUGMENT_SUBPOLICIES,
  AutoAugment,
  RandAugment,
  TrivialAugmentWide,
  applyOp,
  augmentationSpace,
  linspace32,
} from './autoaugment.js';
export type { ClassificationPresetTrainOptions, ClassificationPresetTrainPreset, TrainAutoAugmentPolicy } from './classification-presets.js';
export { ClassificationPresetTrain, TRAIN_AUTO_AUGMENT_POLICIES } from './classification-presets.js';
