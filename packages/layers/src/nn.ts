import * as tf from '@tensorflow/tfjs-core';
import type { ActivationName } from './activations.js';
import { ConvKernel, FEW_CHANNELS, validateGeometry, type ConvGeometry } from './conv.js';
import { fastBackend, runKernel } from './kernels/fast.js';
import { Mnv3Conv2dTrain, Mnv3DepthwiseConv2dTrain, Mnv3GlobalAvgPool } from './kernels/names.js';
import { Layer, type Module, type Parameter } from './module.js';
import { normal, type Rng } from './random.js';
import { activateTrain, batchNormTrain, updateRunningStats } from './train/ops.js';

export interface Conv2dOptions {
  kernelSize?: number;
  stride?: number;
  padding?: number;
  dilation?: number;
  groups?: number;
  bias?: boolean;
  /** Applied after the bias; fused into the convolution where tfjs can. */
  activation?: ActivationName | null;
}

/**
 * `nn.Conv2d` on NHWC tensors. Keys `weight` `[out, in/groups, k, k]` and `bias` `[out]`.
 *
 * @example new Conv2d(16, 32, { kernelSize: 3, padding: 1 }).initWeights(seededRng(0)).forward(x)
 */
export class Conv2d extends Layer {
  readonly geometry: ConvGeometry;
  readonly weight: Parameter;
  readonly bias: Parameter | null;
  private activation: ActivationName | null;
  private norm: FoldableNorm | null = null;
  private kernel: ConvKernel | null = null;

  constructor(inChannels: number, outChannels: number, options: Conv2dOptions = {}) {
    super();
    const kernelSize = options.kernelSize ?? 1;
    this.geometry = {
      inChannels,
      outChannels,
      kernelSize,
      stride: options.stride ?? 1,
      padding: options.padding ?? 0,
      dilation: options.dilation ?? 1,
      groups: options.groups ?? 1,
    };
    validateGeometry(this.geometry);
    this.weight = this.registerParameter('weight', [outChannels, inChannels / this.geometry.groups, kernelSize, kernelSize]);
    this.bias = options.bias === false ? null : this.registerParameter('bias', [outChannels]);
    this.activation = options.activation ?? null;
  }

  /**
   * Takes over the norm layer that follows this convolution (and the activation after it): at
   * build time the norm is folded into weights and bias, so inference runs one fused conv and the
   * norm module becomes the identity. The norm stays where TorchVision registers it, so its keys
   * load as usual.
   */
  absorb(norm: FoldableNorm, activation: ActivationName | null = null): this {
    if (norm.numFeatures !== this.geometry.outChannels) {
      throw new RangeError(`norm layer has ${norm.numFeatures} features, the convolution ${this.geometry.outChannels} outputs`);
    }
    this.norm = norm;
    this.activation = activation;
    norm.absorbed = true;
    return this;
  }

  /** TorchVision's model init: `kaiming_normal_(mode="fan_out")`, zero bias. */
  protected override resetParameters(rng: Rng): void {
    const { outChannels, kernelSize } = this.geometry;
    const fanOut = outChannels * kernelSize * kernelSize;
    this.weight.set(normal(rng, this.weight.shape.reduce((a, b) => a * b, 1), 0, Math.sqrt(2 / fanOut)));
    this.bias?.set(new Float32Array(outChannels));
  }

  /** Folds the norm into the conv: `w'[o] = w[o]·scale[o]`, `b'[o] = b[o]·scale[o] + shift[o]`. */
  protected override build(): void {
    let weight = this.weight.value;
    let bias = this.bias?.value ?? null;
    if (this.norm) {
      const { scale, shift } = this.norm.scaleShift();
      const out = this.geometry.outChannels;
      const per = weight.length / out;
      const w = weight;
      const b = bias;
      weight = new Float32Array(w.length);
      bias = new Float32Array(out);
      for (let o = 0; o < out; o++) {
        const s = scale[o]!;
        for (let i = o * per; i < (o + 1) * per; i++) weight[i] = w[i]! * s;
        bias[o] = (b ? b[o]! * s : 0) + shift[o]!;
      }
    }
    this.kernel = ConvKernel.create(this.geometry, weight, bias, this.activation);
    this.own(this.kernel);
  }

  forward(x: tf.Tensor4D): tf.Tensor4D {
    this.assertBuilt();
    if (this.training) return tf.tidy(() => (this.norm ? this.convolve(x) : activateTrain(this.convolve(x), this.activation)));
    return this.kernel!.apply(x);
  }

