import { DTYPE_SIZE, allocate, numel, type DType, type HostTensor, type HostTypedArray } from './host-tensor.js';
import { CheckpointError } from './errors.js';
import { copyOut } from './safetensors.js';
import { latin1 } from './pickle.js';

/** numpy's dtype codes (without the byte-order character) ↔ ours. */
const NPY_TO_DTYPE: Readonly<Record<string, DType>> = {
  f8: 'float64',
  f4: 'float32',
  f2: 'float16',
  i8: 'int64',
  i4: 'int32',
  i2: 'int16',
  i1: 'int8',
  u1: 'uint8',
  b1: 'bool',
};
const DTYPE_TO_NPY: Partial<Record<DType, string>> = {
  float64: '<f8',
  float32: '<f4',
  float16: '<f2',
  int64: '<i8',
  int32: '<i4',
  int16: '<i2',
  int8: '|i1',
  uint8: '|u1',
  bool: '|b1',
};

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

type PyLiteral = string | number | boolean | null | PyLiteral[] | { [k: string]: PyLiteral };

/** Parses the Python dict literal of an .npy header (strings, ints, booleans, tuples; no eval). */
function parseHeader(text: string): Record<string, PyLiteral> {
  let i = 0;
  const fail = (msg: string): never => {
    throw new CheckpointError('corrupt', `.npy header ${msg} at character ${i}: ${JSON.stringify(text.slice(0, 120))}`);
  };
  const ws = (): void => {
    while (i < text.length && /\s/.test(text[i]!)) i++;
  };
  const value = (depth: number): PyLiteral => {
    if (depth > 8) fail('nests too deeply');
    ws();
    const c = text[i];
    if (c === "'" || c === '"') {
      const endQ = text.indexOf(c, i + 1);
      if (endQ < 0) fail('has an unterminated string');
      const s = text.slice(i + 1, endQ);
      i = endQ + 1;
      return s;
    }
    if (c === '(' || c === '[') {
      const close = c === '(' ? ')' : ']';
      i++;
      const items: PyLiteral[] = [];
      for (;;) {
        ws();
        if (text[i] === close) {
          i++;
          return items;
        }
        items.push(value(depth + 1));
        ws();
        if (text[i] === ',') i++;
        else if (text[i] !== close) fail(`expects "," or "${close}"`);
      }
    }
    if (c === '{') {
      i++;
      const obj: Record<string, PyLiteral> = {};
      for (;;) {
        ws();
        if (text[i] === '}') {
          i++;
          return obj;
        }
        const k = value(depth + 1);
        if (typeof k !== 'string') fail('has a non-string key');
        ws();
        if (text[i] !== ':') fail('expects ":"');
        i++;
        obj[k as string] = value(depth + 1);
        ws();
        if (text[i] === ',') i++;
        else if (text[i] !== '}') fail('expects "," or "}"');
      }
    }
    const m = /^(True|False|None|-?\d+L?)/.exec(text.slice(i, i + 32));
    if (!m) return fail('has an unexpected token');
    i += m[0].length;
    if (m[0] === 'True') return true;
    if (m[0] === 'False') return false;
    if (m[0] === 'None') return null;
    return Number(m[0].replace('L', ''));
  };
  const v = value(0);
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail('is not a dict');
  return v as Record<string, PyLiteral>;
}

function swapBytes(data: HostTypedArray): void {
  const size = data.BYTES_PER_ELEMENT;
  const b = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  for (let i = 0; i < b.length; i += size) b.subarray(i, i + size).reverse();
}

/** Fortran-order data (first index fastest) → C order. */
function fortranToC(src: HostTypedArray, shape: readonly number[], dtype: DType): HostTypedArray {
  const n = src.length;
  const out = allocate(dtype, n);
  const o = out as unknown as { [i: number]: number | bigint };
  const s = src as unknown as { [i: number]: number | bigint };
  const rank = shape.length;
  // Fortran strides: stride[d] = prod(shape[0..d-1]).
  const stride: number[] = [];
  for (let d = 0, acc = 1; d < rank; d++) {
    stride.push(acc);
    acc *= shape[d]!;
  }
  const idx = new Array<number>(rank).fill(0);
  let pos = 0;
  for (let k = 0; k < n; k++) {
    o[k] = s[pos]!;
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]!++;
      pos += stride[d]!;
      if (idx[d]! < shape[d]!) break;
      pos -= idx[d]! * stride[d]!;
      idx[d] = 0;
    }
  }
  return out;
}

/**
 * Reads a NumPy `.npy` file (format 1.0, 2.0 or 3.0) into a host tensor in C order. Supports
 * float16/32/64, int8/16/32/64, uint8 and bool; big-endian data is byte-swapped and
 * Fortran-order arrays are transposed. Throws `CheckpointError` on anything else.
 *
 * @example const t = readNpy(await fs.readFile('weights.npy'));
 */
