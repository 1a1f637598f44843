// WASM SIMD kernels of the training path (backward passes, BatchNorm with batch statistics), in
// AssemblyScript, compiled with kernels.ts into one module (scripts/build-wasm.mjs). Kept apart
// from the inference kernels: nothing here is called by inference.
//
// Same conventions as kernels.ts: pointers are byte offsets into the tfjs heap, NHWC float32,
// filters HWIO (`[kh][kw][ci][co]`, depthwise `[kh][kw][c]`), no allocation and no state. Padding is
// given as the top/left offsets tfjs' convInfo computes (any `same`/`valid`/explicit padding).

import { madd } from './madd';

const ZERO4: v128 = f32x4.splat(0);

/** Lanes [0, n) from p, zeros elsewhere (n in 0..4). */
@inline function loadN(p: usize, n: i32): v128 {
  let v: v128 = ZERO4;
  if (n > 0) v = f32x4.replace_lane(v, 0, load<f32>(p));
  if (n > 1) v = f32x4.replace_lane(v, 1, load<f32>(p, 4));
  if (n > 2) v = f32x4.replace_lane(v, 2, load<f32>(p, 8));
  if (n > 3) v = f32x4.replace_lane(v, 3, load<f32>(p, 12));
  return v;
}

@inline function storeN(p: usize, v: v128, n: i32): void {
  if (n > 0) store<f32>(p, f32x4.extract_lane(v, 0));
  if (n > 1) store<f32>(p, f32x4.extract_lane(v, 1), 4);
  if (n > 2) store<f32>(p, f32x4.extract_lane(v, 2), 8);
  if (n > 3) store<f32>(p, f32x4.extract_lane(v, 3), 12);
}

/** Output pixels per chunk of `convBackpropFilter` (their x and dy rows stay in cache across tiles). */
const FILTER_CHUNK: i32 = 64;

/**
 * From this many output channels `convBackpropFilter` packs a chunk's dy rows into blocks of 8
 * channels first: a tile reads 8 channels of every pixel, and rows of co floats a power of two
 * bytes apart (1024 channels: 4 KiB) all fall in one L1 set, so a tile's loads would miss.
 */
const PACK_DY_CO: i32 = 128;

/**
 * Scratch bytes `convBackpropFilter` needs: its row pointers (and from PACK_DY_CO output channels
 * a chunk of packed dy rows), or for fewer than 4 input channels a chunk of im2col rows.
 */
export function convBackpropFilterTableBytes(kh: i32, kw: i32, ci: i32, co: i32): i32 {
  if (ci < 4) return FILTER_CHUNK * ((((kh * kw * ci + 3) & ~3) << 2) + 4);
  return FILTER_CHUNK * 4 + (co >= PACK_DY_CO ? FILTER_CHUNK * (((co + 7) & ~7) << 2) : 0);
}

/**
 * Filter gradient of a dense convolution: `dw[ky][kx][ci][co] = Σ x[n][iy][ix][ci] · dy[n][oy][ox][co]`
 * over every output pixel, iy = oy·sh − padT + ky·dh (taps in the padding read `zero`, ci zeros).
 * Output pixels go in chunks; per chunk and tap, tiles of 4 input × 8 output channels accumulate
 * in registers over the chunk's pixels and are added to `dw`, which starts zeroed here.
 */
export function convBackpropFilter(
  x: usize, dy: usize, dw: usize, zero: usize, table: usize,
  n: i32, h: i32, wd: i32, ci: i32, oh: i32, ow: i32, co: i32,
  kh: i32, kw: i32, sh: i32, sw: i32, dh: i32, dwl: i32, padT: i32, padL: i32,
): void {
  const total = <usize>kh * <usize>kw * <usize>ci * <usize>co;
  memory.fill(dw, 0, total << 2);
  if (ci < 4) {
    filterIm2col(x, dy, dw, table, n, h, wd, ci, oh, ow, co, kh, kw, sh, sw, dh, dwl, padT, padL);
    return;
  }
  const inRow = <usize>ci << 2;
  const outRow = <usize>co << 2;
  const pixels = n * oh * ow;
  const opix = oh * ow;
  const pack = co >= PACK_DY_CO;
  const packed = table + <usize>(FILTER_CHUNK << 2);
  const plain1x1 = kh == 1 && kw == 1 && sh == 1 && sw == 1 && padT == 0 && padL == 0 && oh == h && ow == wd;
  for (let m0 = 0; m0 < pixels; m0 += FILTER_CHUNK) {
    const m = min(FILTER_CHUNK, pixels - m0);
    const dyc = dy + <usize>m0 * outRow;
    // Packed: block o0/8 of the chunk is [m][8] floats at packed + o0/8 · m · 32 (lanes past co zero).
    if (pack) {
      for (let o0 = 0; o0 < co; o0 += 8) {
        const n0 = min(4, co - o0);
        const n1 = min(4, max(0, co - o0 - 4));
        let src = dyc + (<usize>o0 << 2);
        let dst = packed + <usize>(o0 >> 3) * <usize>m * 32;
        for (let q = 0; q < m; q++, src += outRow, dst += 32) {
          v128.store(dst, n0 == 4 ? v128.load(src) : loadN(src, n0));
          v128.store(dst, n1 == 4 ? v128.load(src, 16) : loadN(src + 16, n1), 16);
        }
      }
    }
    for (let ky = 0; ky < kh; ky++) {
      for (let kx = 0; kx < kw; kx++) {
        // Row pointers of x for this tap and chunk (zero: in the padding); the output pixel's
        // coordinates stepped along, not divided out per pixel.
        let any = false;
        if (plain1x1) {
          for (let q = 0; q < m; q++) store<u32>(table + (<usize>q << 2), <u32>(x + <usize>(m0 + q) * inRow));
          any = true;
        } else {
          let b = m0 / opix;
          let oy = (m0 - b * opix) / ow;
          let ox = m0 - b * opix - oy * ow;
          for (let q = 0; q < m; q++) {
            const iy = oy * sh - padT + ky * dh;
            const ix = ox * sw - padL + kx * dwl;
            let ptr = zero;
            if (iy >= 0 && iy < h && ix >= 0 && ix < wd) {
              ptr = x + (<usize>((b * h + iy) * wd + ix)) * inRow;
              any = true;
            }
            store<u32>(table + (<usize>q << 2), <u32>ptr);
            if (++ox == ow) {
              ox = 0;
              if (++oy == oh) {
                oy = 0;
                b++;
              }
            }
          }
        }
        if (!any) continue;
        const dwt = dw + (<usize>(ky * kw + kx) * <usize>ci) * outRow;
        for (let c0 = 0; c0 < ci; c0 += 4) {
          const cis = min(4, ci - c0);
          const cOff = <usize>c0 << 2;
          for (let o0 = 0; o0 < co; o0 += 8) {
            const lanes = min(8, co - o0);
            const oOff = <usize>o0 << 2;
            const dyp = pack ? packed + <usize>(o0 >> 3) * <usize>m * 32 : dyc + oOff;
            filterTile(dwt + <usize>c0 * outRow + oOff, dyp, pack ? 32 : outRow, table, m, cOff, outRow, cis, lanes, false);
          }
        }
      }
    }
  }
}

/**
 * `convBackpropFilter` for fewer than 4 input channels (the 3-channel stem), where tiles of 4 input
 * channels would run a quarter or more empty: per chunk of output pixels, their im2col rows
 * (`[m][K4]`, the K = kh·kw·ci taps in HWIO order, zero in the padding and past K) go to `col`, and
 * the filter gradient `dw[K][co] = Σ col[p][K] · dy[p][co]` runs in `filterTile`'s tiles of 4 taps × 8 channels.
 */
