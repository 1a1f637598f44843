// The SIMD primitives' ceiling on this engine and CPU: the inner loop of our GEMM tiles (4 rows x 8
// output channels, weights for two 4-lane blocks, one activation splat per row) with each
// multiply-accumulate form the kernels could use, data in L1. Compiled by simd-ceiling.mjs.
//
// Each function runs `iters` passes of 64 k-steps and returns the sum of all its accumulators' lanes
// (so that the work cannot be dropped, and so that the check can compare the forms on data where
// they must agree). MACs per k-step: dot16 64 (2 inputs per lane), dot7 / dot7Add 128 (4 per lane),
// f32 / fma 32 (1 per lane). The five loops differ only in their multiply-accumulate: each is
// written out as a kernel would have it, since a shared loop taking the operation as a function
// would measure an indirect call instead.

const STEPS = 64;

@inline function hsum(a: v128, b: v128, c: v128, d: v128, e: v128, f: v128, g: v128, h: v128): i32 {
  const s = i32x4.add(i32x4.add(i32x4.add(a, b), i32x4.add(c, d)), i32x4.add(i32x4.add(e, f), i32x4.add(g, h)));
  return i32x4.extract_lane(s, 0) + i32x4.extract_lane(s, 1) + i32x4.extract_lane(s, 2) + i32x4.extract_lane(s, 3);
}

@inline function fsum(a: v128, b: v128, c: v128, d: v128, e: v128, f: v128, g: v128, h: v128): f32 {
  const s = f32x4.add(f32x4.add(f32x4.add(a, b), f32x4.add(c, d)), f32x4.add(f32x4.add(e, f), f32x4.add(g, h)));
  return f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1) + f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3);
}

/** Plain SIMD int8 path (qgemm): int16 pairs, `i32x4.dot_i16x8_s` + `i32x4.add`. Rows 256 bytes apart. */
export function dot16(x: usize, w: usize, iters: i32): i32 {
  let a00 = i32x4.splat(0), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00, a31 = a00;
  for (let it = 0; it < iters; it++) {
    let wp = w;
    let o: usize = 0;
    for (let p = 0; p < STEPS; p++, o += 4, wp += 32) {
      const w0 = v128.load(wp);
      const w1 = v128.load(wp, 16);
      let sx = v128.load32_splat(x + o);
      a00 = i32x4.add(a00, i32x4.dot_i16x8_s(sx, w0));
      a01 = i32x4.add(a01, i32x4.dot_i16x8_s(sx, w1));
      sx = v128.load32_splat(x + 256 + o);
      a10 = i32x4.add(a10, i32x4.dot_i16x8_s(sx, w0));
      a11 = i32x4.add(a11, i32x4.dot_i16x8_s(sx, w1));
      sx = v128.load32_splat(x + 512 + o);
      a20 = i32x4.add(a20, i32x4.dot_i16x8_s(sx, w0));
      a21 = i32x4.add(a21, i32x4.dot_i16x8_s(sx, w1));
      sx = v128.load32_splat(x + 768 + o);
      a30 = i32x4.add(a30, i32x4.dot_i16x8_s(sx, w0));
      a31 = i32x4.add(a31, i32x4.dot_i16x8_s(sx, w1));
    }
  }
  return hsum(a00, a01, a10, a11, a20, a21, a30, a31);
}

/** Relaxed SIMD int8 path as qgemm7 has it: `i16x8.relaxed_dot_i8x16_i7x16_s`, widened pairwise, added. */
@inline function dot7two(a: v128, b: v128): v128 {
  return i32x4.extadd_pairwise_i16x8_s(i16x8.relaxed_dot_i8x16_i7x16_s(a, b));
}

export function dot7(x: usize, w: usize, iters: i32): i32 {
  let a00 = i32x4.splat(0), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00, a31 = a00;
  for (let it = 0; it < iters; it++) {
    let wp = w;
    let o: usize = 0;
    for (let p = 0; p < STEPS; p++, o += 4, wp += 32) {
      const w0 = v128.load(wp);
      const w1 = v128.load(wp, 16);
      let sx = v128.load32_splat(x + o);
      a00 = i32x4.add(a00, dot7two(sx, w0));
      a01 = i32x4.add(a01, dot7two(sx, w1));
      sx = v128.load32_splat(x + 256 + o);
      a10 = i32x4.add(a10, dot7two(sx, w0));
      a11 = i32x4.add(a11, dot7two(sx, w1));
      sx = v128.load32_splat(x + 512 + o);
      a20 = i32x4.add(a20, dot7two(sx, w0));
      a21 = i32x4.add(a21, dot7two(sx, w1));
      sx = v128.load32_splat(x + 768 + o);
      a30 = i32x4.add(a30, dot7two(sx, w0));
      a31 = i32x4.add(a31, dot7two(sx, w1));
    }
  }
  return hsum(a00, a01, a10, a11, a20, a21, a30, a31);
}

