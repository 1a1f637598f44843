// saveTorchCheckpoint ↔ torch.save, checked by torch 1.13 itself: tools/reference/check_torch_save.py
// loads the files written here and compares them with the object the spec describes (built by torch,
// never by us), tries weights_only=True, and compares our bytes with torch.save's for the same object.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ORACLE_PYTHON, REPO_ROOT } from '@mnv3/test-utils';
import {
  OrderedDict,
  PickleValueError,
  PythonObject,
  allocate,
  floatToHalf,
  isHostTensor,
  isTuple,
  loadTorchCheckpoint,
  pyFloat,
  PyFloat,
  saveTorchCheckpoint,
  type DType,
  type HostTensor,
} from '../src/index.js';
import { writeTorchCheckpoint } from '../src/node.js';

const CHECKER = join(REPO_ROOT, 'tools/reference/check_torch_save.py');

type Spec = Record<string, unknown>;

/** The Python value the documented mapping gives for a JS value, as check_torch_save.py's spec. */
function spec(v: unknown): Spec {
  if (v === null) return { none: null };
  if (typeof v === 'boolean') return { bool: v };
  if (typeof v === 'bigint') return { int: v.toString() };
  if (typeof v === 'number') {
    if (Number.isSafeInteger(v) && !Object.is(v, -0)) return { int: String(v) };
    return { float: floatSpec(v) };
  }
  if (v instanceof PyFloat) return { float: floatSpec(v.value) };
  if (typeof v === 'string') return { str: v };
  if (isHostTensor(v)) {
    const b = new Uint8Array(v.data.buffer, v.data.byteOffset, v.data.byteLength);
    return { tensor: { dtype: v.dtype, shape: v.shape, hex: Buffer.from(b).toString('hex') } };
  }
  if (isTuple(v)) return { tuple: v.map(spec) };
  if (Array.isArray(v)) return { list: v.map(spec) };
  if (v instanceof PythonObject) return { namespace: [...v.attributes].map(([k, x]) => [k, spec(x)]) };
  if (v instanceof OrderedDict) return { odict: [...v].map(([k, x]) => [spec(k), spec(x)]) };
  if (v instanceof Map) return { dict: [...v].map(([k, x]) => [spec(k), spec(x)]) };
  return { dict: Object.entries(v as object).map(([k, x]) => [spec(k), spec(x)]) };
}

function floatSpec(x: number): number | string {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  if (Object.is(x, -0)) return '-0';
  return x;
}

/** A tensor of `dtype` with varied values (extremes, NaN / ±0 / ±inf for floats). */
function tensorOf(dtype: DType, shape: number[], seed = 1): HostTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = allocate(dtype, n);
  let s = seed;
  const rnd = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32);
  for (let i = 0; i < n; i++) {
    const r = rnd();
    switch (dtype) {
      case 'float32':
      case 'float64':
        (data as Float32Array)[i] = [NaN, -0, Infinity, -Infinity, 1e-40][i] ?? (r - 0.5) * 10 ** Math.floor(r * 12 - 6);
        break;
      case 'float16':
        (data as Uint16Array)[i] = [0x7e00, 0x8000, 0x7c00, 0x0001][i] ?? floatToHalf((r - 0.5) * 100);
        break;
      case 'bfloat16':
        (data as Uint16Array)[i] = [0x7fc0, 0x8000, 0xff80][i] ?? Math.floor(r * 0x10000);
        break;
      case 'int64':
        (data as BigInt64Array)[i] = [-(2n ** 63n), 2n ** 63n - 1n][i] ?? BigInt(Math.floor((r - 0.5) * 2 ** 53));
        break;
      case 'int32':
        (data as Int32Array)[i] = [-(2 ** 31), 2 ** 31 - 1][i] ?? Math.floor((r - 0.5) * 2 ** 32);
        break;
      case 'int16':
        (data as Int16Array)[i] = Math.floor((r - 0.5) * 65536);
        break;
      case 'int8':
        (data as Int8Array)[i] = Math.floor((r - 0.5) * 256);
        break;
      case 'uint8':
        (data as Uint8Array)[i] = Math.floor(r * 256);
        break;
      case 'bool':
        (data as Uint8Array)[i] = r < 0.5 ? 0 : 1;
        break;
    }
  }
  return { dtype, shape, data };
}

