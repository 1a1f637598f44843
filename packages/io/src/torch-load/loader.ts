// The object model both torch.save formats share: allowlisted globals, storages found by persistent
// id, and tensors materialised from them once the storages' bytes are located.
import { DTYPE_SIZE, allocate, numel, type DType, type HostTensor, type HostTypedArray } from '../host-tensor.js';
import { CheckpointError } from '../errors.js';
import { copyOut } from '../safetensors.js';
import { isTuple, latin1, type UnpickleHooks } from '../pickle.js';
import { OrderedDict } from '../pickler.js';

/** Limits for {@link loadTorchCheckpoint} and {@link readStateDict}. */
export interface TorchLoadOptions {
  /** Deepest container nesting accepted in the pickle (default 1000). */
  maxDepth?: number;
  /**
   * Most bytes all tensors may take once copied out (default: the larger of 4× the file and
   * 256 MiB). Guards against stride-0 views of a tiny storage claiming terabytes.
   */
  maxOutputBytes?: number;
}

/** Options of {@link readStateDict}. */
export interface ReadStateDictOptions extends TorchLoadOptions {
  /** Take the state dict from this key of a top-level dict instead of guessing. */
  key?: string;
}

/**
 * An instance of an allowlisted plain-data Python class (only `argparse.Namespace`, which
 * TorchVision's reference scripts store under `args`), with the attributes pickled for it.
 */
export class PythonObject {
  constructor(
    /** `module.name` of the class. */
    readonly className: string,
    /** The instance's `__dict__`. */
    readonly attributes: Map<unknown, unknown> = new Map(),
  ) {}
}

/** The legacy format's magic number, 0x1950a86a20f9469cfc6c. */
export const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
export const LEGACY_PROTOCOL = 1001;
const DEFAULT_MIN_OUTPUT = 256 * 1024 * 1024;

const STORAGE_DTYPES: Readonly<Record<string, DType>> = {
  FloatStorage: 'float32',
  DoubleStorage: 'float64',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
  UntypedStorage: 'uint8',
};
const UNSUPPORTED_STORAGES = new Set(['ComplexFloatStorage', 'ComplexDoubleStorage', 'QInt8Storage', 'QUInt8Storage', 'QInt32Storage', 'QUInt4x2Storage', 'QUInt2x4Storage']);
const TORCH_DTYPES: Readonly<Record<string, DType>> = {
  float32: 'float32',
  float: 'float32',
  float64: 'float64',
  double: 'float64',
  float16: 'float16',
  half: 'float16',
  bfloat16: 'bfloat16',
  int64: 'int64',
  long: 'int64',
  int32: 'int32',
  int: 'int32',
  int16: 'int16',
  short: 'int16',
  int8: 'int8',
  uint8: 'uint8',
  bool: 'bool',
};

/** An allowlisted global; never executed, only recognised by name. */
class Global {
  constructor(
    readonly path: string,
    readonly kind: 'callable' | 'storage' | 'dtype' | 'class',
    readonly dtype?: DType,
  ) {}
}

/** A storage referenced by a persistent id; its bytes are located after unpickling. */
export class StorageRef {
  data?: Uint8Array;
  constructor(
    readonly key: string,
    readonly dtype: DType,
    readonly numel: number,
    /** For legacy storage views: the root storage and the view's element offset into it. */
    readonly root?: StorageRef,
    readonly rootOffset = 0,
  ) {}
}

interface MutableTensor {
  dtype: DType;
  shape: number[];
  data: HostTypedArray;
}

interface Pending {
  tensor: MutableTensor;
  storage: StorageRef;
  offset: number;
  stride: number[];
}

const CALLABLES = [
  'collections.OrderedDict',
  'torch._utils._rebuild_tensor',
  'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_parameter',
  'torch._utils._rebuild_parameter_with_state',
  'torch.nn.parameter.Parameter',
  'torch.Size',
  'torch.device',
  'builtins.set',
  'builtins.frozenset',
  '__builtin__.set',
  '__builtin__.frozenset',
  '_codecs.encode',
];
const CLASSES = ['argparse.Namespace'];
const KNOWN_UNSUPPORTED = new Set([
  'torch._utils._rebuild_sparse_tensor',
  'torch._utils._rebuild_sparse_csr_tensor',
  'torch._utils._rebuild_meta_tensor_no_storage',
  'torch._utils._rebuild_qtensor',
  'torch._utils._rebuild_tensor_v3',
  'torch._utils._rebuild_wrapper_subclass',
  'torch._utils._rebuild_device_tensor_from_numpy',
  'torch.serialization._get_layout',
]);

