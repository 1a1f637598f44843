// Quantization-aware training on tfjs (`@mnv3/quantize/qat`), torch 1.13's arithmetic:
// ↔ aten/src/ATen/native/quantized/cpu/fused_obs_fake_quant.cpp (`fused_moving_avg_obs_fake_quant`:
//   moving-average min / max, then ChooseQuantizationParams of quant_utils.h, then the fake quant
//   of fake_quant_per_tensor_affine.cpp with its straight-through mask),
// ↔ torch/ao/quantization/fake_quantize.py (FusedMovingAvgObsFakeQuantize, FixedQParamsFakeQuantize,
//   the enable / disable apply-functions), torch/ao/nn/intrinsic/qat/modules/conv_fused.py
//   (ConvBn2d._forward_approximate, ConvBnReLU2d, ConvReLU2d, freeze_bn_stats), torch/ao/nn/qat
//   (Conv2d, Linear), torchvision/models/quantization/mobilenetv3.py (forward, fuse_model(is_qat=True)
//   + prepare_qat).
// Observer state lives in tf.Variables, updated by tf ops or, on the wasm backend, by one fused
// kernel per fake quant (fake-quant-kernel.ts): a step never waits for the device.
import * as tf from '@tensorflow/tfjs-core';
import { activateTrain, batchNormTrain, conv2dTrain } from '@mnv3/layers/train';
import { type Module, type Rng, StateDictError, bernoulliMask, globalAvgPool, seededRng } from '@mnv3/layers';
import { type MobileNetV3Arch, type MobileNetV3, mobilenetV3Conf } from '@mnv3/backbone';
import type { HostTensor, StateDict } from '@mnv3/io';
import { QuantizationError } from './errors.js';
import { type MobileNetV3Config, QuantizableInvertedResidual, QuantizableMobileNetV3, QuantizableSqueezeExcitation, floatModelConfig } from './mobilenet-v3.js';
import { Mnv3FusedObsFakeQuant, SMALL_SCALE_THRESHOLD, fusedKernelAvailable, registerFakeQuantKernel } from './fake-quant-kernel.js';
import { FLOAT32_EPS } from './observer.js';
import type { Container, Observed, ObservedHardsigmoid, QatConv2d, QatLinear } from './qat.js';
import { ConvBn2d, FixedQParamsFakeQuantize, FusedMovingAvgObsFakeQuantize } from './qat.js';
import { convert } from './quantize.js';
import type { QuantizedMobileNetV3 } from './quantized.js';
import { WasmQuantizedMobileNetV3 } from './wasm-engine.js';

/** MovingAverageMinMaxObserver's `averaging_constant` in the default QAT qconfig. */
export const AVERAGING_CONSTANT = 0.01;

/** quint8 activations (affine, 0..255) and qint8 weights (per-tensor symmetric, −128..127). */
export interface FakeQuantRange {
  qmin: number;
  qmax: number;
  symmetric: boolean;
}
export const ACTIVATION_RANGE: FakeQuantRange = { qmin: 0, qmax: 255, symmetric: false };
export const WEIGHT_RANGE: FakeQuantRange = { qmin: -128, qmax: 127, symmetric: true };

// ---------------------------------------------------------------------------------------------
// The ops.

/**
 * `torch.fake_quantize_per_tensor_affine` with tensor qparams: `(clamp(rint(x · (1/scale)) + zp,
 * qmin, qmax) − zp) · scale` in float32, with torch's straight-through gradient: `dy` where the
 * unclamped level lies in [qmin, qmax], 0 elsewhere (nothing flows to scale or zero point).
 */
export function fakeQuantize<T extends tf.Tensor>(x: T, scale: tf.Tensor, zeroPoint: tf.Tensor, qmin: number, qmax: number): T {
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [input, save] = args as [tf.Tensor, tf.GradSaveFunc];
    const [y, mask] = tf.tidy(() => {
      // The reciprocal first, as torch (`inv_scale = 1.0f / sc`); tfjs' round is half to even, as nearbyint.
      const q = tf.add(tf.round(tf.mul(input, tf.div(1, scale))), zeroPoint);
      const out = tf.mul(tf.sub(tf.clipByValue(q, qmin, qmax), zeroPoint), scale);
      return [out, tf.cast(tf.logicalAnd(tf.greaterEqual(q, qmin), tf.lessEqual(q, qmax)), 'float32')];
    });
    save([mask!]);
    return { value: y!, gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(dy, saved[0]!) };
  });
  return f(x) as T;
}

