// WASM SIMD kernels for the fast path of @mnv3/layers, in AssemblyScript (compiled by
// scripts/build-wasm.mjs into src/kernels/wasm-binary.generated.ts).
//
// The module imports the tfjs WASM backend's memory, so every pointer here is a byte offset of a
// tfjs tensor (or of scratch space malloc'd from that heap). Nothing here allocates, keeps state or
// has static data: the module owns no part of the shared memory.
//
// Layout: NHWC float32. Activations: 0 linear, 1 relu, 2 relu6, 3 hardswish, 4 hardsigmoid.
// min/max use the pseudo-min/max instructions (one instruction each on x86/ARM); the formulas
// follow the plain tfjs-op path: hardswish(x) = x · (min(max(x + 3, 0), 6) / 6).


const ZERO4: v128 = f32x4.splat(0);
const THREE4: v128 = f32x4.splat(3);
const SIX4: v128 = f32x4.splat(6);

@inline function act4(v: v128, act: i32): v128 {
  if (act == 1) return f32x4.pmax(ZERO4, v);
  if (act == 2) return f32x4.pmin(SIX4, f32x4.pmax(ZERO4, v));
  if (act == 3) return f32x4.mul(v, f32x4.div(f32x4.pmin(SIX4, f32x4.pmax(ZERO4, f32x4.add(v, THREE4))), SIX4));
  if (act == 4) return f32x4.div(f32x4.pmin(SIX4, f32x4.pmax(ZERO4, f32x4.add(v, THREE4))), SIX4);
  return v;
}

@inline function relu6s(v: f32): f32 {
  const r: f32 = v > 0 ? v : 0;
  return r < 6 ? r : 6;
}

@inline function act1(v: f32, act: i32): f32 {
  if (act == 1) return v > 0 ? v : 0;
  if (act == 2) return relu6s(v);
  if (act == 3) return v * (relu6s(v + 3) / 6);
  if (act == 4) return relu6s(v + 3) / 6;
  return v;
}

/** out[i] = act(x[i]) for the n floats, elements [i0, i1) of them (in place when out == x). */
export function activation(x: usize, out: usize, n: i32, act: i32, i0: i32, i1: i32): void {
  let i = i0;
  for (; i + 8 <= i1; i += 8) {
    const o = <usize>i << 2;
    v128.store(out + o, act4(v128.load(x + o), act));
    v128.store(out + o, act4(v128.load(x + o, 16), act), 16);
  }
  for (; i < i1; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, act1(load<f32>(x + o), act));
  }
}

/**
 * MobileNetV3's squeeze-and-excitation in one call, per image of `[P pixels, C channels]`:
 * pooled = mean over pixels; hidden = relu(pooled · w1 + b1) (w1 `[C][S]`); gate =
 * hardsigmoid(hidden · w2 + b2) (w2 `[S][C]`); out = x · gate. `scratch` holds n(2C + S) floats.
 * The steps are exported too (meanPixels, seFc1, seFc2, scaleChannels), each with a range of its
 * outputs, so that they can be split across threads.
 */
export function squeezeExcite(
  x: usize, w1: usize, b1: usize, w2: usize, b2: usize, out: usize, scratch: usize,
  n: i32, p: i32, c: i32, s: i32,
): void {
  const pooled = scratch;
  const gate = pooled + ((<usize>n * <usize>c) << 2);
  const hidden = gate + ((<usize>n * <usize>c) << 2);
  meanPixels(x, pooled, n, p, c, 0, c);
  seFc1(pooled, w1, b1, hidden, n, c, s, 0, s);
  seFc2(hidden, w2, b2, gate, n, c, s, 0, c);
  scaleChannels(x, gate, out, n, p, c, 0, n * p);
}

/**
 * The first layer of the excitation: hidden `[n][S]` = relu(pooled · w1 + b1) for pooled
 * `[n][C]`, w1 `[C][S]`; outputs [k0, k1) of the S.
 */
