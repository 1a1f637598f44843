// int8 WASM SIMD kernels: the engine of @mnv3/quantize's converted MobileNetV3 (QNNPACK's arithmetic,
// bit for bit: packages/quantize/src/qnnpack.ts is the reference every kernel is tested against).
// Compiled with kernels.ts into one module (scripts/build-wasm.mjs), on the tfjs heap like the float
// kernels; the pool splits them by their trailing (lo, hi) as it splits those (threads.ts).
//
// Activations are uint8 NHWC with a per-tensor zero point; weights int8 (symmetric, zero point 0);
// biases int32. The multiply-accumulate runs on `x - zero point` widened to int16 (exact: |x - z| ≤
// 255, |w| ≤ 128), so padding is a zero and no zero-point correction is needed:
// - `qgemm`: convolutions with groups = 1 and linear layers, over rows of an int16 matrix (`qwiden`
//   for 1x1 convolutions and linear layers, `qim2col` for k×k ones such as the 3-channel stem),
//   `i32x4.dot_i16x8_s` on int8 weights packed at load and widened in registers;
// - with relaxed SIMD (the `relaxed` build), `qgemm7`: layers whose weights all fit in 7 bits
//   ([-64, 63]) run relaxed SIMD's int8 dot (`i16x8.relaxed_dot_i8x16_i7x16_s`, see `dot7`) on int8 rows (`qwiden8`: x - 128), the
//   weights + 64 as its non-negative 7-bit operand (where every engine agrees), and the
//   corrections folded in exactly: Σ(x-z)w = Σ(x-128)(w+64) - 64·Σ(x-128) + (128-z)·Σw;
// - `qdepthwise` on a zero-padded int16 copy of its input (`qpad16`);
// - `qavgpool`, `qmulChannels` (SE's skip_mul), `qadd` (QNNPACK's q8vadd), `qquantize`.
// Float parameters (scales, multipliers) are passed as their float32 bits in an i32, so that the
// pool's argument words carry them unchanged. Requantization (conv, linear, depthwise): float32(acc) × scale, round half to even
// (`f32x4.nearest`), then saturating narrows to int16, + zero point, to uint8, max with the ReLU
// floor: the exact clamp of `rint(acc × scale) + zero point` to [lo, 255]. A fused hardswish or
// hardsigmoid (a 256-byte table) is `qtable`, a pass of its own over the layer's output.

// Requantization without `trunc_sat` (several instructions on x64) or `nearest`: y = acc × scale,
// raised to -2^22 at least (pmax: one instruction; no NaN can occur), plus M = 1.5·2^23. For |y| <
// 2^22 the sum lies in (2^23, 2^24), where float32's spacing is 1, so its one rounding (to nearest,
// ties to even; M is even, so ties go as rint's) yields exactly M + rint(y), and its bits minus M's
// are rint(y). Past that range the difference still has the right side: y ≥ 2^22 gives a sum of
// at least 2^24 (float bits grow with the value: ≥ 2^22 after the subtraction, saturating to 255);
// y = -2^22 gives exactly -2^22 (saturating to 0); without the floor, a sum below 0 would have
// negative bits and wrap. (QNNPACK's fp32 "magic" requantization.) The zero point is added after
// the int16 narrow, saturating, then the uint8 narrow clamps.
const RQ_MAGIC: f32 = 12582912.0;
const RQ_MAGIC_BITS: i32 = 0x4b400000;
const RQ_FLOOR: f32 = -4194304.0;

/** rint(float32(a) × s) per lane as int32 where |a × s| < 2^22; beyond, a value of the same sign at least as large. */
@inline function requant4(a: v128, s: v128): v128 {
  const y = f32x4.pmax(f32x4.mul(f32x4.convert_i32x4_s(a), s), f32x4.splat(RQ_FLOOR));
  return i32x4.sub(f32x4.add(y, f32x4.splat(RQ_MAGIC)), i32x4.splat(RQ_MAGIC_BITS));
}

/** 8 int32 accumulators → 8 uint8: clamp(rint(acc × scale) + zo, lo, 255), bytes 0..7 of the result. */
@inline function requant8(a0: v128, a1: v128, s: v128, zo: v128, lo: v128): v128 {
  const h = i16x8.add_sat_s(i16x8.narrow_i32x4_s(requant4(a0, s), requant4(a1, s)), zo);
  return i8x16.max_u(i8x16.narrow_i16x8_u(h, h), lo);
}

/**
 * Stores the first `lanes` (1..8) bytes of v at p (a row's last block may be partial: bytes past it
 * belong to the next row, so they are not written).
 */
@inline function store8(p: usize, v: v128, lanes: i32): void {
  if (lanes == 8) {
    v128.store64_lane(p, v, 0);
    return;
  }
  for (let i = 0; i < lanes; i++) {
    store<u8>(p + <usize>i, <u8>i8x16.extract_lane_u(v, 0));
    v = v128.shuffle<u8>(v, v, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0);
  }
}