/**
 * quant_utils.h's `ChooseQuantizationParams(min, max, qmin, qmax, preserve_sparsity = symmetric)`
 * (what the fused op writes into `scale` / `zero_point` during training; `convert` uses the Python
 * observer's `calculate_qparams` instead): [min, max] widened to hold 0, symmetric ranges made
 * symmetric, the zero point chosen from the end with the smaller error and nudged to an integer.
 * torch computes in double and rounds the scale to float; this runs in float32 (tfjs has no float64),
 * which can differ from torch's scale in the last bit. The wasm backend runs the fused kernel instead
 * (fake-quant-kernel.ts), whose qparams are torch's exactly.
 */
export function chooseQParams(min: tf.Tensor, max: tf.Tensor, r: FakeQuantRange): { scale: tf.Tensor1D; zeroPoint: tf.Tensor1D } {
  return tf.tidy(() => {
    const { qmin, qmax } = r;
    let lo = tf.reshape(min, [1]);
    let hi = tf.reshape(max, [1]);
    const straddles = tf.logicalAnd(tf.less(lo, 0), tf.greater(hi, 0));
    if (r.symmetric) {
      const symQmin = -(Math.floor((qmax - qmin) / 2) + 1);
      const symQmax = Math.floor((qmax - qmin) / 2);
      const maxScale = tf.maximum(tf.abs(tf.div(lo, symQmin)), tf.abs(tf.div(hi, symQmax)));
      lo = tf.where(straddles, tf.mul(maxScale, symQmin), lo);
      hi = tf.where(straddles, tf.mul(maxScale, symQmax), hi);
    }
    lo = tf.minimum(lo, 0);
    hi = tf.maximum(hi, 0);
    let scale = tf.div(tf.sub(hi, lo), qmax - qmin);
    // A zero scale, or one whose reciprocal overflows, becomes 0.1.
    scale = tf.where(tf.logicalOr(tf.equal(scale, 0), tf.isInf(tf.div(1, scale))), tf.fill([1], 0.1), scale);
    // Scales below the threshold are raised to it, the range widened to match.
    const small = tf.less(scale, SMALL_SCALE_THRESHOLD);
    const amplifier = tf.div(SMALL_SCALE_THRESHOLD, scale);
    const span = SMALL_SCALE_THRESHOLD * (qmax - qmin);
    const loZero = tf.equal(lo, 0);
    const hiZero = tf.equal(hi, 0);
    const lo2 = tf.where(small, tf.where(loZero, lo, tf.where(hiZero, tf.fill([1], -span), tf.mul(lo, amplifier))), lo);
    const hi2 = tf.where(small, tf.where(loZero, tf.fill([1], span), tf.where(hiZero, hi, tf.mul(hi, amplifier))), hi);
    scale = tf.where(small, tf.fill([1], SMALL_SCALE_THRESHOLD), scale);
    const fromMin = tf.sub(qmin, tf.div(lo2, scale));
    const fromMax = tf.sub(qmax, tf.div(hi2, scale));
    const errMin = tf.sub(Math.abs(qmin), tf.abs(tf.div(lo2, scale)));
    const errMax = tf.sub(Math.abs(qmax), tf.abs(tf.div(hi2, scale)));
    let initial = tf.where(tf.less(errMin, errMax), fromMin, fromMax);
    if (r.symmetric) initial = tf.where(straddles, tf.fill([1], (qmin + qmax) / 2), initial);
    const zeroPoint = tf.where(tf.less(initial, qmin), tf.fill([1], qmin), tf.where(tf.greater(initial, qmax), tf.fill([1], qmax), tf.round(initial)));
    // + 0: nearbyint(−0.5) is −0, stored as the int 0.
    return { scale: scale as tf.Tensor1D, zeroPoint: tf.add(zeroPoint, 0) as tf.Tensor1D };
  });
}

