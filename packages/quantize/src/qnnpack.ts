// The integer arithmetic of torch 1.13's quantized CPU ops on the `qnnpack` engine (x86-64, SSE2
// kernels), op by op, exactly: what each op computes in int32 and in float32, with its rounding.
// Which library does what (each checked bit for bit against torch on random tensors):
// - conv / linear: QNNPACK q8conv / q8dwconv / q8gemm with fp32 requantization: the int32
//   accumulator (bias included) → float32 × (weight scale × input scale × (1 / output scale)) →
//   round half to even (`cvtps2dq`) → + output zero point → clamp (ReLU: clamp at the zero point);
// - the bias: quantized to int32 at run time with scale = weight scale × input scale (ATen's
//   `quantize_per_tensor`, `1.0f / scale` then round half to even);
// - hardswish, hardsigmoid: QNNPACK 256-entry lookup tables built in float32;
// - add (the residual `skip_add`): QNNPACK q8vadd, integer multipliers with a rounding shift;
// - mul (SE's `skip_mul`, broadcast over H×W): ATen's generic kernel (QNNPACK has no mul), float32
//   multiplier (a scale × b scale) × (1 / out scale), round half to even;
// - adaptive average pooling to 1×1: QNNPACK average pooling, float32 scale
//   `s / (s × size)`, round half to even; a 1×1 input is ATen's path and returns the input;
// - quantize (QuantStub): ATen's `quantize_val` (no FBGEMM in Debian's build): x × (1.0f / scale).
// Tensors are NHWC, uint8 activations with a per-tensor scale and zero point, int8 weights.
import type { ConvGeometry } from '@mnv3/layers';

const f32 = Math.fround;
const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

function f32Bits(x: number): number {
  F32[0] = x;
  return U32[0]!;
}

function f32FromBits(bits: number): number {
  U32[0] = bits >>> 0;
  return F32[0]!;
}