  /** `forward(x) + residual`, the add fused into the convolution where the fast path can. */
  forwardWithResidual(x: tf.Tensor4D, residual: tf.Tensor4D): tf.Tensor4D {
    this.assertBuilt();
    if (this.training) return tf.tidy(() => tf.add(this.forward(x), residual));
    return this.kernel!.applyWithResidual(x, residual);
  }

  /**
   * Train mode: the convolution (plus bias) alone, differentiable in `x`, weight and bias. The
   * absorbed norm and its activation are left to the caller (Conv2dNormActivation), which runs
   * them with batch statistics.
   */
  convolve(x: tf.Tensor4D): tf.Tensor4D {
    const g = this.geometry;
    const w = this.weight.variable;
    if (!w) throw new Error('Conv2d.convolve runs in train mode only: call train() first');
    if (x.shape[3] !== g.inChannels) throw new RangeError(`expected input with ${g.inChannels} channels, got ${x.shape[3]} (shape [${x.shape.join(', ')}], NHWC)`);
    return conv2dTrain(x, w as tf.Tensor4D, g, this.bias?.variable as tf.Tensor1D | undefined);
  }

  /** The activation applied after the (absorbed) norm, or after the convolution. */
  get activationName(): ActivationName | null {
    return this.activation;
  }

  /** The built kernel (folded weights as tfjs tensors), for fused fast paths. */
  get convKernel(): ConvKernel {
    this.assertBuilt();
    return this.kernel!;
  }
}

/** A normalisation layer BatchNorm-like enough to be folded into the preceding convolution. */
export interface FoldableNorm extends Layer {
  readonly numFeatures: number;
  /** Set when a convolution folded this norm into itself: forward is then the identity. */
  absorbed: boolean;
  /** Per-channel `scale` and `shift` such that `norm(x) = x·scale + shift` (float64). */
  scaleShift(): { scale: Float64Array; shift: Float64Array };
}

abstract class AffineNorm extends Layer implements FoldableNorm {
  /**
   * Train mode: `x·scale + shift` from the running statistics, differentiable in `x` (and in
   * weight and bias where they are parameters). BatchNorm2d overrides it with batch statistics.
   */
  protected forwardTrain(x: tf.Tensor4D): tf.Tensor4D {
    const value = (p: Parameter) => (p.variable ?? tf.tensor1d(p.value)) as tf.Tensor1D;
    return tf.tidy(() => {
      const scale = tf.mul(value(this.weight), tf.rsqrt(tf.add(value(this.runningVar), this.eps)));
      return tf.add(tf.mul(tf.sub(x, value(this.runningMean)), scale), value(this.bias));
    });
  }

  readonly weight: Parameter;
  readonly bias: Parameter;
  readonly runningMean: Parameter;
  readonly runningVar: Parameter;
  private affine: { scale: tf.Tensor1D; shift: tf.Tensor1D } | null = null;
  absorbed = false;

  constructor(
    readonly numFeatures: number,
    /** Read when the layer builds (loading weights); `overwriteEps` changes it before that. */
    public eps: number,
    weightKind: 'parameter' | 'buffer',
  ) {
    super();
    const reg = (name: string) =>
      weightKind === 'parameter' ? this.registerParameter(name, [numFeatures]) : this.registerBuffer(name, [numFeatures]);
    this.weight = reg('weight');
    this.bias = reg('bias');
    this.runningMean = this.registerBuffer('running_mean', [numFeatures]);
    this.runningVar = this.registerBuffer('running_var', [numFeatures]);
  }

  scaleShift(): { scale: Float64Array; shift: Float64Array } {
    const w = this.weight.value;
    const b = this.bias.value;
    const m = this.runningMean.value;
    const v = this.runningVar.value;
    const scale = new Float64Array(this.numFeatures);
    const shift = new Float64Array(this.numFeatures);
    for (let c = 0; c < this.numFeatures; c++) {
      scale[c] = w[c]! / Math.sqrt(v[c]! + this.eps);
      shift[c] = b[c]! - m[c]! * scale[c]!;
    }
    return { scale, shift };
  }

  protected override resetParameters(_rng: Rng): void {
    const n = this.numFeatures;
    this.weight.set(new Float32Array(n).fill(1));
    this.bias.set(new Float32Array(n));
    this.runningMean.set(new Float32Array(n));
    this.runningVar.set(new Float32Array(n).fill(1));
  }

