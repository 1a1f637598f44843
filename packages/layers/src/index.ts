export type { DType, HostTensor, HostTypedArray, StateDict } from './host-tensor.js';
export { DTYPE_SIZE, numel, allocate, toFloat32, float32Tensor, halfToFloat, floatToHalf, bfloat16ToFloat } from './host-tensor.js';
export type { LoadStateDictOptions, LoadStateDictResult } from './module.js';
export { Module, Layer, Sequential, Parameter, StateDictError } from './module.js';
export type { Rng } from './random.js';
export { seededRng, normal, uniform } from './random.js';
export { makeDivisible } from './make-divisible.js';
export type { ActivationName } from './activations.js';
export { ACTIVATIONS, Activation, Dropout, activate, hardswish, hardsigmoid } from './activations.js';
export type { ConvGeometry } from './conv.js';
export type { Conv2dOptions, FoldableNorm, NormLayer } from './nn.js';
export { AdaptiveAvgPool2d, Conv2d, BatchNorm2d, FrozenBatchNorm2d, Linear, batchNorm2d, frozenBatchNorm2d, globalAvgPool } from './nn.js';
export type { Conv2dNormActivationOptions } from './misc.js';
export { Conv2dNormActivation, SqueezeExcitation } from './misc.js';
export type { InvertedResidualConfig } from './inverted-residual.js';
export { InvertedResidual, invertedResidualConfig, adjustChannels } from './inverted-residual.js';
export type { CheckpointErrorCode } from './errors.js';
export { CheckpointError } from './errors.js';
export type { SafetensorsFile } from './safetensors.js';
export { readSafetensors, writeSafetensors } from './safetensors.js';
export type { TransformsPreset, Weights, WeightsEnum, WeightsMeta } from './weights-api.js';
export { weights, getWeights, overwriteValueParam } from './weights-api.js';
export { IntermediateLayerGetter } from './intermediate-layer-getter.js';
export { countMacs, countMacsAsync, recordMacs } from './profiling.js';
export { bilinearGather, bilinearGatherHost, GATHER_HEADER_WORDS, GATHER_SAMPLE_WORDS, type BilinearSamples } from './gather.js';
export type { KernelMode, KernelThreadStats } from './kernels/fast.js';
export { KERNEL_MODES, setKernelMode, getKernelMode, prepareFastKernels, getKernelThreadStats } from './kernels/fast.js';
export type { TorchLoadOptions, ReadStateDictOptions } from './torch-load.js';
export { loadTorchCheckpoint, readStateDict, findStateDict, isHostTensor, PythonObject } from './torch-load.js';
export { isTuple } from './pickle.js';
export { readNpy, writeNpy } from './npy.js';
export type { ConvertOptions } from './convert.js';
export { convertToSafetensors, castFloat } from './convert.js';
export type { CheckpointFormat } from './checkpoint.js';
export { readCheckpoint, sniffCheckpointFormat } from './checkpoint.js';
export type { RgbImage, ImageErrorCode } from './transforms/image.js';
export { ImageError, MAX_IMAGE_PIXELS, rgbImage, checkImageSize } from './transforms/image.js';
export type { ImageFormat, ImageHeader, DecodeImageOptions } from './transforms/decode.js';
export { decodeImage, readImageHeader, sniffImageFormat } from './transforms/decode.js';
export type { Interpolation, ResizeOptions } from './transforms/resize.js';
export { INTERPOLATIONS, resize, resampleImage, computeResizedOutputSize } from './transforms/resize.js';
export { crop, centerCrop, centerCropOffsets } from './transforms/crop.js';
export type { FloatImage } from './transforms/tensor.js';
export { IMAGENET_MEAN, IMAGENET_STD, toTensor, normalize, hwcToChw, chwToHwc, toNchw } from './transforms/tensor.js';
export type {
  ImageClassificationOptions,
  ImageClassificationPreset,
  SemanticSegmentationOptions,
  SemanticSegmentationPreset,
} from './transforms/presets.js';
export { ImageClassification, SemanticSegmentation } from './transforms/presets.js';
export type { BrowserImageSource } from './transforms/browser.js';
export { imageDataToRgb, readBrowserImage } from './transforms/browser.js';
export type { ImageSource } from './transforms/load-image.js';
export { loadImage } from './transforms/load-image.js';
export { IntermediateLayerGetterModule } from './intermediate-layer-getter.js';
export type {
  ClassMap,
  ClassShare,
  ColorizeOptions,
  LoadSegmenterOptions,
  OverlayOptions,
  PixelImage,
  SegmentOptions,
  SegmentationBuildOptions,
  SegmentationMetrics,
  SegmentationModelEntry,
  SegmentationOutput,
  SegmentationResult,
} from './segmentation/index.js';
export {
  ConfusionMatrix,
  SEGMENTATION_RESIZE_SIZES,
  SegmentationModel,
  Segmenter,
  classShares,
  loadSegmenter,
  VOC_CATEGORIES,
  VOC_IGNORE_INDEX,
  VOC_PALETTE,
  colorizeMask,
  decodeMaskPng,
  encodeImagePng,
  encodeMaskPng,
  formatFixed1,
  interpolateBilinear,
  logitsToClassMaps,
  mobileNetV3StageIndices,
  overlayMask,
  vocColormap,
} from './segmentation/index.js';
export type { WeightsSource } from './weights-source.js';
export { resolveStateDict, loadWeightsInto } from './weights-source.js';