/** The variables of a fused fake quant (train mode): `min_val`, `max_val`, `scale`, `zero_point`. */
function fqVariables(m: FusedMovingAvgObsFakeQuantize): { min: tf.Variable; max: tf.Variable; scale: tf.Variable; zeroPoint: tf.Variable } {
  const min = m.observer.minVal.variable;
  const max = m.observer.maxVal.variable;
  const scale = m.scale.variable;
  const zeroPoint = m.zeroPoint.variable;
  if (!min || !max || !scale || !zeroPoint) throw new Error('the QAT model runs on its variables: call train() (or eval()) on the QatMobileNetV3 first');
  return { min, max, scale, zeroPoint };
}

/**
 * `FusedMovingAvgObsFakeQuantize.forward` (`torch.fused_moving_avg_obs_fake_quant`): with the
 * observer on, the running min / max move towards the batch's (the first batch sets them); with
 * fake quant on, scale and zero point are chosen from them and `x` is fake-quantized, else `x`
 * passes unchanged. Runs in eval mode too, as torch's does (only the flags stop it).
 */
export function fusedObserveFakeQuantize<T extends tf.Tensor>(m: FusedMovingAvgObsFakeQuantize, x: T, r: FakeQuantRange): T {
  const v = fqVariables(m);
  if (fusedKernelAvailable()) return fusedKernel(v, x, m.observerEnabled.value[0] !== 0, m.fakeQuantEnabled.value[0] !== 0, r);
  return fusedOps(v, m, x, r);
}

/** The fused kernel (wasm backend): one pass, torch's double-precision qparams; gradient `dy · mask`. */
function fusedKernel<T extends tf.Tensor>(v: ReturnType<typeof fqVariables>, x: T, observe: boolean, fakeQuant: boolean, r: FakeQuantRange): T {
  registerFakeQuantKernel();
  const attrs = { observe, fakeQuant, qmin: r.qmin, qmax: r.qmax, symmetric: r.symmetric, averagingConstant: AVERAGING_CONSTANT };
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [input, save] = args as [tf.Tensor, tf.GradSaveFunc];
    const [y, mask, lo, hi, scale, zeroPoint] = tf.engine().runKernel(Mnv3FusedObsFakeQuant, { x: input, min: v.min, max: v.max, scale: v.scale, zeroPoint: v.zeroPoint }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
    v.min.assign(lo!);
    v.max.assign(hi!);
    v.scale.assign(scale!);
    v.zeroPoint.assign(zeroPoint!);
    tf.dispose([lo!, hi!, scale!, zeroPoint!]);
    save([mask!]);
    return { value: y!, gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(dy, saved[0]!) };
  });
  return f(x) as T;
}

/** The same with tf ops (any backend; qparams in float32, see chooseQParams). */
function fusedOps<T extends tf.Tensor>(v: ReturnType<typeof fqVariables>, m: FusedMovingAvgObsFakeQuantize, x: T, r: FakeQuantRange): T {
  if (m.observerEnabled.value[0] !== 0) {
    tf.tidy(() => {
      const c = tf.scalar(AVERAGING_CONSTANT);
      const step = (running: tf.Variable, current: tf.Tensor) => tf.where(tf.isInf(running), current, tf.add(running, tf.mul(c, tf.sub(current, running))));
      const curMin = tf.min(x);
      const curMax = tf.max(x);
      v.min.assign(step(v.min, curMin));
      v.max.assign(step(v.max, curMax));
    });
  }
  if (m.fakeQuantEnabled.value[0] === 0) return x;
  return tf.tidy(() => {
    const { scale, zeroPoint } = chooseQParams(v.min, v.max, r);
    v.scale.assign(scale);
    v.zeroPoint.assign(zeroPoint);
    return fakeQuantize(x, scale, zeroPoint, r.qmin, r.qmax);
  });
}

/** `FixedQParamsFakeQuantize.forward` (hardsigmoid's output: scale 1/256, zero point 0, 0..255). */
export function fixedFakeQuantize<T extends tf.Tensor>(m: FixedQParamsFakeQuantize, x: T): T {
  if (m.fakeQuantEnabled.value[0] === 0) return x;
  return tf.tidy(() => fakeQuantize(x, tf.scalar(m.scale.value[0]!), tf.scalar(m.zeroPoint.value[0]!), 0, 255));
}

// ---------------------------------------------------------------------------------------------
// The modules' QAT forwards.

function variable(p: { variable: tf.Variable | null }): tf.Tensor {
  if (!p.variable) throw new Error('the QAT model runs on its variables: call train() (or eval()) on the QatMobileNetV3 first');
  return p.variable;
}

