// The QAT-prepared modules whose state_dict keys TorchVision's quantized checkpoints carry:
// torch/ao/quantization/fake_quantize.py (FusedMovingAvgObsFakeQuantize, FixedQParamsFakeQuantize),
// torch/ao/nn/intrinsic/qat (ConvBn2d, ConvBnReLU2d, ConvReLU2d), torch/ao/nn/qat (Conv2d, Linear).
// They hold weights and observer state only: `convert` (quantize.ts) turns them into integer ops.
import { Module } from '@mnv3/layers';
import type { ConvGeometry } from './qnnpack.js';

/** A module that only groups children under TorchVision's names (`nn.Sequential` with Identity gaps). */
export class Container extends Module {
  add<M extends Module>(name: string, m: M): M {
    return this.registerModule(name, m);
  }
}

/** `MovingAverageMinMaxObserver` state: `eps`, `min_val`, `max_val` (0-d). */
export class MovingAverageMinMaxObserverState extends Module {
  readonly eps = this.registerBuffer('eps', [1]);
  readonly minVal = this.registerBuffer('min_val', []);
  readonly maxVal = this.registerBuffer('max_val', []);
}

/** `FusedMovingAvgObsFakeQuantize` state (the default QAT qconfig of the qnnpack backend). */
export class FusedMovingAvgObsFakeQuantize extends Module {
  readonly fakeQuantEnabled = this.registerBuffer('fake_quant_enabled', [1], 'int64');
  readonly observerEnabled = this.registerBuffer('observer_enabled', [1], 'int64');
  readonly scale = this.registerBuffer('scale', [1]);
  readonly zeroPoint = this.registerBuffer('zero_point', [1], 'int32');
  readonly observer = this.registerModule('activation_post_process', new MovingAverageMinMaxObserverState());

  /** The observer's min / max (what `calculate_qparams` uses; the `scale` buffer is not). */
  get minMax(): [number, number] {
    return [this.observer.minVal.value[0]!, this.observer.maxVal.value[0]!];
  }
}

/** `FixedQParamsObserver` state. */
export class FixedQParamsObserverState extends Module {
  readonly scale = this.registerBuffer('scale', [1]);
  readonly zeroPoint = this.registerBuffer('zero_point', [1], 'int32');
}

/** `FixedQParamsFakeQuantize` (hardsigmoid's output: 1/256, 0). */
export class FixedQParamsFakeQuantize extends Module {
  readonly fakeQuantEnabled = this.registerBuffer('fake_quant_enabled', [1], 'uint8');
  readonly observerEnabled = this.registerBuffer('observer_enabled', [1], 'uint8');
  readonly scale = this.registerBuffer('scale', [1]);
  readonly zeroPoint = this.registerBuffer('zero_point', [1], 'int32');
  readonly observer = this.registerModule('activation_post_process', new FixedQParamsObserverState());
}

/** A module whose output is observed (`activation_post_process`): Hardswish, QuantStub, FloatFunctional. */
export class Observed extends Module {
  readonly activationPostProcess = this.registerModule('activation_post_process', new FusedMovingAvgObsFakeQuantize());
}

/** `nn.Hardsigmoid` with its fixed-qparams fake quant. */
export class ObservedHardsigmoid extends Module {
  readonly activationPostProcess = this.registerModule('activation_post_process', new FixedQParamsFakeQuantize());
}

/** BatchNorm2d's state inside a QAT ConvBn (`bn.*`). */
export class BatchNormState extends Module {
  readonly weight;
  readonly bias;
  readonly runningMean;
  readonly runningVar;
  constructor(
    readonly numFeatures: number,
    readonly eps: number,
  ) {
    super();
    this.weight = this.registerParameter('weight', [numFeatures]);
    this.bias = this.registerParameter('bias', [numFeatures]);
    this.runningMean = this.registerBuffer('running_mean', [numFeatures]);
    this.runningVar = this.registerBuffer('running_var', [numFeatures]);
    this.numBatchesTracked = this.registerBuffer('num_batches_tracked', [], 'int64');
  }
  readonly numBatchesTracked;
  /** MobileNetV3's `partial(nn.BatchNorm2d, eps=0.001, momentum=0.01)`, kept by `fuse_conv_bn_qat`. */
  momentum = 0.01;
}

/** A QAT convolution or linear layer: weight (and bias), its weight fake-quant, its output observer. */
export abstract class QatWeighted extends Module {
  abstract readonly weight: { value: Float32Array; readonly shape: readonly number[] };
  abstract readonly weightFakeQuant: FusedMovingAvgObsFakeQuantize;
  abstract readonly activationPostProcess: FusedMovingAvgObsFakeQuantize;
  /** ReLU fused into the op (ConvBnReLU2d, ConvReLU2d). */
  abstract readonly relu: boolean;
}

/** `nniqat.ConvBn2d` / `ConvBnReLU2d`: conv without bias, `bn`, fake quants. */
export class ConvBn2d extends QatWeighted {
  readonly weight;
  readonly bn: BatchNormState;
  readonly weightFakeQuant;
  readonly activationPostProcess;
  /** `freeze_bn_stats()`: BatchNorm uses (and keeps) its running statistics in train mode. */
  freezeBn = false;
  constructor(
    readonly geometry: ConvGeometry,
    readonly relu: boolean,
    eps: number,
  ) {
    super();
    const g = geometry;
    this.weight = this.registerParameter('weight', [g.outChannels, g.inChannels / g.groups, g.kernelSize, g.kernelSize]);
    this.bn = this.registerModule('bn', new BatchNormState(g.outChannels, eps));
    this.weightFakeQuant = this.registerModule('weight_fake_quant', new FusedMovingAvgObsFakeQuantize());
    this.activationPostProcess = this.registerModule('activation_post_process', new FusedMovingAvgObsFakeQuantize());
  }
}

/** `nnqat.Conv2d` / `nniqat.ConvReLU2d` (SE's fc1 / fc2): conv with bias, fake quants. */
export class QatConv2d extends QatWeighted {
  readonly weight;
  readonly bias;
  readonly weightFakeQuant;
  readonly activationPostProcess;
  constructor(
    readonly geometry: ConvGeometry,
    readonly relu: boolean,
  ) {
    super();
    const g = geometry;
    this.weight = this.registerParameter('weight', [g.outChannels, g.inChannels / g.groups, g.kernelSize, g.kernelSize]);
    this.bias = this.registerParameter('bias', [g.outChannels]);
    this.weightFakeQuant = this.registerModule('weight_fake_quant', new FusedMovingAvgObsFakeQuantize());
    this.activationPostProcess = this.registerModule('activation_post_process', new FusedMovingAvgObsFakeQuantize());
  }
}

/** `nnqat.Linear`. */
export class QatLinear extends QatWeighted {
  readonly weight;
  readonly bias;
  readonly weightFakeQuant;
  readonly activationPostProcess;
  readonly relu = false;
  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
  ) {
    super();
    this.weight = this.registerParameter('weight', [outFeatures, inFeatures]);
    this.bias = this.registerParameter('bias', [outFeatures]);
    this.weightFakeQuant = this.registerModule('weight_fake_quant', new FusedMovingAvgObsFakeQuantize());
    this.activationPostProcess = this.registerModule('activation_post_process', new FusedMovingAvgObsFakeQuantize());
  }
}
