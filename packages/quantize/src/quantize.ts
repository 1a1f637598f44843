// torch/ao/quantization/quantize.py: `prepare` (observers on a fused float model, post-training
// quantization), calibration, and `convert` (QAT-prepared or calibrated model → integer model),
// with the weight and activation arithmetic of torch's `from_float` conversions.
import type { Module } from '@mnv3/layers';
import type { MobileNetV3 } from '@mnv3/backbone';
import { QuantizationError } from './errors.js';
import { fuseConvBnWeights } from './fuse.js';
import { type MobileNetV3Config, QuantizableMobileNetV3, assembleQuantized, floatModelConfig, observedPaths } from './mobilenet-v3.js';
import { HistogramObserver, MinMaxObserver, aminmax, calculateQParams, movingAverage, observed } from './observer.js';
import { type ConvGeometry, type QParams, convOutputSize, rint } from './qnnpack.js';
import { ConvBn2d, type FusedMovingAvgObsFakeQuantize, Observed, type QatWeighted } from './qat.js';
import type { QuantizedMobileNetV3, QuantizedWeights } from './quantized.js';

const f32 = Math.fround;

/** `torch.quantize_per_tensor(w, scale, 0, torch.qint8)`: round half to even of `w × (1.0f / scale)`. */
export function quantizeWeight(w: Float32Array, scale: number): Int8Array {
  const inv = f32(1 / f32(scale));
  const out = new Int8Array(w.length);
  for (let i = 0; i < w.length; i++) {
    const q = rint(f32(w[i]! * inv));
    out[i] = q < -128 ? -128 : q > 127 ? 127 : q;
  }
  return out;
}

function child(root: Module, path: string): Module {
  let m = root;
  for (const part of path.split('.')) {
    const next = m.namedChildren().find(([n]) => n === part)?.[1];
    if (!next) throw new Error(`no module ${path} (missing ${part})`);
    m = next;
  }
  return m;
}

function observerOf(m: Module): FusedMovingAvgObsFakeQuantize {
  if (m instanceof Observed) return m.activationPostProcess;
  return (m as QatWeighted).activationPostProcess;
}

/**
 * `convert` of a QAT-prepared model whose checkpoint is loaded: BatchNorm folded into each conv
 * (`fuse_conv_bn_weights`), each weight fake-quant run once more on it when its observer is enabled
 * (as `from_float` does), weights quantized per tensor symmetric (int8), activations given the scale
 * and zero point of their observers' min / max.
 */
function convertQat(model: QuantizableMobileNetV3): QuantizedMobileNetV3 {
  const { weighted, activations } = observedPaths(model.config);
  const unobserved: string[] = [];
  const check = (path: string, fq: FusedMovingAvgObsFakeQuantize) => {
    const [lo, hi] = fq.minMax;
    if (!observed(lo, hi)) unobserved.push(path);
  };
  for (const w of weighted) {
    const m = child(model, w.path) as QatWeighted;
    check(`${w.path}.weight_fake_quant`, m.weightFakeQuant);
    check(`${w.path}.activation_post_process`, m.activationPostProcess);
  }
  for (const a of activations) check(`${a}.activation_post_process`, observerOf(child(model, a)));
  if (unobserved.length) {
    throw new QuantizationError(
      'unobserved',
      `${unobserved.length} observer(s) of the checkpoint never ran (min +inf, max -inf: torch would silently use scale 1, zero point 0), ` +
        `e.g. ${unobserved.slice(0, 3).join(', ')}: the checkpoint was saved right after prepare_qat. Pass a QAT checkpoint whose ` +
        'observers ran during training (IMAGENET1K_QNNPACK_V1), or quantize a float model with prepare() + calibration + convert()',
    );
  }
  const weights = new Map<string, QuantizedWeights>();
  for (const w of weighted) {
    const m = child(model, w.path) as QatWeighted;
    let weight = m.weight.value;
    let bias: Float32Array;
    if (m instanceof ConvBn2d) {
      const bn = m.bn;
      ({ weight, bias } = fuseConvBnWeights(weight, null, {
        weight: bn.weight.value,
        bias: bn.bias.value,
        runningMean: bn.runningMean.value,
        runningVar: bn.runningVar.value,
        eps: bn.eps,
      }));
    } else {
      bias = (m as unknown as { bias: { value: Float32Array } }).bias.value;
    }
    const wfq = m.weightFakeQuant;
    let [lo, hi] = wfq.minMax;
    if (wfq.observerEnabled.value[0] === 1) {
      const [cLo, cHi] = aminmax(weight);
      // fused_moving_avg_obs_fake_quant: the first observation takes the values as they are.
      lo = lo === Infinity || lo === -Infinity ? cLo : movingAverage(lo, cLo, 0.01);
      hi = hi === Infinity || hi === -Infinity ? cHi : movingAverage(hi, cHi, 0.01);
    }
    const wq = calculateQParams(lo, hi, 'qint8', 'per_tensor_symmetric');
    const out = calculateQParams(...m.activationPostProcess.minMax);
    weights.set(w.path, { weight: quantizeWeight(weight, wq.scale), weightShape: [...m.weight.shape], weightScale: wq.scale, bias: new Float32Array(bias), ...out });
  }
  const qparams = new Map<string, QParams>(activations.map((a) => [a, calculateQParams(...observerOf(child(model, a)).minMax)]));
  return assembleQuantized(model.config, {
    weights: (p) => weights.get(p)!,
    qparams: (p) => qparams.get(p)!,
  });
}