/**
 * `ConvBn2d._forward_approximate` (+ ReLU for ConvBnReLU2d), then the output fake quant: the weight
 * scaled by `bn.weight / running_std` and fake-quantized, the conv with zero bias divided back by
 * that factor, then BatchNorm: batch statistics in training (running ones updated with momentum
 * 0.01 and the unbiased variance) unless frozen, the running statistics otherwise.
 */
function convBnForward(m: ConvBn2d, x: tf.Tensor4D, training: boolean): tf.Tensor4D {
  const bn = m.bn;
  const [gamma, beta, rm, rv] = [bn.weight, bn.bias, bn.runningMean, bn.runningVar].map(variable) as tf.Tensor1D[];
  const act = m.relu ? 'relu' : null;
  const batchStats = training && !m.freezeBn;
  let tracked = 0;
  if (batchStats) {
    const count = x.shape[0] * convOut(x.shape[1], m) * convOut(x.shape[2], m);
    if (count < 2) throw new RangeError(`Expected more than 1 value per channel when training, got input size [${x.shape.join(', ')}]`);
    const t = bn.numBatchesTracked.value;
    t[0] = t[0]! + 1;
    tracked = t[0]!;
  }
  const y = tf.tidy(() => {
    const scaleFactor = tf.div(gamma!, tf.sqrt(tf.add(rv!, bn.eps)));
    const scaled = fusedObserveFakeQuantize(m.weightFakeQuant, tf.mul(variable(m.weight), tf.reshape(scaleFactor, [-1, 1, 1, 1])), WEIGHT_RANGE);
    const convOrig = tf.div(conv2dTrain(x, scaled as tf.Tensor4D, m.geometry), scaleFactor) as tf.Tensor4D;
    if (batchStats) {
      const factor = bn.momentum ?? 1 / tracked;
      const n = convOrig.shape[0] * convOrig.shape[1] * convOrig.shape[2];
      const { y: out, mean, variance } = batchNormTrain(convOrig, gamma!, beta!, bn.eps, act);
      // Running statistics: outside the gradient (they do not lead to the loss).
      bn.runningMean.variable!.assign(tf.add(tf.mul(rm!, 1 - factor), tf.mul(mean, factor)));
      bn.runningVar.variable!.assign(tf.add(tf.mul(rv!, 1 - factor), tf.mul(variance, (factor * n) / (n - 1))));
      return out;
    }
    // torch's batch_norm in eval: x·α + (β − mean·α), α = weight / sqrt(var + eps).
    const alpha = tf.mul(gamma!, tf.rsqrt(tf.add(rv!, bn.eps)));
    return activateTrain(tf.add(tf.mul(convOrig, alpha), tf.sub(beta!, tf.mul(rm!, alpha))), act) as tf.Tensor4D;
  });
  return fusedObserveFakeQuantize(m.activationPostProcess, y, ACTIVATION_RANGE);
}

function convOut(size: number, m: ConvBn2d): number {
  const g = m.geometry;
  return Math.floor((size + 2 * g.padding - g.dilation * (g.kernelSize - 1) - 1) / g.stride) + 1;
}

/** `nnqat.Conv2d` / `nniqat.ConvReLU2d` on a pooled `[N, C]` map (1×1, so a matrix product), then the output fake quant. */
function qatConv1x1Forward(m: QatConv2d, x: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const g = m.geometry;
    const w = fusedObserveFakeQuantize(m.weightFakeQuant, variable(m.weight), WEIGHT_RANGE);
    // As a 1×1 conv on a 1×1 map: the training GEMM kernel, faster here than tfjs' matMul and its gradient.
    const conv = conv2dTrain(tf.reshape(x, [x.shape[0], 1, 1, x.shape[1]]), w as tf.Tensor4D, g);
    let y = tf.add(tf.reshape(conv, [x.shape[0], g.outChannels]), variable(m.bias)) as tf.Tensor2D;
    if (m.relu) y = tf.relu(y);
    return fusedObserveFakeQuantize(m.activationPostProcess, y, ACTIVATION_RANGE);
  });
}