// Packed weights of `qgemm`: blocks of 8 output channels, `[ceil(co/8)][kp/2][8][2]`, zero-padded:
// int16 (int8 values widened once at load, so that the inner loop does no widening), or for layers
// that run on a few rows (linear layers, SE; `mode` & QGEMM_W8) int8 widened in registers, where
// reading the weights from memory costs more than widening them.
const QGEMM_BLOCKS = 1;
const QGEMM_W8 = 2;

/**
 * out `[rows][co]` uint8 = requant(a `[rows][kp]` int16 · W + bias), kp even (`qwiden` pads the
 * rows). `bias`: int32 `[ceil(co/8)·8]`. Tiles of 4 rows × 8 output channels: per pair of inputs,
 * two weight loads (or one, widened), four splats and eight `i32x4.dot_i16x8_s` + add. Work range
 * [lo, hi): rows (lo a multiple of 4), or with `mode` & QGEMM_BLOCKS blocks of 8 output channels
 * over all `rows` (linear layers on a batch of a few rows); `mode` & QGEMM_W8: int8 weights.
 */
export function qgemm(
  a: usize, w: usize, bias: usize, out: usize,
  kp: i32, co: i32, scaleBits: i32, zo: i32, lo: i32, rows: i32, mode: i32, r0: i32, r1: i32,
): void {
  const scale = reinterpret<f32>(scaleBits);
  const byBlocks = mode & QGEMM_BLOCKS;
  const w8 = mode & QGEMM_W8;
  const p0 = byBlocks ? 0 : r0;
  const p1 = byBlocks ? rows : r1;
  const j0 = byBlocks ? r0 : 0;
  const j1 = byBlocks ? r1 : (co + 7) >> 3;
  const rowBytes = <usize>kp << 1;
  const blockBytes = w8 ? <usize>kp << 3 : <usize>kp << 4;
  const s = f32x4.splat(scale);
  const zov = i16x8.splat(<i16>zo);
  const lov = i8x16.splat(<i8>lo);
  const outRow = <usize>co;
  for (let q = p0; q < p1; q += 4) {
    const n = min(4, p1 - q);
    const x0 = a + <usize>q * rowBytes;
    const x1 = n > 1 ? x0 + rowBytes : x0;
    const x2 = n > 2 ? x0 + 2 * rowBytes : x0;
    const x3 = n > 3 ? x0 + 3 * rowBytes : x0;
    const oq = out + <usize>q * outRow;
    for (let j = j0; j < j1; j++) {
      const b0 = v128.load(bias + (<usize>j << 5));
      const b1 = v128.load(bias + (<usize>j << 5), 16);
      let a00 = b0, a01 = b1, a10 = b0, a11 = b1, a20 = b0, a21 = b1, a30 = b0, a31 = b1;
      let wp = w + <usize>j * blockBytes;
      const we = wp + blockBytes;
      let o: usize = 0;
      if (w8) {
        if (n == 1) {
          for (; wp < we; o += 4, wp += 16) {
            const wv = v128.load(wp);
            const sx = v128.load32_splat(x0 + o);
            a00 = i32x4.add(a00, i32x4.dot_i16x8_s(sx, i16x8.extend_low_i8x16_s(wv)));
            a01 = i32x4.add(a01, i32x4.dot_i16x8_s(sx, i16x8.extend_high_i8x16_s(wv)));
          }
        } else {
          for (; wp < we; o += 4, wp += 16) {
            const wv = v128.load(wp);
            const w0 = i16x8.extend_low_i8x16_s(wv);
            const w1 = i16x8.extend_high_i8x16_s(wv);
            let sx = v128.load32_splat(x0 + o);
            a00 = i32x4.add(a00, i32x4.dot_i16x8_s(sx, w0));
            a01 = i32x4.add(a01, i32x4.dot_i16x8_s(sx, w1));
            sx = v128.load32_splat(x1 + o);
            a10 = i32x4.add(a10, i32x4.dot_i16x8_s(sx, w0));
            a11 = i32x4.add(a11, i32x4.dot_i16x8_s(sx, w1));
            sx = v128.load32_splat(x2 + o);
            a20 = i32x4.add(a20, i32x4.dot_i16x8_s(sx, w0));
            a21 = i32x4.add(a21, i32x4.dot_i16x8_s(sx, w1));
            sx = v128.load32_splat(x3 + o);
            a30 = i32x4.add(a30, i32x4.dot_i16x8_s(sx, w0));
            a31 = i32x4.add(a31, i32x4.dot_i16x8_s(sx, w1));
          }
        }
      } else if (n == 1) {
        for (; wp < we; o += 4, wp += 32) {
          const sx = v128.load32_splat(x0 + o);
          a00 = i32x4.add(a00, i32x4.dot_i16x8_s(sx, v128.load(wp)));
          a01 = i32x4.add(a01, i32x4.dot_i16x8_s(sx, v128.load(wp, 16)));
        }
      } else {
        for (; wp < we; o += 4, wp += 32) {
          const w0 = v128.load(wp);
          const w1 = v128.load(wp, 16);
          let sx = v128.load32_splat(x0 + o);
          a00 = i32x4.add(a00, i32x4.dot_i16x8_s(sx, w0));
          a01 = i32x4.add(a01, i32x4.dot_i16x8_s(sx, w1));
          sx = v128.load32_splat(x1 + o);
          a10 = i32x4.add(a10, i32x4.dot_i16x8_s(sx, w0));
          a11 = i32x4.add(a11, i32x4.dot_i16x8_s(sx, w1));
          sx = v128.load32_splat(x2 + o);
          a20 = i32x4.add(a20, i32x4.dot_i16x8_s(sx, w0));
          a21 = i32x4.add(a21, i32x4.dot_i16x8_s(sx, w1));
          sx = v128.load32_splat(x3 + o);
          a30 = i32x4.add(a30, i32x4.dot_i16x8_s(sx, w0));
          a31 = i32x4.add(a31, i32x4.dot_i16x8_s(sx, w1));
        }
      }
      const lanes = min(8, co - (j << 3));
      const op = oq + (<usize>j << 3);
      store8(op, requant8(a00, a01, s, zov, lov), lanes);
      if (n > 1) store8(op + outRow, requant8(a10, a11, s, zov, lov), lanes);
      if (n > 2) store8(op + 2 * outRow, requant8(a20, a21, s, zov, lov), lanes);
      if (n > 3) store8(op + 3 * outRow, requant8(a30, a31, s, zov, lov), lanes);
    }
  }
}