function findGlobal(module: string, name: string): Global {
  const path = `${module}.${name}`;
  if (CALLABLES.includes(path)) return new Global(path, 'callable');
  if (CLASSES.includes(path)) return new Global(path, 'class');
  if (module === 'torch' || module === 'torch.cuda' || module === 'torch.storage') {
    const dtype = STORAGE_DTYPES[name];
    if (dtype) return new Global(path, 'storage', dtype);
    if (UNSUPPORTED_STORAGES.has(name)) throw new CheckpointError('unsupported', `storage type ${path} is not supported (no matching dtype)`);
  }
  if (module === 'torch' && TORCH_DTYPES[name]) return new Global(path, 'dtype', TORCH_DTYPES[name]);
  if (KNOWN_UNSUPPORTED.has(path)) throw new CheckpointError('unsupported', `${path} (sparse, quantized, meta or subclass tensors) is not supported`);
  throw new CheckpointError(
    'forbidden-global',
    `forbidden global "${path}": checkpoints may only reference tensors, storages, OrderedDict and a few plain-data types, never arbitrary callables`,
  );
}

export function nonNegInt(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new CheckpointError('corrupt', `${what} is ${String(v)}, not a non-negative integer`);
  return v;
}

function intTuple(v: unknown, what: string): number[] {
  if (!isTuple(v) && !Array.isArray(v)) throw new CheckpointError('corrupt', `${what} is not a tuple`);
  return (v as unknown[]).map((d, i) => nonNegInt(d, `${what}[${i}]`));
}


/** Whether a value is a tensor produced by the checkpoint reader (a `HostTensor`). */
export function isHostTensor(v: unknown): v is HostTensor {
  if (typeof v !== 'object' || v === null) return false;
  const t = v as Partial<HostTensor>;
  return typeof t.dtype === 'string' && t.dtype in DTYPE_SIZE && Array.isArray(t.shape) && ArrayBuffer.isView(t.data);
}

interface Loader {
  hooks: UnpickleHooks;
  pending: Pending[];
}

