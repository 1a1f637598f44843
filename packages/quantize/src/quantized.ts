// torch/ao/nn/quantized/modules: the converted model's integer modules, run by the exact QNNPACK
// arithmetic of qnnpack.ts. Each module keeps what torch's quantized module keeps (int8 weight and
// its scale, float bias, output scale and zero point) under the converted model's module names.
import { type ConvGeometry, type QParams, type QTensor, HARDSIGMOID_QPARAMS, applyTable, dequantize, hardsigmoidTable, hardswishTable, qadd, qconv2d, qglobalAvgPool, qlinear, qmulChannels, quantizeBias, quantizePerTensor, requantizationScale } from './qnnpack.js';

/** What a converted conv / linear holds, as torch's quantized module (`weight()`, `bias()`, `scale`, `zero_point`). */
export interface QuantizedWeights {
  /** int8 weight in torch's layout: OIHW for convolutions, `[out, in]` for linear layers. */
  weight: Int8Array;
  weightShape: readonly number[];
  /** Per-tensor symmetric: zero point 0. */
  weightScale: number;
  /** Float bias, as torch keeps it; quantized to int32 with the input scale at run time. */
  bias: Float32Array;
  /** Output quantization. */
  scale: number;
  zeroPoint: number;
}

/** OIHW → OHWI (channels innermost, the layout the NHWC loops read). */
function ohwi(w: Int8Array, shape: readonly number[]): Int8Array {
  const [o, i, kh, kw] = shape as [number, number, number, number];
  const out = new Int8Array(w.length);
  for (let a = 0; a < o; a++) for (let b = 0; b < i; b++) for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) out[((a * kh + y) * kw + x) * i + b] = w[((a * i + b) * kh + y) * kw + x]!;
  return out;
}

/** The int32 bias and requantization scale a conv / linear uses for one input scale (qnnpack re-derives them when the input scale changes). */
class PackedBias {
  private inputScale = NaN;
  bias: Int32Array<ArrayBufferLike> = new Int32Array(0);
  scale = 0;
  get(q: QuantizedWeights, inputScale: number): this {
    if (inputScale !== this.inputScale) {
      this.bias = quantizeBias(q.bias, q.weightScale, inputScale);
      this.scale = requantizationScale(q.weightScale, inputScale, q.scale);
      this.inputScale = inputScale;
    }
    return this;
  }
}

/** `nnq.Conv2d` / `nniq.ConvReLU2d`. */
export class QuantizedConv2d {
  private readonly packedWeight: Int8Array;
  private readonly packed = new PackedBias();
  constructor(
    readonly name: string,
    readonly geometry: ConvGeometry,
    readonly relu: boolean,
    readonly q: QuantizedWeights,
  ) {
    this.packedWeight = ohwi(q.weight, q.weightShape);
  }

  /** The int32 bias qnnpack prepacks for this input scale. */
  int32Bias(inputScale: number): Int32Array {
    return this.packed.get(this.q, inputScale).bias;
  }

  forward(x: QTensor): QTensor {
    const p = this.packed.get(this.q, x.scale);
    return qconv2d(x, this.packedWeight, p.bias, this.geometry, p.scale, this.q, this.relu);
  }
}

/** `nnq.Linear`: `[N, in]` → `[N, out]`. */
export class QuantizedLinear {
  private readonly packed = new PackedBias();
  constructor(
    readonly name: string,
    readonly outFeatures: number,
    readonly q: QuantizedWeights,
  ) {}

  int32Bias(inputScale: number): Int32Array {
    return this.packed.get(this.q, inputScale).bias;
  }

  forward(x: QTensor): QTensor {
    const p = this.packed.get(this.q, x.scale);
    return qlinear(x, this.q.weight, p.bias, this.outFeatures, p.scale, this.q);
  }
}

/** `nnq.Hardswish(scale, zero_point)`: QNNPACK's table for the input's parameters. */
export class QuantizedHardswish {
  private key = '';
  private table: Uint8Array<ArrayBufferLike> = new Uint8Array(256);
  constructor(
    readonly name: string,
    readonly out: QParams,
  ) {}

  forward(x: QTensor): QTensor {
    const key = `${x.scale}/${x.zeroPoint}`;
    if (key !== this.key) {
      this.table = hardswishTable(x, this.out);
      this.key = key;
    }
    return applyTable(x, this.table, this.out);
  }
}

/** `torch.nn.functional.hardsigmoid` on a quantized tensor (fixed output 1/256, 0). */
export function quantizedHardsigmoid(x: QTensor): QTensor {
  return applyTable(x, hardsigmoidTable(x), HARDSIGMOID_QPARAMS);
}

/** A converted `Conv2dNormActivation`: conv (BatchNorm folded, ReLU fused) and, for hardswish, its own quantized op. */
export class QuantizedConvNormActivation {
  constructor(
    readonly conv: QuantizedConv2d,
    readonly hardswish: QuantizedHardswish | null,
  ) {}

