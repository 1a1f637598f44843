// torch/nn/utils/fusion.py: folding BatchNorm into the preceding convolution, as `convert` does it
// for QAT's ConvBn modules and `fuse_modules` for post-training quantization.
const f32 = Math.fround;

export interface BatchNormParams {
  weight: Float32Array;
  bias: Float32Array;
  runningMean: Float32Array;
  runningVar: Float32Array;
  eps: number;
}

/**
 * `fuse_conv_bn_weights` with torch's float32 tensor arithmetic: `rsqrt(var + eps)` (as
 * `1 / sqrt`), `w · (γ · rsqrt)` per output channel, `((b − mean) · rsqrt) · γ + β`.
 * `weight` is any layout whose outer dimension is the output channel (OIHW, OHWI); a missing conv
 * bias is zeros.
 *
 * @example const { weight, bias } = fuseConvBnWeights(convW, null, bn);
 */
export function fuseConvBnWeights(weight: Float32Array, bias: Float32Array | null, bn: BatchNormParams): { weight: Float32Array; bias: Float32Array } {
  const c = bn.runningMean.length;
  const per = weight.length / c;
  if (!Number.isInteger(per)) throw new RangeError(`fuseConvBnWeights: ${weight.length} weights do not split into ${c} output channels`);
  const eps = f32(bn.eps);
  const w = new Float32Array(weight.length);
  const b = new Float32Array(c);
  for (let o = 0; o < c; o++) {
    const rsqrt = f32(1 / f32(Math.sqrt(f32(bn.runningVar[o]! + eps))));
    const factor = f32(bn.weight[o]! * rsqrt);
    for (let i = 0; i < per; i++) w[o * per + i] = f32(weight[o * per + i]! * factor);
    const b0 = bias ? bias[o]! : 0;
    b[o] = f32(f32(f32(f32(b0 - bn.runningMean[o]!) * rsqrt) * bn.weight[o]!) + bn.bias[o]!);
  }
  return { weight: w, bias: b };
}