/**
 * Σ of 4 products a·b per int32 lane, b in [0, 127]: relaxed SIMD's int8 dot. Not the fused
 * `i32x4.relaxed_dot_i8x16_i7x16_add_s`: Node 20's baseline compiler (Liftoff, V8 11.3) drops its
 * accumulator and returns twice the dot (TurboFan is right; the result would change when a
 * function tiers up). The pair sums fit in int16 (|a·b| ≤ 128·127), so the two-step form is exact
 * on every engine, and as fast on x86 without VNNI (pmaddubsw, pmaddwd, paddd either way).
 */
@inline function dot7(a: v128, b: v128): v128 {
  return i32x4.extadd_pairwise_i16x8_s(i16x8.relaxed_dot_i8x16_i7x16_s(a, b));
}

/**
 * `qgemm` for weights that fit in 7 bits, on relaxed SIMD: a `[rows][kq]` int8 rows of x - 128
 * (`qwiden8`, kq a multiple of 4, padding columns 0), `sums` `[rows]` int32 of Σ(x - 128) per row,
 * w packed `[ceil(co/8)][kq/4][8][4]` as weight + 64 (0..127, padding 64), `bias` int32 with
 * (128 - z)·Σw folded in. Every product fits: pairs of i8 × i7 stay within int16 on every engine.
 * Only in the relaxed build (unreachable in the plain one; the host never calls it there).
 */
export function qgemm7(
  a: usize, sums: usize, w: usize, bias: usize, out: usize,
  kq: i32, co: i32, scaleBits: i32, zo: i32, lo: i32, rows: i32, byBlocks: i32, r0: i32, r1: i32,
): void {
  const scale = reinterpret<f32>(scaleBits);
  if (!ASC_FEATURE_RELAXED_SIMD) {
    unreachable();
    return;
  }
  const p0 = byBlocks ? 0 : r0;
  const p1 = byBlocks ? rows : r1;
  const j0 = byBlocks ? r0 : 0;
  const j1 = byBlocks ? r1 : (co + 7) >> 3;
  const rowBytes = <usize>kq;
  const blockBytes = <usize>kq << 3;
  const quads = kq >> 2;
  const s = f32x4.splat(scale);
  const zov = i16x8.splat(<i16>zo);
  const lov = i8x16.splat(<i8>lo);
  const outRow = <usize>co;
  for (let q = p0; q < p1; q += 4) {
    const n = min(4, p1 - q);
    const x0 = a + <usize>q * rowBytes;
    const x1 = n > 1 ? x0 + rowBytes : x0;
    const x2 = n > 2 ? x0 + 2 * rowBytes : x0;
    const x3 = n > 3 ? x0 + 3 * rowBytes : x0;
    const sp = sums + (<usize>q << 2);
    // -64 · Σ(x - 128) of each row, splatted
    const c0 = i32x4.splat(-64 * load<i32>(sp));
    const c1 = i32x4.splat(n > 1 ? -64 * load<i32>(sp, 4) : 0);
    const c2 = i32x4.splat(n > 2 ? -64 * load<i32>(sp, 8) : 0);
    const c3 = i32x4.splat(n > 3 ? -64 * load<i32>(sp, 12) : 0);
    const oq = out + <usize>q * outRow;
    for (let j = j0; j < j1; j++) {
      const b0 = v128.load(bias + (<usize>j << 5));
      const b1 = v128.load(bias + (<usize>j << 5), 16);
      let a00 = i32x4.add(b0, c0), a01 = i32x4.add(b1, c0);
      let a10 = i32x4.add(b0, c1), a11 = i32x4.add(b1, c1);
      let a20 = i32x4.add(b0, c2), a21 = i32x4.add(b1, c2);
      let a30 = i32x4.add(b0, c3), a31 = i32x4.add(b1, c3);
      let wp = w + <usize>j * blockBytes;
      let o: usize = 0;
      for (let p = 0; p < quads; p++, o += 4, wp += 32) {
        const w0 = v128.load(wp);
        const w1 = v128.load(wp, 16);
        let sx = v128.load32_splat(x0 + o);
        a00 = i32x4.add(a00, dot7(sx, w0));
        a01 = i32x4.add(a01, dot7(sx, w1));
        sx = v128.load32_splat(x1 + o);
        a10 = i32x4.add(a10, dot7(sx, w0));
        a11 = i32x4.add(a11, dot7(sx, w1));
        sx = v128.load32_splat(x2 + o);
        a20 = i32x4.add(a20, dot7(sx, w0));
        a21 = i32x4.add(a21, dot7(sx, w1));
        sx = v128.load32_splat(x3 + o);
        a30 = i32x4.add(a30, dot7(sx, w0));
        a31 = i32x4.add(a31, dot7(sx, w1));
      }
      const lanes = min(8, co - (j << 3));
      const op = oq + (<usize>j << 3);
      store8(op, requant8(a00, a01, s, zov, lov), lanes);
      if (n > 1) store8(op + outRow, requant8(a10, a11, s, zov, lov), lanes);
      if (n > 2) store8(op + 2 * outRow, requant8(a20, a21, s, zov, lov), lanes);
      if (n > 3) store8(op + 3 * outRow, requant8(a30, a31, s, zov, lov), lanes);
    }
  }
}