// ---------------------------------------------------------------------------------------------
// Post-training quantization: prepare, calibrate, convert.

interface FloatConv {
  path: string;
  /** Fused float32 weight, OHWI. */
  weight: Float32Array;
  /** Fused float32 weight, torch's layout (OIHW / [out, in]), for conversion. */
  weightTorch: Float32Array;
  weightShape: number[];
  bias: Float32Array;
  geometry: ConvGeometry;
  relu: boolean;
}

function toOhwi(w: Float32Array, shape: readonly number[]): Float32Array {
  const [o, i, kh, kw] = shape as [number, number, number, number];
  const out = new Float32Array(w.length);
  for (let a = 0; a < o; a++) for (let b = 0; b < i; b++) for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) out[((a * kh + y) * kw + x) * i + b] = w[((a * i + b) * kh + y) * kw + x]!;
  return out;
}

interface FMap {
  data: Float32Array;
  shape: [number, number, number, number];
}

function floatConv(x: FMap, c: FloatConv): FMap {
  const [n, h, w, cin] = x.shape;
  const g = c.geometry;
  const oh = convOutputSize(h, g);
  const ow = convOutputSize(w, g);
  const oc = g.outChannels;
  const k = g.kernelSize;
  const cg = cin / g.groups;
  const ocg = oc / g.groups;
  const y = new Float32Array(n * oh * ow * oc);
  const acc = new Float64Array(oc);
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        acc.set(c.bias);
        for (let ky = 0; ky < k; ky++) {
          const iy = oy * g.stride - g.padding + ky * g.dilation;
          if (iy < 0 || iy >= h) continue;
          for (let kx = 0; kx < k; kx++) {
            const ix = ox * g.stride - g.padding + kx * g.dilation;
            if (ix < 0 || ix >= w) continue;
            const base = ((b * h + iy) * w + ix) * cin;
            const tap = ky * k + kx;
            for (let o = 0; o < oc; o++) {
              const xb = base + ((o / ocg) | 0) * cg;
              const wb = (o * k * k + tap) * cg;
              let a = 0;
              for (let i = 0; i < cg; i++) a += x.data[xb + i]! * c.weight[wb + i]!;
              acc[o]! += a;
            }
          }
        }
        const ob = ((b * oh + oy) * ow + ox) * oc;
        for (let o = 0; o < oc; o++) {
          const v = f32(acc[o]!);
          y[ob + o] = c.relu && v < 0 ? 0 : v;
        }
      }
    }
  }
  return { data: y, shape: [n, oh, ow, oc] };
}

function hardswishF(x: Float32Array): Float32Array {
  return x.map((v) => f32(f32(v * Math.min(Math.max(f32(v + 3), 0), 6)) / 6));
}

function hardsigmoidF(x: Float32Array): Float32Array {
  return x.map((v) => f32(Math.min(Math.max(f32(v + 3), 0), 6) / 6));
}