  forward(x: QTensor): QTensor {
    const y = this.conv.forward(x);
    return this.hardswish ? this.hardswish.forward(y) : y;
  }
}

/** TorchVision's converted `QuantizableSqueezeExcitation`: pool, fc1 + ReLU, fc2, hardsigmoid, `skip_mul`. */
export class QuantizedSqueezeExcitation {
  constructor(
    readonly fc1: QuantizedConv2d,
    readonly fc2: QuantizedConv2d,
    readonly skipMul: QParams,
  ) {}

  forward(x: QTensor): QTensor {
    const pooled = qglobalAvgPool(x);
    const n = x.shape[0]!;
    const c = x.shape[3]!;
    const s = this.fc1.forward({ ...pooled, shape: [n, 1, 1, c] });
    const scale = quantizedHardsigmoid(this.fc2.forward(s));
    return qmulChannels(scale, x, this.skipMul);
  }
}

/** TorchVision's converted `QuantizableInvertedResidual`: the block, plus `skip_add` on residual blocks. */
export class QuantizedInvertedResidual {
  constructor(
    readonly layers: readonly (QuantizedConvNormActivation | QuantizedSqueezeExcitation)[],
    readonly skipAdd: QParams | null,
  ) {}

  forward(x: QTensor): QTensor {
    let y = x;
    for (const layer of this.layers) y = layer.forward(y);
    return this.skipAdd ? qadd(x, y, this.skipAdd) : y;
  }
}

export type QuantizedFeature = QuantizedConvNormActivation | QuantizedInvertedResidual;

/** The result of a quantized forward: the quantized logits and their float values. */
export interface QuantizedOutput {
  /** `[N, numClasses]` uint8 with its scale and zero point (before `dequant`). */
  quantized: QTensor;
  /** Dequantized logits, float32 `[N, numClasses]`. */
  logits: Float32Array;
}

/**
 * The converted `QuantizableMobileNetV3` (TorchVision's quantized model after `convert`): quant
 * stub, quantized features, pool, quantized classifier, dequant. Runs on the host in integers,
 * exactly as torch's qnnpack engine does.
 */
export class QuantizedMobileNetV3 {
  constructor(
    readonly quant: QParams,
    readonly features: readonly QuantizedFeature[],
    readonly classifier: { fc1: QuantizedLinear; hardswish: QuantizedHardswish; fc2: QuantizedLinear },
    readonly numClasses: number,
  ) {}

  /** QuantStub: float32 NHWC `[N, H, W, 3]` → quint8. */
  quantize(x: Float32Array, shape: readonly [number, number, number, number]): QTensor {
    if (shape.length !== 4 || shape[3] !== 3 || x.length !== shape[0] * shape[1] * shape[2] * 3) {
      throw new RangeError(`expected float32 NHWC [N, H, W, 3] images, got shape [${shape.join(', ')}] with ${x.length} values`);
    }
    return { data: quantizePerTensor(x, this.quant.scale, this.quant.zeroPoint), shape, scale: this.quant.scale, zeroPoint: this.quant.zeroPoint };
  }

  /** The quantized features map of `features[0..upTo)`. */
  forwardFeatures(x: QTensor, upTo = this.features.length): QTensor {
    let y = x;
    for (let i = 0; i < upTo; i++) y = this.features[i]!.forward(y);
    return y;
  }

  /** Pool, classifier: quantized features → quantized logits. */
  forwardHead(features: QTensor): QTensor {
    const pooled = qglobalAvgPool(features);
    return this.classifier.fc2.forward(this.classifier.hardswish.forward(this.classifier.fc1.forward(pooled)));
  }

  /**
   * Classifies float32 NHWC images `[N, H, W, 3]` (normalised as the weights' preset says).
   *
   * @example const { logits } = model.forward(pixels, [1, 224, 224, 3]); // logits: Float32Array [1 × 1000]
   */
  forward(x: Float32Array, shape: readonly [number, number, number, number]): QuantizedOutput {
    const q = this.forwardHead(this.forwardFeatures(this.quantize(x, shape)));
    return { quantized: q, logits: dequantize(q) };
  }

  /** Every conv and linear layer, by its name in the converted torch model. */
  *namedWeighted(): Generator<[string, QuantizedConv2d | QuantizedLinear]> {
    for (const f of this.features) {
      const layers = f instanceof QuantizedInvertedResidual ? f.layers : [f];
      for (const l of layers) {
        if (l instanceof QuantizedConvNormActivation) yield [l.conv.name, l.conv];
        else {
          yield [l.fc1.name, l.fc1];
          yield [l.fc2.name, l.fc2];
        }
      }
    }
    yield [this.classifier.fc1.name, this.classifier.fc1];
    yield [this.classifier.fc2.name, this.classifier.fc2];
  }
}