export function makeLoader(persistent: (pid: readonly unknown[]) => StorageRef, maxOutputBytes: number): Loader {
  const pending: Pending[] = [];
  const tensors = new WeakSet<object>();
  let outputBytes = 0;

  const rebuildTensor = (args: readonly unknown[], path: string): MutableTensor => {
    if (args.length < 4) throw new CheckpointError('corrupt', `${path} called with ${args.length} arguments`);
    const storage = args[0];
    if (!(storage instanceof StorageRef)) throw new CheckpointError('corrupt', `${path}: first argument is not a storage`);
    const offset = nonNegInt(args[1], 'storage offset');
    const shape = intTuple(args[2], 'tensor size');
    const stride = intTuple(args[3], 'tensor stride');
    if (stride.length !== shape.length) throw new CheckpointError('corrupt', `tensor size [${shape}] and stride [${stride}] differ in rank`);
    const n = numel(shape);
    const bytes = n * DTYPE_SIZE[storage.dtype];
    if (!Number.isSafeInteger(bytes) || bytes > maxOutputBytes - outputBytes) {
      throw new CheckpointError('too-large', `tensor of shape [${shape.join(', ')}] ${storage.dtype} would exceed the ${maxOutputBytes}-byte output limit`);
    }
    if (n > 0) {
      let last = offset;
      for (let i = 0; i < shape.length; i++) last += (shape[i]! - 1) * stride[i]!;
      if (last >= storage.numel) {
        throw new CheckpointError('corrupt', `tensor of shape [${shape}] stride [${stride}] offset ${offset} reads element ${last} of a storage of ${storage.numel}`);
      }
    }
    outputBytes += bytes;
    const tensor: MutableTensor = { dtype: storage.dtype, shape, data: allocate(storage.dtype, 0) };
    tensors.add(tensor);
    pending.push({ tensor, storage, offset, stride });
    return tensor;
  };
  const asTensor = (v: unknown, what: string): MutableTensor => {
    if (typeof v !== 'object' || v === null || !tensors.has(v)) throw new CheckpointError('corrupt', `${what} is not a tensor`);
    return v as MutableTensor;
  };

  const hooks: UnpickleHooks = {
    findGlobal,
    reduce(fn, args) {
      if (!(fn instanceof Global) || fn.kind === 'storage' || fn.kind === 'dtype') {
        throw new CheckpointError('corrupt', `REDUCE on ${fn instanceof Global ? fn.path : 'a value'} that is not callable`);
      }
      switch (fn.path) {
        case 'collections.OrderedDict': {
          const m = new OrderedDict<unknown, unknown>();
          const init = args[0];
          if (args.length > 1) throw new CheckpointError('corrupt', 'OrderedDict called with several arguments');
          if (init instanceof Map) for (const [k, v] of init) m.set(k, v);
          else if (Array.isArray(init)) {
            for (const pair of init) {
              if (!Array.isArray(pair) || pair.length !== 2) throw new CheckpointError('corrupt', 'OrderedDict items are not pairs');
              m.set(pair[0], pair[1]);
            }
          } else if (init !== undefined) throw new CheckpointError('corrupt', 'OrderedDict called with a non-iterable');
          return m;
        }
        case 'torch._utils._rebuild_tensor':
        case 'torch._utils._rebuild_tensor_v2':
          return rebuildTensor(args, fn.path);
        case 'torch._utils._rebuild_parameter':
        case 'torch._utils._rebuild_parameter_with_state':
        case 'torch.nn.parameter.Parameter':
          return asTensor(args[0], `${fn.path} argument`);
        case 'torch.Size':
          if (args.length !== 1 || (!Array.isArray(args[0]) && !isTuple(args[0]))) throw new CheckpointError('corrupt', 'torch.Size needs one tuple');
          return Object.freeze([...(args[0] as unknown[])]);
        case 'torch.device':
          if (!args.every((a) => typeof a === 'string' || typeof a === 'number')) throw new CheckpointError('corrupt', 'torch.device needs a string');
          return args.join(':');
        case 'builtins.set':
        case 'builtins.frozenset':
        case '__builtin__.set':
        case '__builtin__.frozenset':
          if (args.length > 1 || (args.length === 1 && !Array.isArray(args[0]))) throw new CheckpointError('corrupt', `${fn.path} needs a list`);
          return new Set((args[0] as unknown[] | undefined) ?? []);
        case '_codecs.encode': {
          const [text, enc] = args;
          if (typeof text !== 'string' || (enc !== 'latin1' && enc !== 'latin-1')) throw new CheckpointError('unsupported', '_codecs.encode is only accepted for latin1 bytes');
          const out = new Uint8Array(text.length);
          for (let i = 0; i < text.length; i++) {
            const c = text.charCodeAt(i);
            if (c > 255) throw new CheckpointError('corrupt', '_codecs.encode: character outside latin1');
            out[i] = c;
          }
          return out;
        }
        case 'argparse.Namespace':
          return new PythonObject(fn.path);
      }
      throw new CheckpointError('corrupt', `REDUCE on ${fn.path}`);
    },
    newObject(cls, args) {
      if (cls instanceof Global && cls.kind === 'class') return new PythonObject(cls.path);
      if (cls instanceof Global && cls.path === 'torch.nn.parameter.Parameter') return asTensor(args[0], 'Parameter data');
      if (cls instanceof Global && cls.path === 'collections.OrderedDict') return new OrderedDict();
      throw new CheckpointError('corrupt', `NEWOBJ on ${cls instanceof Global ? cls.path : 'a value'} that is not an allowed class`);
    },
    build(obj, state) {
      // OrderedDict's `_metadata` (and a Parameter's state) carry nothing we need.
      if (obj instanceof Map) return obj;
      if (typeof obj === 'object' && obj !== null && tensors.has(obj)) return obj;
      if (obj instanceof PythonObject) {
        const dict = isTuple(state) ? state[0] : state;
        if (dict instanceof Map) for (const [k, v] of dict) obj.attributes.set(k, v);
        else if (dict !== null) throw new CheckpointError('corrupt', `BUILD of ${obj.className} with a non-dict state`);
        return obj;
      }
      throw new CheckpointError('corrupt', 'BUILD on an object that is not a dict, tensor or allowed class');
    },
    persistentLoad(pid) {
      if (!isTuple(pid) || pid.length < 1) throw new CheckpointError('corrupt', 'persistent id is not a tuple');
      const kind = pid[0] instanceof Uint8Array ? latin1(pid[0]) : pid[0];
      if (kind !== 'storage') throw new CheckpointError('unsupported', `persistent id of kind ${JSON.stringify(String(kind))}; only storages are allowed`);
      return persistent(pid);
    },
  };
  return { hooks, pending };
}