/** The fused relaxed form, `i32x4.relaxed_dot_i8x16_i7x16_add_s` (a VNNI instruction where the engine maps it to one). */
export function dot7Add(x: usize, w: usize, iters: i32): i32 {
  let a00 = i32x4.splat(0), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00, a31 = a00;
  for (let it = 0; it < iters; it++) {
    let wp = w;
    let o: usize = 0;
    for (let p = 0; p < STEPS; p++, o += 4, wp += 32) {
      const w0 = v128.load(wp);
      const w1 = v128.load(wp, 16);
      let sx = v128.load32_splat(x + o);
      a00 = i32x4.relaxed_dot_i8x16_i7x16_add_s(sx, w0, a00);
      a01 = i32x4.relaxed_dot_i8x16_i7x16_add_s(sx, w1, a01);
      sx = v128.load32_splat(x + 256 + o);
      a10 = i32x4.relaxed_dot_i8x16_i7x16_add_s(sx, w0, a10);
      a11 = i32x4.relaxed_dot_i8x16_i7x16_add_s(sx, w1, a11);
      sx = v128.load32_splat(x + 512 + o);
      a20 = i32x4.relaxed_dot_i8x16_i7x16_add_s(sx, w0, a20);
      a21 = i32x4.relaxed_dot_i8x16_i7x16_add_s(sx, w1, a21);
      sx = v128.load32_splat(x + 768 + o);
      a30 = i32x4.relaxed_dot_i8x16_i7x16_add_s(sx, w0, a30);
      a31 = i32x4.relaxed_dot_i8x16_i7x16_add_s(sx, w1, a31);
    }
  }
  return hsum(a00, a01, a10, a11, a20, a21, a30, a31);
}

/** Plain SIMD float path (conv): `f32x4.mul` + `f32x4.add`. */
export function mulAdd(x: usize, w: usize, iters: i32): f32 {
  let a00 = f32x4.splat(0), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00, a31 = a00;
  for (let it = 0; it < iters; it++) {
    let wp = w;
    let o: usize = 0;
    for (let p = 0; p < STEPS; p++, o += 4, wp += 32) {
      const w0 = v128.load(wp);
      const w1 = v128.load(wp, 16);
      let sx = v128.load32_splat(x + o);
      a00 = f32x4.add(a00, f32x4.mul(sx, w0));
      a01 = f32x4.add(a01, f32x4.mul(sx, w1));
      sx = v128.load32_splat(x + 256 + o);
      a10 = f32x4.add(a10, f32x4.mul(sx, w0));
      a11 = f32x4.add(a11, f32x4.mul(sx, w1));
      sx = v128.load32_splat(x + 512 + o);
      a20 = f32x4.add(a20, f32x4.mul(sx, w0));
      a21 = f32x4.add(a21, f32x4.mul(sx, w1));
      sx = v128.load32_splat(x + 768 + o);
      a30 = f32x4.add(a30, f32x4.mul(sx, w0));
      a31 = f32x4.add(a31, f32x4.mul(sx, w1));
    }
  }
  return fsum(a00, a01, a10, a11, a20, a21, a30, a31);
}

/** Relaxed SIMD float path (the relaxed build's conv): `f32x4.relaxed_madd`. */
export function fma(x: usize, w: usize, iters: i32): f32 {
  let a00 = f32x4.splat(0), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00, a31 = a00;
  for (let it = 0; it < iters; it++) {
    let wp = w;
    let o: usize = 0;
    for (let p = 0; p < STEPS; p++, o += 4, wp += 32) {
      const w0 = v128.load(wp);
      const w1 = v128.load(wp, 16);
      let sx = v128.load32_splat(x + o);
      a00 = f32x4.relaxed_madd(sx, w0, a00);
      a01 = f32x4.relaxed_madd(sx, w1, a01);
      sx = v128.load32_splat(x + 256 + o);
      a10 = f32x4.relaxed_madd(sx, w0, a10);
      a11 = f32x4.relaxed_madd(sx, w1, a11);
      sx = v128.load32_splat(x + 512 + o);
      a20 = f32x4.relaxed_madd(sx, w0, a20);
      a21 = f32x4.relaxed_madd(sx, w1, a21);
      sx = v128.load32_splat(x + 768 + o);
      a30 = f32x4.relaxed_madd(sx, w0, a30);
      a31 = f32x4.relaxed_madd(sx, w1, a31);
    }
  }
  return fsum(a00, a01, a10, a11, a20, a21, a30, a31);
}