function filterIm2col(
  x: usize, dy: usize, dw: usize, col: usize,
  n: i32, h: i32, wd: i32, ci: i32, oh: i32, ow: i32, co: i32,
  kh: i32, kw: i32, sh: i32, sw: i32, dh: i32, dwl: i32, padT: i32, padL: i32,
): void {
  const k = kh * kw * ci;
  const k4 = (k + 3) & ~3;
  const colRow = <usize>k4 << 2;
  const outRow = <usize>co << 2;
  const pixels = n * oh * ow;
  const opix = oh * ow;
  for (let m0 = 0; m0 < pixels; m0 += FILTER_CHUNK) {
    const m = min(FILTER_CHUNK, pixels - m0);
    // The output pixel's coordinates, stepped along (not divided out per pixel).
    let b = m0 / opix;
    let oy = (m0 - b * opix) / ow;
    let ox = m0 - b * opix - oy * ow;
    for (let q = 0; q < m; q++) {
      let cp = col + <usize>q * colRow;
      const ix0 = ox * sw - padL;
      // Inside the map without dilation, a row's kw taps are kw·ci floats in a row of x.
      const whole = dwl == 1 && ix0 >= 0 && ix0 + kw <= wd;
      for (let ky = 0; ky < kh; ky++) {
        const iy = oy * sh - padT + ky * dh;
        if (whole && iy >= 0 && iy < h) {
          const xp = x + (<usize>((b * h + iy) * wd + ix0)) * (<usize>ci << 2);
          const n = kw * ci;
          let c = 0;
          for (; c + 4 <= n; c += 4) v128.store(cp + (<usize>c << 2), v128.load(xp + (<usize>c << 2)));
          for (; c < n; c++) store<f32>(cp + (<usize>c << 2), load<f32>(xp + (<usize>c << 2)));
          cp += <usize>n << 2;
          continue;
        }
        for (let kx = 0; kx < kw; kx++, cp += <usize>ci << 2) {
          const ix = ox * sw - padL + kx * dwl;
          if (iy < 0 || iy >= h || ix < 0 || ix >= wd) {
            for (let c = 0; c < ci; c++) store<f32>(cp + (<usize>c << 2), 0);
          } else {
            const xp = x + (<usize>((b * h + iy) * wd + ix)) * (<usize>ci << 2);
            for (let c = 0; c < ci; c++) store<f32>(cp + (<usize>c << 2), load<f32>(xp + (<usize>c << 2)));
          }
        }
      }
      for (let c = k; c < k4; c++, cp += 4) store<f32>(cp, 0);
      if (++ox == ow) {
        ox = 0;
        if (++oy == oh) {
          oy = 0;
          b++;
        }
      }
    }
    // The dense kernel's tiles over the im2col rows, as its row pointers.
    const rowPtrs = col + <usize>m * colRow;
    for (let q = 0; q < m; q++) store<u32>(rowPtrs + (<usize>q << 2), <u32>(col + <usize>q * colRow));
    const dyc = dy + <usize>m0 * outRow;
    for (let k0 = 0; k0 < k; k0 += 4) {
      for (let o0 = 0; o0 < co; o0 += 8) {
        filterTile(dw + <usize>k0 * outRow + (<usize>o0 << 2), dyc + (<usize>o0 << 2), outRow, rowPtrs, m, <usize>k0 << 2, outRow, min(4, k - k0), min(8, co - o0), true);
      }
    }
  }
}

/**
 * One tile of `convBackpropFilter`: dw rows c0..c0+cis (`dwRow` bytes apart), columns o0..o0+lanes,
 * over m pixels (their dy `dyStride` bytes apart).
 */
@inline function filterTile(dwp: usize, dyp: usize, dyStride: usize, table: usize, m: i32, cOff: usize, dwRow: usize, cis: i32, lanes: i32, padded: bool): void {
  let a00: v128 = ZERO4, a01: v128 = ZERO4, a10: v128 = ZERO4, a11: v128 = ZERO4;
  let a20: v128 = ZERO4, a21: v128 = ZERO4, a30: v128 = ZERO4, a31: v128 = ZERO4;
  // `padded`: rows of x hold 4 readable floats past cOff (im2col rows, zero past K), so a tile of
  // fewer than 4 rows runs the full loop and stores only its rows.
  if ((cis == 4 || padded) && lanes == 8) {
    for (let q = 0; q < m; q++, dyp += dyStride) {
      const xp = <usize>load<u32>(table + (<usize>q << 2)) + cOff;
      const d0 = v128.load(dyp);
      const d1 = v128.load(dyp, 16);
      let s = v128.load32_splat(xp);
      a00 = madd(s, d0, a00); a01 = madd(s, d1, a01);
      s = v128.load32_splat(xp + 4);
      a10 = madd(s, d0, a10); a11 = madd(s, d1, a11);
      s = v128.load32_splat(xp + 8);
      a20 = madd(s, d0, a20); a21 = madd(s, d1, a21);
      s = v128.load32_splat(xp + 12);
      a30 = madd(s, d0, a30); a31 = madd(s, d1, a31);
    }
    v128.store(dwp, f32x4.add(v128.load(dwp), a00)); v128.store(dwp, f32x4.add(v128.load(dwp, 16), a01), 16);
    if (cis < 2) return;
    dwp += dwRow;
    v128.store(dwp, f32x4.add(v128.load(dwp), a10)); v128.store(dwp, f32x4.add(v128.load(dwp, 16), a11), 16);
    if (cis < 3) return;
    dwp += dwRow;
    v128.store(dwp, f32x4.add(v128.load(dwp), a20)); v128.store(dwp, f32x4.add(v128.load(dwp, 16), a21), 16);
    if (cis < 4) return;
    dwp += dwRow;
    v128.store(dwp, f32x4.add(v128.load(dwp), a30)); v128.store(dwp, f32x4.add(v128.load(dwp, 16), a31), 16);
    return;
  }
  const n0 = min(lanes, 4);
  const n1 = lanes - n0;
  for (let q = 0; q < m; q++, dyp += dyStride) {
    const xp = <usize>load<u32>(table + (<usize>q << 2)) + cOff;
    const d0 = loadN(dyp, n0);
    const d1 = loadN(dyp + 16, n1);
    let s = f32x4.splat(load<f32>(xp));
    a00 = madd(s, d0, a00); a01 = madd(s, d1, a01);
    if (cis > 1) {
      s = f32x4.splat(load<f32>(xp, 4));
      a10 = madd(s, d0, a10); a11 = madd(s, d1, a11);
    }
    if (cis > 2) {
      s = f32x4.splat(load<f32>(xp, 8));
      a20 = madd(s, d0, a20); a21 = madd(s, d1, a21);
    }
    if (cis > 3) {
      s = f32x4.splat(load<f32>(xp, 12));
      a30 = madd(s, d0, a30); a31 = madd(s, d1, a31);
    }
  }
  addLanes(dwp, a00, a01, n0, n1);
  if (cis > 1) addLanes(dwp + dwRow, a10, a11, n0, n1);
  if (cis > 2) addLanes(dwp + 2 * dwRow, a20, a21, n0, n1);
  if (cis > 3) addLanes(dwp + 3 * dwRow, a30, a31, n0, n1);
}

@inline function addLanes(p: usize, v0: v128, v1: v128, n0: i32, n1: i32): void {
  storeN(p, f32x4.add(loadN(p, n0), v0), n0);
  storeN(p + 16, f32x4.add(loadN(p + 16, n1), v1), n1);
}

/**
 * `out[b][co][l] = w[0][0][b·8 + l][co]` (zero past ci): a 1x1 filter `[ci][co]` transposed and
 * packed as `conv` (kernels.ts) takes it, so that a 1x1 convolution's input gradient,
 * `dx = dy · wᵀ`, runs in the inference GEMM.
 */