/** Whether this build has relaxed SIMD (and so `qgemm7`). */
export function qhasRelaxed(): i32 {
  return ASC_FEATURE_RELAXED_SIMD ? 1 : 0;
}

/**
 * Rows for `qgemm7`: out `[rows][kq]` int8 = x - 128 (x `[rows][c]` uint8; columns [c, kq) 0) and
 * sums `[rows]` int32 = Σ over the kq columns. Rows [r0, r1).
 */
export function qwiden8(x: usize, out: usize, sums: usize, c: i32, kq: i32, r0: i32, r1: i32): void {
  const bias = i8x16.splat(-128);
  const c16 = c & ~15;
  for (let r = r0; r < r1; r++) {
    const xr = x + <usize>r * <usize>c;
    const orow = out + <usize>r * <usize>kq;
    let sum = i32x4.splat(0);
    let j = 0;
    for (; j < c16; j += 16) {
      const v = v128.xor(v128.load(xr + <usize>j), bias);
      v128.store(orow + <usize>j, v);
      sum = i32x4.add(sum, i32x4.extadd_pairwise_i16x8_s(i16x8.extadd_pairwise_i8x16_s(v)));
    }
    let tail = 0;
    for (; j < c; j++) {
      const v = <i32>load<u8>(xr + <usize>j) - 128;
      store<i8>(orow + <usize>j, <i8>v);
      tail += v;
    }
    for (; j < kq; j++) store<i8>(orow + <usize>j, 0);
    store<i32>(sums + (<usize>r << 2), i32x4.extract_lane(sum, 0) + i32x4.extract_lane(sum, 1) + i32x4.extract_lane(sum, 2) + i32x4.extract_lane(sum, 3) + tail);
  }
}

/** out `[rows][kp]` int16 = x `[rows][c]` uint8 - z, columns [c, kp) zero. Rows [r0, r1). */
export function qwiden(x: usize, out: usize, c: i32, kp: i32, z: i32, r0: i32, r1: i32): void {
  const zv = i16x8.splat(<i16>z);
  const c8 = c & ~7;
  for (let r = r0; r < r1; r++) {
    const xr = x + <usize>r * <usize>c;
    const orow = out + ((<usize>r * <usize>kp) << 1);
    let j = 0;
    for (; j < c8; j += 8) v128.store(orow + (<usize>j << 1), i16x8.sub(v128.load8x8_u(xr + <usize>j), zv));
    for (; j < c; j++) store<i16>(orow + (<usize>j << 1), <i16>(<i32>load<u8>(xr + <usize>j) - z));
    for (; j < kp; j++) store<i16>(orow + (<usize>j << 1), 0);
  }
}

/**
 * im2col for a k×k convolution with groups = 1: out `[n·oh·ow][kp]` int16, each row the taps
 * (ky, kx, channel) of one output pixel as x - z, taps in the padding 0, columns [k·k·c, kp) 0.
 * Output pixels [r0, r1). Where a row of taps (k·c bytes, undilated) fits in 16 bytes, as the
 * 3-channel stem's 9, pixels whose taps all lie inside the map take each row of taps as one
 * 16-byte load (so x must stay readable 16 bytes past its end: the engine's buffers have that
 * slack), widened and stored as two vectors; a vector's lanes past the row of taps are overwritten
 * by the next ones, or (the last) written lane by lane, so no store leaves the pixel's own row.
 */
