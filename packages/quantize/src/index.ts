// @mnv3/quantize (↔ torchvision.models.quantization, torch.ao.quantization): TorchVision's quantized
// MobileNetV3 on the qnnpack engine's exact integer arithmetic.
export type { QuantizationErrorCode } from './errors.js';
export { QuantizationError } from './errors.js';
export type { ConvGeometry, QParams, QTensor, AddParams } from './qnnpack.js';
export {
  rint,
  quantizePerTensor,
  quantizeBias,
  requantizationScale,
  dequantize,
  convOutputSize,
  qconv2d,
  qlinear,
  hardswishTable,
  hardsigmoidTable,
  HARDSIGMOID_QPARAMS,
  applyTable,
  addParams,
  qadd,
  qmulChannels,
  qglobalAvgPool,
} from './qnnpack.js';
export type { ObserverOptions, Observer, QDType, QScheme } from './observer.js';
export { FLOAT32_EPS, calculateQParams, observed, aminmax, histc, movingAverage, MinMaxObserver, MovingAverageMinMaxObserver, HistogramObserver } from './observer.js';
export type { BatchNormParams } from './fuse.js';
export { fuseConvBnWeights } from './fuse.js';
export type { MobileNetV3Config, QuantizableMobileNetV3Options, QuantizedSource, QuantizedWeightsMeta } from './mobilenet-v3.js';
export {
  QuantizableMobileNetV3,
  QuantizableInvertedResidual,
  QuantizableSqueezeExcitation,
  MobileNet_V3_Large_QuantizedWeights,
  MobileNet_V3_Small_QuantizedWeights,
  QUANTIZED_WEIGHTS,
  QUANTIZED_WEIGHTS_META,
  assembleQuantized,
  checkQuantizedCheckpoint,
  floatModelConfig,
  mobilenetV3Large,
  mobilenetV3Small,
} from './mobilenet-v3.js';
export type { QuantizedWeights, QuantizedOutput, QuantizedFeature } from './quantized.js';
export {
  QuantizedMobileNetV3,
  QuantizedConv2d,
  QuantizedLinear,
  QuantizedHardswish,
  QuantizedConvNormActivation,
  QuantizedSqueezeExcitation,
  QuantizedInvertedResidual,
  quantizedHardsigmoid,
} from './quantized.js';
export { ObservedMobileNetV3, prepare, convert, quantizeWeight } from './quantize.js';
export { saveQuantized, loadQuantized } from './serialization.js';
export type { WasmEngineOptions } from './wasm-engine.js';
export { WasmQuantizedMobileNetV3 } from './wasm-engine.js';
export { QUANTIZABLE_ARCHS, isQuantizedStateDict, quantizedModelFromStateDict } from './load.js';
export { isQuantizedFile, quantizedFromTensors } from './serialization.js';