const DTYPES: DType[] = ['float32', 'float64', 'float16', 'bfloat16', 'int64', 'int32', 'int16', 'int8', 'uint8', 'bool'];

/** TorchVision train.py's `args` for the MobileNetV3 recipe, as argparse leaves them (types included). */
export function trainPyArgs(): PythonObject {
  return new PythonObject(
    'argparse.Namespace',
    new Map<unknown, unknown>([
      ['data_path', '/data/imagenet'],
      ['model', 'mobilenet_v3_large'],
      ['device', 'cuda'],
      ['batch_size', 128],
      ['epochs', 600],
      ['workers', 16],
      ['opt', 'rmsprop'],
      ['lr', 0.064],
      ['momentum', 0.9],
      ['weight_decay', 1e-5],
      ['norm_weight_decay', null],
      ['label_smoothing', pyFloat(0)],
      ['lr_scheduler', 'steplr'],
      ['lr_warmup_epochs', 0],
      ['lr_step_size', 2],
      ['lr_gamma', 0.973],
      ['auto_augment', 'imagenet'],
      ['random_erase', 0.2],
      ['model_ema', false],
      ['clip_grad_norm', null],
      ['distributed', true],
      ['world_size', 8],
    ]),
  );
}

interface CaseResult {
  name: string;
  loaded: boolean;
  diff: string | null;
  weights_only: string;
  bytes_equal?: boolean;
  first_difference?: number;
}

const cases: { name: string; value: unknown; compareBytes: boolean; archiveName?: string; file?: string }[] = [];
let dir: string;
let results: Map<string, CaseResult>;

function addCase(name: string, value: unknown, compareBytes: boolean, archiveName?: string): void {
  cases.push({ name, value, compareBytes, archiveName });
}

// A state dict of every dtype and shape kind (0-d, empty, size-1 dims).
const stateDict = new OrderedDict<string, HostTensor>();
DTYPES.forEach((d, i) => {
  stateDict.set(`layer${i}.${d}.weight`, tensorOf(d, [3, 5], i + 1));
  stateDict.set(`layer${i}.${d}.scalar`, tensorOf(d, [], i + 7));
  stateDict.set(`layer${i}.${d}.empty`, tensorOf(d, [0, 4], i));
  stateDict.set(`layer${i}.${d}.ones`, tensorOf(d, [2, 1, 1, 3], i + 3));
});
addCase('state_dict_all_dtypes', stateDict, true);

// More than 255 memo entries (LONG_BINPUT), more than 1,000 items (SETITEMS in batches), storage
// keys sorted as strings ('10' < '2'), and a record over the pickler's 64 KiB buffer.
const many = new OrderedDict<string, HostTensor>();
for (let i = 0; i < 1003; i++) many.set(`features.${i}.bias`, tensorOf('float32', [i % 5], i));
many.set('big', tensorOf('float32', [300, 100], 9));
addCase('state_dict_1004_tensors', many, true);

const nested = new Map<unknown, unknown>([
  ['ints', [0, 1, 255, 256, 65535, 65536, -1, -129, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, -(2 ** 31) - 1, 2 ** 53, 2n ** 63n - 1n, -(2n ** 70n), 2n ** 64n]],
  ['floats', [0.1, pyFloat(1), pyFloat(0), -0, NaN, Infinity, -Infinity, 1e-310, 1.7976931348623157e308, 0.973]],
  ['text', 'é ✓ 🐈 "quoted"\n'],
  ['none', null],
  ['flags', Object.freeze([true, false])],
  ['tuples', [Object.freeze([]), Object.freeze([1]), Object.freeze([1, 2]), Object.freeze([1, 2, 3]), Object.freeze([1, 2, 3, 4])]],
  ['one', [7]],
  ['empty_list', []],
  ['empty_dict', new Map()],
  [3, 'an int key'],
  [-5, { plain: 'object', deeper: { list: [1.5, [2.5, [3.5]]] } }],
  ['long_list', Array.from({ length: 1001 }, (_, i) => i * 3)],
]);
addCase('nested_python_values', nested, true);