export function qim2col(
  x: usize, out: usize, h: i32, wd: i32, c: i32, oh: i32, ow: i32,
  k: i32, stride: i32, dil: i32, pad: i32, kp: i32, z: i32, r0: i32, r1: i32,
): void {
  const opix = oh * ow;
  const kk = k * k * c;
  const kc = k * c;
  const vec = dil == 1 && kc <= 16;
  const zv = i16x8.splat(<i16>z);
  for (let r = r0; r < r1; r++) {
    const b = r / opix;
    const rem = r - b * opix;
    const oy = rem / ow;
    const ox = rem - oy * ow;
    let op = out + ((<usize>r * <usize>kp) << 1);
    const iy0 = oy * stride - pad;
    const ix0 = ox * stride - pad;
    if (vec && iy0 >= 0 && iy0 + k <= h && ix0 >= 0 && ix0 + k <= wd) {
      const rowEnd = op + (<usize>kp << 1);
      let xp = x + <usize>((b * h + iy0) * wd + ix0) * <usize>c;
      const xRow = <usize>wd * <usize>c;
      for (let ky = 0; ky < k; ky++, xp += xRow, op += <usize>kc << 1) {
        const v = v128.load(xp);
        const lo16 = i16x8.sub(i16x8.extend_low_i8x16_u(v), zv);
        if (op + 32 <= rowEnd) {
          v128.store(op, lo16);
          v128.store(op, i16x8.sub(i16x8.extend_high_i8x16_u(v), zv), 16);
        } else {
          let t = 0;
          if (op + 16 <= rowEnd && kc >= 8) {
            v128.store(op, lo16);
            t = 8;
          }
          for (; t < kc; t++) store<i16>(op + (<usize>t << 1), <i16>(<i32>load<u8>(xp + <usize>t) - z));
        }
      }
      for (; op < rowEnd; op += 2) store<i16>(op, 0);
      continue;
    }
    for (let ky = 0; ky < k; ky++) {
      const iy = iy0 + ky * dil;
      for (let kx = 0; kx < k; kx++) {
        const ix = ix0 + kx * dil;
        if (iy >= 0 && iy < h && ix >= 0 && ix < wd) {
          const xp = x + <usize>((b * h + iy) * wd + ix) * <usize>c;
          for (let ch = 0; ch < c; ch++) store<i16>(op + (<usize>ch << 1), <i16>(<i32>load<u8>(xp + <usize>ch) - z));
        } else {
          for (let ch = 0; ch < c; ch++) store<i16>(op + (<usize>ch << 1), 0);
        }
        op += <usize>c << 1;
      }
    }
    for (let j = kk; j < kp; j++, op += 2) store<i16>(op, 0);
  }
}

/**
 * The padded pair image `qdepthwise` reads, in blocks of 8 channels: out `[n][h+2·pad][cp/8][wq][8][2]`
 * int16, wq = ceil((wd+2·pad)/step), where pixel x of a row's block holds, for each of its channels
 * ch, (X(y, x·step, ch), X(y, x·step + dil, ch)) in padded coordinates, X = x - z inside the map and
 * 0 in the padding, past the right edge and in channels [c, cp) (cp a multiple of 8). Two
 * horizontally adjacent taps of a channel are then one int16 pair, for `i32x4.dot_i16x8_s`, and
 * the 8 channels of neighbouring pixels lie 32 bytes apart (a 4-pixel tile reads two cache lines,
 * at constant offsets). `step` 2 keeps only the even columns, all that a stride-2 convolution
 * reads. `padDil`: pad | dil << 16 | step << 24. Rows [r0, r1) of the n·(h+2·pad).
 */
export function qpad16(x: usize, out: usize, h: i32, wd: i32, c: i32, cp: i32, padDil: i32, z: i32, r0: i32, r1: i32): void {
  const pad = padDil & 0xffff;
  const dil = (padDil >>> 16) & 0xff;
  const step = padDil >>> 24;
  const hp = h + 2 * pad;
  const wq = (wd + 2 * pad + step - 1) / step;
  const zv = i16x8.splat(<i16>z);
  const zero = i16x8.splat(0);
  const c8 = c & ~7;
  const blockBytes = <usize>wq << 5;
  const rowBytes = <usize>(cp >> 3) * blockBytes;
  const inPix = <usize>c;
  for (let r = r0; r < r1; r++) {
    const b = r / hp;
    const y = r - b * hp - pad;
    const orow = out + <usize>r * rowBytes;
    if (y < 0 || y >= h) {
      for (let o: usize = 0; o < rowBytes; o += 16) v128.store(orow + o, zero);
      continue;
    }
    const xrow = x + <usize>((b * h + y) * wd) * inPix;
    for (let px = 0; px < wq; px++) {
      const x0 = px * step - pad;
      const x1 = x0 + dil;
      const in0 = x0 >= 0 && x0 < wd;
      const in1 = x1 >= 0 && x1 < wd;
      const p0 = xrow + <usize>x0 * inPix;
      const p1 = xrow + <usize>x1 * inPix;
      let op = orow + (<usize>px << 5);
      let j = 0;
      for (; j < c8; j += 8, op += blockBytes) {
        const u = in0 ? i16x8.sub(v128.load8x8_u(p0 + <usize>j), zv) : zero;
        const v = in1 ? i16x8.sub(v128.load8x8_u(p1 + <usize>j), zv) : zero;
        v128.store(op, v128.shuffle<u8>(u, v, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23));
        v128.store(op, v128.shuffle<u8>(u, v, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31), 16);
      }
      if (j < cp) {
        // the last block: channels [c8, c), then zeros
        for (let t = 0; t < 8; t++) {
          const ch = j + t;
          const u = in0 && ch < c ? <i32>load<u8>(p0 + <usize>ch) - z : 0;
          const v = in1 && ch < c ? <i32>load<u8>(p1 + <usize>ch) - z : 0;
          store<i16>(op + (<usize>t << 2), <i16>u);
          store<i16>(op + (<usize>t << 2), <i16>v, 2);
        }
      }
    }
  }
}

