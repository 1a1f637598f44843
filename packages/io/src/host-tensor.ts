/**
 * Tensors held in host memory, as checkpoint readers produce them and before they become tfjs
 * tensors. `data` is in C (row-major) order; `float16` and `bfloat16` keep their raw 16-bit
 * patterns in a `Uint16Array`, `bool` is one byte per element.
 */
export type DType =
  | 'float64'
  | 'float32'
  | 'float16'
  | 'bfloat16'
  | 'int64'
  | 'int32'
  | 'int16'
  | 'int8'
  | 'uint8'
  | 'bool';

export type HostTypedArray =
  | Float64Array
  | Float32Array
  | Uint16Array
  | BigInt64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint8Array;

export interface HostTensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly data: HostTypedArray;
}

/** A model's weights by TorchVision `state_dict` key (`features.0.0.weight`, …), in file order. */
export type StateDict = Map<string, HostTensor>;

/** Bytes per element of each dtype. */
export const DTYPE_SIZE: Readonly<Record<DType, number>> = {
  float64: 8,
  float32: 4,
  float16: 2,
  bfloat16: 2,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Makes an empty typed array of the right kind for `dtype`. */
export function allocate(dtype: DType, length: number): HostTypedArray {
  switch (dtype) {
    case 'float64':
      return new Float64Array(length);
    case 'float32':
      return new Float32Array(length);
    case 'float16':
    case 'bfloat16':
      return new Uint16Array(length);
    case 'int64':
      return new BigInt64Array(length);
    case 'int32':
      return new Int32Array(length);
    case 'int16':
      return new Int16Array(length);
    case 'int8':
      return new Int8Array(length);
    case 'uint8':
    case 'bool':
      return new Uint8Array(length);
  }
}

/** Decodes one IEEE half-precision bit pattern. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Rounds a number to the nearest half-precision bit pattern (ties to even), as torch's `.half()`. */
export function floatToHalf(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let m = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    if (rest > half || (rest === half && m & 1)) m += 1;
    return sign | m;
  }
  let m = mant >>> 13;
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && m & 1)) {
    m += 1;
    if (m === 0x400) {
      m = 0;
      e += 1;
      if (e >= 0x1f) return sign | 0x7c00;
    }
  }
  return sign | (e << 10) | m;
}

/** Decodes one bfloat16 bit pattern (the high half of a float32). */
export function bfloat16ToFloat(h: number): number {
  u32[0] = h << 16;
  return f32[0]!;
}

/** The tensor's values as float32 (a view, not a copy, when it already is float32). */
export function toFloat32(t: HostTensor): Float32Array {
  const { dtype, data } = t;
  if (dtype === 'float32') return data as Float32Array;
  const out = new Float32Array(data.length);
  if (dtype === 'float16') {
    const src = data as Uint16Array;
    for (let i = 0; i < src.length; i++) out[i] = halfToFloat(src[i]!);
  } else if (dtype === 'bfloat16') {
    const src = data as Uint16Array;
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < src.length; i++) bits[i] = src[i]! << 16;
  } else if (dtype === 'int64') {
    const src = data as BigInt64Array;
    for (let i = 0; i < src.length; i++) out[i] = Number(src[i]!);
  } else {
    const src = data as Exclude<HostTypedArray, BigInt64Array | Uint16Array>;
    for (let i = 0; i < src.length; i++) out[i] = src[i]!;
  }
  return out;
}

/** A float32 host tensor. */
export function float32Tensor(shape: readonly number[], data: Float32Array): HostTensor {
  if (numel(shape) !== data.length) {
    throw new RangeError(`shape [${shape.join(', ')}] needs ${numel(shape)} values, got ${data.length}`);
  }
  return { dtype: 'float32', shape: [...shape], data };
}
