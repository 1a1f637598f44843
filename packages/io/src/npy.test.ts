import { describe, expect, it } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { CheckpointError } from './errors.js';
import { allocate, numel, type DType, type HostTensor } from './host-tensor.js';
import { readNpy, writeNpy } from './npy.js';

function header(dict: string, major = 1): Uint8Array {
  const prefix = major === 1 ? 10 : 12;
  const total = Math.ceil((prefix + dict.length + 1) / 64) * 64;
  const out = new Uint8Array(total);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]);
  const v = new DataView(out.buffer);
  if (major === 1) v.setUint16(8, total - prefix, true);
  else v.setUint32(8, total - prefix, true);
  const text = dict.padEnd(total - prefix - 1, ' ') + '\n';
  for (let i = 0; i < text.length; i++) out[prefix + i] = text.charCodeAt(i);
  return out;
}

function withData(h: Uint8Array, data: ArrayBufferView): Uint8Array {
  const out = new Uint8Array(h.length + data.byteLength);
  out.set(h);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), h.length);
  return out;
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof CheckpointError) return `${e.code}: ${e.message}`;
    throw e;
  }
  return 'no error';
}

const DTYPES: DType[] = ['float64', 'float32', 'float16', 'int64', 'int32', 'int16', 'int8', 'uint8', 'bool'];

function filled(dtype: DType, shape: number[], seed: number): HostTensor {
  const n = numel(shape);
  const data = allocate(dtype, n);
  for (let i = 0; i < n; i++) {
    const x = Math.sin(seed + i * 12.9898) * 43758.5453;
    if (data instanceof BigInt64Array) data[i] = BigInt(Math.floor(x * 1e6));
    else if (dtype === 'bool') data[i] = x > 0 ? 1 : 0;
    else if (dtype === 'float16') data[i] = Math.floor(Math.abs(x)) & 0x7bff;
    else (data as Float64Array)[i] = dtype.startsWith('float') ? x : Math.floor(x);
  }
  return { dtype, shape, data };
}

describe('.npy', () => {
  it.each(DTYPES)('round-trips %s', (dtype) => {
    for (const shape of [[], [0], [5], [2, 3], [2, 1, 4]]) {
      const t = filled(dtype, shape, shape.length);
      const back = readNpy(writeNpy(t));
      expect(back.dtype).toBe(dtype);
      expect(back.shape).toEqual(shape);
      expect(back.data).toEqual(t.data);
    }
  });

  it('writes 64-byte aligned headers, version 1.0', () => {
    const b = writeNpy(filled('float32', [3, 4], 1));
    expect(b[6]).toBe(1);
    const len = new DataView(b.buffer).getUint16(8, true);
    expect((10 + len) % 64).toBe(0);
    expect(new TextDecoder().decode(b.subarray(10, 10 + len))).toMatch(/^\{'descr': '<f4', 'fortran_order': False, 'shape': \(3, 4\), \} *\n$/);
  });

  test.prop([fc.constantFrom(...DTYPES), fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 5 }), fc.integer()])(
    'round-trips random shapes',
    (dtype, shape, seed) => {
      const t = filled(dtype, shape, seed);
      const back = readNpy(writeNpy(t));
      expect(back.shape).toEqual(shape);
      expect(back.data).toEqual(t.data);
    },
  );

  test.prop([fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 2, maxLength: 4 })])('transposes Fortran-order arrays into C order', (shape) => {
    const n = numel(shape);
    // Fortran order: element (i0, i1, …) lives at i0 + s0·(i1 + s1·(…)); fill each with its C index.
    const f = new Float32Array(n);
    const idx = new Array<number>(shape.length).fill(0);
    for (let c = 0; c < n; c++) {
      let pos = 0;
      for (let d = shape.length - 1; d >= 0; d--) pos = pos * shape[d]! + idx[d]!;
      f[pos] = c;
      for (let d = shape.length - 1; d >= 0; d--) {
        if (++idx[d]! < shape[d]!) break;
        idx[d] = 0;
      }
    }
    const file = withData(header(`{'descr': '<f4', 'fortran_order': True, 'shape': (${shape.join(', ')}), }`), f);
    const t = readNpy(file);
    expect(t.shape).toEqual(shape);
    expect([...t.data]).toEqual(Array.from({ length: n }, (_, i) => i));
  });

  it('byte-swaps big-endian data', () => {
    const be = new Uint8Array(8);
    new DataView(be.buffer).setFloat32(0, 1.5, false);
    new DataView(be.buffer).setFloat32(4, -2, false);
    expect([...readNpy(withData(header("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }"), be)).data]).toEqual([1.5, -2]);
  });

  it('reads version 2.0 headers', () => {
    const t = readNpy(withData(header("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", 2), BigInt64Array.of(7n, -9n)));
    expect([...t.data]).toEqual([7n, -9n]);
  });

  it('refuses bad files with CheckpointError', () => {
    const ok = writeNpy(filled('float32', [4, 4], 3));
    expect(codeOf(() => readNpy(ok.subarray(0, ok.length - 1)))).toMatch(/^truncated: .*needs 64 bytes but the file holds 63/);
    expect(codeOf(() => readNpy(ok.subarray(0, 40)))).toMatch(/^truncated/);
    expect(codeOf(() => readNpy(new TextEncoder().encode('PK\u0003\u0004 not numpy')))).toMatch(/^corrupt: not an \.npy file/);
    expect(codeOf(() => readNpy(header("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }")))).toMatch(/^unsupported: .*"<c8"/);
    expect(codeOf(() => readNpy(header("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }")))).toMatch(/^unsupported: .*structured/);
    expect(codeOf(() => readNpy(header("{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 1048576), }")))).toMatch(/^truncated/);
    expect(codeOf(() => readNpy(header("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }")))).toMatch(/^corrupt/);
    expect(codeOf(() => readNpy(header("__import__('os').system('x')")))).toMatch(/^corrupt/);
    expect(() => writeNpy({ dtype: 'bfloat16', shape: [1], data: new Uint16Array(1) })).toThrow(/bfloat16 has no NumPy equivalent/);
  });

  test.prop([fc.constantFrom(...DTYPES), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 })])(
    'byte flips in a valid file load or throw CheckpointError',
    (dtype, flips) => {
      const b = writeNpy(filled(dtype, [3, 2], 1)).slice();
      for (const [pos, x] of flips) b[pos % 80] = b[pos % 80]! ^ x; // the header region
      try {
        readNpy(b);
      } catch (e) {
        if (!(e instanceof CheckpointError)) throw e;
      }
    },
  );
});