/**
 * Depthwise convolution on `qpad16`'s pair image xp `[n][hp][cp/8][wq][8][2]`, made with `step` =
 * stride (1 or 2): consecutive output pixels read consecutive pixels of it. w int16 `[k][ceil(k/2)]
 * [cp][2]` (taps kx = 2i and 2i + 1 of each channel, the latter 0 past k), bias int32 `[cp]`, out
 * uint8 `[n][oh][ow][c]`, requantized. Each `i32x4.dot_i16x8_s` does two taps of four channels;
 * tiles of 4 output pixels × 8 channels share the weight loads and read the image at constant
 * offsets. Output rows [r0, r1) of the n·oh.
 */
export function qdepthwise(
  xp: usize, w: usize, bias: usize, out: usize,
  hp: i32, wq: i32, c: i32, cp: i32, k: i32, stride: i32, dil: i32, oh: i32, ow: i32,
  scaleBits: i32, zo: i32, lo: i32, r0: i32, r1: i32,
): void {
  const scale = reinterpret<f32>(scaleBits);
  const s = f32x4.splat(scale);
  const zov = i16x8.splat(<i16>zo);
  const lov = i8x16.splat(<i8>lo);
  const pix = <usize>cp << 2;
  const kh = (k + 1) >> 1;
  const blockBytes = <usize>wq << 5;
  const rowBytes = <usize>(cp >> 3) * blockBytes;
  // the next pair of taps in a row: 2·dil columns on, in pixels of the image (columns `stride` apart)
  const dx = <usize>((2 * dil) / stride) << 5;
  const dy = <usize>dil * rowBytes;
  const ow4 = ow & ~3;
  const outPix = <usize>c;
  for (let row = r0; row < r1; row++) {
    const b = row / oh;
    const oy = row - b * oh;
    const xrow = xp + (<usize>b * <usize>hp + <usize>(oy * stride)) * rowBytes;
    const orow = out + (<usize>b * <usize>oh + <usize>oy) * <usize>ow * outPix;
    for (let j = 0; j < cp; j += 8) {
      const xb = xrow + <usize>(j >> 3) * blockBytes;
      const b0 = v128.load(bias + (<usize>j << 2));
      const b1 = v128.load(bias + (<usize>j << 2), 16);
      const wj = w + (<usize>j << 2);
      const lanes = min(8, c - j);
      let ox = 0;
      for (; ox < ow4; ox += 4) {
        let a00 = b0, a01 = b1, a10 = b0, a11 = b1, a20 = b0, a21 = b1, a30 = b0, a31 = b1;
        let xr = xb + (<usize>ox << 5);
        let wr = wj;
        for (let ky = 0; ky < k; ky++, xr += dy) {
          let xq = xr;
          for (let i = 0; i < kh; i++, xq += dx, wr += pix) {
            const w0 = v128.load(wr);
            const w1 = v128.load(wr, 16);
            a00 = i32x4.add(a00, i32x4.dot_i16x8_s(v128.load(xq), w0));
            a01 = i32x4.add(a01, i32x4.dot_i16x8_s(v128.load(xq, 16), w1));
            a10 = i32x4.add(a10, i32x4.dot_i16x8_s(v128.load(xq, 32), w0));
            a11 = i32x4.add(a11, i32x4.dot_i16x8_s(v128.load(xq, 48), w1));
            a20 = i32x4.add(a20, i32x4.dot_i16x8_s(v128.load(xq, 64), w0));
            a21 = i32x4.add(a21, i32x4.dot_i16x8_s(v128.load(xq, 80), w1));
            a30 = i32x4.add(a30, i32x4.dot_i16x8_s(v128.load(xq, 96), w0));
            a31 = i32x4.add(a31, i32x4.dot_i16x8_s(v128.load(xq, 112), w1));
          }
        }
        const o = orow + <usize>ox * outPix + <usize>j;
        store8(o, requant8(a00, a01, s, zov, lov), lanes);
        store8(o + outPix, requant8(a10, a11, s, zov, lov), lanes);
        store8(o + 2 * outPix, requant8(a20, a21, s, zov, lov), lanes);
        store8(o + 3 * outPix, requant8(a30, a31, s, zov, lov), lanes);
      }
      for (; ox < ow; ox++) {
        let a0 = b0;
        let a1 = b1;
        let xr = xb + (<usize>ox << 5);
        let wr = wj;
        for (let ky = 0; ky < k; ky++, xr += dy) {
          let xq = xr;
          for (let i = 0; i < kh; i++, xq += dx, wr += pix) {
            a0 = i32x4.add(a0, i32x4.dot_i16x8_s(v128.load(xq), v128.load(wr)));
            a1 = i32x4.add(a1, i32x4.dot_i16x8_s(v128.load(xq, 16), v128.load(wr, 16)));
          }
        }
        store8(orow + <usize>ox * outPix + <usize>j, requant8(a0, a1, s, zov, lov), lanes);
      }
    }
  }
}