export function packTransposed1x1(w: usize, out: usize, ci: i32, co: i32): void {
  const blocks = (ci + 7) >> 3;
  for (let b = 0; b < blocks; b++) {
    for (let c = 0; c < co; c++) {
      const o = out + ((<usize>(b * co + c)) << 5);
      for (let l = 0; l < 8; l++) {
        const i = (b << 3) + l;
        store<f32>(o + (<usize>l << 2), i < ci ? load<f32>(w + ((<usize>(i * co + c)) << 2)) : 0);
      }
    }
  }
}

/** `out[t][co][ci] = w[t][ci][co]`, the per-tap transpose `convBackpropInput` reads. */
export function transposeTaps(w: usize, out: usize, taps: i32, ci: i32, co: i32): void {
  for (let t = 0; t < taps; t++) {
    const src = w + (<usize>(t * ci * co) << 2);
    const dst = out + (<usize>(t * ci * co) << 2);
    for (let i = 0; i < ci; i++) for (let c = 0; c < co; c++) store<f32>(dst + (<usize>(c * ci + i) << 2), load<f32>(src + (<usize>(i * co + c) << 2)));
  }
}

/**
 * Input gradient of a dense convolution, any kernel, stride, dilation and padding:
 * `dx[n][iy][ix][ci] = Σ dy[n][oy][ox][co] · w[ky][kx][ci][co]` over the taps that reach (iy, ix).
 * `wt` is the filter as `transposeTaps` lays it out (`[t][co][ci]`). Per input pixel, 16 (then 4,
 * then 1) input channels at a time in registers.
 */
export function convBackpropInput(
  dy: usize, wt: usize, dx: usize,
  n: i32, h: i32, wd: i32, ci: i32, oh: i32, ow: i32, co: i32,
  kh: i32, kw: i32, sh: i32, sw: i32, dh: i32, dwl: i32, padT: i32, padL: i32,
): void {
  const inRow = <usize>ci << 2;
  const outRow = <usize>co << 2;
  const tapBytes = <usize>ci * outRow;
  const c16 = ci & ~15;
  const c4 = ci & ~3;
  for (let b = 0; b < n; b++) {
    for (let iy = 0; iy < h; iy++) {
      for (let ix = 0; ix < wd; ix++) {
        const op = dx + (<usize>((b * h + iy) * wd + ix)) * inRow;
        let j = 0;
        for (; j < c16; j += 16) {
          const jo = <usize>j << 2;
          let a0: v128 = ZERO4, a1: v128 = ZERO4, a2: v128 = ZERO4, a3: v128 = ZERO4;
          for (let ky = 0; ky < kh; ky++) {
            const ty = iy + padT - ky * dh;
            if (ty < 0 || ty % sh != 0) continue;
            const oy = ty / sh;
            if (oy >= oh) continue;
            for (let kx = 0; kx < kw; kx++) {
              const tx = ix + padL - kx * dwl;
              if (tx < 0 || tx % sw != 0) continue;
              const ox = tx / sw;
              if (ox >= ow) continue;
              let dp = dy + (<usize>((b * oh + oy) * ow + ox)) * outRow;
              let wp = wt + <usize>(ky * kw + kx) * tapBytes + jo;
              for (let c = 0; c < co; c++, dp += 4, wp += inRow) {
                const s = v128.load32_splat(dp);
                a0 = madd(s, v128.load(wp), a0);
                a1 = madd(s, v128.load(wp, 16), a1);
                a2 = madd(s, v128.load(wp, 32), a2);
                a3 = madd(s, v128.load(wp, 48), a3);
              }
            }
          }
          v128.store(op + jo, a0); v128.store(op + jo, a1, 16); v128.store(op + jo, a2, 32); v128.store(op + jo, a3, 48);
        }
        for (; j < ci; j += 4) {
          const jo = <usize>j << 2;
          const lanes = min(4, ci - j);
          let a0: v128 = ZERO4;
          for (let ky = 0; ky < kh; ky++) {
            const ty = iy + padT - ky * dh;
            if (ty < 0 || ty % sh != 0) continue;
            const oy = ty / sh;
            if (oy >= oh) continue;
            for (let kx = 0; kx < kw; kx++) {
              const tx = ix + padL - kx * dwl;
              if (tx < 0 || tx % sw != 0) continue;
              const ox = tx / sw;
              if (ox >= ow) continue;
              let dp = dy + (<usize>((b * oh + oy) * ow + ox)) * outRow;
              let wp = wt + <usize>(ky * kw + kx) * tapBytes + jo;
              for (let c = 0; c < co; c++, dp += 4, wp += inRow) {
                a0 = f32x4.add(a0, f32x4.mul(v128.load32_splat(dp), j < c4 ? v128.load(wp) : loadN(wp, lanes)));
              }
            }
          }
          if (j < c4) v128.store(op + jo, a0);
          else storeN(op + jo, a0, lanes);
        }
      }
    }
  }
}

/** Scratch bytes `depthwiseBackpropInput` needs: one (dy pixel, tap) offset pair per tap. */
export function depthwiseBackpropInputTableBytes(kh: i32, kw: i32): i32 {
  return kh * kw * 8;
}

/**
 * Input gradient of a depthwise convolution (channel multiplier 1): `dx[n][iy][ix][c] =
 * Σ dy[n][oy][ox][c] · w[ky][kx][c]` over the taps that reach (iy, ix). Per input pixel, the
 * reaching taps' dy and w offsets go to `table` once; then 16 channels at a time run over them.
 */
export function depthwiseBackpropInput(
  dy: usize, w: usize, dx: usize, table: usize,
  n: i32, h: i32, wd: i32, c: i32, oh: i32, ow: i32,
  kh: i32, kw: i32, sh: i32, sw: i32, dh: i32, dwl: i32, padT: i32, padL: i32,
): void {
  const row = <usize>c << 2;
  const c16 = c & ~15;
  const c4 = c & ~3;
  for (let b = 0; b < n; b++) {
    for (let iy = 0; iy < h; iy++) {
      for (let ix = 0; ix < wd; ix++) {
        const op = dx + (<usize>((b * h + iy) * wd + ix)) * row;
        let taps = 0;
        for (let ky = 0; ky < kh; ky++) {
          const ty = iy + padT - ky * dh;
          if (ty < 0 || ty % sh != 0) continue;
          const oy = ty / sh;
          if (oy >= oh) continue;
          for (let kx = 0; kx < kw; kx++) {
            const tx = ix + padL - kx * dwl;
            if (tx < 0 || tx % sw != 0) continue;
            const ox = tx / sw;
            if (ox >= ow) continue;
            const e = table + (<usize>taps << 3);
            store<u32>(e, <u32>((<usize>((b * oh + oy) * ow + ox)) * row));
            store<u32>(e, <u32>(<usize>(ky * kw + kx) * row), 4);
            taps++;
          }
        }
        const end = table + (<usize>taps << 3);
        let j = 0;
        for (; j < c16; j += 16) {
          const jo = <usize>j << 2;
          const dj = dy + jo;
          const wj = w + jo;
          let a0: v128 = ZERO4, a1: v128 = ZERO4, a2: v128 = ZERO4, a3: v128 = ZERO4;
          for (let e = table; e < end; e += 8) {
            const dp = dj + <usize>load<u32>(e);
            const wp = wj + <usize>load<u32>(e, 4);
            a0 = madd(v128.load(dp), v128.load(wp), a0);
            a1 = madd(v128.load(dp, 16), v128.load(wp, 16), a1);
            a2 = madd(v128.load(dp, 32), v128.load(wp, 32), a2);
            a3 = madd(v128.load(dp, 48), v128.load(wp, 48), a3);
          }
          v128.store(op + jo, a0); v128.store(op + jo, a1, 16); v128.store(op + jo, a2, 32); v128.store(op + jo, a3, 48);
        }
        for (; j < c; j += 4) {
          const jo = <usize>j << 2;
          const lanes = min(4, c - j);
          const dj = dy + jo;
          const wj = w + jo;
          let a0: v128 = ZERO4;
          for (let e = table; e < end; e += 8) {
            const dp = dj + <usize>load<u32>(e);
            const wp = wj + <usize>load<u32>(e, 4);
            if (j < c4) a0 = madd(v128.load(dp), v128.load(wp), a0);
            else a0 = madd(loadN(dp, lanes), loadN(wp, lanes), a0);
          }
          if (j < c4) v128.store(op + jo, a0);
          else storeN(op + jo, a0, lanes);
        }
      }
    }
  }
}