/** C's `nearbyint` / `lrintf` / SSE `cvtps2dq` in the default rounding mode: round half to even. */
export function rint(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** A quantized activation: uint8 NHWC values with one scale and zero point (`torch.quint8`). */
export interface QTensor {
  readonly data: Uint8Array;
  /** `[N, H, W, C]`, or `[N, C]` after the pool. */
  readonly shape: readonly number[];
  readonly scale: number;
  readonly zeroPoint: number;
}

/** Output quantization parameters of an op. */
export interface QParams {
  scale: number;
  zeroPoint: number;
}

/**
 * `torch.quantize_per_tensor(x, scale, zero_point, torch.quint8)` (QuantStub): round half to even
 * of `x * (1.0f / scale)` in float32, plus the zero point, clamped to [0, 255].
 */
export function quantizePerTensor(x: Float32Array, scale: number, zeroPoint: number, out = new Uint8Array(x.length)): Uint8Array {
  const inv = f32(1 / f32(scale));
  for (let i = 0; i < x.length; i++) {
    const q = zeroPoint + rint(f32(x[i]! * inv));
    out[i] = q < 0 ? 0 : q > 255 ? 255 : q;
  }
  return out;
}

/** `quantize_val<qint32>` as quantized conv/linear prepack their float bias: scale = weight scale × input scale. */
export function quantizeBias(bias: Float32Array, weightScale: number, inputScale: number): Int32Array {
  const inv = f32(1 / f32(weightScale * inputScale));
  const out = new Int32Array(bias.length);
  for (let i = 0; i < bias.length; i++) {
    const q = rint(f32(bias[i]! * inv));
    out[i] = q < -2147483648 ? -2147483648 : q > 2147483647 ? 2147483647 : q;
  }
  return out;
}

/** qnnpack's `generate_requantization_scales`: (weight scale × input scale) × (1 / output scale), float32. */
export function requantizationScale(weightScale: number, inputScale: number, outputScale: number): number {
  return f32(f32(f32(weightScale) * f32(inputScale)) * f32(1 / f32(outputScale)));
}

/** `(q - zero_point) * scale` in float32. */
export function dequantize(q: QTensor, out = new Float32Array(q.data.length)): Float32Array {
  const s = f32(q.scale);
  for (let i = 0; i < q.data.length; i++) out[i] = f32((q.data[i]! - q.zeroPoint) * s);
  return out;
}

/** Geometry of a 2-D convolution: the float layers' (TorchVision's `Conv2dNormActivation` padding `(k - 1) / 2 · dilation`). */
export type { ConvGeometry };

/** Output spatial size of a convolution. */
export function convOutputSize(size: number, g: ConvGeometry): number {
  return Math.floor((size + 2 * g.padding - g.dilation * (g.kernelSize - 1) - 1) / g.stride) + 1;
}

/**
 * Quantized 2-D convolution as QNNPACK computes it (`quantized::conv2d`, `conv2d_relu`).
 * `weight`: int8 `[outChannels, kh, kw, inChannels / groups]` (OHWI); `bias`: int32 (see
 * `quantizeBias`); `scale`: `requantizationScale(...)`. Padding taps contribute nothing (QNNPACK
 * pads with the input zero point). `relu` clamps at the output zero point.
 */
export function qconv2d(x: QTensor, weight: Int8Array, bias: Int32Array, g: ConvGeometry, scale: number, out: QParams, relu: boolean): QTensor {
  const [n, h, w, c] = x.shape as [number, number, number, number];
  if (c !== g.inChannels) throw new RangeError(`qconv2d: input has ${c} channels, the convolution takes ${g.inChannels}`);
  const oh = convOutputSize(h, g);
  const ow = convOutputSize(w, g);
  const oc = g.outChannels;
  const k = g.kernelSize;
  const cg = c / g.groups;
  const ocg = oc / g.groups;
  const zin = x.zeroPoint;
  // Input minus its zero point, once: every product is then a plain int multiply.
  const xs = new Int16Array(x.data.length);
  for (let i = 0; i < xs.length; i++) xs[i] = x.data[i]! - zin;
  const y = new Uint8Array(n * oh * ow * oc);
  const lo = relu ? out.zeroPoint : 0;
  const zo = out.zeroPoint;
  const s = f32(scale);
  const requant = (acc: number): number => {
    const v = rint(f32(f32(acc | 0) * s)) + zo;
    return v < lo ? lo : v > 255 ? 255 : v;
  };
  const acc = new Int32Array(oc);
  const depthwise = g.groups === c && g.groups === oc;
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        acc.set(bias);
        for (let ky = 0; ky < k; ky++) {
          const iy = oy * g.stride - g.padding + ky * g.dilation;
          if (iy < 0 || iy >= h) continue;
          for (let kx = 0; kx < k; kx++) {
            const ix = ox * g.stride - g.padding + kx * g.dilation;
            if (ix < 0 || ix >= w) continue;
            const base = ((b * h + iy) * w + ix) * c;
            const tap = ky * k + kx;
            if (depthwise) {
              for (let o = 0; o < oc; o++) acc[o]! += xs[base + o]! * weight[o * k * k + tap]!;
            } else {
              for (let o = 0; o < oc; o++) {
                const grp = (o / ocg) | 0;
                const xb = base + grp * cg;
                const wb = (o * k * k + tap) * cg;
                let a = 0;
                for (let i = 0; i < cg; i++) a += xs[xb + i]! * weight[wb + i]!;
                acc[o]! += a;
              }
            }
          }
        }
        const ob = ((b * oh + oy) * ow + ox) * oc;
        for (let o = 0; o < oc; o++) y[ob + o] = requant(acc[o]!);
      }
    }
  }
  return { data: y, shape: [n, oh, ow, oc], scale: out.scale, zeroPoint: out.zeroPoint };
}

