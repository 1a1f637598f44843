// acc + a·b for the GEMM-shaped loops (convolution tiles, their filter and input gradients): one
// fused multiply-add in the relaxed-SIMD build, a multiply then an add in the plain one. Fused is
// ~15% faster on those loops and rounds once instead of twice, so the two builds' results differ
// in the last bits: the parity tests hold both to the same tolerances. Left out where it measured
// slower (the depthwise forward's short per-tap chains) or where the order of roundings is part of
// an exact contract (BatchNorm moments, the optimiser steps, the int8 path).
@inline export function madd(a: v128, b: v128, acc: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, acc);
  return f32x4.add(acc, f32x4.mul(a, b));
}