/**
 * A float MobileNetV3 prepared for post-training quantization as TorchVision's reference script
 * does (`fuse_model()` in eval mode, `get_default_qconfig('qnnpack')`, `prepare`): BatchNorm folded,
 * a `HistogramObserver` on every quantized op's output. Feed it calibration batches with
 * `observe()`, then `convert()` it.
 */
export class ObservedMobileNetV3 {
  /** Each observed output by TorchVision module name (`features.1.block.0.0`, `quant`, …). */
  readonly observers = new Map<string, HistogramObserver>();
  private readonly convs = new Map<string, FloatConv>();
  constructor(readonly config: MobileNetV3Config, floatState: Map<string, Float32Array>, shapes: Map<string, number[]>) {
    const { weighted, activations } = observedPaths(config);
    for (const w of weighted) {
      // features.i[.block.j].0 in the quantized model is features.i[.block.j].0 (conv) + .1 (bn) in the float one.
      const isConvBn = w.path.startsWith('features') && w.path.endsWith('.0');
      const base = isConvBn ? w.path.slice(0, -2) : w.path;
      const key = isConvBn ? `${base}.0.weight` : `${w.path}.weight`;
      const raw = floatState.get(key);
      const shape = shapes.get(key);
      if (!raw || !shape) throw new QuantizationError('invalid-option', `prepare: the float model has no ${key}`);
      let weight = raw;
      let bias = floatState.get(`${w.path}.bias`) ?? new Float32Array(shape[0]!);
      if (isConvBn) {
        const bn = (k: string) => floatState.get(`${base}.1.${k}`)!;
        ({ weight, bias } = fuseConvBnWeights(raw, null, { weight: bn('weight'), bias: bn('bias'), runningMean: bn('running_mean'), runningVar: bn('running_var'), eps: 0.001 }));
      }
      const geometry = w.geometry ?? { inChannels: shape[1]!, outChannels: shape[0]!, kernelSize: 1, stride: 1, padding: 0, dilation: 1, groups: 1 };
      const shape4 = shape.length === 2 ? [shape[0]!, shape[1]!, 1, 1] : shape;
      this.convs.set(w.path, { path: w.path, weight: toOhwi(weight, shape4), weightTorch: weight, weightShape: shape, bias, geometry, relu: w.relu });
      this.observers.set(w.path, new HistogramObserver());
    }
    for (const a of activations) this.observers.set(a, new HistogramObserver());
  }

  private run(path: string, x: FMap): FMap {
    const y = floatConv(x, this.convs.get(path)!);
    this.observers.get(path)!.observe(y.data);
    return y;
  }

  private act(path: string, x: FMap, fn: (v: Float32Array) => Float32Array): FMap {
    const y = { data: fn(x.data), shape: x.shape };
    this.observers.get(path)!.observe(y.data);
    return y;
  }