/** Quantized linear (`quantized::linear`, QNNPACK q8gemm): `[N, in]` → `[N, out]`, weight int8 `[out, in]`. */
export function qlinear(x: QTensor, weight: Int8Array, bias: Int32Array, outFeatures: number, scale: number, out: QParams): QTensor {
  const n = x.shape[0]!;
  const inF = x.data.length / n;
  const y = qconv2d(
    { ...x, shape: [n, 1, 1, inF] },
    weight,
    bias,
    { inChannels: inF, outChannels: outFeatures, kernelSize: 1, stride: 1, padding: 0, dilation: 1, groups: 1 },
    scale,
    out,
    false,
  );
  return { ...y, shape: [n, outFeatures] };
}

/** QNNPACK's hardswish lookup table (`pytorch_qnnp_create_hardswish_nc_q8`), float32 throughout. */
export function hardswishTable(input: QParams, output: QParams): Uint8Array {
  const table = new Uint8Array(256);
  const inv = f32(1 / f32(output.scale));
  const si = f32(input.scale);
  for (let i = 0; i < 256; i++) {
    const x = f32(si * (i - input.zeroPoint));
    let x2 = f32(x + 3);
    x2 = x2 > 0 ? x2 : 0;
    x2 = x2 < 6 ? x2 : 6;
    x2 = f32(f32(x * x2) / 6);
    let v = f32(f32(inv * x2) + output.zeroPoint);
    v = v < 0 ? 0 : v > 255 ? 255 : v;
    table[i] = rint(v);
  }
  return table;
}

/** Output parameters of quantized hardsigmoid: fixed, 1/256 and 0. */
export const HARDSIGMOID_QPARAMS: Readonly<QParams> = { scale: 1 / 256, zeroPoint: 0 };

/** QNNPACK's hardsigmoid lookup table (`pytorch_qnnp_create_hardsigmoid_nc_q8`), output 1/256, 0. */
export function hardsigmoidTable(input: QParams): Uint8Array {
  const table = new Uint8Array(256);
  const inv = 256;
  const si = f32(input.scale);
  for (let i = 0; i < 256; i++) {
    const x = f32(si * (i - input.zeroPoint));
    let x2 = f32(x + 3);
    x2 = x2 > 0 ? x2 : 0;
    x2 = x2 < 6 ? x2 : 6;
    x2 = f32(x2 / 6);
    let v = f32(inv * x2);
    v = v > 255 ? 255 : v;
    table[i] = rint(v);
  }
  return table;
}

/** Applies a 256-entry table (QNNPACK's x8lut) to every value. */
export function applyTable(x: QTensor, table: Uint8Array, out: QParams): QTensor {
  const y = new Uint8Array(x.data.length);
  for (let i = 0; i < y.length; i++) y[i] = table[x.data[i]!]!;
  return { data: y, shape: x.shape, scale: out.scale, zeroPoint: out.zeroPoint };
}

/** The integer parameters of QNNPACK's add (`pytorch_qnnp_compute_add_quantization_params`). */
export interface AddParams {
  aMultiplier: number;
  bMultiplier: number;
  zeroPointProduct: number;
  shift: number;
  remainderMask: number;
  remainderThreshold: number;
}

export function addParams(a: QParams, b: QParams, out: QParams): AddParams {
  const aOut = f32(f32(a.scale) / f32(out.scale));
  const bOut = f32(f32(b.scale) / f32(out.scale));
  if (!(aOut >= 2 ** -14 && bOut >= 2 ** -14 && aOut < 256 && bOut < 256)) {
    throw new RangeError(
      `quantized add: input/output scale ratios ${aOut} and ${bOut} are outside QNNPACK's [2^-14, 2^8) (torch fails to create the operator too)`,
    );
  }
  const maxScale = aOut > bOut ? aOut : bOut;
  const exponent = (f32Bits(maxScale) >>> 23) - 127;
  const shift = 21 - exponent;
  const multiplier = f32FromBits((21 - exponent + 127) << 23);
  const aMultiplier = rint(f32(aOut * multiplier));
  const bMultiplier = rint(f32(bOut * multiplier));
  const remainderMask = 2 ** shift - 1;
  return {
    aMultiplier,
    bMultiplier,
    zeroPointProduct: -(aMultiplier * a.zeroPoint + bMultiplier * b.zeroPoint),
    shift,
    remainderMask,
    remainderThreshold: Math.floor(remainderMask / 2),
  };
}

