// ↔ torch.save (torch 1.13, `_use_new_zipfile_serialization=True`): the pickle of the object at
// <archive>/data.pkl (protocol 2), each tensor's storage at <archive>/data/<key>, <archive>/version,
// in a zip written as PyTorchStreamWriter (miniz) writes it: stored records whose data start on a
// 64-byte boundary (an "FB" extra field of 'Z' padding), data descriptors, zip64 end records.
import { numel, type DType, type HostTensor } from './host-tensor.js';
import { PickleValueError, Pickler } from './pickler.js';
import { PythonObject, isHostTensor } from './torch-load/loader.js';
import { crc32 } from './zip.js';

/** Options of {@link saveTorchCheckpoint}. */
export interface TorchSaveOptions {
  /**
   * The folder every record sits under. torch 1.13 uses "archive" when saving to a buffer and the
   * file's base name up to its first dot when saving to a path (`model_3.pth` → `model_3`), which
   * is what `writeTorchCheckpoint` in `@mnv3/io/node` passes.
   */
  archiveName?: string;
}

const STORAGE_TYPES: Readonly<Record<DType, string>> = {
  float32: 'FloatStorage',
  float64: 'DoubleStorage',
  float16: 'HalfStorage',
  bfloat16: 'BFloat16Storage',
  int64: 'LongStorage',
  int32: 'IntStorage',
  int16: 'ShortStorage',
  int8: 'CharStorage',
  uint8: 'ByteStorage',
  bool: 'BoolStorage',
};

/** The classes a checkpoint may hold instances of (the reader's allowlist: plain data only). */
const WRITABLE_CLASSES = new Set(['argparse.Namespace']);
const ALIGNMENT = 64;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function checkTensor(t: HostTensor, path: string): void {
  if (!(t.dtype in STORAGE_TYPES)) throw new PickleValueError(`${path}: tensor dtype ${String(t.dtype)} has no torch storage type`);
  if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new PickleValueError(`${path}: tensor shape [${t.shape.join(', ')}] is not a list of sizes`);
  if (numel(t.shape) !== t.data.length) throw new PickleValueError(`${path}: tensor of shape [${t.shape.join(', ')}] holds ${t.data.length} values, not ${numel(t.shape)}`);
}

/** torch's contiguous strides (a size-0 or size-1 dimension counts as 1). */
function contiguousStride(shape: readonly number[]): number[] {
  const stride = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    stride[i] = s;
    s *= Math.max(shape[i]!, 1);
  }
  return stride;
}

function storageBytes(t: HostTensor): Uint8Array {
  const src = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  if (LITTLE_ENDIAN || t.data.BYTES_PER_ELEMENT === 1) return src;
  const out = src.slice();
  const size = t.data.BYTES_PER_ELEMENT;
  for (let i = 0; i < out.length; i += size) out.subarray(i, i + size).reverse();
  return out;
}

/**
 * Writes a `torch.save` file (the zip format of torch ≥ 1.6) and returns its bytes; torch 1.13
 * writes the same bytes for the same object when saving to a buffer (tested byte for byte). Read
 * back with `torch.load`, or with {@link loadTorchCheckpoint} here.
 *
 * JavaScript values become Python values as the reader maps them back:
 * - `null` → `None`; booleans; strings → `str`;
 * - numbers → `int` when safe integers (|x| < 2^53, not −0), else `float`; `pyFloat(1)` → `1.0`;
 *   `bigint` → `int` (any size);
 * - {@link HostTensor} → a contiguous CPU tensor of its dtype (`requires_grad=False`), one storage each;
 * - arrays → `list`, frozen arrays (`Object.freeze([..])`, as the reader returns tuples) → `tuple`;
 * - `Map` and plain objects → `dict` (keys of any of these kinds: `optimizer.state_dict()`'s int
 *   keys stay ints), {@link OrderedDict} → `collections.OrderedDict` (`model.state_dict()`);
 * - `PythonObject('argparse.Namespace', attributes)` → an `argparse.Namespace` (TorchVision's
 *   `args`; no other class is written, as no other is read).
 * Anything else (`undefined`, functions, other classes, typed arrays outside a tensor) throws a
 * `PickleValueError` naming where it is in the object.
 *
 * @example
 * const bytes = saveTorchCheckpoint(new OrderedDict([['fc.weight', float32Tensor([2, 3], w)]]));
 */
export function saveTorchCheckpoint(obj: unknown, options: TorchSaveOptions = {}): Uint8Array {
  const archive = options.archiveName ?? 'archive';
  if (!/^[^/\\]+$/.test(archive)) throw new RangeError(`archiveName must be a non-empty name without slashes, got ${JSON.stringify(archive)}`);
  const storages: { key: string; bytes: Uint8Array }[] = [];
  const pickler = new Pickler({
    save(p, value, path) {
      if (isHostTensor(value)) {
        if (p.getIfMemoized(value)) return true;
        checkTensor(value, path);
        const key = String(storages.length);
        storages.push({ key, bytes: storageBytes(value) });
        // Tensor.__reduce_ex__ → _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, backward_hooks)
        p.saveGlobal('torch._utils', '_rebuild_tensor_v2');
        p.write(0x28); // MARK
        p.savePersistentId(Object.freeze(['storage', new StorageType(value.dtype), key, 'cpu', numel(value.shape)]), path);
        p.save(0, path);
        p.saveTuple([...value.shape], `${path}.shape`);
        p.saveTuple(contiguousStride(value.shape), `${path}.stride`);
        p.save(false, path);
        p.saveReduce('collections', 'OrderedDict', [], path);
        p.write(0x74); // TUPLE
        p.memoize({});
        p.write(0x52); // REDUCE
        p.memoize(value);
        return true;
      }
      if (value instanceof StorageType) {
        p.saveGlobal('torch', STORAGE_TYPES[value.dtype]);
        return true;
      }
      if (value instanceof PythonObject) {
        if (p.getIfMemoized(value)) return true;
        if (!WRITABLE_CLASSES.has(value.className)) {
          throw new PickleValueError(`${path}: instances of ${value.className} are not written (only ${[...WRITABLE_CLASSES].join(', ')}, which the reader's allowlist accepts)`);
        }
        const dot = value.className.lastIndexOf('.');
        // object.__reduce_ex__(2) → copyreg.__newobj__(cls): cls, (), NEWOBJ, then BUILD with __dict__.
        p.saveGlobal(value.className.slice(0, dot), value.className.slice(dot + 1));
        p.write(0x29, 0x81); // EMPTY_TUPLE, NEWOBJ
        p.memoize(value);
        p.save(new Map(value.attributes), `${path}.__dict__`);
        p.write(0x62); // BUILD
        return true;
      }
      return false;
    },
  });
  const pkl = pickler.dump(obj);
  storages.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)); // torch writes them in sorted(str) order
  const records: [string, Uint8Array][] = [[`${archive}/data.pkl`, pkl]];
  for (const s of storages) records.push([`${archive}/data/${s.key}`, s.bytes]);
  records.push([`${archive}/version`, new TextEncoder().encode('3\n')]);
  return writeZip(records);
}