  protected override build(): void {
    if (this.absorbed) return;
    const { scale, shift } = this.scaleShift();
    this.affine = { scale: this.own(tf.tensor1d(Float32Array.from(scale))), shift: this.own(tf.tensor1d(Float32Array.from(shift))) };
  }

  /** `x·scale + shift` over the channel axis of NHWC input; the identity once absorbed by a conv. */
  forward(x: tf.Tensor4D): tf.Tensor4D {
    this.assertBuilt();
    if (this.training) return this.forwardTrain(x);
    if (this.absorbed) return x;
    const { scale, shift } = this.affine!;
    return tf.tidy(() => tf.add(tf.mul(x, scale), shift));
  }
}

/**
 * `nn.BatchNorm2d`. Keys `weight`, `bias`, `running_mean`, `running_var`, `num_batches_tracked`.
 * In eval mode it is folded into the preceding convolution (or applied as `x·scale + shift`); in
 * train mode it normalises with the batch's statistics over N, H, W (biased variance) and updates
 * the running ones as torch does: `running = (1 − momentum)·running + momentum·batch`, with the
 * unbiased variance, and `num_batches_tracked += 1` (momentum `null`: the cumulative average,
 * factor `1 / num_batches_tracked`). With `frozenStats` it uses and keeps the running statistics
 * in train mode (what torch users get from `bn.eval()` inside a training model).
 */
export class BatchNorm2d extends AffineNorm {
  readonly numBatchesTracked: Parameter;
  /** torch's `momentum` (default 0.1; `null`: cumulative moving average). */
  momentum: number | null;
  /** Train mode uses, and does not update, the running statistics (see `freezeBatchNormStats`). */
  frozenStats = false;
  constructor(
    numFeatures: number,
    options: { eps?: number; momentum?: number | null } = {},
  ) {
    super(numFeatures, options.eps ?? 1e-5, 'parameter');
    this.numBatchesTracked = this.registerBuffer('num_batches_tracked', [], 'int64');
    this.momentum = options.momentum === undefined ? 0.1 : options.momentum;
  }

  protected override forwardTrain(x: tf.Tensor4D): tf.Tensor4D {
    return this.forwardTrainWithActivation(x, null);
  }

  /**
   * Train mode: the norm then `activation`, fused on the fast path (Conv2dNormActivation calls
   * it). Updates the running statistics unless they are frozen.
   */
  forwardTrainWithActivation(x: tf.Tensor4D, activation: ActivationName | null): tf.Tensor4D {
    if (!this.training) throw new Error('BatchNorm2d.forwardTrainWithActivation runs in train mode only');
    if (this.frozenStats) return tf.tidy(() => activateTrain(super.forwardTrain(x), activation));
    const [w, b, rm, rv] = [this.weight, this.bias, this.runningMean, this.runningVar].map((p) => p.variable!) as tf.Variable<tf.Rank.R1>[];
    const count = x.shape[0] * x.shape[1] * x.shape[2];
    if (count < 2) throw new RangeError(`Expected more than 1 value per channel when training, got input size [${x.shape.join(', ')}]`);
    const tracked = this.numBatchesTracked.value;
    tracked[0] = tracked[0]! + 1;
    const factor = this.momentum ?? 1 / tracked[0]!;
    return tf.tidy(() => {
      const { y, mean, variance } = batchNormTrain(x, w!, b!, this.eps, activation);
      // Running statistics: outside the gradient (they do not lead to the loss).
      const [m, v] = updateRunningStats(rm!, rv!, mean, variance, factor, count);
      rm!.assign(m);
      rv!.assign(v);
      return y;
    });
  }
  protected override resetParameters(rng: Rng): void {
    super.resetParameters(rng);
    this.numBatchesTracked.set(new Float32Array(1));
  }
}

/** `torchvision.ops.FrozenBatchNorm2d`: every entry a buffer, no `num_batches_tracked`, eps 1e-5. */
export class FrozenBatchNorm2d extends AffineNorm {
  constructor(numFeatures: number, options: { eps?: number } = {}) {
    super(numFeatures, options.eps ?? 1e-5, 'buffer');
  }
}

/**
 * TorchVision's `overwrite_eps(model, eps)`: sets the eps of every `FrozenBatchNorm2d` in the
 * model. Its ResNet-50 detectors' `COCO_V1` weights were trained with eps 0, so their builders call
 * it; call it before loading weights (the eps is read when the layers build).
 */