/**
 * QNNPACK's global average pooling: out `[n][c]` = rint(float32(Σ x - z·p) × scale) + z, clamped,
 * over the `p` pixels of x `[n][p][c]` (scale `s / (s·p)`, see qnnpack.ts). Channels [c0, c1).
 */
export function qavgpool(x: usize, out: usize, n: i32, p: i32, c: i32, scaleBits: i32, z: i32, c0: i32, c1: i32): void {
  const scale = reinterpret<f32>(scaleBits);
  const s = f32x4.splat(scale);
  const zov = i16x8.splat(<i16>z);
  const lov = i8x16.splat(0);
  const init = i32x4.splat(-z * p);
  const c8 = c0 + ((c1 - c0) & ~7);
  for (let b = 0; b < n; b++) {
    const xb = x + <usize>b * <usize>p * <usize>c;
    const ob = out + <usize>b * <usize>c;
    let j = c0;
    for (; j < c8; j += 8) {
      let a0 = init, a1 = init;
      let xp = xb + <usize>j;
      for (let q = 0; q < p; q++, xp += <usize>c) {
        const v = v128.load8x8_u(xp);
        a0 = i32x4.add(a0, i32x4.extend_low_i16x8_u(v));
        a1 = i32x4.add(a1, i32x4.extend_high_i16x8_u(v));
      }
      v128.store64_lane(ob + <usize>j, requant8(a0, a1, s, zov, lov), 0);
    }
    for (; j < c1; j++) {
      let acc = -z * p;
      let xp = xb + <usize>j;
      for (let q = 0; q < p; q++, xp += <usize>c) acc += <i32>load<u8>(xp);
      const v = i32x4.extract_lane(i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.splat(<f32>acc * scale))), 0) + z;
      store<u8>(ob + <usize>j, <u8>(v < 0 ? 0 : v > 255 ? 255 : v));
    }
  }
}

/**
 * SE's `skip_mul` (ATen's quantized mul, broadcast): out `[n][p][c]` = zo + rint(float32((g - zg) ·
 * (x - zx)) × mult), clamped; g `[n][c]`. Pixel rows [r0, r1) of the n·p.
 */
export function qmulChannels(x: usize, g: usize, out: usize, p: i32, c: i32, zx: i32, zg: i32, multBits: i32, zo: i32, r0: i32, r1: i32): void {
  const mult = reinterpret<f32>(multBits);
  const m = f32x4.splat(mult);
  const zxv = i16x8.splat(<i16>zx);
  const zgv = i16x8.splat(<i16>zg);
  const zov = i16x8.splat(<i16>zo);
  const lov = i8x16.splat(0);
  const c8 = c & ~7;
  for (let r = r0; r < r1; r++) {
    const gr = g + <usize>(r / p) * <usize>c;
    const xr = x + <usize>r * <usize>c;
    const orow = out + <usize>r * <usize>c;
    let j = 0;
    for (; j < c8; j += 8) {
      const xv = i16x8.sub(v128.load8x8_u(xr + <usize>j), zxv);
      const gv = i16x8.sub(v128.load8x8_u(gr + <usize>j), zgv);
      const y = requant8(i32x4.extmul_low_i16x8_s(xv, gv), i32x4.extmul_high_i16x8_s(xv, gv), m, zov, lov);
      v128.store64_lane(orow + <usize>j, y, 0);
    }
    for (; j < c; j++) {
      const prod = (<i32>load<u8>(gr + <usize>j) - zg) * (<i32>load<u8>(xr + <usize>j) - zx);
      const v = i32x4.extract_lane(i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.splat(<f32>prod * mult))), 0) + zo;
      store<u8>(orow + <usize>j, <u8>(v < 0 ? 0 : v > 255 ? 255 : v));
    }
  }
}

@inline function add4(a: v128, b: v128, am: v128, bm: v128, zpp: v128, shift: i32, mask: v128, thr: v128): v128 {
  const acc = i32x4.add(zpp, i32x4.add(i32x4.mul(a, am), i32x4.mul(b, bm)));
  const rem = i32x4.add(v128.and(acc, mask), i32x4.shr_s(acc, 31));
  return i32x4.sub(i32x4.shr_s(acc, shift), i32x4.gt_s(rem, thr));
}