/** A storage class (`torch.FloatStorage`), pickled as a global. */
class StorageType {
  constructor(readonly dtype: DType) {}
}

/** miniz as PyTorchStreamWriter configures it: stored entries, 64-byte aligned data. */
function writeZip(records: [string, Uint8Array][]): Uint8Array {
  const enc = new TextEncoder();
  type Placed = { name: Uint8Array; data: Uint8Array; offset: number; pad: number; crc: number };
  const placed: Placed[] = [];
  let offset = 0;
  for (const [name, data] of records) {
    if (data.length >= 0xffffffff) throw new RangeError(`record ${name} of ${data.length} bytes needs zip64 sizes, which this writer does not write (records up to 4 GiB)`);
    const nameBytes = enc.encode(name);
    const start = offset + 30 + nameBytes.length + 4;
    const pad = (ALIGNMENT - (start % ALIGNMENT)) % ALIGNMENT;
    placed.push({ name: nameBytes, data, offset, pad, crc: crc32(data) });
    // miniz writes an empty record without a data descriptor (and without that flag bit).
    offset = start + pad + data.length + (data.length ? 16 : 0);
    if (offset >= 0xffffffff) throw new RangeError('checkpoint of 4 GiB or more: zip64 offsets are not written');
  }
  const cdOffset = offset;
  const cdSize = placed.reduce((n, p) => n + 46 + p.name.length, 0);
  const total = cdOffset + cdSize + 56 + 20 + 22;
  const out = new Uint8Array(total);
  const v = new DataView(out.buffer);
  for (const p of placed) {
    let o = p.offset;
    v.setUint32(o, 0x04034b50, true);
    v.setUint16(o + 4, 0, true); // version needed (miniz writes 0 here)
    v.setUint16(o + 6, p.data.length ? 0x0808 : 0x0800, true); // UTF-8 name; data descriptor follows
    // method 0 (stored), time, date, crc and sizes are 0 here: the data descriptor carries them
    v.setUint16(o + 26, p.name.length, true);
    v.setUint16(o + 28, p.pad + 4, true);
    out.set(p.name, o + 30);
    o += 30 + p.name.length;
    out[o] = 0x46; // 'F'
    out[o + 1] = 0x42; // 'B'
    v.setUint16(o + 2, p.pad, true);
    out.fill(0x5a, o + 4, o + 4 + p.pad); // 'Z'
    o += 4 + p.pad;
    out.set(p.data, o);
    o += p.data.length;
    if (!p.data.length) continue;
    v.setUint32(o, 0x08074b50, true);
    v.setUint32(o + 4, p.crc, true);
    v.setUint32(o + 8, p.data.length, true);
    v.setUint32(o + 12, p.data.length, true);
  }
  let o = cdOffset;
  for (const p of placed) {
    v.setUint32(o, 0x02014b50, true);
    v.setUint16(o + 8, p.data.length ? 0x0808 : 0x0800, true);
    v.setUint32(o + 16, p.crc, true);
    v.setUint32(o + 20, p.data.length, true);
    v.setUint32(o + 24, p.data.length, true);
    v.setUint16(o + 28, p.name.length, true);
    v.setUint32(o + 42, p.offset, true);
    out.set(p.name, o + 46);
    o += 46 + p.name.length;
  }
  const n = placed.length;
  // zip64 end of central directory record and locator (miniz writes them always), then the EOCD.
  const z64 = o;
  v.setUint32(o, 0x06064b50, true);
  v.setBigUint64(o + 4, 44n, true);
  v.setUint16(o + 12, 0x031e, true);
  v.setUint16(o + 14, 0x002d, true);
  v.setBigUint64(o + 24, BigInt(n), true);
  v.setBigUint64(o + 32, BigInt(n), true);
  v.setBigUint64(o + 40, BigInt(cdSize), true);
  v.setBigUint64(o + 48, BigInt(cdOffset), true);
  o += 56;
  v.setUint32(o, 0x07064b50, true);
  v.setBigUint64(o + 8, BigInt(z64), true);
  v.setUint32(o + 16, 1, true);
  o += 20;
  v.setUint32(o, 0x06054b50, true);
  v.setUint16(o + 8, Math.min(n, 0xffff), true);
  v.setUint16(o + 10, Math.min(n, 0xffff), true);
  v.setUint32(o + 12, cdSize, true);
  v.setUint32(o + 16, cdOffset, true);
  return out;
}