/** `nnqat.Linear`, then the output fake quant. */
function qatLinearForward(m: QatLinear, x: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const w = fusedObserveFakeQuantize(m.weightFakeQuant, variable(m.weight), WEIGHT_RANGE);
    return fusedObserveFakeQuantize(m.activationPostProcess, tf.add(tf.matMul(x, w, false, true), variable(m.bias)) as tf.Tensor2D, ACTIVATION_RANGE);
  });
}

function childNamed<M extends Module>(m: Module, name: string): M | undefined {
  return m.namedChildren().find(([n]) => n === name)?.[1] as M | undefined;
}

/** `Conv2dNormActivation` after fusion: ConvBn2d / ConvBnReLU2d at `0`, an observed Hardswish at `2`. */
function convNormActForward(c: Container, x: tf.Tensor4D, training: boolean): tf.Tensor4D {
  const y = convBnForward(childNamed<ConvBn2d>(c, '0')!, x, training);
  const hs = childNamed<Observed>(c, '2');
  return hs ? fusedObserveFakeQuantize(hs.activationPostProcess, activateTrain(y, 'hardswish'), ACTIVATION_RANGE) : y;
}

/** `QuantizableSqueezeExcitation.forward`: `skip_mul.mul(hardsigmoid(fc2(relu(fc1(avgpool(x))))), x)`. */
function seForward(se: QuantizableSqueezeExcitation, x: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const fc1 = childNamed<QatConv2d>(se, 'fc1')!;
    const fc2 = childNamed<QatConv2d>(se, 'fc2')!;
    const hs = childNamed<ObservedHardsigmoid>(se, 'scale_activation')!;
    const mul = childNamed<Observed>(se, 'skip_mul')!;
    const gate = fixedFakeQuantize(hs.activationPostProcess, activateTrain(qatConv1x1Forward(fc2, qatConv1x1Forward(fc1, globalAvgPool(x))), 'hardsigmoid'));
    return fusedObserveFakeQuantize(mul.activationPostProcess, tf.mul(x, tf.reshape(gate, [x.shape[0], 1, 1, x.shape[3]])) as tf.Tensor4D, ACTIVATION_RANGE);
  });
}

function blockForward(b: QuantizableInvertedResidual, x: tf.Tensor4D, training: boolean): tf.Tensor4D {
  return tf.tidy(() => {
    let y = x;
    for (const [, layer] of b.block.namedChildren()) {
      y = layer instanceof QuantizableSqueezeExcitation ? seForward(layer, y) : convNormActForward(layer as Container, y, training);
    }
    if (!b.spec.residual) return y;
    return fusedObserveFakeQuantize(childNamed<Observed>(b, 'skip_add')!.activationPostProcess, tf.add(x, y) as tf.Tensor4D, ACTIVATION_RANGE);
  });
}

// ---------------------------------------------------------------------------------------------
// The model.

/** `classifier[2]`: TorchVision's `nn.Dropout(p=0.2, inplace=True)`. */
const DROPOUT = 0.2;

/**
 * TorchVision's `QuantizableMobileNetV3` after `fuse_model(is_qat=True)` and `prepare_qat`, trainable:
 * `forward` runs the QAT graph on NHWC float input (differentiable; fake quants observe as they go),
 * `stateDict()` is torch's prepare_qat layout. Its weights and observer state live in tf.Variables
 * from `train()` (or `eval()`) on: `eval()` keeps them and only switches BatchNorm to its running
 * statistics and dropout off, as torch's `model.eval()` does (observers keep observing until
 * `disableObserver`). `release()` writes them back to the host and frees them.
 *
 * @example
 * import { prepareQat, disableObserver, freezeBnStats, convertQat } from '@mnv3/quantize/qat';
 * const qat = prepareQat(floatModel).train();
 * const { grads } = tf.variableGrads(() => crossEntropy(qat.forward(x), y), qat.parameters());
 * const int8 = await convertQat(qat); // QuantizedMobileNetV3
 */
export class QatMobileNetV3 extends QuantizableMobileNetV3 {
  /** torch's `model.training`: batch statistics and dropout. */
  qatTraining = false;
  /** Draws the classifier's dropout masks (seed it for reproducible runs). */
  rng: Rng = seededRng(0x9a7d0);
  /** `classifier[2].p` (TorchVision: 0.2). */
  dropout = DROPOUT;

