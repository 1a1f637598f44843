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


import { threadSlot } from './thread-slot';
import { madd } from './madd';

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
 * A small dense layer over `n` vectors, one of MobileNetV3's squeeze-and-excitation steps (pooling,
 * this twice — ReLU, then hardsigmoid —, scaling; src/kernels/Mnv3SqueezeExcite.ts runs them):
 * out `[n][cout]` = act(x `[n][cin]` · w `[cin][cout]` + b), outputs [lo, hi) of the cout.
 */
export function denseAct(x: usize, w: usize, b: usize, out: usize, n: i32, cin: i32, cout: i32, act: i32, lo: i32, hi: i32): void {
  const hi4 = lo + ((hi - lo) & ~3);
  const rowBytes = <usize>cout << 2;
  for (let r = 0; r < n; r++, x += <usize>cin << 2, out += rowBytes) {
    for (let j = lo; j < hi; j++) store<f32>(out + (<usize>j << 2), load<f32>(b + (<usize>j << 2)));
    for (let k = 0; k < cin; k++) {
      const xk = f32x4.splat(load<f32>(x + (<usize>k << 2)));
      const xks = load<f32>(x + (<usize>k << 2));
      const wrow = w + <usize>k * rowBytes;
      let j = lo;
      for (; j < hi4; j += 4) {
        const o = <usize>j << 2;
        v128.store(out + o, f32x4.add(v128.load(out + o), f32x4.mul(xk, v128.load(wrow + o))));
      }
      for (; j < hi; j++) {
        const o = <usize>j << 2;
        store<f32>(out + o, load<f32>(out + o) + xks * load<f32>(wrow + o));
      }
    }
    for (let j = lo; j < hi; j++) store<f32>(out + (<usize>j << 2), act1(load<f32>(out + (<usize>j << 2)), act));
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

// Blocking of `conv`: output pixels in chunks of MC (their input rows stay in L2 across every
// output block), input channels in chunks of KC (a block's weights for one chunk, KC × 32 bytes
// per tap, stay in L1 across the chunk's pixel tiles).
const MC: i32 = 128;
const KC: i32 = 256;

/** Bytes of tap lists `conv` needs per thread for a k×k kernel: (MC/4) tiles × (1 + 5·k·k) words. */
export function convTableBytes(k: i32): i32 {
  return (MC >> 2) * (1 + 5 * k * k) * 4;
}

/**
 * Convolution with groups = 1 (any kernel size, stride, dilation, symmetric padding) as a GEMM
 * over output pixels: `out = act(conv(x) + bias) + res`; 1x1 convolutions and linear layers (one
 * pixel per row) are the k = 1 case. x `[n][h][wd][ci]`, out and res `[n][oh][ow][co]` (res 0:
 * none), bias `[co]` (0: none). The filter is packed in blocks of 8 output channels,
 * `w[ceil(co/8)][k·k][ci][8]`, zero-padded, so each block's weights for a tap are one sequential
 * stream. Tiles of 4 pixels × 8 output channels in registers, input values splatted.
 *
 * Taps that fall in the padding are skipped, not multiplied by zeros: a tile's tap list holds
 * only taps inside the input for at least one of its pixels (the others read `zero`, a row of
 * ci zeros). That is what makes DeepLabV3's atrous convolutions cheap: at dilation 36 on a
 * 33×33 map only the centre tap is ever inside. `table` is scratch for the tap lists, one slice of
 * `convTableBytes(k)` per pool thread. Threads share one call by its range [lo, hi): output pixels
 * (lo a multiple of 4), or with `byBlocks` blocks of 8 output channels over all `pixels` (each
 * thread then streams only its share of the weights: a linear layer over a few rows).
 */
export function conv(
  x: usize, w: usize, bias: usize, res: usize, out: usize, zero: usize, table: usize,
  h: i32, wd: i32, ci: i32, oh: i32, ow: i32, co: i32,
  k: i32, stride: i32, dil: i32, pad: i32, act: i32, pixels: i32, byBlocks: i32, lo: i32, hi: i32,
): void {
  const kk = k * k;
  table += <usize>threadSlot * <usize>convTableBytes(k);
  const inRow = <usize>ci << 2;
  const outRow = <usize>co << 2;
  const tapBytes = <usize>ci << 5;
  const p0 = byBlocks ? 0 : lo;
  const p1 = byBlocks ? pixels : hi;
  const j0 = byBlocks ? lo : 0;
  const j1 = byBlocks ? hi : (co + 7) >> 3;
  const opix = oh * ow;
  const direct = k == 1 && stride == 1 && pad == 0;
  for (let m0 = p0; m0 < p1; m0 += MC) {
    const m1 = min(m0 + MC, p1);
    // Tap lists per tile of 4 pixels: [count][(weight offset, 4 input row pointers) × count]
    // (none for a plain 1x1 convolution: its tiles read rows q..q+3 of x directly).
    let tp = table;
    for (let q = m0; q < m1 && !direct; q += 4) {
      const countAt = tp;
      tp += 4;
      let count = 0;
      for (let t = 0; t < kk; t++) {
        const ky = t / k;
        const kx = t - ky * k;
        let any = false;
        for (let i = 0; i < 4; i++) {
          const qi = q + i;
          let ptr = zero;
          if (qi < m1) {
            const b = qi / opix;
            const r = qi - b * opix;
            const oy = r / ow;
            const ox = r - oy * ow;
            const iy = oy * stride - pad + ky * dil;
            const ix = ox * stride - pad + kx * dil;
            if (iy >= 0 && iy < h && ix >= 0 && ix < wd) {
              ptr = x + (<usize>((b * h + iy) * wd + ix)) * inRow;
              any = true;
            }
          }
          store<u32>(tp + 4 + (<usize>i << 2), <u32>ptr);
        }
        if (any) {
          store<u32>(tp, <u32>(<usize>t * tapBytes));
          tp += 20;
          count++;
        }
      }
      store<i32>(countAt, count);
    }
    for (let c0 = 0; c0 < ci; c0 += KC) {
      const kc = min(KC, ci - c0);
      const first = c0 == 0;
      const last = c0 + kc == ci;
      const chunk = <usize>c0 << 2;
      const kcBytes = <usize>kc << 2;
      // Which operand stays in cache across the other's loop: when every block's weights for
      // this chunk fit in L2 (half of a typical 1 MB), pixel tiles outside (a tile's 4 input rows
      // stay in L1 across the blocks); else blocks outside (a block's weights are read once per
      // chunk of pixels, whose inputs stay in L2).
      if (<usize>(j1 - j0) * <usize>kk * kcBytes * 8 <= 524288) {
        tp = table;
        for (let q = m0; q < m1; q += 4) {
          const rows = min(4, m1 - q);
          const rq = res ? res + <usize>q * outRow : 0;
          let next = tp;
          for (let j = j0; j < j1; j++) {
            next = convTile(w + <usize>j * <usize>kk * tapBytes + (chunk << 3), direct ? 0 : tp, x + <usize>q * inRow, inRow, zero,
              out + <usize>q * outRow, rq, bias, <usize>j << 5,
              min(8, co - (j << 3)), rows, outRow, chunk, kcBytes, first, last, act);
          }
          tp = next;
        }
      } else {
        for (let j = j0; j < j1; j++) {
          const wj = w + <usize>j * <usize>kk * tapBytes + (chunk << 3);
          const lanes = min(8, co - (j << 3));
          tp = table;
          for (let q = m0; q < m1; q += 4) {
            tp = convTile(wj, direct ? 0 : tp, x + <usize>q * inRow, inRow, zero,
              out + <usize>q * outRow, res ? res + <usize>q * outRow : 0, bias, <usize>j << 5,
              lanes, min(4, m1 - q), outRow, chunk, kcBytes, first, last, act);
          }
        }
      }
    }
  }
}

/**
 * One tile of `conv`: 4 output pixels (`rows` of them real) × one block of 8 output channels
 * (`lanes` real) at byte offset `ob`, over one chunk of input channels of every tap in the tile's
 * list at `tp` (tp 0: one tap, input rows `xq` + i·inRow). Starts from the bias (`first` chunk) or
 * the partial sums in `out`; applies the activation and residual after the `last`. Returns the
 * end of the tile's tap list.
 */
@inline function convTile(
  wj: usize, tp: usize, xq: usize, inRow: usize, zero: usize, oq: usize, rq: usize, bias: usize, ob: usize,
  lanes: i32, rows: i32, outRow: usize, chunk: usize, kcBytes: usize, first: bool, last: bool, act: i32,
): usize {
  const op = oq + ob;
  const direct = tp == 0;
  const count = direct ? 1 : load<i32>(tp);
  tp += 4;
  let a00: v128, a01: v128, a10: v128, a11: v128, a20: v128, a21: v128, a30: v128, a31: v128;
  if (first) {
    let b0: v128 = ZERO4, b1: v128 = ZERO4;
    if (bias) {
      if (lanes == 8) {
        b0 = v128.load(bias + ob);
        b1 = v128.load(bias + ob, 16);
      } else {
        b0 = loadN(bias + ob, min(lanes, 4));
        b1 = loadN(bias + ob + 16, lanes - min(lanes, 4));
      }
    }
    a00 = b0; a01 = b1; a10 = b0; a11 = b1; a20 = b0; a21 = b1; a30 = b0; a31 = b1;
  } else if (lanes == 8 && rows == 4) {
    a00 = v128.load(op); a01 = v128.load(op, 16);
    a10 = v128.load(op + outRow); a11 = v128.load(op + outRow, 16);
    a20 = v128.load(op + 2 * outRow); a21 = v128.load(op + 2 * outRow, 16);
    a30 = v128.load(op + 3 * outRow); a31 = v128.load(op + 3 * outRow, 16);
  } else {
    a00 = loadLanes(op, lanes, 0); a01 = loadLanes(op, lanes, 1);
    a10 = rows > 1 ? loadLanes(op + outRow, lanes, 0) : ZERO4; a11 = rows > 1 ? loadLanes(op + outRow, lanes, 1) : ZERO4;
    a20 = rows > 2 ? loadLanes(op + 2 * outRow, lanes, 0) : ZERO4; a21 = rows > 2 ? loadLanes(op + 2 * outRow, lanes, 1) : ZERO4;
    a30 = rows > 3 ? loadLanes(op + 3 * outRow, lanes, 0) : ZERO4; a31 = rows > 3 ? loadLanes(op + 3 * outRow, lanes, 1) : ZERO4;
  }
  for (let e = 0; e < count; e++, tp += 20) {
    let wp: usize, x0: usize, x1: usize, x2: usize, x3: usize;
    if (direct) {
      wp = wj;
      x0 = xq + chunk;
      x1 = rows > 1 ? x0 + inRow : zero;
      x2 = rows > 2 ? x0 + 2 * inRow : zero;
      x3 = rows > 3 ? x0 + 3 * inRow : zero;
    } else {
      wp = wj + <usize>load<u32>(tp);
      x0 = <usize>load<u32>(tp, 4) + chunk;
      x1 = <usize>load<u32>(tp, 8) + chunk;
      x2 = <usize>load<u32>(tp, 12) + chunk;
      x3 = <usize>load<u32>(tp, 16) + chunk;
    }
    if (rows == 1) {
      // One pixel (a linear layer's single row): the other three would be wasted work.
      for (let o: usize = 0; o < kcBytes; o += 4) {
        const s = v128.load32_splat(x0 + o);
        a00 = madd(s, v128.load(wp), a00);
        a01 = madd(s, v128.load(wp, 16), a01);
        wp += 32;
      }
      continue;
    }
    for (let o: usize = 0; o < kcBytes; o += 4) {
      const w0 = v128.load(wp);
      const w1 = v128.load(wp, 16);
      wp += 32;
      let s = v128.load32_splat(x0 + o);
      a00 = madd(s, w0, a00);
      a01 = madd(s, w1, a01);
      s = v128.load32_splat(x1 + o);
      a10 = madd(s, w0, a10);
      a11 = madd(s, w1, a11);
      s = v128.load32_splat(x2 + o);
      a20 = madd(s, w0, a20);
      a21 = madd(s, w1, a21);
      s = v128.load32_splat(x3 + o);
      a30 = madd(s, w0, a30);
      a31 = madd(s, w1, a31);
    }
  }
  if (last) {
    a00 = act4(a00, act); a01 = act4(a01, act); a10 = act4(a10, act); a11 = act4(a11, act);
    a20 = act4(a20, act); a21 = act4(a21, act); a30 = act4(a30, act); a31 = act4(a31, act);
    if (rq) {
      const rp = rq + ob;
      if (lanes == 8 && rows == 4) {
        a00 = f32x4.add(a00, v128.load(rp)); a01 = f32x4.add(a01, v128.load(rp, 16));
        a10 = f32x4.add(a10, v128.load(rp + outRow)); a11 = f32x4.add(a11, v128.load(rp + outRow, 16));
        a20 = f32x4.add(a20, v128.load(rp + 2 * outRow)); a21 = f32x4.add(a21, v128.load(rp + 2 * outRow, 16));
        a30 = f32x4.add(a30, v128.load(rp + 3 * outRow)); a31 = f32x4.add(a31, v128.load(rp + 3 * outRow, 16));
      } else {
        a00 = f32x4.add(a00, loadLanes(rp, lanes, 0)); a01 = f32x4.add(a01, loadLanes(rp, lanes, 1));
        if (rows > 1) { a10 = f32x4.add(a10, loadLanes(rp + outRow, lanes, 0)); a11 = f32x4.add(a11, loadLanes(rp + outRow, lanes, 1)); }
        if (rows > 2) { a20 = f32x4.add(a20, loadLanes(rp + 2 * outRow, lanes, 0)); a21 = f32x4.add(a21, loadLanes(rp + 2 * outRow, lanes, 1)); }
        if (rows > 3) { a30 = f32x4.add(a30, loadLanes(rp + 3 * outRow, lanes, 0)); a31 = f32x4.add(a31, loadLanes(rp + 3 * outRow, lanes, 1)); }
      }
    }
  }
  if (lanes == 8 && rows == 4) {
    v128.store(op, a00); v128.store(op, a01, 16);
    v128.store(op + outRow, a10); v128.store(op + outRow, a11, 16);
    v128.store(op + 2 * outRow, a20); v128.store(op + 2 * outRow, a21, 16);
    v128.store(op + 3 * outRow, a30); v128.store(op + 3 * outRow, a31, 16);
  } else {
    storeLanes(op, a00, a01, lanes);
    if (rows > 1) storeLanes(op + outRow, a10, a11, lanes);
    if (rows > 2) storeLanes(op + 2 * outRow, a20, a21, lanes);
    if (rows > 3) storeLanes(op + 3 * outRow, a30, a31, lanes);
  }
  return tp;
}

/** Half `half` (0: lanes 0–3, 1: lanes 4–7) of the first `lanes` (1..8) floats at p, zeros past them. */
@inline function loadLanes(p: usize, lanes: i32, half: i32): v128 {
  return half == 0 ? loadN(p, min(lanes, 4)) : loadN(p + 16, lanes - min(lanes, 4));
}

/** Stores the first `lanes` (1..8) floats of the pair (v0, v1) at p. */
@inline function storeLanes(p: usize, v0: v128, v1: v128, lanes: i32): void {
  const n0 = min(lanes, 4);
  storeN(p, v0, n0);
  storeN(p + 16, v1, lanes - n0);
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

/**
 * Averages of bilinear samples of NHWC maps, one output cell at a time (RoIAlign's inner loop,
 * its geometry computed by the caller). `table`, per cell: count, divisor (f32), output offset
 * (floats from `out`), map index (into `bases`, the maps' addresses); then `count` samples of four
 * tap offsets (floats from the map's start, each tap a pixel's `c` channels) and four weights
 * (f32). Per channel: `out = Σ (((w1·t1 + w2·t2) + w3·t3) + w4·t4) / divisor`, in f32, the
 * order of TorchVision's CPU kernel. Channel j of a cell goes to `out + offset + j·cStride`.
 */
export function bilinearGather(table: usize, cells: i32, bases: usize, out: usize, c: i32, cStride: i32): void {
  const c16 = c & ~15;
  let tp = table;
  for (let b = 0; b < cells; b++) {
    const count = load<i32>(tp);
    const div = f32x4.splat(load<f32>(tp, 4));
    const op = out + (<usize>load<i32>(tp, 8) << 2);
    const base = <usize>load<u32>(bases + (<usize>load<i32>(tp, 12) << 2));
    tp += 16;
    // 16 channels at a time (each sample's taps and weights read once per 16), then 4 by 4.
    let j = 0;
    for (; j < c16; j += 16) {
      const jo = <usize>j << 2;
      let a0: v128 = ZERO4, a1: v128 = ZERO4, a2: v128 = ZERO4, a3: v128 = ZERO4;
      let sp = tp;
      for (let s = 0; s < count; s++, sp += 32) {
        const w1 = v128.load32_splat(sp + 16);
        const w2 = v128.load32_splat(sp + 20);
        const w3 = v128.load32_splat(sp + 24);
        const w4 = v128.load32_splat(sp + 28);
        const t1 = base + (<usize>load<i32>(sp) << 2) + jo;
        const t2 = base + (<usize>load<i32>(sp, 4) << 2) + jo;
        const t3 = base + (<usize>load<i32>(sp, 8) << 2) + jo;
        const t4 = base + (<usize>load<i32>(sp, 12) << 2) + jo;
        a0 = f32x4.add(a0, f32x4.add(f32x4.add(f32x4.add(f32x4.mul(w1, v128.load(t1)), f32x4.mul(w2, v128.load(t2))), f32x4.mul(w3, v128.load(t3))), f32x4.mul(w4, v128.load(t4))));
        a1 = f32x4.add(a1, f32x4.add(f32x4.add(f32x4.add(f32x4.mul(w1, v128.load(t1, 16)), f32x4.mul(w2, v128.load(t2, 16))), f32x4.mul(w3, v128.load(t3, 16))), f32x4.mul(w4, v128.load(t4, 16))));
        a2 = f32x4.add(a2, f32x4.add(f32x4.add(f32x4.add(f32x4.mul(w1, v128.load(t1, 32)), f32x4.mul(w2, v128.load(t2, 32))), f32x4.mul(w3, v128.load(t3, 32))), f32x4.mul(w4, v128.load(t4, 32))));
        a3 = f32x4.add(a3, f32x4.add(f32x4.add(f32x4.add(f32x4.mul(w1, v128.load(t1, 48)), f32x4.mul(w2, v128.load(t2, 48))), f32x4.mul(w3, v128.load(t3, 48))), f32x4.mul(w4, v128.load(t4, 48))));
      }
      gatherStore(op, j, f32x4.div(a0, div), 4, cStride);
      gatherStore(op, j + 4, f32x4.div(a1, div), 4, cStride);
      gatherStore(op, j + 8, f32x4.div(a2, div), 4, cStride);
      gatherStore(op, j + 12, f32x4.div(a3, div), 4, cStride);
    }
    for (; j < c; j += 4) {
      const jo = <usize>j << 2;
      const n = min(4, c - j);
      let acc: v128 = ZERO4;
      let sp = tp;
      for (let s = 0; s < count; s++, sp += 32) {
        const v1 = loadN(base + (<usize>load<i32>(sp) << 2) + jo, n);
        const v2 = loadN(base + (<usize>load<i32>(sp, 4) << 2) + jo, n);
        const v3 = loadN(base + (<usize>load<i32>(sp, 8) << 2) + jo, n);
        const v4 = loadN(base + (<usize>load<i32>(sp, 12) << 2) + jo, n);
        acc = f32x4.add(acc, f32x4.add(f32x4.add(f32x4.add(
          f32x4.mul(v128.load32_splat(sp + 16), v1), f32x4.mul(v128.load32_splat(sp + 20), v2)),
          f32x4.mul(v128.load32_splat(sp + 24), v3)), f32x4.mul(v128.load32_splat(sp + 28), v4)));
      }
      gatherStore(op, j, f32x4.div(acc, div), n, cStride);
    }
    tp += <usize>count << 5;
  }
}

/** Stores lanes [0, n) of v as channels j.. of a cell at op, `cStride` floats apart. */
@inline function gatherStore(op: usize, j: i32, v: v128, n: i32, cStride: i32): void {
  if (cStride == 1) {
    if (n == 4) v128.store(op + (<usize>j << 2), v);
    else storeN(op + (<usize>j << 2), v, n);
    return;
  }
  const step = <usize>cStride << 2;
  const p = op + <usize>j * step;
  store<f32>(p, f32x4.extract_lane(v, 0));
  if (n > 1) store<f32>(p + step, f32x4.extract_lane(v, 1));
  if (n > 2) store<f32>(p + 2 * step, f32x4.extract_lane(v, 2));
  if (n > 3) store<f32>(p + 3 * step, f32x4.extract_lane(v, 3));
}