/**
 * Filter gradient of a depthwise convolution: `dw[ky][kx][c] = Σ dy[n][oy][ox][c] · x[n][iy][ix][c]`.
 * Per output row and tap, 16 channels at a time accumulate over the row's pixels in registers,
 * then are added to `dw` (zeroed here).
 */
export function depthwiseBackpropFilter(
  x: usize, dy: usize, dw: usize,
  n: i32, h: i32, wd: i32, c: i32, oh: i32, ow: i32,
  kh: i32, kw: i32, sh: i32, sw: i32, dh: i32, dwl: i32, padT: i32, padL: i32,
): void {
  const row = <usize>c << 2;
  memory.fill(dw, 0, <usize>(kh * kw) * row);
  const c16 = c & ~15;
  const c4 = c & ~3;
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      const dyRow = dy + (<usize>((b * oh + oy) * ow)) * row;
      for (let ky = 0; ky < kh; ky++) {
        const iy = oy * sh - padT + ky * dh;
        if (iy < 0 || iy >= h) continue;
        const xRow = x + (<usize>((b * h + iy) * wd)) * row;
        for (let kx = 0; kx < kw; kx++) {
          // Output pixels whose tap kx falls inside: ix = ox·sw − padL + kx·dwl in [0, wd).
          const off = kx * dwl - padL;
          let ox0 = 0;
          while (ox0 < ow && ox0 * sw + off < 0) ox0++;
          let ox1 = ow;
          while (ox1 > ox0 && (ox1 - 1) * sw + off >= wd) ox1--;
          if (ox0 >= ox1) continue;
          const wp = dw + <usize>(ky * kw + kx) * row;
          const xStep = <usize>sw * row;
          let j = 0;
          for (; j < c16; j += 16) {
            const jo = <usize>j << 2;
            let a0: v128 = ZERO4, a1: v128 = ZERO4, a2: v128 = ZERO4, a3: v128 = ZERO4;
            let dp = dyRow + <usize>ox0 * row + jo;
            let xp = xRow + <usize>(ox0 * sw + off) * row + jo;
            for (let ox = ox0; ox < ox1; ox++, dp += row, xp += xStep) {
              a0 = madd(v128.load(dp), v128.load(xp), a0);
              a1 = madd(v128.load(dp, 16), v128.load(xp, 16), a1);
              a2 = madd(v128.load(dp, 32), v128.load(xp, 32), a2);
              a3 = madd(v128.load(dp, 48), v128.load(xp, 48), a3);
            }
            v128.store(wp + jo, f32x4.add(v128.load(wp + jo), a0));
            v128.store(wp + jo, f32x4.add(v128.load(wp + jo, 16), a1), 16);
            v128.store(wp + jo, f32x4.add(v128.load(wp + jo, 32), a2), 32);
            v128.store(wp + jo, f32x4.add(v128.load(wp + jo, 48), a3), 48);
          }
          for (; j < c; j += 4) {
            const jo = <usize>j << 2;
            const lanes = min(4, c - j);
            let a0: v128 = ZERO4;
            let dp = dyRow + <usize>ox0 * row + jo;
            let xp = xRow + <usize>(ox0 * sw + off) * row + jo;
            for (let ox = ox0; ox < ox1; ox++, dp += row, xp += xStep) {
              if (j < c4) a0 = madd(v128.load(dp), v128.load(xp), a0);
              else a0 = madd(loadN(dp, lanes), loadN(xp, lanes), a0);
            }
            if (j < c4) v128.store(wp + jo, f32x4.add(v128.load(wp + jo), a0));
            else storeN(wp + jo, f32x4.add(loadN(wp + jo, lanes), a0), lanes);
          }
        }
      }
    }
  }
}

/**
 * `x · a + k` for the 4 channels at `xp`, rounded once, as an FMA rounds: torch's CPU BatchNorm
 * applies `input · alpha + beta` with fused multiply-adds; two roundings lose `k`'s magnitude in
 * precision when the mean is far from 0, and a last-bit difference moves values across ReLU's kink.
 * The relaxed build has the FMA itself (`a32` / `k32`: the channels' float32 scale and shift). The
 * plain build computes in float64 (`a64` / `k64`: the same values widened once per call; x's halves
 * loaded widened, so the only shuffle left is the final one: shuffles and conversions share one
 * execution port on x86, which bounds these passes).
 */
@inline function affine4(xp: usize, a64: usize, k64: usize, a32: usize, k32: usize): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(v128.load(xp), v128.load(a32), v128.load(k32));
  const lo = f32x4.demote_f64x2_zero(f64x2.add(f64x2.mul(f64x2.promote_low_f32x4(v128.load64_zero(xp)), v128.load(a64)), v128.load(k64)));
  const hi = f32x4.demote_f64x2_zero(f64x2.add(f64x2.mul(f64x2.promote_low_f32x4(v128.load64_zero(xp, 8)), v128.load(a64, 16)), v128.load(k64, 16)));
  return v128.shuffle<f32>(lo, hi, 0, 1, 4, 5);
}

@inline function affine1(x: f32, a64: usize, k64: usize): f32 {
  return <f32>(<f64>x * load<f64>(a64) + load<f64>(k64));
}

/** Pixels summed in float32 before their sum joins the float64 totals (BatchNorm's reductions). */
const BLOCK: i32 = 32;

/** Adds the float32 lanes of `v` to the float64 pair at `p` (lanes 0–1) and `p + 16` (lanes 2–3). */
@inline function addF64(p: usize, v: v128): void {
  v128.store(p, f64x2.add(v128.load(p), f64x2.promote_low_f32x4(v)));
  v128.store(p, f64x2.add(v128.load(p, 16), f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1))), 16);
}

/**
 * Per-channel sums over the `p` pixels of x `[p][c]` of the deviations from `centre` (f32 `[c]`):
 * `out[c] = Σ (x − centre)`, or with `square` `Σ (x − centre)²` (`out` f64 `[c]`, zeroed here).
 * BatchNorm's statistics in two passes, as torch's CPU kernel: the mean (centred on the first
 * pixel, so that float32 block sums keep the digits a large mean would take), then the squared
 * deviations from it. Blocks of 32 pixels are summed in float32 registers, pixel after pixel per
 * channel (that order gives torch's bits, which QAT's fake quantization needs: a last-bit change in
 * a statistic moves values across a rounding boundary), and the block sums added in float64.
 * 16 channels at a time (four independent chains: one would wait on its own add latency every
 * pixel), then 4, then one. A one-pass form (block means merged by Chan's formula) was faster but
 * not bit-equal to torch.
 */
