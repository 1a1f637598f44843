import { describe, expect, it } from 'vitest';
import { CheckpointError } from './errors.js';
import type { StateDict } from './host-tensor.js';
import { findStateDict, loadTorchCheckpoint, readStateDict } from './torch-load/index.js';
import { PickleWriter, legacyCheckpoint, le, makeZip, stateDictPickle, zipCheckpoint, type TensorSpec } from '../test/helpers/torch-bytes.js';

function errorOf(fn: () => unknown): CheckpointError {
  try {
    fn();
  } catch (e) {
    if (e instanceof CheckpointError) return e;
    throw new Error(`expected a CheckpointError, got ${String(e)}`);
  }
  throw new Error('expected a CheckpointError, got none');
}

const storage = le(Float32Array.from({ length: 12 }, (_, i) => i));
const specs: TensorSpec[] = [
  { name: 'w', storageType: 'FloatStorage', key: '0', numel: 12, offset: 0, shape: [3, 4], stride: [4, 1] },
  { name: 'wt', storageType: 'FloatStorage', key: '0', numel: 12, offset: 0, shape: [4, 3], stride: [1, 4] },
  { name: 'slice', storageType: 'FloatStorage', key: '0', numel: 12, offset: 5, shape: [2, 2], stride: [4, 2] },
  { name: 'bcast', storageType: 'FloatStorage', key: '0', numel: 12, offset: 2, shape: [2, 3], stride: [0, 1] },
  { name: 'scalar', storageType: 'FloatStorage', key: '0', numel: 12, offset: 11, shape: [], stride: [] },
  { name: 'n', storageType: 'LongStorage', key: '1', numel: 1, offset: 0, shape: [], stride: [] },
];
const longStorage = le(BigInt64Array.of(-5n));

function expectValues(sd: StateDict): void {
  expect([...sd.get('w')!.data]).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  expect(sd.get('wt')!.shape).toEqual([4, 3]);
  expect([...sd.get('wt')!.data]).toEqual([0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]);
  expect([...sd.get('slice')!.data]).toEqual([5, 7, 9, 11]);
  expect([...sd.get('bcast')!.data]).toEqual([2, 3, 4, 2, 3, 4]);
  expect([...sd.get('scalar')!.data]).toEqual([11]);
  expect(sd.get('scalar')!.shape).toEqual([]);
  expect([...sd.get('n')!.data]).toEqual([-5n]);
}