  /** Train mode (`mode` false: eval mode); either way the variables are live. */
  override train(mode = true): this {
    super.train(true);
    for (const fq of fusedFakeQuants(this)) {
      // zero_point is int32 in torch: Module makes variables of float buffers only.
      if (!fq.zeroPoint.variable) fq.zeroPoint.variable = tf.variable(tf.tensor(fq.zeroPoint.value, [...fq.zeroPoint.shape], 'float32'), false);
    }
    this.qatTraining = mode;
    return this;
  }

  override eval(): this {
    return this.train(false);
  }

  /** Writes the variables back to the host weights and frees them (then `convert()` can read them). */
  release(): this {
    super.train(false);
    this.qatTraining = false;
    return this;
  }

  /**
   * Reads every variable into the host weights without blocking the thread (what `convert` reads;
   * `stateDict()` does the same synchronously).
   */
  async syncHost(): Promise<void> {
    for (const [, p] of this.namedStateEntries()) if (p.variable) p.data = new Float32Array((await p.variable.data()) as Float32Array);
  }

  /**
   * torch's prepare_qat `state_dict`, dtypes included (zero points int32, the fixed fake quant's
   * flags uint8, counters int64), so torch's `load_state_dict(strict=True)` takes it as it is.
   */
  override stateDict(): StateDict {
    const sd = super.stateDict();
    for (const [key, p] of this.namedStateEntries()) {
      const t = sd.get(key)!;
      if (p.dtype === 'int32') sd.set(key, { dtype: 'int32', shape: t.shape, data: Int32Array.from(p.value) });
      else if (p.dtype === 'uint8') sd.set(key, { dtype: 'uint8', shape: t.shape, data: Uint8Array.from(p.value) });
    }
    return sd;
  }

  /** The QAT forward: NHWC float32 images `[N, H, W, 3]` → logits `[N, classes]`. */
  forward(x: tf.Tensor4D): tf.Tensor2D {
    if (!this.observer().minVal.variable) throw new Error('QatMobileNetV3.forward: call train() or eval() first (the QAT model runs on tf.Variables)');
    const training = this.qatTraining;
    return tf.tidy(() => {
      let y = fusedObserveFakeQuantize(childNamed<Observed>(this, 'quant')!.activationPostProcess, x, ACTIVATION_RANGE);
      for (const [, f] of this.features.namedChildren()) y = f instanceof QuantizableInvertedResidual ? blockForward(f, y, training) : convNormActForward(f as Container, y, training);
      const cls = this.classifier;
      let h = qatLinearForward(childNamed<QatLinear>(cls, '0')!, globalAvgPool(y));
      h = fusedObserveFakeQuantize(childNamed<Observed>(cls, '1')!.activationPostProcess, activateTrain(h, 'hardswish'), ACTIVATION_RANGE);
      if (training && this.dropout > 0) h = tf.mul(h, tf.tensor(bernoulliMask(this.rng, h.shape, this.dropout), h.shape));
      return qatLinearForward(childNamed<QatLinear>(cls, '3')!, h);
    });
  }

  private observer() {
    return childNamed<Observed>(this, 'quant')!.activationPostProcess.observer;
  }
}

function* fakeQuants(m: Module): Generator<FusedMovingAvgObsFakeQuantize | FixedQParamsFakeQuantize> {
  if (m instanceof FusedMovingAvgObsFakeQuantize || m instanceof FixedQParamsFakeQuantize) yield m;
  for (const [, c] of m.namedChildren()) yield* fakeQuants(c);
}

function* fusedFakeQuants(m: Module): Generator<FusedMovingAvgObsFakeQuantize> {
  for (const fq of fakeQuants(m)) if (fq instanceof FusedMovingAvgObsFakeQuantize) yield fq;
}

function* convBns(m: Module): Generator<ConvBn2d> {
  if (m instanceof ConvBn2d) yield m;
  for (const [, c] of m.namedChildren()) yield* convBns(c);
}

// ---------------------------------------------------------------------------------------------
// torch.ao.quantization's apply-functions (`model.apply(torch.ao.quantization.disable_observer)`).

/** `enable_observer` on every fake quant (`enabled` false: `disable_observer`). */
export function enableObserver(model: Module, enabled = true): void {
  for (const fq of fakeQuants(model)) fq.observerEnabled.value[0] = enabled ? 1 : 0;
}