export function readNpy(bytes: Uint8Array): HostTensor {
  try {
    return parseNpy(bytes);
  } catch (e) {
    if (e instanceof CheckpointError) throw e;
    throw new CheckpointError('corrupt', `.npy file is malformed (${(e as Error)?.name}: ${(e as Error)?.message})`);
  }
}

function parseNpy(bytes: Uint8Array): HostTensor {
  if (bytes.byteLength < 10) throw new CheckpointError('truncated', `.npy file of ${bytes.byteLength} bytes has no header`);
  if (!MAGIC.every((b, i) => bytes[i] === b)) throw new CheckpointError('corrupt', 'not an .npy file: the magic string \\x93NUMPY is missing');
  const major = bytes[6]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number;
  let headerStart: number;
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.byteLength < 12) throw new CheckpointError('truncated', '.npy file ends inside its header length');
    headerLen = view.getUint32(8, true);
    headerStart = 12;
  } else {
    throw new CheckpointError('unsupported', `.npy format version ${major}.${bytes[7]} is not supported (1.0, 2.0 and 3.0 are)`);
  }
  if (headerStart + headerLen > bytes.byteLength) {
    throw new CheckpointError('truncated', `.npy header claims ${headerLen} bytes but the file holds ${bytes.byteLength - headerStart}`);
  }
  const headerBytes = bytes.subarray(headerStart, headerStart + headerLen);
  let text: string;
  try {
    text = major === 3 ? new TextDecoder('utf-8', { fatal: true }).decode(headerBytes) : latin1(headerBytes);
  } catch {
    throw new CheckpointError('corrupt', '.npy header is not valid UTF-8');
  }
  const header = parseHeader(text);
  const descr = header.descr;
  if (typeof descr !== 'string') throw new CheckpointError('unsupported', `.npy descr ${JSON.stringify(descr)} is not a simple dtype (structured arrays are not supported)`);
  const order = descr[0]!;
  const code = '<>|='.includes(order) ? descr.slice(1) : descr;
  const dtype = NPY_TO_DTYPE[code];
  if (!dtype) {
    throw new CheckpointError('unsupported', `.npy dtype "${descr}" is not supported; supported: ${Object.keys(NPY_TO_DTYPE).join(', ')}`);
  }
  const bigEndian = order === '>' && DTYPE_SIZE[dtype] > 1;
  const fortran = header.fortran_order;
  if (typeof fortran !== 'boolean') throw new CheckpointError('corrupt', '.npy header has no boolean fortran_order');
  const rawShape = header.shape;
  if (!Array.isArray(rawShape) || !rawShape.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0)) {
    throw new CheckpointError('corrupt', `.npy shape ${JSON.stringify(rawShape)} is not a tuple of non-negative integers`);
  }
  const shape = rawShape as number[];
  const n = numel(shape);
  const dataStart = headerStart + headerLen;
  const need = n * DTYPE_SIZE[dtype];
  if (!Number.isSafeInteger(need) || dataStart + need > bytes.byteLength) {
    throw new CheckpointError('truncated', `.npy array of shape (${shape.join(', ')}) ${descr} needs ${need} bytes but the file holds ${bytes.byteLength - dataStart}`);
  }
  let data = copyOut(bytes, dataStart, n, dtype);
  if (bigEndian) swapBytes(data);
  if (fortran && shape.length > 1) data = fortranToC(data, shape, dtype);
  return { dtype, shape: [...shape], data };
}

/**
 * Writes a host tensor as a NumPy `.npy` file (format 1.0, or 2.0 when the header needs it),
 * little-endian, C order. bfloat16 has no NumPy dtype and is refused.
 *
 * @example await fs.writeFile('x.npy', writeNpy(tensor));
 */
export function writeNpy(t: HostTensor): Uint8Array {
  const descr = DTYPE_TO_NPY[t.dtype];
  if (!descr) throw new CheckpointError('unsupported', `dtype ${t.dtype} has no NumPy equivalent`);
  if (numel(t.shape) !== t.data.length) throw new RangeError(`shape [${t.shape.join(', ')}] needs ${numel(t.shape)} values, got ${t.data.length}`);
  const shape = t.shape.length === 1 ? `(${t.shape[0]},)` : `(${t.shape.join(', ')})`;
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  let major = 1;
  let prefix = 10;
  // Pad with spaces so that the data starts on a 64-byte boundary, then a newline.
  let total = Math.ceil((prefix + dict.length + 1) / 64) * 64;
  if (total - prefix > 0xffff) {
    major = 2;
    prefix = 12;
    total = Math.ceil((prefix + dict.length + 1) / 64) * 64;
  }
  const headerLen = total - prefix;
  const out = new Uint8Array(total + t.data.byteLength);
  out.set(MAGIC, 0);
  out[6] = major;
  out[7] = 0;
  const view = new DataView(out.buffer);
  if (major === 1) view.setUint16(8, headerLen, true);
  else view.setUint32(8, headerLen, true);
  const text = dict + ' '.repeat(headerLen - dict.length - 1) + '\n';
  for (let i = 0; i < text.length; i++) out[prefix + i] = text.charCodeAt(i);
  out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), total);
  return out;
}