/** `quantized::add` on QNNPACK (q8vadd): same shapes, integer multipliers, a rounding right shift. */
export function qadd(a: QTensor, b: QTensor, out: QParams): QTensor {
  if (a.data.length !== b.data.length) throw new RangeError(`qadd: shapes differ ([${a.shape.join(', ')}] and [${b.shape.join(', ')}])`);
  const p = addParams(a, b, out);
  const y = new Uint8Array(a.data.length);
  const zo = out.zeroPoint;
  const { aMultiplier: am, bMultiplier: bm, zeroPointProduct: zpp, shift, remainderMask: mask, remainderThreshold: thr } = p;
  for (let i = 0; i < y.length; i++) {
    const acc = zpp + am * a.data[i]! + bm * b.data[i]!; // within int32
    const rem = (acc & mask) - (acc < 0 ? 1 : 0);
    const v = (acc >> shift) + (rem > thr ? 1 : 0) + zo;
    y[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
  return { data: y, shape: a.shape, scale: out.scale, zeroPoint: zo };
}

/**
 * `quantized::mul` of a `[N, C]` (SE's scale, `[N, C, 1, 1]` in torch) by a `[N, H, W, C]` map,
 * broadcast: ATen's generic kernel, `zp + rint(float((a - za)(b - zb)) × multiplier)`.
 */
export function qmulChannels(scaleQ: QTensor, x: QTensor, out: QParams): QTensor {
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const mult = f32(f32(f32(scaleQ.scale) * f32(x.scale)) * f32(1 / f32(out.scale)));
  const y = new Uint8Array(x.data.length);
  const zo = out.zeroPoint;
  for (let b = 0; b < n; b++) {
    for (let p = 0; p < h * w; p++) {
      const base = (b * h * w + p) * c;
      for (let ch = 0; ch < c; ch++) {
        const prod = (scaleQ.data[b * c + ch]! - scaleQ.zeroPoint) * (x.data[base + ch]! - x.zeroPoint);
        const v = zo + rint(f32(prod * mult));
        y[base + ch] = v < 0 ? 0 : v > 255 ? 255 : v;
      }
    }
  }
  return { data: y, shape: x.shape, scale: out.scale, zeroPoint: zo };
}

/**
 * `adaptive_avg_pool2d(x, 1)` on a quantized map, `[N, H, W, C]` → `[N, C]`, same scale and zero
 * point: QNNPACK's average pooling (scale `s / (s × H·W)` in float32, round half to even), or the
 * input itself when it is already 1×1 (ATen's path).
 */
export function qglobalAvgPool(x: QTensor): QTensor {
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const size = h * w;
  if (size === 1) return { data: x.data.slice(), shape: [n, c], scale: x.scale, zeroPoint: x.zeroPoint };
  const s = f32(x.scale);
  const scale = f32(s / f32(s * size));
  const bias = -x.zeroPoint * size;
  const y = new Uint8Array(n * c);
  const sums = new Int32Array(c);
  for (let b = 0; b < n; b++) {
    sums.fill(bias);
    for (let p = 0; p < size; p++) {
      const base = (b * size + p) * c;
      for (let ch = 0; ch < c; ch++) sums[ch]! += x.data[base + ch]!;
    }
    for (let ch = 0; ch < c; ch++) {
      const v = rint(f32(f32(sums[ch]!) * scale)) + x.zeroPoint;
      y[b * c + ch] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return { data: y, shape: [n, c], scale: x.scale, zeroPoint: x.zeroPoint };
}