/**
 * QNNPACK's q8vadd (the residual `skip_add`): out = clamp((zpp + am·a + bm·b) >> shift, rounded
 * by the remainder rule, + zo) over elements [i0, i1) (see qnnpack.ts' `qadd`).
 */
export function qadd(a: usize, b: usize, out: usize, am: i32, bm: i32, zpp: i32, shift: i32, mask: i32, thr: i32, zo: i32, i0: i32, i1: i32): void {
  const amv = i32x4.splat(am);
  const bmv = i32x4.splat(bm);
  const zppv = i32x4.splat(zpp);
  const maskv = i32x4.splat(mask);
  const thrv = i32x4.splat(thr);
  const zov = i16x8.splat(<i16>zo);
  let i = i0;
  for (; i + 8 <= i1; i += 8) {
    const av = v128.load8x8_u(a + <usize>i);
    const bv = v128.load8x8_u(b + <usize>i);
    const r0 = add4(i32x4.extend_low_i16x8_u(av), i32x4.extend_low_i16x8_u(bv), amv, bmv, zppv, shift, maskv, thrv);
    const r1 = add4(i32x4.extend_high_i16x8_u(av), i32x4.extend_high_i16x8_u(bv), amv, bmv, zppv, shift, maskv, thrv);
    const h = i16x8.add_sat_s(i16x8.narrow_i32x4_s(r0, r1), zov);
    v128.store64_lane(out + <usize>i, i8x16.narrow_i16x8_u(h, h), 0);
  }
  for (; i < i1; i++) {
    const acc = zpp + am * <i32>load<u8>(a + <usize>i) + bm * <i32>load<u8>(b + <usize>i);
    const rem = (acc & mask) - (acc < 0 ? 1 : 0);
    const v = (acc >> shift) + (rem > thr ? 1 : 0) + zo;
    store<u8>(out + <usize>i, <u8>(v < 0 ? 0 : v > 255 ? 255 : v));
  }
}

/** QuantStub: out = clamp(rint(x × inv) + z) for the float32 x, elements [i0, i1). */
export function qquantize(x: usize, out: usize, invBits: i32, z: i32, i0: i32, i1: i32): void {
  const inv = reinterpret<f32>(invBits);
  const s = f32x4.splat(inv);
  const zov = i16x8.splat(<i16>z);
  const lov = i8x16.splat(0);
  let i = i0;
  for (; i + 8 <= i1; i += 8) {
    const p = x + (<usize>i << 2);
    const r0 = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(p), s)));
    const r1 = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(p, 16), s)));
    const h = i16x8.add_sat_s(i16x8.narrow_i32x4_s(r0, r1), zov);
    v128.store64_lane(out + <usize>i, i8x16.max_u(i8x16.narrow_i16x8_u(h, h), lov), 0);
  }
  for (; i < i1; i++) {
    const v = i32x4.extract_lane(i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.splat(load<f32>(x + (<usize>i << 2)) * inv))), 0);
    const q = v > 1000 ? 1000 : v < -1000 ? -1000 : v;
    const y = q + z;
    store<u8>(out + <usize>i, <u8>(y < 0 ? 0 : y > 255 ? 255 : y));
  }
}

/**
 * Bytes [i0, i1) of x through a 256-byte table, in place: a fused hardswish or hardsigmoid
 * (QNNPACK's tables, qnnpack.ts) after the layer that produced x. A pass of its own, not a lookup
 * in the layer's epilogue: there the lookups cost about twice as much (measured on MobileNetV3-Large:
 * 0.8 against 0.4 ms), with the accumulators of the next tile waiting.
 */
export function qtable(x: usize, table: usize, i0: i32, i1: i32): void {
  let p = x + <usize>i0;
  const e = x + <usize>i1;
  for (; p + 8 <= e; p += 8) {
    // all loads before the stores: the eight lookups overlap
    const b0 = load<u8>(table + <usize>load<u8>(p));
    const b1 = load<u8>(table + <usize>load<u8>(p, 1));
    const b2 = load<u8>(table + <usize>load<u8>(p, 2));
    const b3 = load<u8>(table + <usize>load<u8>(p, 3));
    const b4 = load<u8>(table + <usize>load<u8>(p, 4));
    const b5 = load<u8>(table + <usize>load<u8>(p, 5));
    const b6 = load<u8>(table + <usize>load<u8>(p, 6));
    const b7 = load<u8>(table + <usize>load<u8>(p, 7));
    store<u8>(p, b0);
    store<u8>(p, b1, 1);
    store<u8>(p, b2, 2);
    store<u8>(p, b3, 3);
    store<u8>(p, b4, 4);
    store<u8>(p, b5, 5);
    store<u8>(p, b6, 6);
    store<u8>(p, b7, 7);
  }
  for (; p < e; p++) store<u8>(p, load<u8>(table + <usize>load<u8>(p)));
}