export function seFc1(pooled: usize, w1: usize, b1: usize, hidden: usize, n: i32, c: i32, s: i32, k0: i32, k1: i32): void {
  const k4 = k0 + ((k1 - k0) & ~3);
  for (let b = 0; b < n; b++, pooled += <usize>c << 2, hidden += <usize>s << 2) {
    for (let k = k0; k < k1; k++) store<f32>(hidden + (<usize>k << 2), load<f32>(b1 + (<usize>k << 2)));
    for (let j = 0; j < c; j++) {
      const pj = f32x4.splat(load<f32>(pooled + (<usize>j << 2)));
      const pjs = load<f32>(pooled + (<usize>j << 2));
      const wrow = w1 + <usize>j * (<usize>s << 2);
      let k = k0;
      for (; k < k4; k += 4) {
        const o = <usize>k << 2;
        v128.store(hidden + o, f32x4.add(v128.load(hidden + o), f32x4.mul(pj, v128.load(wrow + o))));
      }
      for (; k < k1; k++) {
        const o = <usize>k << 2;
        store<f32>(hidden + o, load<f32>(hidden + o) + pjs * load<f32>(wrow + o));
      }
    }
    for (let k = k0; k < k1; k++) {
      const v = load<f32>(hidden + (<usize>k << 2));
      store<f32>(hidden + (<usize>k << 2), v > 0 ? v : 0);
    }
  }
}

/**
 * The second layer of the excitation: gate `[n][C]` = hardsigmoid(hidden · w2 + b2) for hidden
 * `[n][S]`, w2 `[S][C]`; outputs [j0, j1) of the C.
 */
export function seFc2(hidden: usize, w2: usize, b2: usize, gate: usize, n: i32, c: i32, s: i32, j0: i32, j1: i32): void {
  const j4 = j0 + ((j1 - j0) & ~3);
  const rowBytes = <usize>c << 2;
  for (let b = 0; b < n; b++, hidden += <usize>s << 2, gate += rowBytes) {
    for (let j = j0; j < j1; j++) store<f32>(gate + (<usize>j << 2), load<f32>(b2 + (<usize>j << 2)));
    for (let k = 0; k < s; k++) {
      const hk = f32x4.splat(load<f32>(hidden + (<usize>k << 2)));
      const hks = load<f32>(hidden + (<usize>k << 2));
      const wrow = w2 + <usize>k * rowBytes;
      let j = j0;
      for (; j < j4; j += 4) {
        const o = <usize>j << 2;
        v128.store(gate + o, f32x4.add(v128.load(gate + o), f32x4.mul(hk, v128.load(wrow + o))));
      }
      for (; j < j1; j++) {
        const o = <usize>j << 2;
        store<f32>(gate + o, load<f32>(gate + o) + hks * load<f32>(wrow + o));
      }
    }
    for (let j = j0; j < j1; j++) store<f32>(gate + (<usize>j << 2), act1(load<f32>(gate + (<usize>j << 2)), 4));
  }
}

/** out = x · gate, x `[n][p][C]`, gate `[n][C]`: pixel rows [r0, r1) of the n·p. */
export function scaleChannels(x: usize, gate: usize, out: usize, n: i32, p: i32, c: i32, r0: i32, r1: i32): void {
  const rowBytes = <usize>c << 2;
  const c4 = c & ~3;
  for (let r = r0; r < r1; r++) {
    const g = gate + <usize>(r / p) * rowBytes;
    const row = x + <usize>r * rowBytes;
    const orow = out + <usize>r * rowBytes;
    let j = 0;
    for (; j < c4; j += 4) {
      const o = <usize>j << 2;
      v128.store(orow + o, f32x4.mul(v128.load(row + o), v128.load(g + o)));
    }
    for (; j < c; j++) {
      const o = <usize>j << 2;
      store<f32>(orow + o, load<f32>(row + o) * load<f32>(g + o));
    }
  }
}

/**
 * One output pixel of the depthwise convolution: `nky × nkx` in-bounds taps starting at input
 * `xs` and filter `ws`, walked by pointer increments (no per-tap index arithmetic).
 */
