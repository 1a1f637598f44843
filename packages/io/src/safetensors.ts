import { DTYPE_SIZE, numel, type DType, type HostTensor, type StateDict } from './host-tensor.js';
import { CheckpointError } from './errors.js';

/** safetensors' dtype names ↔ ours. */
const ST_TO_DTYPE: Readonly<Record<string, DType>> = {
  F64: 'float64',
  F32: 'float32',
  F16: 'float16',
  BF16: 'bfloat16',
  I64: 'int64',
  I32: 'int32',
  I16: 'int16',
  I8: 'int8',
  U8: 'uint8',
  BOOL: 'bool',
};
const DTYPE_TO_ST = Object.fromEntries(Object.entries(ST_TO_DTYPE).map(([k, v]) => [v, k])) as Record<DType, string>;

/** A safetensors file's tensors (in header order) and its `__metadata__` strings. */
export interface SafetensorsFile {
  tensors: StateDict;
  metadata: Record<string, string>;
}

const MAX_HEADER = 100_000_000;
/** The header is `{name: {dtype, shape: [..]}}` plus `{"__metadata__": {..}}`: three levels at most. */
const MAX_HEADER_DEPTH = 3;

/**
 * Throws unless the JSON text nests at most `MAX_HEADER_DEPTH` levels, before `JSON.parse` spends
 * seconds and gigabytes on a header of nested brackets (the format's reader parses a flat map).
 */
function checkHeaderDepth(json: Uint8Array): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < json.length; i++) {
    const c = json[i]!;
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped byte
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > MAX_HEADER_DEPTH) throw new CheckpointError('corrupt', `safetensors header nests deeper than the format's ${MAX_HEADER_DEPTH} levels (at byte ${8 + i})`);
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
}

/**
 * Reads a safetensors file. Tensors are copied out of `bytes` (little-endian, C order), so the
 * input can be released afterwards. Throws `CheckpointError` on any inconsistency.
 *
 * @example const { tensors } = readSafetensors(await fs.readFile('model.safetensors'));
 */
export function readSafetensors(bytes: Uint8Array): SafetensorsFile {
  if (bytes.byteLength < 8) throw new CheckpointError('truncated', `safetensors file of ${bytes.byteLength} bytes has no header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  if (headerLen > MAX_HEADER || 8 + headerLen > bytes.byteLength) {
    throw new CheckpointError('truncated', `safetensors header claims ${headerLen} bytes but the file holds ${bytes.byteLength - 8}`);
  }
  checkHeaderDepth(bytes.subarray(8, 8 + headerLen));
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen))) as Record<string, unknown>;
  } catch (e) {
    throw new CheckpointError('corrupt', `safetensors header is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new CheckpointError('corrupt', 'safetensors header is not a JSON object');
  }
  const dataStart = 8 + headerLen;
  const dataLen = bytes.byteLength - dataStart;
  const tensors: StateDict = new Map();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      throw new CheckpointError('corrupt', `safetensors header entry "${name}" is ${entry === null ? 'null' : Array.isArray(entry) ? 'a list' : typeof entry}, not an object`);
    }
    if (name === '__metadata__') {
      const bad = Object.entries(entry).find(([, v]) => typeof v !== 'string');
      if (bad) throw new CheckpointError('corrupt', `safetensors __metadata__ maps names to strings; "${bad[0]}" is ${bad[1] === null ? 'null' : typeof bad[1]}`);
      metadata = entry as Record<string, string>;
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const dtype = typeof e.dtype === 'string' ? ST_TO_DTYPE[e.dtype] : undefined;
    if (!dtype) throw new CheckpointError('unsupported', `tensor "${name}" has unsupported dtype ${String(e.dtype)}; valid: ${Object.keys(ST_TO_DTYPE).join(', ')}`);
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new CheckpointError('corrupt', `tensor "${name}" has an invalid shape ${JSON.stringify(e.shape)}`);
    }
    const shape = e.shape as number[];
    const offsets = e.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      throw new CheckpointError('corrupt', `tensor "${name}" has invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    const size = DTYPE_SIZE[dtype];
    if (end < begin || end > dataLen) {
      throw new CheckpointError('truncated', `tensor "${name}" spans bytes ${begin}..${end} but the data section holds ${dataLen}`);
    }
    if (end - begin !== numel(shape) * size) {
      throw new CheckpointError('corrupt', `tensor "${name}" of shape [${shape.join(', ')}] ${dtype} needs ${numel(shape) * size} bytes, its offsets give ${end - begin}`);
    }
    tensors.set(name, { dtype, shape, data: copyOut(bytes, dataStart + begin, numel(shape), dtype) });
  }
  return { tensors, metadata };
}

/**
 * Writes tensors (and optional string metadata) as a safetensors file.
 *
 * @example await fs.writeFile('model.safetensors', writeSafetensors(model.stateDict()));
 */
export function writeSafetensors(tensors: StateDict | Iterable<[string, HostTensor]>, metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) header.__metadata__ = metadata;
  const entries = [...tensors];
  let offset = 0;
  for (const [name, t] of entries) {
    const n = t.data.byteLength;
    if (n !== numel(t.shape) * DTYPE_SIZE[t.dtype]) throw new RangeError(`tensor "${name}" data does not match its shape`);
    header[name] = { dtype: DTYPE_TO_ST[t.dtype], shape: t.shape, data_offsets: [offset, offset + n] };
    offset += n;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let pos = 8 + json.length;
  for (const [, t] of entries) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), pos);
    pos += t.data.byteLength;
  }
  return out;
}

/** Copies `count` little-endian elements starting at byte `start` into a fresh, aligned array. */
export function copyOut(bytes: Uint8Array, start: number, count: number, dtype: DType): HostTensor['data'] {
  const size = DTYPE_SIZE[dtype];
  const buf = new ArrayBuffer(count * size);
  new Uint8Array(buf).set(bytes.subarray(start, start + count * size));
  switch (dtype) {
    case 'float64':
      return new Float64Array(buf);
    case 'float32':
      return new Float32Array(buf);
    case 'float16':
    case 'bfloat16':
      return new Uint16Array(buf);
    case 'int64':
      return new BigInt64Array(buf);
    case 'int32':
      return new Int32Array(buf);
    case 'int16':
      return new Int16Array(buf);
    case 'int8':
      return new Int8Array(buf);
    case 'uint8':
    case 'bool':
      return new Uint8Array(buf);
  }
}