export function channelMoments(x: usize, centre: usize, out: usize, p: i32, c: i32, square: i32): void {
  memory.fill(out, 0, <usize>c << 3);
  const c16 = c & ~15;
  const c4 = c & ~3;
  const row = <usize>c << 2;
  for (let q0 = 0; q0 < p; q0 += BLOCK) {
    const q1 = min(q0 + BLOCK, p);
    const xb = x + <usize>q0 * row;
    let j = 0;
    for (; j < c16; j += 16) {
      let s0: v128 = ZERO4, s1: v128 = ZERO4, s2: v128 = ZERO4, s3: v128 = ZERO4;
      let xp = xb + (<usize>j << 2);
      const mp = centre + (<usize>j << 2);
      const m0 = v128.load(mp), m1 = v128.load(mp, 16), m2 = v128.load(mp, 32), m3 = v128.load(mp, 48);
      if (square) {
        for (let q = q0; q < q1; q++, xp += row) {
          let d = f32x4.sub(v128.load(xp), m0); s0 = f32x4.add(s0, f32x4.mul(d, d));
          d = f32x4.sub(v128.load(xp, 16), m1); s1 = f32x4.add(s1, f32x4.mul(d, d));
          d = f32x4.sub(v128.load(xp, 32), m2); s2 = f32x4.add(s2, f32x4.mul(d, d));
          d = f32x4.sub(v128.load(xp, 48), m3); s3 = f32x4.add(s3, f32x4.mul(d, d));
        }
      } else {
        for (let q = q0; q < q1; q++, xp += row) {
          s0 = f32x4.add(s0, f32x4.sub(v128.load(xp), m0));
          s1 = f32x4.add(s1, f32x4.sub(v128.load(xp, 16), m1));
          s2 = f32x4.add(s2, f32x4.sub(v128.load(xp, 32), m2));
          s3 = f32x4.add(s3, f32x4.sub(v128.load(xp, 48), m3));
        }
      }
      const op = out + (<usize>j << 3);
      addF64(op, s0); addF64(op + 32, s1); addF64(op + 64, s2); addF64(op + 96, s3);
    }
    for (; j < c4; j += 4) {
      let s: v128 = ZERO4;
      let xp = xb + (<usize>j << 2);
      const m = v128.load(centre + (<usize>j << 2));
      if (square) {
        for (let q = q0; q < q1; q++, xp += row) {
          const d = f32x4.sub(v128.load(xp), m);
          s = f32x4.add(s, f32x4.mul(d, d));
        }
      } else {
        for (let q = q0; q < q1; q++, xp += row) s = f32x4.add(s, f32x4.sub(v128.load(xp), m));
      }
      addF64(out + (<usize>j << 3), s);
    }
    for (; j < c; j++) {
      let s: f64 = 0;
      let xp = xb + (<usize>j << 2);
      const m = load<f32>(centre + (<usize>j << 2));
      for (let q = q0; q < q1; q++, xp += row) {
        const d = <f64>(load<f32>(xp) - m);
        s += square ? d * d : d;
      }
      const so = <usize>j << 3;
      store<f64>(out + so, load<f64>(out + so) + s);
    }
  }
}

const THREE4: v128 = f32x4.splat(3);
const MTHREE4: v128 = f32x4.splat(-3);
const SIX4: v128 = f32x4.splat(6);
const HALF4: v128 = f32x4.splat(0.5);
const SIXTH4: v128 = f32x4.splat(<f32>(1.0 / 6.0));
const ONE4: v128 = f32x4.splat(1);

/**
 * The backward of an activation with torch's derivative at the kinks: `out = dy · act'(x)`.
 * relu (1): x > 0; relu6 (2): 0 < x < 6; hardswish (3): 0 below −3, x/3 + 1/2 on [−3, 3), 1 from 3
 * on; hardsigmoid (4): 1/6 on (−3, 3), else 0; linear (0): dy. At x = 3 torch 1.13's hardswish
 * backward says 1 in its vectorised loop (every element but the < 16 of a contiguous run's tail)
 * and 3/2 in its scalar tail: we take the vectorised loop's 1.
 */
export function activationGrad(x: usize, dy: usize, out: usize, n: i32, act: i32): void {
  const n4 = n & ~3;
  let i = 0;
  for (; i < n4; i += 4) {
    const o = <usize>i << 2;
    const v = v128.load(x + o);
    const g = v128.load(dy + o);
    let r: v128;
    if (act == 1) r = v128.and(g, f32x4.gt(v, ZERO4));
    else if (act == 2) r = v128.and(g, v128.and(f32x4.gt(v, ZERO4), f32x4.lt(v, SIX4)));
    else if (act == 3) {
      // x/3 + 1/2 computed as torch does (x / 3 + 0.5), then masked: 0 below −3, 1 from 3 on.
      const mid = f32x4.add(f32x4.div(v, THREE4), HALF4);
      const d = v128.bitselect(ONE4, mid, f32x4.ge(v, THREE4));
      r = v128.and(f32x4.mul(g, d), f32x4.ge(v, MTHREE4));
    } else if (act == 4) r = v128.and(f32x4.mul(g, SIXTH4), v128.and(f32x4.gt(v, MTHREE4), f32x4.lt(v, THREE4)));
    else r = g;
    v128.store(out + o, r);
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const v = load<f32>(x + o);
    const g = load<f32>(dy + o);
    let r: f32 = g;
    if (act == 1) r = v > 0 ? g : 0;
    else if (act == 2) r = v > 0 && v < 6 ? g : 0;
    else if (act == 3) r = v < -3 ? 0 : v < 3 ? g * (v / 3 + <f32>0.5) : g;
    else if (act == 4) r = v > -3 && v < 3 ? g * <f32>(1.0 / 6.0) : 0;
    store<f32>(out + o, r);
  }
}

/**
 * Global average pooling's backward: `out[n][q][c] = dy[n][c] / p` for the p pixels, plus
 * `add[n][q][c]` when `add` is not 0 (the gradient x also gets from its other consumer).
 */
export function meanPixelsGrad(dy: usize, add: usize, out: usize, n: i32, p: i32, c: i32): void {
  const row = <usize>c << 2;
  const c4 = c & ~3;
  const fp = f32x4.splat(<f32>p);
  for (let b = 0; b < n; b++) {
    const g = dy + <usize>b * row;
    for (let q = 0; q < p; q++, out += row) {
      let j = 0;
      if (add) {
        for (; j < c4; j += 4) {
          const jo = <usize>j << 2;
          v128.store(out + jo, f32x4.add(v128.load(add + jo), f32x4.div(v128.load(g + jo), fp)));
        }
        for (; j < c; j++) store<f32>(out + (<usize>j << 2), load<f32>(add + (<usize>j << 2)) + load<f32>(g + (<usize>j << 2)) / <f32>p);
        add += row;
        continue;
      }
      for (; j < c4; j += 4) v128.store(out + (<usize>j << 2), f32x4.div(v128.load(g + (<usize>j << 2)), fp));
      for (; j < c; j++) store<f32>(out + (<usize>j << 2), load<f32>(g + (<usize>j << 2)) / <f32>p);
    }
  }
}