function dwPixels(
  count: i32, xstep: usize, xs: usize, ws: usize, bias: usize, op: usize, c: i32, nky: i32, nkx: i32,
  dx: usize, dy: usize, wdy: usize, rowBytes: usize, act: i32,
): void {
  const c16 = c & ~15;
  const c4 = c & ~3;
  for (let q = 0; q < count; q++, xs += xstep, op += rowBytes) {
  let j = 0;
  for (; j < c16; j += 16) {
    const jo = <usize>j << 2;
    let a0: v128, a1: v128, a2: v128, a3: v128;
    if (bias) {
      a0 = v128.load(bias + jo); a1 = v128.load(bias + jo, 16); a2 = v128.load(bias + jo, 32); a3 = v128.load(bias + jo, 48);
    } else {
      a0 = ZERO4; a1 = ZERO4; a2 = ZERO4; a3 = ZERO4;
    }
    let xr = xs + jo;
    let wr = ws + jo;
    for (let ky = 0; ky < nky; ky++) {
      let xp = xr;
      let wp = wr;
      for (let kx = 0; kx < nkx; kx++) {
        a0 = f32x4.add(a0, f32x4.mul(v128.load(xp), v128.load(wp)));
        a1 = f32x4.add(a1, f32x4.mul(v128.load(xp, 16), v128.load(wp, 16)));
        a2 = f32x4.add(a2, f32x4.mul(v128.load(xp, 32), v128.load(wp, 32)));
        a3 = f32x4.add(a3, f32x4.mul(v128.load(xp, 48), v128.load(wp, 48)));
        xp += dx;
        wp += rowBytes;
      }
      xr += dy;
      wr += wdy;
    }
    v128.store(op + jo, act4(a0, act));
    v128.store(op + jo, act4(a1, act), 16);
    v128.store(op + jo, act4(a2, act), 32);
    v128.store(op + jo, act4(a3, act), 48);
  }
  for (; j < c4; j += 4) {
    const jo = <usize>j << 2;
    let a0: v128 = bias ? v128.load(bias + jo) : ZERO4;
    let xr = xs + jo;
    let wr = ws + jo;
    for (let ky = 0; ky < nky; ky++) {
      let xp = xr;
      let wp = wr;
      for (let kx = 0; kx < nkx; kx++) {
        a0 = f32x4.add(a0, f32x4.mul(v128.load(xp), v128.load(wp)));
        xp += dx;
        wp += rowBytes;
      }
      xr += dy;
      wr += wdy;
    }
    v128.store(op + jo, act4(a0, act));
  }
  for (; j < c; j++) {
    const jo = <usize>j << 2;
    let a: f32 = bias ? load<f32>(bias + jo) : 0;
    let xr = xs + jo;
    let wr = ws + jo;
    for (let ky = 0; ky < nky; ky++) {
      let xp = xr;
      let wp = wr;
      for (let kx = 0; kx < nkx; kx++) {
        a += load<f32>(xp) * load<f32>(wp);
        xp += dx;
        wp += rowBytes;
      }
      xr += dy;
      wr += wdy;
    }
    store<f32>(op + jo, act1(a, act));
  }
  }
}

/**
 * Depthwise convolution, NHWC, filter `[k, k, C]`, optional bias `[C]` (0: none), symmetric explicit
 * padding, then an activation. Vectorised over channels: 16 at a time, then 4, then one by one;
 * at the borders only the taps inside the input are visited; the run of output pixels of a row
 * whose taps are all inside in x goes in one call.
 */
export function depthwise(
  x: usize, w: usize, bias: usize, out: usize,
  n: i32, h: i32, wd: i32, c: i32,
  k: i32, stride: i32, dil: i32, pad: i32, oh: i32, ow: i32, act: i32, r0: i32, r1: i32,
): void {
  const rowBytes = <usize>c << 2;
  const dx = <usize>dil * rowBytes;
  const dy = <usize>dil * <usize>wd * rowBytes;
  const wdy = <usize>k * rowBytes;
  // output rows [r0, r1) of the n·oh
  for (let row = r0; row < r1; row++) {
    const b = row / oh;
    const oy = row - b * oh;
    const xb = x + <usize>b * <usize>h * <usize>wd * rowBytes;
    {
      const iy0 = oy * stride - pad;
      let kyLo = 0;
      while (kyLo < k && iy0 + kyLo * dil < 0) kyLo++;
      let kyHi = k;
      while (kyHi > kyLo && iy0 + (kyHi - 1) * dil >= h) kyHi--;
      const orow = out + (<usize>b * <usize>oh + <usize>oy) * <usize>ow * rowBytes;
      const xrow = xb + <usize>(iy0 + kyLo * dil) * <usize>wd * rowBytes;
      const xstep = <usize>stride * rowBytes;
      for (let ox = 0; ox < ow; ox++) {
        const ix0 = ox * stride - pad;
        if (ix0 >= 0 && ix0 + (k - 1) * dil < wd) {
          // every later pixel up to the last with ix0 + (k-1)·dil < wd is inside in x too
          const last = min((wd - 1 - (k - 1) * dil + pad) / stride, ow - 1);
          const count = last - ox + 1;
          dwPixels(count, xstep, xrow + <usize>ix0 * rowBytes, w + <usize>(kyLo * k) * rowBytes, bias, orow + <usize>ox * rowBytes,
            c, kyHi - kyLo, k, dx, dy, wdy, rowBytes, act);
          ox = last;
          continue;
        }
        let kxLo = 0;
        while (kxLo < k && ix0 + kxLo * dil < 0) kxLo++;
        let kxHi = k;
        while (kxHi > kxLo && ix0 + (kxHi - 1) * dil >= wd) kxHi--;
        dwPixels(
          1, 0,
          xrow + <usize>(ix0 + kxLo * dil) * rowBytes,
          w + <usize>(kyLo * k + kxLo) * rowBytes,
          bias,
          orow + <usize>ox * rowBytes,
          c, kyHi - kyLo, kxHi - kxLo, dx, dy, wdy, rowBytes, act,
        );
      }
    }
  }
}