// Equal strings written once here (Python writes an equal string once only when it is one object):
// torch must still read the values; bytes are not compared.
addCase('repeated_strings', { a: ['same', 'same', 'same'], b: new Map([['same', 'same']]) }, false);
// A shared object (the same tensor twice) is memoised and read back as one object.
const shared = tensorOf('float32', [2]);
addCase('shared_tensor_twice', [shared, shared], false);

addCase('namespace_args', new Map<unknown, unknown>([['args', trainPyArgs()], ['epoch', 3]]), true);
// torch 1.13 names the archive folder after the file (model_3.pth → model_3/...).
addCase('archive_named_like_the_file', new OrderedDict([['w', tensorOf('float32', [4])]]), true, 'model_3');

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mnv3-torch-save-'));
  for (const c of cases) {
    c.file = join(dir, `${c.name}.pth`);
    writeFileSync(c.file, saveTorchCheckpoint(c.value, c.archiveName ? { archiveName: c.archiveName } : {}));
  }
  const job = join(dir, 'job.json');
  writeFileSync(
    job,
    JSON.stringify({ cases: cases.map((c) => ({ name: c.name, file: c.file, expected: spec(c.value), compare_bytes: c.compareBytes, archive_name: c.archiveName ?? null })) }),
  );
  const out = execFileSync(ORACLE_PYTHON, [CHECKER, job], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const parsed = JSON.parse(out) as { torch: string; results: CaseResult[] };
  expect(parsed.torch).toMatch(/^1\.13/);
  results = new Map(parsed.results.map((r) => [r.name, r]));
}, 120_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('saveTorchCheckpoint read by torch 1.13', () => {
  for (const c of cases) {
    it(`${c.name}: torch.load gives the expected Python object${c.compareBytes ? ', and the bytes torch.save writes' : ''}`, () => {
      const r = results.get(c.name)!;
      expect(r.loaded, r.diff ?? '').toBe(true);
      expect(r.diff).toBeNull();
      if (c.compareBytes) expect(r, `first difference at byte ${r.first_difference}`).toMatchObject({ bytes_equal: true });
    });
  }

  it('weights_only=True: torch 1.13 reads tensors, ints, strings, containers; refuses floats and Namespace as it does for its own files', () => {
    expect(results.get('state_dict_all_dtypes')!.weights_only).toBe('ok');
    expect(results.get('state_dict_1004_tensors')!.weights_only).toBe('ok');
    expect(results.get('repeated_strings')!.weights_only).toBe('ok');
    expect(results.get('nested_python_values')!.weights_only).toBe('Unsupported operand 71'); // BINFLOAT
    expect(results.get('namespace_args')!.weights_only).toMatch(/^Unsupported (operand 71|class argparse\.Namespace)$/);
  });
});

/** Our reader's view of a value written by the mapping (integral PyFloats come back as numbers). */
function normalise(v: unknown): unknown {
  if (v instanceof PyFloat) return v.value;
  if (isHostTensor(v)) return v;
  if (isTuple(v)) return Object.freeze(v.map(normalise));
  if (Array.isArray(v)) return v.map(normalise);
  if (v instanceof PythonObject) return new PythonObject(v.className, new Map([...v.attributes].map(([k, x]) => [k, normalise(x)])));
  if (v instanceof OrderedDict) return new OrderedDict([...v].map(([k, x]) => [normalise(k), normalise(x)]));
  if (v instanceof Map) return new Map([...v].map(([k, x]) => [normalise(k), normalise(x)]));
  if (typeof v === 'object' && v !== null) return new Map(Object.entries(v).map(([k, x]) => [k, normalise(x)]));
  return v;
}

