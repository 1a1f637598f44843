// @mnv3/layers (↔ torch.nn, torchvision.ops.misc, torchvision.models._api): modules with TorchVision's
// state_dict keys, TorchVision's blocks, the WASM kernels under them, the weights API and what every
// task pipeline shares. Files (checkpoints, images, downloads) are in @mnv3/io.
export type { LoadStateDictOptions, LoadStateDictResult } from './module.js';
export { Module, Layer, Sequential, ModuleList, Parameter, StateDictError, renameKey } from './module.js';
export type { Rng } from './random.js';
export { seededRng, normal, uniform } from './random.js';
export { makeDivisible } from './make-divisible.js';
export type { ActivationName } from './activations.js';
export { ACTIVATIONS, Activation, Dropout, bernoulliMask, hardswish, hardsigmoid } from './activations.js';
export type { StochasticDepthMode } from './stochastic-depth.js';
export { StochasticDepth, stochasticDepth } from './stochastic-depth.js';
export type { ConvGeometry } from './conv.js';
export type { Conv2dOptions, FoldableNorm, NormLayer } from './nn.js';
export { AdaptiveAvgPool2d, Conv2d, MaxPool2d, BatchNorm2d, FrozenBatchNorm2d, Linear, batchNorm2d, freezeBatchNormStats, frozenBatchNorm2d, globalAvgPool, overwriteEps } from './nn.js';
export type { Conv2dNormActivationOptions } from './misc.js';
export { Conv2dNormActivation, SqueezeExcitation } from './misc.js';
export type { InvertedResidualConfig } from './inverted-residual.js';
export { InvertedResidual, invertedResidualConfig, adjustChannels } from './inverted-residual.js';
export { IntermediateLayerGetter } from './intermediate-layer-getter.js';
export { mobilenetStageIndices } from './stage-indices.js';
export { interpolateBilinear, interpolateNearest } from './interpolate.js';
export type { TransformsPreset, Weights, WeightsEnum, WeightsMeta } from './weights-api.js';
export { weights, getWeights, overwriteValueParam, verifyWeights } from './weights-api.js';
export type { WeightsSource } from './weights-source.js';
export { resolveStateDict, loadWeightsInto } from './weights-source.js';
export type { ImageInput, LoadOptions, ModelEntry } from './pipeline.js';
export { ModelRegistry, isWeightsName, loadPretrained, readImageInput } from './pipeline.js';
export { countMacs, countMacsAsync } from './profiling.js';
export type { BilinearSamples } from './roi-align-sampling.js';
export { bilinearGather, bilinearGatherHost, GATHER_HEADER_WORDS, GATHER_SAMPLE_WORDS } from './roi-align-sampling.js';
export type { KernelMode, KernelThreadStats } from './kernels/fast.js';
export { KERNEL_MODES, setKernelMode, getKernelMode, prepareFastKernels, getKernelThreadStats, wasmValues } from './kernels/fast.js';
export type { Int8Kernel, Int8Kernels } from './kernels/int8.js';
export { int8Kernels, prepareInt8Kernels, f32Bits } from './kernels/int8.js';
export { relaxedSimdEnabled, relaxedSimdSupported, setRelaxedSimd } from './kernels/wasm-module.js';
export type { KernelProfiler, SplitKernel } from './kernels/kernel-pool.js';
export { setKernelProfiler } from './kernels/kernel-pool.js';
