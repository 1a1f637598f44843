// The checkpoint readers against files written by torch.save and numpy (fixtures from
// tools/reference/suite_checkpoints.py), plus hostile and randomly corrupted variants of them.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ORACLE_PYTHON, fixtureDir, seededPick } from '@mnv3/test-utils';
import { CheckpointError, PythonObject, allocate, convertToSafetensors, halfToFloat, loadTorchCheckpoint, readNpy, readSafetensors, readStateDict, toFloat32, writeNpy, type DType, type HostTensor, type StateDict } from '../src/index.js';
import { zipCheckpoint } from './helpers/torch-bytes.js';

const dir = fixtureDir('checkpoints');
const file = (name: string): Uint8Array => new Uint8Array(readFileSync(join(dir, name)));
const expected = (name: string): StateDict => readSafetensors(file(`${name}.safetensors`)).tensors;

function bytesOf(t: HostTensor): Uint8Array {
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

function expectSameTensors(actual: StateDict, want: StateDict): void {
  expect([...actual.keys()]).toEqual([...want.keys()]);
  for (const [k, e] of want) {
    const a = actual.get(k)!;
    expect({ k, dtype: a.dtype, shape: a.shape }).toEqual({ k, dtype: e.dtype, shape: e.shape });
    expect(a.data.constructor).toBe(e.data.constructor);
    expect(Buffer.from(bytesOf(a)).equals(Buffer.from(bytesOf(e))), `${k} differs`).toBe(true);
  }
}

function checkpointCode(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (e) {
    if (e instanceof CheckpointError) return e.code;
    throw new Error(`not a CheckpointError: ${(e as Error)?.stack ?? String(e)}`);
  }
}

describe('torch.save files written by torch', () => {
  for (const name of ['dtypes', 'views', 'module', 'nested', 'mnv3_small']) {
    for (const format of ['zip', 'legacy']) {
      it(`${name} (${format}) matches torch's tensors bit for bit`, () => {
        expectSameTensors(readStateDict(file(`${name}_${format}.pth`)), expected(name));
      });
    }
  }

  it('reads a zip checkpoint re-packed with deflate', () => {
    expectSameTensors(readStateDict(file('module_deflated.pth')), expected('module'));
  });

  it('covers every dtype', () => {
    const dtypes = new Set([...readStateDict(file('dtypes_zip.pth')).values()].map((t) => t.dtype));
    expect([...dtypes].sort()).toEqual(['bfloat16', 'bool', 'float16', 'float32', 'float64', 'int16', 'int32', 'int64', 'int8', 'uint8'] satisfies DType[]);
  });

  it('keeps the rest of a training checkpoint as plain data', () => {
    for (const format of ['zip', 'legacy']) {
      const ckpt = loadTorchCheckpoint(file(`nested_${format}.pth`)) as Map<string, unknown>;
      expect([...ckpt.keys()]).toEqual(['model', 'optimizer', 'args', 'epoch']);
      expect(ckpt.get('epoch')).toBe(3);
      const args = ckpt.get('args') as PythonObject;
      expect(args).toBeInstanceOf(PythonObject);
      expect(args.className).toBe('argparse.Namespace');
      expect(Object.fromEntries(args.attributes)).toEqual({ lr: 0.1, model: 'mobilenet_v3_small', epochs: 600 });
      const opt = ckpt.get('optimizer') as Map<string, unknown>;
      const groups = opt.get('param_groups') as Map<string, unknown>[];
      expect(groups[0]!.get('momentum')).toBe(0.9);
      const state = opt.get('state') as Map<number, Map<string, HostTensor>>;
      expect(state.get(0)!.get('momentum_buffer')!.dtype).toBe('float32');
    }
  });

  it('names the keys it found when there is no state dict', () => {
    for (const format of ['zip', 'legacy']) {
      expect(() => readStateDict(file(`no_state_dict_${format}.pth`))).toThrow(/top-level dict has keys "epoch", "notes", "history"/);
    }
  });

  it.each([
    ['evil_system_zip.pth', 'posix.system'],
    ['evil_system_legacy.pth', 'posix.system'],
    ['evil_eval_zip.pth', 'builtins.eval'],
  ])('refuses %s, which names %s', (name, global) => {
    const bytes = file(name);
    expect(checkpointCode(() => loadTorchCheckpoint(bytes))).toBe('forbidden-global');
    expect(() => loadTorchCheckpoint(bytes)).toThrow(`forbidden global "${global}"`);
  });
});

describe('random corruption', () => {
  const cases: [string, number][] = [
    ['module_zip.pth', 1],
    ['module_legacy.pth', 2],
    ['dtypes_zip.pth', 3],
    ['views_legacy.pth', 4],
    ['module_deflated.pth', 5],
  ];
  for (const [name, seed] of cases) {
    it(`${name}: 300 seeded byte-flip variants load or throw CheckpointError, quickly`, () => {
      const original = file(name);
      const pick = seededPick(seed);
      const outcomes: Record<string, number> = {};
      const t0 = performance.now();
      for (let v = 0; v < 300; v++) {
        const bytes = original.slice();
        const flips = 1 + pick(4);
        for (let f = 0; f < flips; f++) {
          // Half the flips land in the pickle / directory structure at either end of the file.
          const r = pick(1000) / 1000;
          const pos = r < 0.25 ? pick(Math.min(900, bytes.length)) : r < 0.5 ? bytes.length - 1 - pick(Math.min(700, bytes.length)) : pick(bytes.length);
          bytes[pos] = bytes[pos]! ^ (1 + pick(255));
        }
        const start = performance.now();
        const code = checkpointCode(() => readStateDict(bytes));
        expect(performance.now() - start).toBeLessThan(1000);
        outcomes[code] = (outcomes[code] ?? 0) + 1;
      }
      // Truncations at random lengths.
      for (let v = 0; v < 50; v++) {
        const code = checkpointCode(() => readStateDict(original.subarray(0, pick(original.length))));
        expect(code).not.toBe('ok');
        outcomes[code] = (outcomes[code] ?? 0) + 1;
      }
      expect(performance.now() - t0).toBeLessThan(20_000);
      expect(Object.keys(outcomes).length).toBeGreaterThan(1);
    });
  }
});

describe('convertToSafetensors', () => {
  it('.pth → safetensors keeps every tensor exactly', () => {
    for (const name of ['module_zip', 'module_legacy', 'nested_zip']) {
      const { tensors, metadata } = readSafetensors(convertToSafetensors(file(`${name}.pth`)));
      expectSameTensors(tensors, expected(name.replace(/_(zip|legacy)$/, '')));
      expect(metadata.format).toBe('pt');
    }
  });

  it('casts float tensors to float16 within half precision and keeps integers', () => {
    const want = expected('mnv3_small');
    const { tensors } = readSafetensors(convertToSafetensors(file('mnv3_small_zip.pth'), { dtype: 'float16' }));
    expect([...tensors.keys()]).toEqual([...want.keys()]);
    for (const [k, e] of want) {
      const a = tensors.get(k)!;
      if (e.dtype === 'int64') {
        expect(a).toEqual(e);
        continue;
      }
      expect(a.dtype).toBe('float16');
      const h = a.data as Uint16Array;
      const f = toFloat32(e);
      for (let i = 0; i < f.length; i++) {
        const x = f[i]!;
        const y = halfToFloat(h[i]!);
        // Round to nearest: error ≤ half an ulp (2^-11 relative, 2^-25 absolute in the subnormals).
        if (!(Math.abs(x - y) <= Math.abs(x) * 2 ** -11 + 2 ** -25)) throw new Error(`${k}[${i}]: ${x} → ${y}`);
      }
    }
  });

  it('casts bfloat16/float16/float64 to float32 on request', () => {
    const { tensors } = readSafetensors(convertToSafetensors(file('dtypes_zip.pth'), { dtype: 'float32' }));
    const want = expected('dtypes');
    for (const k of ['f16', 'bf16', 'f64']) {
      expect(tensors.get(k)!.dtype).toBe('float32');
      expect([...(tensors.get(k)!.data as Float32Array)]).toEqual([...toFloat32(want.get(k)!)]);
    }
    expect(tensors.get('i64')).toEqual(want.get('i64'));
    expect(tensors.get('bool')).toEqual(want.get('bool'));
  });
});

describe('.npy files written by numpy', () => {
  const want = readSafetensors(file('npy_expected.safetensors')).tensors;
  for (const name of ['f32', 'f64', 'i64', 'i32', 'u8', 'f16', 'bool', 'scalar', 'empty', 'fortran', 'big_f4', 'big_i8', 'v2']) {
    it(`reads npy_${name}.npy`, () => {
      const t = readNpy(file(`npy_${name}.npy`));
      const e = want.get(name)!;
      expect(t.dtype).toBe(e.dtype);
      expect(t.shape).toEqual(e.shape);
      expect(Buffer.from(bytesOf(t)).equals(Buffer.from(bytesOf(e)))).toBe(true);
    });
  }

  it('numpy reads what writeNpy writes', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'mnv3-npy-'));
    try {
      const dtypes: DType[] = ['float64', 'float32', 'float16', 'int64', 'int32', 'int16', 'int8', 'uint8', 'bool'];
      const made = dtypes.map((dtype, i) => {
        const shape = [[2, 3], [4], [], [0, 2], [1, 2, 3]][i % 5]!;
        const n = shape.reduce((a, b) => a * b, 1);
        const data = allocate(dtype, n);
        for (let j = 0; j < n; j++) {
          if (data instanceof BigInt64Array) data[j] = BigInt(j * 1_000_000_007 - 3);
          else if (dtype === 'float16') data[j] = 0x3c00 + j; // 1, 1.000977, …
          else if (dtype === 'bool') data[j] = j % 2;
          else (data as Float64Array)[j] = dtype.startsWith('float') ? j / 3 - 1 : j - 2;
        }
        const path = join(tmp, `${dtype}.npy`);
        writeFileSync(path, writeNpy({ dtype, shape, data }));
        return { dtype, shape, data, path };
      });
      const script = `
import json, sys, numpy as np
out = []
for p in sys.argv[1:]:
    a = np.load(p)
    out.append({"dtype": a.dtype.str, "shape": list(a.shape), "c": bool(a.flags.c_contiguous), "hex": a.tobytes().hex()})
print(json.dumps(out))`;
      const res = JSON.parse(execFileSync(ORACLE_PYTHON, ['-c', script, ...made.map((m) => m.path)], { encoding: 'utf8' })) as { dtype: string; shape: number[]; hex: string }[];
      made.forEach((m, i) => {
        expect(res[i]!.shape).toEqual(m.shape);
        expect(res[i]!.dtype).toBe({ float64: '<f8', float32: '<f4', float16: '<f2', int64: '<i8', int32: '<i4', int16: '<i2', int8: '|i1', uint8: '|u1', bool: '|b1' }[m.dtype as string]);
        expect(res[i]!.hex).toBe(Buffer.from(bytesOf(m as HostTensor)).toString('hex'));
      });
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe('zip bombs: records count against the output limit before they are inflated', () => {
  const MiB = 1024 * 1024;
  /** One FloatStorage record of `mib` MiB of zeros (deflates ~1000:1), viewed by a one-element tensor per dtype. */
  function bomb(mib: number, storageTypes: readonly string[]): Uint8Array {
    const size: Record<string, number> = { FloatStorage: 4, HalfStorage: 2, IntStorage: 4 };
    const tensors = storageTypes.map((storageType, i) => ({ name: `t${i}`, storageType, key: '0', numel: (mib * MiB) / size[storageType]!, offset: 0, shape: [1], stride: [1] }));
    return zipCheckpoint(tensors, { '0': new Uint8Array(mib * MiB) }, { deflate: true });
  }

  it('a small file whose record inflates past the limit is refused as too-large, without inflating it', () => {
    const file = bomb(64, ['FloatStorage']);
    expect(file.byteLength).toBeLessThan(MiB);
    const t0 = performance.now();
    const err = (() => {
      try {
        readStateDict(file, { maxOutputBytes: 16 * MiB });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(CheckpointError);
    expect((err as CheckpointError).code).toBe('too-large');
    expect((err as CheckpointError).message).toMatch(/storage records inflate to more than 16777216 bytes/);
    expect(performance.now() - t0).toBeLessThan(500);
  });

  it('one record viewed under several dtypes is inflated (and counted) once', () => {
    const file = bomb(8, ['FloatStorage', 'HalfStorage', 'IntStorage']);
    // 8 MiB counted once fits a 12 MiB limit; counted per view (24 MiB) it would not.
    const sd = readStateDict(file, { maxOutputBytes: 12 * MiB });
    expect([...sd.keys()]).toEqual(['t0', 't1', 't2']);
    expect(Array.from(sd.get('t0')!.data as Float32Array)).toEqual([0]);
  });
});