/** `disable_observer`: scales and zero points stay where they are. */
export function disableObserver(model: Module): void {
  enableObserver(model, false);
}

/** `enable_fake_quant` on every fake quant (`enabled` false: `disable_fake_quant`, the float model). */
export function enableFakeQuant(model: Module, enabled = true): void {
  for (const fq of fakeQuants(model)) fq.fakeQuantEnabled.value[0] = enabled ? 1 : 0;
}

export function disableFakeQuant(model: Module): void {
  enableFakeQuant(model, false);
}

/** `torch.nn.intrinsic.qat.freeze_bn_stats`: every ConvBn normalises with (and keeps) its running statistics. */
export function freezeBnStats(model: Module): void {
  for (const m of convBns(model)) m.freezeBn = true;
}

/** `update_bn_stats`: back to batch statistics in train mode. */
export function updateBnStats(model: Module): void {
  for (const m of convBns(model)) m.freezeBn = false;
}

// ---------------------------------------------------------------------------------------------
// prepare_qat and convert.

const ARCHS: readonly MobileNetV3Arch[] = ['mobilenet_v3_large', 'mobilenet_v3_small'];

function hostTensor(dtype: 'float32' | 'int64' | 'int32' | 'uint8', shape: number[], v: number): HostTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  if (dtype === 'int64') return { dtype, shape, data: new BigInt64Array(n).fill(BigInt(v)) };
  if (dtype === 'int32') return { dtype, shape, data: new Int32Array(n).fill(v) };
  if (dtype === 'uint8') return { dtype, shape, data: new Uint8Array(n).fill(v) };
  return { dtype, shape, data: new Float32Array(n).fill(v) };
}

/** The architecture a float MobileNetV3 state dict has (by its feature count), if either. */
function archOf(sd: StateDict): { arch: MobileNetV3Arch | null; features: number } {
  let last = -1;
  for (const k of sd.keys()) {
    const m = /^features\.(\d+)\./.exec(k);
    if (m) last = Math.max(last, Number(m[1]));
  }
  const features = last + 1;
  const arch = ARCHS.find((a) => mobilenetV3Conf(a).settings.length + 2 === features) ?? null;
  return { arch, features };
}

export interface PrepareQatOptions {
  /** The float model's architecture (default: the layout of a model built by this package, else Large). */
  arch?: MobileNetV3Arch;
  /** Classes of the head (default: the checkpoint's `classifier.3.weight` rows). */
  numClasses?: number;
  /** The layout itself (e.g. a `widthMult` variant's `mobilenetV3Conf` settings); overrides `arch`. */
  config?: MobileNetV3Config;
}

/**
 * `QuantizableMobileNetV3.fuse_model(is_qat=True)` + `prepare_qat` with `get_default_qat_qconfig('qnnpack')`
 * from a float MobileNetV3 (this package's or @mnv3/backbone's model, or a float `state_dict`, e.g. a
 * train.py checkpoint's `model`): each conv + BatchNorm becomes a ConvBn2d / ConvBnReLU2d keeping
 * both (weights and running statistics as they are), SE's fc1 + ReLU a ConvReLU2d, and every
 * quantized output gets a fused observer + fake quant at its initial state (min +inf, max −inf,
 * scale 1, zero point 0, both enabled); Hardsigmoid a fixed 1/256 fake quant.
 *
 * @example const qat = prepareQat(readCheckpoint(bytes), { arch: 'mobilenet_v3_small' }).train();
 */