export function overwriteEps(model: Module, eps: number): void {
  if (model instanceof FrozenBatchNorm2d) model.eps = eps;
  for (const [, child] of model.namedChildren()) overwriteEps(child, eps);
}

/** Makes the norm layer of a block for a channel count (TorchVision's `norm_layer` callable). */
export type NormLayer = (numFeatures: number) => FoldableNorm;

/**
 * Freezes (or unfreezes) the statistics of every BatchNorm2d in `model`: in train mode they then
 * normalise with, and keep, their running statistics, while weight and bias still train (torch:
 * `m.eval()` on each BatchNorm after `model.train()`).
 */
export function freezeBatchNormStats(model: Module, frozen = true): void {
  if (model instanceof BatchNorm2d) model.frozenStats = frozen;
  for (const [, child] of model.namedChildren()) freezeBatchNormStats(child, frozen);
}

/** `partial(nn.BatchNorm2d, eps=…, momentum=…)`. */
export function batchNorm2d(options: { eps?: number; momentum?: number | null } = {}): NormLayer {
  return (n) => new BatchNorm2d(n, options);
}

/** `FrozenBatchNorm2d`, as TorchVision's detection models use with pretrained backbones. */
export function frozenBatchNorm2d(options: { eps?: number } = {}): NormLayer {
  return (n) => new FrozenBatchNorm2d(n, options);
}

/**
 * `nn.Linear` on `[N, in]` float32 → `[N, out]`. Keys `weight` `[out, in]`, `bias` `[out]`.
 */
export class Linear extends Layer<tf.Tensor2D> {
  readonly weight: Parameter;
  readonly bias: Parameter | null;
  /** Runs as a 1x1 convolution over `[N,1,1,in]`: one GEMM kernel for both on the fast path. */
  private kernel: ConvKernel | null = null;
  /** That convolution's geometry (eval mode's kernel and train mode's `conv2dTrain`). */
  private readonly geometry: ConvGeometry;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    options: { bias?: boolean; activation?: ActivationName | null } = {},
  ) {
    super();
    this.weight = this.registerParameter('weight', [outFeatures, inFeatures]);
    this.bias = options.bias === false ? null : this.registerParameter('bias', [outFeatures]);
    this.activation = options.activation ?? null;
    this.geometry = { inChannels: inFeatures, outChannels: outFeatures, kernelSize: 1, stride: 1, padding: 0, dilation: 1, groups: 1 };
  }
  private readonly activation: ActivationName | null;

  /** TorchVision's classifier init: `normal_(0, 0.01)`, zero bias. */
  protected override resetParameters(rng: Rng): void {
    this.weight.set(normal(rng, this.inFeatures * this.outFeatures, 0, 0.01));
    this.bias?.set(new Float32Array(this.outFeatures));
  }

  protected override build(): void {
    // PyTorch's [out, in] weight is the [out, in, 1, 1] filter of that convolution.
    this.kernel = this.own(ConvKernel.create(this.geometry, this.weight.value, this.bias?.value ?? null, this.activation));
  }

  forward(x: tf.Tensor2D): tf.Tensor2D {
    this.assertBuilt();
    if (x.rank !== 2 || x.shape[1] !== this.inFeatures) {
      throw new RangeError(`expected input [N, ${this.inFeatures}], got shape [${x.shape.join(', ')}]`);
    }
    const n = x.shape[0];
    if (this.training) {
      // A 1x1 convolution over [N,1,1,in], as in eval mode: its gradients are the convolution
      // backprop kernels (a GEMM each), not tfjs-wasm's BatchMatMul with transposes (scalar).
      const w = this.weight.variable!;
      const b = this.bias?.variable;
      return tf.tidy(() => {
        const x4 = tf.reshape(x, [n, 1, 1, this.inFeatures]) as tf.Tensor4D;
        // torch's [out, in] weight is the [out, in, 1, 1] filter of that convolution.
        const filter = tf.reshape(w, [this.outFeatures, this.inFeatures, 1, 1]) as tf.Tensor4D;
        const y4 = conv2dTrain(x4, filter, this.geometry, b as tf.Tensor1D | undefined);
        return activateTrain(tf.reshape(y4, [n, this.outFeatures]) as tf.Tensor2D, this.activation);
      });
    }
    return tf.tidy(() => tf.reshape(this.kernel!.apply(tf.reshape(x, [n, 1, 1, this.inFeatures])), [n, this.outFeatures]));
  }
}