  /**
   * Runs one calibration batch (float32 NHWC `[N, H, W, 3]`) through the float model, updating
   * every observer, as `model(batch)` on torch's prepared model.
   */
  observe(x: Float32Array, shape: readonly [number, number, number, number]): void {
    this.observers.get('quant')!.observe(x);
    let y: FMap = { data: x, shape: [...shape] };
    const { settings } = this.config;
    const convAct = (path: string, hs: boolean, input: FMap) => {
      const c = this.run(`${path}.0`, input);
      return hs ? this.act(`${path}.2`, c, hardswishF) : c;
    };
    y = convAct('features.0', true, y);
    settings.forEach((cnf, i) => {
      const path = `features.${i + 1}`;
      const hs = cnf.activation === 'HS';
      const input = y;
      let j = 0;
      let z = y;
      if (cnf.expandedChannels !== cnf.inputChannels) z = convAct(`${path}.block.${j++}`, hs, z);
      z = convAct(`${path}.block.${j++}`, hs, z);
      if (cnf.useSe) {
        const se = `${path}.block.${j++}`;
        const [n, h, w, c] = z.shape;
        const pooled = new Float32Array(n * c);
        for (let b = 0; b < n; b++) {
          for (let ch = 0; ch < c; ch++) {
            let s = 0;
            for (let p = 0; p < h * w; p++) s += z.data[(b * h * w + p) * c + ch]!;
            pooled[b * c + ch] = f32(s / (h * w));
          }
        }
        const s1 = this.run(`${se}.fc1`, { data: pooled, shape: [n, 1, 1, c] });
        const s2 = this.run(`${se}.fc2`, s1);
        const scale = hardsigmoidF(s2.data);
        z = this.act(`${se}.skip_mul`, z, (v) => v.map((t, idx) => f32(scale[Math.floor(idx / (h * w * c)) * c + (idx % c)]! * t)));
      }
      z = convAct(`${path}.block.${j++}`, false, z);
      if (cnf.stride === 1 && cnf.inputChannels === cnf.outChannels) z = this.act(`${path}.skip_add`, z, (v) => v.map((t, idx) => f32(input.data[idx]! + t)));
      y = z;
    });
    y = convAct(`features.${settings.length + 1}`, true, y);
    const [n, h, w, c] = y.shape;
    const pooled = new Float32Array(n * c);
    for (let b = 0; b < n; b++) {
      for (let ch = 0; ch < c; ch++) {
        let s = 0;
        for (let p = 0; p < h * w; p++) s += y.data[(b * h * w + p) * c + ch]!;
        pooled[b * c + ch] = f32(s / (h * w));
      }
    }
    let cls = this.run('classifier.0', { data: pooled, shape: [n, 1, 1, c] });
    cls = this.act('classifier.1', cls, hardswishF);
    this.run('classifier.3', cls);
  }

  /** `convert`: weights by a per-tensor symmetric MinMaxObserver (qint8), activations by their observers. */
  convert(): QuantizedMobileNetV3 {
    const unobserved = [...this.observers].filter(([, o]) => !observed(o.minVal, o.maxVal)).map(([p]) => p);
    if (unobserved.length) {
      throw new QuantizationError('unobserved', `${unobserved.length} observer(s) saw no data (e.g. ${unobserved.slice(0, 3).join(', ')}): call observe() with calibration batches before convert()`);
    }
    const weights = new Map<string, QuantizedWeights>();
    for (const [path, c] of this.convs) {
      const wo = new MinMaxObserver({ dtype: 'qint8', qscheme: 'per_tensor_symmetric' });
      wo.observe(c.weightTorch);
      const wq = wo.calculateQParams();
      weights.set(path, { weight: quantizeWeight(c.weightTorch, wq.scale), weightShape: c.weightShape, weightScale: wq.scale, bias: c.bias, ...this.observers.get(path)!.calculateQParams() });
    }
    return assembleQuantized(this.config, {
      weights: (p) => weights.get(p)!,
      qparams: (p) => this.observers.get(p)!.calculateQParams(),
    });
  }
}

/**
 * `torch.ao.quantization.prepare` for post-training quantization of a float MobileNetV3 (built by
 * this package's `mobilenetV3Large/Small({ quantize: false })`, float weights loaded).
 *
 * @example
 * const observed = prepare(floatModel);
 * for (const batch of calibration) observed.observe(batch.data, batch.shape); // float32 NHWC
 * const model = convert(observed);
 */
export function prepare(model: MobileNetV3, config?: MobileNetV3Config): ObservedMobileNetV3 {
  const conf = config ?? floatModelConfig(model);
  if (!conf) {
    throw new QuantizationError('invalid-option', "prepare: the model's layout is unknown: build it with @mnv3/quantize's mobilenetV3Large/Small({ quantize: false }), or pass its MobileNetV3Config");
  }
  const state = new Map<string, Float32Array>();
  const shapes = new Map<string, number[]>();
  for (const [k, p] of model.namedStateEntries()) {
    if (p.dtype === 'float32') state.set(k, p.value);
    shapes.set(k, [...p.shape]);
  }
  return new ObservedMobileNetV3(conf, state, shapes);
}

/**
 * `torch.ao.quantization.convert`: a QAT-prepared model with its checkpoint loaded, or a calibrated
 * `ObservedMobileNetV3`, to the integer `QuantizedMobileNetV3`.
 */
export function convert(model: QuantizableMobileNetV3 | ObservedMobileNetV3): QuantizedMobileNetV3 {
  if (model instanceof QuantizableMobileNetV3) return convertQat(model);
  return model.convert();
}
