// Weight layout conversions between torch (OIHW) and tfjs (HWIO; depthwise [k,k,C,1]) for tests.

/** OIHW (`[O, I, k, k]`; depthwise `[C, 1, k, k]`) → HWIO (`[k, k, I, O]`; depthwise `[k, k, C, 1]`). */
export function hwioFromOihw(w: Float32Array, shape: readonly number[], depthwise: boolean): Float32Array {
  const [o, i, kh, kw] = shape as [number, number, number, number];
  const out = new Float32Array(w.length);
  if (depthwise) {
    for (let c = 0; c < o; c++) for (let t = 0; t < kh * kw; t++) out[t * o + c] = w[c * kh * kw + t]!;
    return out;
  }
  for (let a = 0; a < o; a++) for (let b = 0; b < i; b++) for (let t = 0; t < kh * kw; t++) out[(t * i + b) * o + a] = w[(a * i + b) * kh * kw + t]!;
  return out;
}

/** The inverse of `hwioFromOihw`, `shape` the OIHW shape. */
export function oihwFromHwio(w: Float32Array, shape: readonly number[], depthwise: boolean): Float32Array {
  const [o, i, kh, kw] = shape as [number, number, number, number];
  const out = new Float32Array(w.length);
  if (depthwise) {
    for (let c = 0; c < o; c++) for (let t = 0; t < kh * kw; t++) out[c * kh * kw + t] = w[t * o + c]!;
    return out;
  }
  for (let a = 0; a < o; a++) for (let b = 0; b < i; b++) for (let t = 0; t < kh * kw; t++) out[(a * i + b) * kh * kw + t] = w[(t * i + b) * o + a]!;
  return out;
}