/** `nn.AdaptiveAvgPool2d(1)` then `torch.flatten(x, 1)`: `[N, H, W, C]` → `[N, C]`. */
export function globalAvgPool(x: tf.Tensor4D): tf.Tensor2D {
  if (x.dtype === 'float32' && fastBackend()) return runKernel<tf.Tensor2D>(Mnv3GlobalAvgPool, { x });
  return tf.mean(x, [1, 2]);
}

/**
 * `nn.MaxPool2d(kernelSize, stride, padding)`, NHWC. Padded cells never win, as PyTorch's implicit
 * -inf padding.
 */
export class MaxPool2d extends Layer {
  constructor(
    readonly kernelSize: number,
    readonly stride: number,
    readonly padding: number,
  ) {
    super();
  }
  forward(x: tf.Tensor4D): tf.Tensor4D {
    return tf.maxPool(x, this.kernelSize, this.stride, this.padding);
  }
}

/**
 * `nn.AdaptiveAvgPool2d(1)` keeping the spatial axes: NHWC `[N, H, W, C]` → `[N, 1, 1, C]`. Only
 * output size 1 exists here (the only one TorchVision's MobileNet heads use).
 */
export class AdaptiveAvgPool2d extends Layer {
  constructor(readonly outputSize: 1 = 1) {
    super();
    if (outputSize !== 1) throw new RangeError(`AdaptiveAvgPool2d supports output size 1 only, got ${String(outputSize)}`);
  }
  forward(x: tf.Tensor4D): tf.Tensor4D {
    return tf.mean(x, [1, 2], true);
  }
}

/**
 * Train mode's differentiable convolution of NHWC `x` with a torch-layout weight
 * `[out, in/groups, k, k]` and an optional bias `[out]`: our GEMM (the bias in it) or depthwise
 * kernel on the fast path, on the weight as it is; tfjs' conv2d / depthwiseConv2d otherwise.
 * `Conv2d.convolve` and `Linear` run it; QAT runs it on fake-quantized weights.
 */
export function conv2dTrain(x: tf.Tensor4D, w: tf.Tensor4D, g: ConvGeometry, bias?: tf.Tensor1D): tf.Tensor4D {
  const pad: tf.backend_util.ExplicitPadding = [[0, 0], [g.padding, g.padding], [g.padding, g.padding], [0, 0]];
  return tf.tidy(() => {
    let y: tf.Tensor4D;
    if (g.groups === 1) {
      // On the fast path our GEMM, as inference runs it, on torch's [out, in, kh, kw] weight as it
      // is (not for a few input channels: the stem); tfjs' conv2d takes it as [kh, kw, in, out].
      if (x.dtype === 'float32' && fastBackend() && (g.kernelSize === 1 || g.inChannels >= FEW_CHANNELS)) {
        const inputs: tf.NamedTensorMap = bias ? { x, filter: w, bias } : { x, filter: w };
        return runKernel<tf.Tensor4D>(Mnv3Conv2dTrain, inputs, { stride: g.stride, pad: g.padding, dilation: g.dilation, bias: bias !== undefined });
      } else {
        y = tf.conv2d(x, tf.transpose(w, [2, 3, 1, 0]) as tf.Tensor4D, g.stride, pad, 'NHWC', g.dilation);
      }
    } else if (g.groups === g.inChannels && g.groups === g.outChannels) {
      if (x.dtype === 'float32' && fastBackend()) {
        y = runKernel<tf.Tensor4D>(Mnv3DepthwiseConv2dTrain, { x, filter: w }, { stride: g.stride, pad: g.padding, dilation: g.dilation });
      } else {
        // [C, 1, kh, kw] → [kh, kw, C, 1]
        y = tf.depthwiseConv2d(x, tf.transpose(w, [2, 3, 0, 1]) as tf.Tensor4D, g.stride, pad, 'NHWC', g.dilation);
      }
    } else {
      const outPer = g.outChannels / g.groups;
      const xs = tf.split(x, g.groups, 3) as tf.Tensor4D[];
      const ws = tf.split(w, g.groups, 0);
      y = tf.concat(
        xs.map((xi, i) => tf.conv2d(xi, tf.transpose(ws[i]!, [2, 3, 1, 0]) as tf.Tensor4D, g.stride, pad, 'NHWC', g.dilation)),
        3,
      );
      if (y.shape[3] !== outPer * g.groups) throw new Error('grouped convolution produced the wrong channel count');
    }
    return bias ? tf.add(y, bias) : y;
  });
}