/** Lanes [0, n) from p, zeros elsewhere (n in 0..4): edges without reading past an array. */
@inline function loadN(p: usize, n: i32): v128 {
  let v: v128 = ZERO4;
  if (n > 0) v = f32x4.replace_lane(v, 0, load<f32>(p));
  if (n > 1) v = f32x4.replace_lane(v, 1, load<f32>(p, 4));
  if (n > 2) v = f32x4.replace_lane(v, 2, load<f32>(p, 8));
  if (n > 3) v = f32x4.replace_lane(v, 3, load<f32>(p, 12));
  return v;
}

/** Stores lanes [0, n) of v at p (n in 0..4). */
@inline function storeN(p: usize, v: v128, n: i32): void {
  if (n > 0) store<f32>(p, f32x4.extract_lane(v, 0));
  if (n > 1) store<f32>(p, f32x4.extract_lane(v, 1), 4);
  if (n > 2) store<f32>(p, f32x4.extract_lane(v, 2), 8);
  if (n > 3) store<f32>(p, f32x4.extract_lane(v, 3), 12);
}

/**
 * 1x1 convolution (a GEMM): x `[p][ci]` times the filter, + bias `[co]`, then an activation, then
 * plus an optional residual `res` `[p][co]` (0: none). The filter is packed in blocks of 8 output
 * channels, `w[co/8 rounded up][ci][8]`, zero-padded, so each block's weights are one sequential
 * stream. Tiles of 4 pixels × 8 output channels in registers, input values splatted.
 */
export function pointwise(x: usize, w: usize, bias: usize, res: usize, out: usize, p: i32, ci: i32, co: i32, act: i32, p0: i32, p1: i32): void {
  const inRow = <usize>ci << 2;
  const outRow = <usize>co << 2;
  const blockBytes = <usize>ci << 5;
  const full = co >> 3;
  const rem = co & 7;
  // pixels [p0, p1) of the p
  let r = p0;
  for (; r + 4 <= p1; r += 4) {
    const x0 = x + <usize>r * inRow;
    const x1 = x0 + inRow;
    const x2 = x1 + inRow;
    const x3 = x2 + inRow;
    const o0 = out + <usize>r * outRow;
    const r0 = res ? res + <usize>r * outRow : 0;
    for (let bi = 0; bi < full; bi++) {
      const obo = <usize>bi << 5;
      let b0: v128 = ZERO4, b1: v128 = ZERO4;
      if (bias) {
        b0 = v128.load(bias + obo);
        b1 = v128.load(bias + obo, 16);
      }
      let a00 = b0, a01 = b1, a10 = b0, a11 = b1, a20 = b0, a21 = b1, a30 = b0, a31 = b1;
      let wp = w + <usize>bi * blockBytes;
      for (let i = 0; i < ci; i++) {
        const io = <usize>i << 2;
        const w0 = v128.load(wp);
        const w1 = v128.load(wp, 16);
        wp += 32;
        let s = v128.load32_splat(x0 + io);
        a00 = f32x4.add(a00, f32x4.mul(s, w0));
        a01 = f32x4.add(a01, f32x4.mul(s, w1));
        s = v128.load32_splat(x1 + io);
        a10 = f32x4.add(a10, f32x4.mul(s, w0));
        a11 = f32x4.add(a11, f32x4.mul(s, w1));
        s = v128.load32_splat(x2 + io);
        a20 = f32x4.add(a20, f32x4.mul(s, w0));
        a21 = f32x4.add(a21, f32x4.mul(s, w1));
        s = v128.load32_splat(x3 + io);
        a30 = f32x4.add(a30, f32x4.mul(s, w0));
        a31 = f32x4.add(a31, f32x4.mul(s, w1));
      }
      const op = o0 + obo;
      a00 = act4(a00, act); a01 = act4(a01, act); a10 = act4(a10, act); a11 = act4(a11, act);
      a20 = act4(a20, act); a21 = act4(a21, act); a30 = act4(a30, act); a31 = act4(a31, act);
      if (res) {
        const rp = r0 + obo;
        a00 = f32x4.add(a00, v128.load(rp)); a01 = f32x4.add(a01, v128.load(rp, 16));
        a10 = f32x4.add(a10, v128.load(rp + outRow)); a11 = f32x4.add(a11, v128.load(rp + outRow, 16));
        a20 = f32x4.add(a20, v128.load(rp + 2 * outRow)); a21 = f32x4.add(a21, v128.load(rp + 2 * outRow, 16));
        a30 = f32x4.add(a30, v128.load(rp + 3 * outRow)); a31 = f32x4.add(a31, v128.load(rp + 3 * outRow, 16));
      }
      v128.store(op, a00); v128.store(op, a01, 16);
      v128.store(op + outRow, a10); v128.store(op + outRow, a11, 16);
      v128.store(op + 2 * outRow, a20); v128.store(op + 2 * outRow, a21, 16);
      v128.store(op + 3 * outRow, a30); v128.store(op + 3 * outRow, a31, 16);
    }
    if (rem) {
      for (let q = 0; q < 4; q++) {
        pointwiseBlock(x0 + <usize>q * inRow, w + <usize>full * blockBytes, bias, r0 ? r0 + <usize>q * outRow : 0, o0 + <usize>q * outRow, ci, full << 3, rem, act);
      }
    }
  }
  for (; r < p1; r++) {
    const xr = x + <usize>r * inRow;
    const rr = res ? res + <usize>r * outRow : 0;
    const or = out + <usize>r * outRow;
    for (let bi = 0; bi < full; bi++) pointwiseBlock(xr, w + <usize>bi * blockBytes, bias, rr, or, ci, bi << 3, 8, act);
    if (rem) pointwiseBlock(xr, w + <usize>full * blockBytes, bias, rr, or, ci, full << 3, rem, act);
  }
}