describe('loadTorchCheckpoint on hand-built files', () => {
  it('reads views, offsets and shared storages from the zip format', () => {
    expectValues(readStateDict(zipCheckpoint(specs, { '0': storage, '1': longStorage })));
  });

  it('takes the archive prefix from the entries', () => {
    expectValues(readStateDict(zipCheckpoint(specs, { '0': storage, '1': longStorage }, { prefix: 'mobilenet_v3_small-047dcff4' })));
  });

  it('reads zip64 records', () => {
    expectValues(readStateDict(zipCheckpoint(specs, { '0': storage, '1': longStorage }, { zip64: true })));
  });

  it('reads deflated entries', () => {
    expectValues(readStateDict(zipCheckpoint(specs, { '0': storage, '1': longStorage }, { deflate: true })));
  });

  it('reads the legacy format', () => {
    expectValues(readStateDict(legacyCheckpoint(specs, { '0': { data: storage }, '1': { data: longStorage } })));
  });

  it('reports a truncated zip', () => {
    const full = zipCheckpoint(specs, { '0': storage, '1': longStorage });
    for (const cut of [10, full.length / 2, full.length - 30, full.length - 1]) {
      const e = errorOf(() => loadTorchCheckpoint(full.subarray(0, Math.floor(cut))));
      expect(['truncated', 'corrupt']).toContain(e.code);
    }
    expect(errorOf(() => loadTorchCheckpoint(full.subarray(0, full.length - 10))).message).toMatch(/end-of-central-directory/);
  });

  it('refuses a storage that claims more bytes than its record holds', () => {
    const big: TensorSpec = { name: 'w', storageType: 'FloatStorage', key: '0', numel: 2 ** 40, offset: 0, shape: [2 ** 20, 2 ** 20], stride: [2 ** 20, 1] };
    const e = errorOf(() => loadTorchCheckpoint(zipCheckpoint([big], { '0': storage })));
    expect(e.code).toBe('truncated');
    expect(e.message).toMatch(/storage "0" claims 1099511627776 float32 elements/);
  });

  it('refuses a zip entry whose size overruns the file', () => {
    const file = zipCheckpoint(specs, { '0': storage, '1': longStorage });
    // Patch the central directory's compressed/uncompressed size of "archive/data/0" to 2^31.
    const view = new DataView(file.buffer);
    let p = file.length - 22 - 1;
    while (view.getUint32(p, true) !== 0x02014b50) p--; // last central entry: archive/version
    p = view.getUint32(file.length - 22 + 16, true); // first central entry
    p += 46 + view.getUint16(p + 28, true) + view.getUint16(p + 30, true); // second: archive/data/0
    view.setUint32(p + 20, 2 ** 31, true);
    view.setUint32(p + 24, 2 ** 31, true);
    const e = errorOf(() => loadTorchCheckpoint(file));
    expect(e.code).toBe('truncated');
    expect(e.message).toMatch(/archive\/data\/0" claims 2147483648 bytes/);
  });

  it('refuses a tensor view that reads past its storage', () => {
    const bad: TensorSpec = { ...specs[0]!, shape: [4, 4] };
    const e = errorOf(() => loadTorchCheckpoint(zipCheckpoint([bad], { '0': storage })));
    expect(e.code).toBe('corrupt');
    expect(e.message).toMatch(/reads element 15 of a storage of 12/);
  });

  it('refuses a stride-0 view that would expand a tiny storage to terabytes', () => {
    const bomb: TensorSpec = { name: 'b', storageType: 'FloatStorage', key: '0', numel: 12, offset: 0, shape: [2 ** 20, 2 ** 20], stride: [0, 0] };
    expect(errorOf(() => loadTorchCheckpoint(zipCheckpoint([bomb], { '0': storage }))).code).toBe('too-large');
  });

  it('refuses a legacy storage whose count claims 2^40 elements', () => {
    const spec: TensorSpec = { name: 'w', storageType: 'FloatStorage', key: '0', numel: 12, offset: 0, shape: [12], stride: [1] };
    const t0 = performance.now();
    const e = errorOf(() => loadTorchCheckpoint(legacyCheckpoint([spec], { '0': { data: storage, count: 2n ** 40n } })));
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(e.code).toBe('truncated');
    expect(e.message).toMatch(/claims 1099511627776 float32 elements \(4398046511104 bytes\) but only 48 bytes remain/);
    // The declared size in the persistent id is checked before any storage is read.
    const spec40: TensorSpec = { ...spec, numel: 2 ** 40 };
    expect(errorOf(() => loadTorchCheckpoint(legacyCheckpoint([spec40], { '0': { data: storage, count: 2n ** 40n } }))).code).toBe('truncated');
  });

  it('refuses a legacy file whose storage data is cut short', () => {
    const file = legacyCheckpoint(specs, { '0': { data: storage }, '1': { data: longStorage } });
    expect(errorOf(() => loadTorchCheckpoint(file.subarray(0, file.length - 3))).code).toBe('truncated');
  });

  it('refuses unknown storage types and non-storage persistent ids', () => {
    const cplx: TensorSpec = { ...specs[0]!, storageType: 'ComplexFloatStorage' };
    expect(errorOf(() => loadTorchCheckpoint(zipCheckpoint([cplx], { '0': storage }))).code).toBe('unsupported');
    const evil: TensorSpec = { ...specs[0]!, storageType: 'Tensor' };
    expect(errorOf(() => loadTorchCheckpoint(zipCheckpoint([evil], { '0': storage }))).code).toBe('forbidden-global');
    const pid = new PickleWriter().proto(2).mark().unicode('module').none().tuple().persid().stop().bytes();
    expect(errorOf(() => loadTorchCheckpoint(zipCheckpoint([], {}, { pickle: pid }))).code).toBe('unsupported');
  });

  it('refuses non-checkpoints and TorchScript archives clearly', () => {
    expect(errorOf(() => loadTorchCheckpoint(new TextEncoder().encode('hello world'))).message).toMatch(/not a torch.save file/);
    expect(errorOf(() => loadTorchCheckpoint(new Uint8Array(0))).code).toBe('truncated');
    const ts = makeZip([
      { name: 'm/data.pkl', data: stateDictPickle([]) },
      { name: 'm/constants.pkl', data: stateDictPickle([]) },
    ]);
    expect(errorOf(() => loadTorchCheckpoint(ts)).message).toMatch(/TorchScript/);
  });

  it('finds nested state dicts and names the keys when there is none', () => {
    const sd = new Map([['w', { dtype: 'float32' as const, shape: [1], data: new Float32Array(1) }]]);
    expect(findStateDict(new Map<string, unknown>([['model', sd], ['epoch', 3]]))).toEqual(sd);
    expect(findStateDict(new Map<string, unknown>([['ema', sd]]), 'ema')).toEqual(sd);
    const e = errorOf(() => findStateDict(new Map<string, unknown>([['epoch', 3], ['optim', new Map()]])));
    expect(e.message).toMatch(/keys "epoch", "optim"/);
    const mixed = errorOf(() => findStateDict(new Map<string, unknown>([['w', sd.get('w')], ['step', 7]])));
    expect(mixed.message).toMatch(/mixes tensors with other values at keys "step"/);
  });
});