describe('saveTorchCheckpoint read back by loadTorchCheckpoint', () => {
  for (const c of cases) {
    it(`${c.name}: equal values, same container kinds`, () => {
      const back = loadTorchCheckpoint(saveTorchCheckpoint(c.value));
      expect(back).toStrictEqual(normalise(c.value));
    });
  }

  it('a state dict comes back as an OrderedDict whose re-save is byte-identical', () => {
    const bytes = saveTorchCheckpoint(stateDict);
    const back = loadTorchCheckpoint(bytes);
    expect(back).toBeInstanceOf(OrderedDict);
    expect(saveTorchCheckpoint(back)).toEqual(bytes);
  });

  it('a file torch.save wrote reads back to an OrderedDict and re-saves to its bytes', () => {
    const dir2 = mkdtempSync(join(tmpdir(), 'mnv3-torch-save-'));
    try {
      execFileSync(ORACLE_PYTHON, [
        '-c',
        'import torch, collections, sys; torch.manual_seed(0); torch.save(collections.OrderedDict(a=torch.randn(3, 4), b=torch.arange(5), c=torch.tensor(True)), sys.argv[1])',
        join(dir2, 'tv.pth'),
      ]);
      const theirs = new Uint8Array(readFileSync(join(dir2, 'tv.pth')));
      const back = loadTorchCheckpoint(theirs);
      expect(back).toBeInstanceOf(OrderedDict);
      expect(saveTorchCheckpoint(back, { archiveName: 'tv' })).toEqual(theirs);
    } finally {
      rmSync(dir2, { recursive: true, force: true });
    }
  });
});

describe('saveTorchCheckpoint refuses what has no Python value', () => {
  it('names where the bad value is', () => {
    expect(() => saveTorchCheckpoint(new Map([['optimizer', { state: new Map([[0, { step: undefined }]]) }]]))).toThrow(
      /root\["optimizer"\]\["state"\]\[0\]\["step"\]: a undefined has no Python equivalent/,
    );
    expect(() => saveTorchCheckpoint({ f: () => 1 })).toThrow(PickleValueError);
    expect(() => saveTorchCheckpoint({ d: new Date() })).toThrow(/cannot pickle a Date/);
    expect(() => saveTorchCheckpoint({ b: new Uint8Array(3) })).toThrow(/cannot pickle a Uint8Array/);
    expect(() => saveTorchCheckpoint({ s: new Set([1]) })).toThrow(/cannot pickle a Set/);
  });

  it('refuses classes outside the reader allowlist and malformed tensors', () => {
    expect(() => saveTorchCheckpoint(new PythonObject('os.system'))).toThrow(/instances of os.system are not written/);
    expect(() => saveTorchCheckpoint({ t: { dtype: 'float32', shape: [2, 2], data: new Float32Array(3) } })).toThrow(/holds 3 values, not 4/);
    expect(() => saveTorchCheckpoint({}, { archiveName: 'a/b' })).toThrow(/archiveName/);
  });

  it('pickles a cycle as Python does (a list is memoised before it is filled)', () => {
    const a: unknown[] = [];
    const b: unknown[] = [a];
    a.push(b);
    const back = loadTorchCheckpoint(saveTorchCheckpoint(a)) as unknown[][];
    expect(back[0]![0]).toBe(back);
  });
});

describe('writeTorchCheckpoint (Node)', () => {
  it('writes atomically, names the archive after the file, and keeps the old file when writing fails', async () => {
    const d = mkdtempSync(join(tmpdir(), 'mnv3-torch-save-'));
    try {
      const path = join(d, 'checkpoint.pth');
      await writeTorchCheckpoint(path, { epoch: 1 });
      const first = readFileSync(path);
      expect(loadTorchCheckpoint(first)).toEqual(new Map([['epoch', 1]]));
      expect(first.includes(Buffer.from('checkpoint/data.pkl'))).toBe(true);
      await expect(writeTorchCheckpoint(path, { epoch: undefined })).rejects.toThrow(PickleValueError);
      expect(readFileSync(path)).toEqual(first);
      // A failure after the bytes are written (the rename onto a non-empty folder fails): the
      // target stays as it was and the temporary file is removed.
      const busy = join(d, 'busy.pth');
      mkdirSync(busy);
      writeFileSync(join(busy, 'keep'), 'x');
      const err = await writeTorchCheckpoint(busy, { epoch: 2 }).catch((e: NodeJS.ErrnoException) => e);
      expect(err).toBeInstanceOf(Error);
      // the error names the file asked for, not the temporary sibling
      expect((err as NodeJS.ErrnoException).message).toContain(busy);
      expect((err as NodeJS.ErrnoException).message).not.toContain('.tmp');
      expect(readdirSync(busy)).toEqual(['keep']);
      expect(readdirSync(d).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