/** `dgate[n][c] = Σ_q dy[n][q][c] · x[n][q][c]`: the gate's gradient of `x · gate` (squeeze-and-excitation). */
export function scaleChannelsGateGrad(dy: usize, x: usize, dgate: usize, n: i32, p: i32, c: i32): void {
  const row = <usize>c << 2;
  const c4 = c & ~3;
  for (let b = 0; b < n; b++) {
    const g = dgate + <usize>b * row;
    memory.fill(g, 0, row);
    for (let q = 0; q < p; q++, x += row, dy += row) {
      let j = 0;
      for (; j < c4; j += 4) {
        const jo = <usize>j << 2;
        v128.store(g + jo, f32x4.add(v128.load(g + jo), f32x4.mul(v128.load(dy + jo), v128.load(x + jo))));
      }
      for (; j < c; j++) {
        const jo = <usize>j << 2;
        store<f32>(g + jo, load<f32>(g + jo) + load<f32>(dy + jo) * load<f32>(x + jo));
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// BatchNorm fused with the activation after it (train mode): the forward writes act(z) with
// z = x·scale + shift, and the backward recomputes z from x (the same float32 operations) for
// act'(z), so neither z nor the activation's own passes exist.

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

/** `g · act'(z)`, torch's derivatives as `activationGrad`. */
@inline function actGrad4(z: v128, g: v128, act: i32): v128 {
  if (act == 1) return v128.and(g, f32x4.gt(z, ZERO4));
  if (act == 2) return v128.and(g, v128.and(f32x4.gt(z, ZERO4), f32x4.lt(z, SIX4)));
  if (act == 3) {
    const mid = f32x4.add(f32x4.div(z, THREE4), HALF4);
    return v128.and(f32x4.mul(g, v128.bitselect(ONE4, mid, f32x4.ge(z, THREE4))), f32x4.ge(z, MTHREE4));
  }
  if (act == 4) return v128.and(f32x4.mul(g, SIXTH4), v128.and(f32x4.gt(z, MTHREE4), f32x4.lt(z, THREE4)));
  return g;
}

@inline function actGrad1(z: f32, g: f32, act: i32): f32 {
  if (act == 1) return z > 0 ? g : 0;
  if (act == 2) return z > 0 && z < 6 ? g : 0;
  if (act == 3) return z < -3 ? 0 : z < 3 ? g * (z / 3 + <f32>0.5) : g;
  if (act == 4) return z > -3 && z < 3 ? g * <f32>(1.0 / 6.0) : 0;
  return g;
}

/**
 * `out = act(x · a + k)` per channel over `p` pixels of `c` channels (`x · a + k` rounded once; `a`
 * and `k` as float64 `a64` / `k64` and float32 `a32` / `k32`, `[c]` each; act 0: none).
 */
export function channelAffineAct(x: usize, out: usize, a64: usize, k64: usize, a32: usize, k32: usize, p: i32, c: i32, act: i32): void {
  const c4 = c & ~3;
  const row = <usize>c << 2;
  for (let q = 0; q < p; q++, x += row, out += row) {
    let j = 0;
    for (; j < c4; j += 4) {
      const jo = <usize>j << 2;
      const jd = <usize>j << 3;
      v128.store(out + jo, act4(affine4(x + jo, a64 + jd, k64 + jd, a32 + jo, k32 + jo), act));
    }
    for (; j < c; j++) {
      const jo = <usize>j << 2;
      const jd = <usize>j << 3;
      store<f32>(out + jo, act1(affine1(load<f32>(x + jo), a64 + jd, k64 + jd), act));
    }
  }
}

/**
 * `channelGradSums` of `g = dy · act'(x · a + k)` (act 0: g = dy, `a64` and `k64` unused):
 * `sumG[c] = Σ g`, `dot[c] = Σ g · (x − mean)` (float64, zeroed here; float32 blocks of 32 pixels).
 * With an activation, `g` is also written to `gout` (`[p][c]`), which the input gradient then reads
 * (measured faster than recomputing it there). 16 channels at a time (8 independent sums: one pair of chains
 * would wait on its own add latency every pixel), then 4, then one.
 */
export function channelGradSumsAct(dy: usize, x: usize, mean: usize, a64: usize, k64: usize, a32: usize, k32: usize, sumG: usize, dot: usize, gout: usize, p: i32, c: i32, act: i32): void {
  memory.fill(sumG, 0, <usize>c << 3);
  memory.fill(dot, 0, <usize>c << 3);
  const c16 = c & ~15;
  const c4 = c & ~3;
  const row = <usize>c << 2;
  for (let q0 = 0; q0 < p; q0 += BLOCK) {
    const q1 = min(q0 + BLOCK, p);
    const xb = x + <usize>q0 * row;
    const db = dy + <usize>q0 * row;
    const gb = gout + <usize>q0 * row;
    let j = 0;
    for (; j < c16; j += 16) {
      const jo = <usize>j << 2;
      const jd = <usize>j << 3;
      const m0 = v128.load(mean + jo);
      const m1 = v128.load(mean + jo, 16);
      const m2 = v128.load(mean + jo, 32);
      const m3 = v128.load(mean + jo, 48);
      let s0: v128 = ZERO4, s1: v128 = ZERO4, s2: v128 = ZERO4, s3: v128 = ZERO4;
      let d0: v128 = ZERO4, d1: v128 = ZERO4, d2: v128 = ZERO4, d3: v128 = ZERO4;
      let xp = xb + jo;
      let dp = db + jo;
      let gp = gb + jo;
      for (let q = q0; q < q1; q++, xp += row, dp += row, gp += row) {
        let g0 = v128.load(dp);
        let g1 = v128.load(dp, 16);
        let g2 = v128.load(dp, 32);
        let g3 = v128.load(dp, 48);
        if (act) {
          g0 = actGrad4(affine4(xp, a64 + jd, k64 + jd, a32 + jo, k32 + jo), g0, act);
          g1 = actGrad4(affine4(xp + 16, a64 + jd + 32, k64 + jd + 32, a32 + jo + 16, k32 + jo + 16), g1, act);
          g2 = actGrad4(affine4(xp + 32, a64 + jd + 64, k64 + jd + 64, a32 + jo + 32, k32 + jo + 32), g2, act);
          g3 = actGrad4(affine4(xp + 48, a64 + jd + 96, k64 + jd + 96, a32 + jo + 48, k32 + jo + 48), g3, act);
          v128.store(gp, g0); v128.store(gp, g1, 16); v128.store(gp, g2, 32); v128.store(gp, g3, 48);
        }
        s0 = f32x4.add(s0, g0); d0 = f32x4.add(d0, f32x4.mul(g0, f32x4.sub(v128.load(xp), m0)));
        s1 = f32x4.add(s1, g1); d1 = f32x4.add(d1, f32x4.mul(g1, f32x4.sub(v128.load(xp, 16), m1)));
        s2 = f32x4.add(s2, g2); d2 = f32x4.add(d2, f32x4.mul(g2, f32x4.sub(v128.load(xp, 32), m2)));
        s3 = f32x4.add(s3, g3); d3 = f32x4.add(d3, f32x4.mul(g3, f32x4.sub(v128.load(xp, 48), m3)));
      }
      const so = sumG + (<usize>j << 3);
      const doo = dot + (<usize>j << 3);
      addF64(so, s0); addF64(so + 32, s1); addF64(so + 64, s2); addF64(so + 96, s3);
      addF64(doo, d0); addF64(doo + 32, d1); addF64(doo + 64, d2); addF64(doo + 96, d3);
    }
    for (; j < c4; j += 4) {
      const jo = <usize>j << 2;
      const jd = <usize>j << 3;
      const mv = v128.load(mean + jo);
      let s: v128 = ZERO4, d: v128 = ZERO4;
      let xp = xb + jo;
      let dp = db + jo;
      let gp = gb + jo;
      for (let q = q0; q < q1; q++, xp += row, dp += row, gp += row) {
        let g = v128.load(dp);
        if (act) {
          g = actGrad4(affine4(xp, a64 + jd, k64 + jd, a32 + jo, k32 + jo), g, act);
          v128.store(gp, g);
        }
        s = f32x4.add(s, g);
        d = f32x4.add(d, f32x4.mul(g, f32x4.sub(v128.load(xp), mv)));
      }
      addF64(sumG + (<usize>j << 3), s);
      addF64(dot + (<usize>j << 3), d);
    }
    for (; j < c; j++) {
      const jo = <usize>j << 2;
      const jd = <usize>j << 3;
      const m = load<f32>(mean + jo);
      let s: f64 = 0, d: f64 = 0;
      let xp = xb + jo;
      let dp = db + jo;
      let gp = gb + jo;
      for (let q = q0; q < q1; q++, xp += row, dp += row, gp += row) {
        const xs = load<f32>(xp);
        let g = load<f32>(dp);
        if (act) {
          g = actGrad1(affine1(xs, a64 + jd, k64 + jd), g, act);
          store<f32>(gp, g);
        }
        s += <f64>g;
        d += <f64>g * <f64>(xs - m);
      }
      const so = <usize>j << 3;
      store<f64>(sumG + so, load<f64>(sumG + so) + s);
      store<f64>(dot + so, load<f64>(dot + so) + d);
    }
  }
}

/**
 * BatchNorm's input gradient: `out = g · A + (x − mean) · B + C` (`g`: dy, or dy · act'(z) as
 * `channelGradSumsAct` wrote it), the centred form of torch's `(dy − grad_mean − (x − mean) · k) · invstd · w`.
 */
export function channelAffineGrad(g: usize, x: usize, out: usize, mean: usize, A: usize, B: usize, C: usize, p: i32, c: i32): void {
  const c4 = c & ~3;
  const row = <usize>c << 2;
  for (let q = 0; q < p; q++, x += row, g += row, out += row) {
    let j = 0;
    for (; j < c4; j += 4) {
      const jo = <usize>j << 2;
      const xv = v128.load(x + jo);
      v128.store(out + jo, f32x4.add(f32x4.add(f32x4.mul(v128.load(g + jo), v128.load(A + jo)), f32x4.mul(f32x4.sub(xv, v128.load(mean + jo)), v128.load(B + jo))), v128.load(C + jo)));
    }
    for (; j < c; j++) {
      const jo = <usize>j << 2;
      store<f32>(out + jo, load<f32>(g + jo) * load<f32>(A + jo) + (load<f32>(x + jo) - load<f32>(mean + jo)) * load<f32>(B + jo) + load<f32>(C + jo));
    }
  }
}

/**
 * `[k·k][ci][co]` (HWIO) → `[ceil(co/8)][k·k][ci][8]`, zero-padded: the packed filter `conv`
 * (kernels.ts) reads, made per call in train mode, where the filter changes every step.
 */
export function packFilter(w: usize, out: usize, taps: i32, ci: i32, co: i32): void {
  const blocks = (co + 7) >> 3;
  for (let b = 0; b < blocks; b++) {
    const full = (b << 3) + 8 <= co;
    for (let t = 0; t < taps; t++) {
      for (let i = 0; i < ci; i++) {
        const o = out + ((<usize>((b * taps + t) * ci + i)) << 5);
        const src = w + ((<usize>((t * ci + i) * co + (b << 3))) << 2);
        if (full) {
          v128.store(o, v128.load(src));
          v128.store(o, v128.load(src, 16), 16);
          continue;
        }
        for (let l = 0; l < 8; l++) store<f32>(o + (<usize>l << 2), (b << 3) + l < co ? load<f32>(src + (<usize>l << 2)) : 0);
      }
    }
  }
}

/** Rows r0..r3 (4 floats each) transposed: column j of the 4×4 block, as lanes 0–3 of the result j. */
@inline function col4(r0: v128, r1: v128, r2: v128, r3: v128, j: i32): v128 {
  const lo = j < 2;
  const t0 = lo ? v128.shuffle<f32>(r0, r1, 0, 4, 1, 5) : v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
  const t1 = lo ? v128.shuffle<f32>(r2, r3, 0, 4, 1, 5) : v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
  return (j & 1) == 0 ? v128.shuffle<f32>(t0, t1, 0, 1, 4, 5) : v128.shuffle<f32>(t0, t1, 2, 3, 6, 7);
}

/** `out[c][r] = w[r][c]` for a rows × cols float matrix (rows and cols 4-aligned in 4×4 blocks, the rest one by one). */
function transpose2d(w: usize, out: usize, rows: i32, cols: i32): void {
  const inRow = <usize>cols << 2;
  const outRow = <usize>rows << 2;
  const r4 = rows & ~3;
  const c4 = cols & ~3;
  for (let r = 0; r < r4; r += 4) {
    const src = w + <usize>r * inRow;
    for (let c = 0; c < c4; c += 4) {
      const p = src + (<usize>c << 2);
      const a = v128.load(p), b = v128.load(p + inRow), d = v128.load(p + 2 * inRow), e = v128.load(p + 3 * inRow);
      const q = out + <usize>c * outRow + (<usize>r << 2);
      v128.store(q, col4(a, b, d, e, 0));
      v128.store(q + outRow, col4(a, b, d, e, 1));
      v128.store(q + 2 * outRow, col4(a, b, d, e, 2));
      v128.store(q + 3 * outRow, col4(a, b, d, e, 3));
    }
    for (let c = c4; c < cols; c++) {
      for (let i = 0; i < 4; i++) store<f32>(out + <usize>c * outRow + (<usize>(r + i) << 2), load<f32>(src + <usize>i * inRow + (<usize>c << 2)));
    }
  }
  for (let r = r4; r < rows; r++) {
    for (let c = 0; c < cols; c++) store<f32>(out + <usize>c * outRow + (<usize>r << 2), load<f32>(w + <usize>r * inRow + (<usize>c << 2)));
  }
}

/**
 * `packFilter` from torch's layout: `w` `[co][ci][taps]` (OIHW, the parameter as stored) packed as
 * `conv` takes it, `out[b][t][i][l] = w[b·8 + l][i][t]` (zero past co). A 1x1 filter's full blocks
 * go 4 input channels at a time: two 4×4 transposes of the block's 8 rows.
 */
export function packFilterOIHW(w: usize, out: usize, taps: i32, ci: i32, co: i32): void {
  const blocks = (co + 7) >> 3;
  const wRow = <usize>ci << 2;
  for (let b = 0; b < blocks; b++) {
    let i0 = 0;
    if (taps == 1 && (b << 3) + 8 <= co) {
      const r = w + <usize>(b << 3) * wRow;
      const o = out + ((<usize>(b * ci)) << 5);
      for (; i0 + 4 <= ci; i0 += 4) {
        const p = r + (<usize>i0 << 2);
        const a0 = v128.load(p), a1 = v128.load(p + wRow), a2 = v128.load(p + 2 * wRow), a3 = v128.load(p + 3 * wRow);
        const b0 = v128.load(p + 4 * wRow), b1 = v128.load(p + 5 * wRow), b2 = v128.load(p + 6 * wRow), b3 = v128.load(p + 7 * wRow);
        const q = o + (<usize>i0 << 5);
        v128.store(q, col4(a0, a1, a2, a3, 0)); v128.store(q, col4(b0, b1, b2, b3, 0), 16);
        v128.store(q, col4(a0, a1, a2, a3, 1), 32); v128.store(q, col4(b0, b1, b2, b3, 1), 48);
        v128.store(q, col4(a0, a1, a2, a3, 2), 64); v128.store(q, col4(b0, b1, b2, b3, 2), 80);
        v128.store(q, col4(a0, a1, a2, a3, 3), 96); v128.store(q, col4(b0, b1, b2, b3, 3), 112);
      }
    }
    for (let t = 0; t < taps; t++) {
      for (let i = i0; i < ci; i++) {
        const o = out + ((<usize>((b * taps + t) * ci + i)) << 5);
        for (let l = 0; l < 8; l++) {
          const c = (b << 3) + l;
          store<f32>(o + (<usize>l << 2), c < co ? load<f32>(w + (<usize>((c * ci + i) * taps + t) << 2)) : 0);
        }
      }
    }
  }
}

/** `out[t][co][ci] = w[co][ci][t]`: an OIHW filter as `convBackpropInput` reads it (`transposeTaps`' layout). */
export function tapsFromOIHW(w: usize, out: usize, taps: i32, ci: i32, co: i32): void {
  const plane = ci * co;
  for (let j = 0; j < plane; j++) {
    const src = w + (<usize>(j * taps) << 2);
    for (let t = 0; t < taps; t++) store<f32>(out + (<usize>(t * plane + j) << 2), load<f32>(src + (<usize>t << 2)));
  }
}

/** `out[co][ci][t] = w[t][ci][co]`: a filter gradient from HWIO to torch's OIHW. */
export function hwioToOIHW(w: usize, out: usize, taps: i32, ci: i32, co: i32): void {
  if (taps == 1) {
    transpose2d(w, out, ci, co);
    return;
  }
  for (let t = 0; t < taps; t++) {
    for (let i = 0; i < ci; i++) {
      const src = w + (<usize>((t * ci + i) * co) << 2);
      for (let c = 0; c < co; c++) store<f32>(out + (<usize>((c * ci + i) * taps + t) << 2), load<f32>(src + (<usize>c << 2)));
    }
  }
}

// Optimiser steps, one pass over a parameter: torch 1.13's single-tensor loops in float32, in their
// order of operations (torch's CPU kernels fuse `a + alpha·b` into an FMA where AVX2 has one; WASM
// SIMD has none, so those are a multiply then an add). The flags and constants come from the
// optimiser's options; outputs are separate buffers (tfjs tensors are immutable).

/** RMSprop flags: momentum > 0, centred, epsilon inside the square root (TensorFlow's), maximise. */
const RMS_MOMENTUM: i32 = 1;
const RMS_CENTERED: i32 = 2;
const RMS_EPS_INSIDE: i32 = 4;
const OPT_MAXIMIZE: i32 = 8;

/**
 * One RMSprop step over n values: reads `p`, `g`, `sq` (square_avg), `buf` (momentum_buffer, with
 * RMS_MOMENTUM), `ga` (grad_avg, with RMS_CENTERED); writes `pOut`, `sqOut`, `bufOut`, `gaOut`.
 * `oneMinusAlpha` and `negLr` are torch's Python-float `1 − alpha` and `−lr`, rounded to float32.
 */
export function rmspropStep(
  p: usize, g: usize, sq: usize, buf: usize, ga: usize, pOut: usize, sqOut: usize, bufOut: usize, gaOut: usize,
  n: i32, negLr: f32, alpha: f32, oneMinusAlpha: f32, eps: f32, wd: f32, momentum: f32, flags: i32,
): void {
  const maximize = (flags & OPT_MAXIMIZE) != 0;
  const centered = (flags & RMS_CENTERED) != 0;
  const inside = (flags & RMS_EPS_INSIDE) != 0;
  const mom = (flags & RMS_MOMENTUM) != 0;
  const vLr = f32x4.splat(negLr), vA = f32x4.splat(alpha), v1A = f32x4.splat(oneMinusAlpha);
  const vEps = f32x4.splat(eps), vWd = f32x4.splat(wd), vMom = f32x4.splat(momentum);
  const n4 = n & ~3;
  let i = 0;
  for (; i < n4; i += 4) {
    const o = <usize>i << 2;
    const pv = v128.load(p + o);
    let d = v128.load(g + o);
    if (maximize) d = f32x4.neg(d);
    if (wd != 0) d = f32x4.add(d, f32x4.mul(vWd, pv));
    const s = f32x4.add(f32x4.mul(v128.load(sq + o), vA), f32x4.mul(f32x4.mul(v1A, d), d));
    v128.store(sqOut + o, s);
    let v = s;
    if (centered) {
      const a = f32x4.add(f32x4.mul(v128.load(ga + o), vA), f32x4.mul(v1A, d));
      v128.store(gaOut + o, a);
      v = f32x4.sub(s, f32x4.mul(a, a));
    }
    const avg = inside ? f32x4.sqrt(f32x4.add(v, vEps)) : f32x4.add(f32x4.sqrt(v), vEps);
    let step = f32x4.div(d, avg);
    if (mom) {
      step = f32x4.add(f32x4.mul(v128.load(buf + o), vMom), step);
      v128.store(bufOut + o, step);
    }
    v128.store(pOut + o, f32x4.add(pv, f32x4.mul(vLr, step)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const pv = load<f32>(p + o);
    let d = load<f32>(g + o);
    if (maximize) d = -d;
    if (wd != 0) d = d + wd * pv;
    const s = load<f32>(sq + o) * alpha + oneMinusAlpha * d * d;
    store<f32>(sqOut + o, s);
    let v = s;
    if (centered) {
      const a = load<f32>(ga + o) * alpha + oneMinusAlpha * d;
      store<f32>(gaOut + o, a);
      v = s - a * a;
    }
    const avg = inside ? sqrt<f32>(v + eps) : sqrt<f32>(v) + eps;
    let step = d / avg;
    if (mom) {
      step = load<f32>(buf + o) * momentum + step;
      store<f32>(bufOut + o, step);
    }
    store<f32>(pOut + o, pv + negLr * step);
  }
}

/** SGD flags: a momentum buffer (momentum ≠ 0), its first step (the buffer starts as the gradient), Nesterov, maximise. */
const SGD_MOMENTUM: i32 = 1;
const SGD_FIRST: i32 = 2;
const SGD_NESTEROV: i32 = 4;

/**
 * One SGD step over n values: reads `p`, `g`, `buf` (momentum_buffer, with SGD_MOMENTUM and not
 * SGD_FIRST); writes `pOut` and, with SGD_MOMENTUM, `bufOut`. `oneMinusDampening` and `negLr` are
 * torch's Python floats rounded to float32.
 */
export function sgdStep(p: usize, g: usize, buf: usize, pOut: usize, bufOut: usize, n: i32, negLr: f32, wd: f32, momentum: f32, oneMinusDampening: f32, flags: i32): void {
  const maximize = (flags & OPT_MAXIMIZE) != 0;
  const mom = (flags & SGD_MOMENTUM) != 0;
  const first = (flags & SGD_FIRST) != 0;
  const nesterov = (flags & SGD_NESTEROV) != 0;
  const vLr = f32x4.splat(negLr), vWd = f32x4.splat(wd), vMom = f32x4.splat(momentum), v1D = f32x4.splat(oneMinusDampening);
  const n4 = n & ~3;
  let i = 0;
  for (; i < n4; i += 4) {
    const o = <usize>i << 2;
    const pv = v128.load(p + o);
    let d = v128.load(g + o);
    if (maximize) d = f32x4.neg(d);
    if (wd != 0) d = f32x4.add(d, f32x4.mul(vWd, pv));
    if (mom) {
      const b = first ? d : f32x4.add(f32x4.mul(v128.load(buf + o), vMom), f32x4.mul(v1D, d));
      v128.store(bufOut + o, b);
      d = nesterov ? f32x4.add(d, f32x4.mul(vMom, b)) : b;
    }
    v128.store(pOut + o, f32x4.add(pv, f32x4.mul(vLr, d)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const pv = load<f32>(p + o);
    let d = load<f32>(g + o);
    if (maximize) d = -d;
    if (wd != 0) d = d + wd * pv;
    if (mom) {
      const b = first ? d : load<f32>(buf + o) * momentum + oneMinusDampening * d;
      store<f32>(bufOut + o, b);
      d = nesterov ? d + momentum * b : b;
    }
    store<f32>(pOut + o, pv + negLr * d);
  }
}

/**
 * BatchNorm's running statistics after a train-mode batch, as torch's CPU kernel updates them (in
 * double): `rm' = m·mean + (1 − m)·rm`, `rv' = m·var·n/(n − 1) + (1 − m)·rv` over c channels, `var`
 * the batch's biased variance of n values per channel, `m` the momentum (or the cumulative factor).
 */
export function runningStatsUpdate(rm: usize, rv: usize, mean: usize, variance: usize, rmOut: usize, rvOut: usize, c: i32, momentum: f64, n: f64): void {
  const keep = 1 - momentum;
  const unbias = n / (n - 1);
  for (let j = 0; j < c; j++) {
    const o = <usize>j << 2;
    store<f32>(rmOut + o, <f32>(momentum * <f64>load<f32>(mean + o) + keep * <f64>load<f32>(rm + o)));
    store<f32>(rvOut + o, <f32>(momentum * (<f64>load<f32>(variance + o) * unbias) + keep * <f64>load<f32>(rv + o)));
  }
}