/**
 * One pixel, one block of `count` (1..8) output channels from `ob`: the edges of `pointwise`.
 * `wb` points at the block's packed weights; bias, residual and output are indexed by `ob`.
 */
function pointwiseBlock(xr: usize, wb: usize, bias: usize, rr: usize, or: usize, ci: i32, ob: i32, count: i32, act: i32): void {
  const obo = <usize>ob << 2;
  const n0 = min(count, 4);
  const n1 = count - n0;
  let a0: v128 = bias ? loadN(bias + obo, n0) : ZERO4;
  let a1: v128 = bias ? loadN(bias + obo + 16, n1) : ZERO4;
  let wp = wb;
  for (let i = 0; i < ci; i++) {
    const s = v128.load32_splat(xr + (<usize>i << 2));
    a0 = f32x4.add(a0, f32x4.mul(s, v128.load(wp)));
    a1 = f32x4.add(a1, f32x4.mul(s, v128.load(wp, 16)));
    wp += 32;
  }
  a0 = act4(a0, act);
  a1 = act4(a1, act);
  if (rr) {
    a0 = f32x4.add(a0, loadN(rr + obo, n0));
    a1 = f32x4.add(a1, loadN(rr + obo + 16, n1));
  }
  storeN(or + obo, a0, n0);
  storeN(or + obo + 16, a1, n1);
}

/**
 * Global average pooling: out `[n][c]` = mean over the `p` pixels of x `[n][p][c]`, channels
 * [c0, c1). Sums row by row into `out` (each channel in pixel order), then divides.
 */
export function meanPixels(x: usize, out: usize, n: i32, p: i32, c: i32, c0: i32, c1: i32): void {
  const rowBytes = <usize>c << 2;
  const fp = f32x4.splat(<f32>p);
  const lo = <usize>c0 << 2;
  const lo4 = (<usize>c0 + <usize>((c1 - c0) & ~3)) << 2;
  const hi = <usize>c1 << 2;
  for (let b = 0; b < n; b++) {
    const ob = out + <usize>b * rowBytes;
    let row = x + <usize>b * <usize>p * rowBytes;
    for (let o = lo; o < hi; o += 4) store<f32>(ob + o, 0);
    for (let q = 0; q < p; q++, row += rowBytes) {
      let o = lo;
      for (; o < lo4; o += 16) v128.store(ob + o, f32x4.add(v128.load(ob + o), v128.load(row + o)));
      for (; o < hi; o += 4) store<f32>(ob + o, load<f32>(ob + o) + load<f32>(row + o));
    }
    let o = lo;
    for (; o < lo4; o += 16) v128.store(ob + o, f32x4.div(v128.load(ob + o), fp));
    for (; o < hi; o += 4) store<f32>(ob + o, load<f32>(ob + o) / <f32>p);
  }
}