export function storageArgs(pid: readonly unknown[]): { type: Global; key: string; numel: number } {
  const type = pid[1];
  if (!(type instanceof Global) || type.kind !== 'storage') throw new CheckpointError('corrupt', 'persistent id does not name a storage type');
  const rawKey = pid[2];
  if (typeof rawKey !== 'string' && typeof rawKey !== 'number') throw new CheckpointError('corrupt', 'storage key is not a string');
  const numelValue = nonNegInt(pid[4], 'storage size');
  return { type, key: String(rawKey), numel: numelValue };
}

function byteswap(data: HostTypedArray): void {
  const size = data.BYTES_PER_ELEMENT;
  if (size === 1) return;
  const b = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  for (let i = 0; i < b.length; i += size) {
    for (let lo = i, hi = i + size - 1; lo < hi; lo++, hi--) {
      const t = b[lo]!;
      b[lo] = b[hi]!;
      b[hi] = t;
    }
  }
}

export function materialize(p: Pending, bigEndian: boolean): void {
  const { tensor, storage, offset, stride } = p;
  const { shape, dtype } = tensor;
  const size = DTYPE_SIZE[dtype];
  let root = storage;
  let base = 0;
  while (root.root) {
    base += root.rootOffset;
    root = root.root;
  }
  const raw = root.data;
  if (!raw) throw new CheckpointError('corrupt', `storage "${root.key}" has no data in the file`);
  const n = numel(shape);
  if (n === 0) {
    tensor.data = allocate(dtype, 0);
    return;
  }
  let last = 0;
  for (let i = 0; i < shape.length; i++) last += (shape[i]! - 1) * stride[i]!;
  const start = (base + offset) * size;
  if (start + (last + 1) * size > raw.byteLength) {
    throw new CheckpointError('truncated', `tensor reads bytes ${start}..${start + (last + 1) * size} of storage "${root.key}" which holds ${raw.byteLength}`);
  }
  let contiguous = true;
  for (let i = shape.length - 1, s = 1; i >= 0; i--) {
    if (shape[i]! !== 1 && stride[i]! !== s) contiguous = false;
    s *= shape[i]!;
  }
  const src = copyOut(raw, start, contiguous ? n : last + 1, dtype);
  if (bigEndian) byteswap(src);
  if (contiguous) {
    tensor.data = src;
    return;
  }
  // Gather a strided view into C order, innermost dimension in the tight loop.
  const out = allocate(dtype, n);
  const o = out as unknown as { [i: number]: number | bigint };
  const s = src as unknown as { [i: number]: number | bigint };
  const rank = shape.length;
  const inner = shape[rank - 1]!;
  const innerStride = stride[rank - 1]!;
  const idx = new Array<number>(rank).fill(0);
  let pos = 0;
  for (let k = 0; k < n; k += inner) {
    for (let j = 0, q = pos; j < inner; j++, q += innerStride) o[k + j] = s[q]!;
    for (let d = rank - 2; d >= 0; d--) {
      idx[d]!++;
      pos += stride[d]!;
      if (idx[d]! < shape[d]!) break;
      pos -= idx[d]! * stride[d]!;
      idx[d] = 0;
    }
  }
  tensor.data = out;
}

export function defaultLimit(bytes: Uint8Array, options: TorchLoadOptions): number {
  return options.maxOutputBytes ?? Math.max(4 * bytes.byteLength, DEFAULT_MIN_OUTPUT);
}