export function prepareQat(source: MobileNetV3 | StateDict, options: PrepareQatOptions = {}): QatMobileNetV3 {
  let sd: StateDict;
  let known: MobileNetV3Config | undefined;
  if (source instanceof Map) sd = source;
  else {
    known = floatModelConfig(source);
    sd = source.stateDict();
  }
  if ([...sd.keys()].some((k) => k.includes('activation_post_process') || k.includes('weight_fake_quant') || /\.bn\.running_mean$/.test(k))) {
    throw new QuantizationError(
      'invalid-option',
      'prepareQat takes a float MobileNetV3 (conv + BatchNorm keys such as features.0.0.weight, features.0.1.running_mean); this state dict is already QAT-prepared: ' +
        'load it with new QatMobileNetV3(config).loadStateDict(stateDict) to continue training, or convert() it',
    );
  }
  const found = archOf(sd);
  // The caller's arch, else the model's own layout, else what the checkpoint looks like.
  if (options.config) known = options.config;
  const arch = options.config ? null : (options.arch ?? (known ? null : (found.arch ?? 'mobilenet_v3_large')));
  const head = sd.get('classifier.3.weight');
  const numClasses = options.numClasses ?? options.config?.numClasses ?? head?.shape[0] ?? known?.numClasses ?? 1000;
  const config: MobileNetV3Config = arch ? { ...mobilenetV3Conf(arch), numClasses } : { ...known!, numClasses };
  const name = arch ?? ARCHS.find((a) => mobilenetV3Conf(a).settings.length === config.settings.length) ?? 'this architecture';
  if (found.features !== config.settings.length + 2) {
    throw new QuantizationError(
      'wrong-architecture',
      `prepareQat: the float checkpoint has ${found.features} feature blocks${found.arch ? `, so it is a ${found.arch}` : ''}, not a ${name} (${config.settings.length + 2}): ` +
        `pass arch: '${found.arch ?? 'mobilenet_v3_large'}' (one of ${ARCHS.join(', ')}) or a ${name} checkpoint`,
    );
  }
  const model = new QatMobileNetV3(config);
  const full: StateDict = new Map();
  const used = new Set<string>();
  for (const [key, p] of model.namedStateEntries()) {
    // features.….0.bn.* (ConvBn2d) ← features.….1.* (the float BatchNorm2d); other parameters keep their keys.
    const bn = /^(.*)\.0\.bn\.(.*)$/.exec(key);
    const from = bn ? `${bn[1]}.1.${bn[2]}` : key;
    const t = sd.get(from);
    if (t) {
      full.set(key, t);
      used.add(from);
      continue;
    }
    const leaf = key.slice(key.lastIndexOf('.') + 1);
    const fixed = key.includes('scale_activation');
    const shape = [...p.shape];
    const init: Record<string, () => HostTensor> = {
      fake_quant_enabled: () => hostTensor(fixed ? 'uint8' : 'int64', shape, 1),
      observer_enabled: () => hostTensor(fixed ? 'uint8' : 'int64', shape, 1),
      scale: () => hostTensor('float32', shape, fixed ? 1 / 256 : 1),
      zero_point: () => hostTensor('int32', shape, 0),
      eps: () => hostTensor('float32', shape, FLOAT32_EPS),
      min_val: () => hostTensor('float32', shape, Infinity),
      max_val: () => hostTensor('float32', shape, -Infinity),
    };
    if (!(key.includes('activation_post_process') || key.includes('weight_fake_quant')) || !init[leaf]) continue; // reported as missing below
    full.set(key, init[leaf]());
  }
  const unused = [...sd.keys()].filter((k) => !used.has(k));
  try {
    if (unused.length) throw new StateDictError([], unused, []);
    model.loadStateDict(full);
  } catch (e) {
    if (e instanceof StateDictError) {
      throw new QuantizationError(
        'wrong-architecture',
        `prepareQat: the float checkpoint does not fit ${name} with ${numClasses} classes (${[...e.missingKeys.map((k) => `missing ${k}`), ...e.unexpectedKeys.map((k) => `unexpected ${k}`), ...e.shapeMismatches.map((m) => `${m.key} is [${m.actual.join(', ')}], expected [${m.expected.join(', ')}]`)].slice(0, 4).join('; ')}): ` +
          `pass the arch (${ARCHS.join(', ')}) and numClasses the checkpoint was trained with`,
        e,
      );
    }
    throw e;
  }
  return model;
}

/**
 * `torch.ao.quantization.convert` of a trained QAT model (qnnpack): its variables read back without
 * blocking, then the existing conversion (BatchNorm folded, weights quantized, activations by their
 * observers' `calculate_qparams`). Refuses a model whose observers never saw data.
 */
export async function convertQat(model: QatMobileNetV3): Promise<QuantizedMobileNetV3> {
  await model.syncHost();
  return convert(model);
}

/** {@link convertQat} on the int8 WASM SIMD engine (null off the wasm backend). */
export async function convertQatWasm(model: QatMobileNetV3): Promise<WasmQuantizedMobileNetV3 | null> {
  return WasmQuantizedMobileNetV3.create(await convertQat(model));
}
