// torch.save's legacy stream (_use_new_zipfile_serialization=False): magic, protocol, system info,
// the pickled object, the storage keys, then each storage's bytes in that order.
import { DTYPE_SIZE } from '../host-tensor.js';
import { CheckpointError } from '../errors.js';
import { isTuple, unpickle } from '../pickle.js';
import { LEGACY_MAGIC, LEGACY_PROTOCOL, StorageRef, defaultLimit, makeLoader, materialize, nonNegInt, storageArgs, type TorchLoadOptions } from './loader.js';

export function loadLegacy(bytes: Uint8Array, options: TorchLoadOptions): unknown {
  const roots = new Map<string, StorageRef>();
  const views = new Map<string, StorageRef>();
  const loader = makeLoader((pid) => {
    if (pid.length !== 6) throw new CheckpointError('corrupt', `legacy storage persistent id has ${pid.length} fields, expected 6`);
    const { type, key, numel: n } = storageArgs(pid);
    let root = roots.get(key);
    if (!root) {
      root = new StorageRef(key, type.dtype!, n);
      roots.set(key, root);
    } else if (root.dtype !== type.dtype || root.numel !== n) {
      throw new CheckpointError('corrupt', `storage "${key}" is declared twice with different types or sizes`);
    }
    const viewMeta = pid[5];
    if (viewMeta === null || viewMeta === undefined) return root;
    if (!isTuple(viewMeta) || viewMeta.length !== 3) throw new CheckpointError('corrupt', 'storage view metadata is not (key, offset, size)');
    const viewKey = String(viewMeta[0]);
    const off = nonNegInt(viewMeta[1], 'storage view offset');
    const size = nonNegInt(viewMeta[2], 'storage view size');
    if (off + size > n) throw new CheckpointError('corrupt', `storage view "${viewKey}" spans ${off}..${off + size} of a storage of ${n}`);
    let view = views.get(viewKey);
    if (!view) {
      view = new StorageRef(viewKey, root.dtype, size, root, off);
      views.set(viewKey, view);
    }
    return view;
  }, defaultLimit(bytes, options));
  const opts = { maxDepth: options.maxDepth };
  const magic = unpickle(bytes, 0, loader.hooks, opts);
  if (magic.value !== LEGACY_MAGIC) throw new CheckpointError('corrupt', 'not a torch.save file: the legacy magic number is wrong');
  const proto = unpickle(bytes, magic.end, loader.hooks, opts);
  if (proto.value !== LEGACY_PROTOCOL) throw new CheckpointError('unsupported', `legacy torch.save protocol version ${String(proto.value)}; only ${LEGACY_PROTOCOL} is supported`);
  const sysInfo = unpickle(bytes, proto.end, loader.hooks, opts);
  const bigEndian = sysInfo.value instanceof Map && sysInfo.value.get('little_endian') === false;
  const main = unpickle(bytes, sysInfo.end, loader.hooks, opts);
  const keys = unpickle(bytes, main.end, loader.hooks, opts);
  if (!Array.isArray(keys.value) || !keys.value.every((k) => typeof k === 'string' || typeof k === 'number')) {
    throw new CheckpointError('corrupt', 'legacy storage key list is not a list of strings');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = keys.end;
  for (const k of keys.value as (string | number)[]) {
    const key = String(k);
    const root = roots.get(key);
    if (!root) throw new CheckpointError('corrupt', `legacy storage "${key}" is listed but no tensor refers to it`);
    if (root.data) throw new CheckpointError('corrupt', `legacy storage "${key}" is listed twice`);
    if (pos + 8 > bytes.byteLength) throw new CheckpointError('truncated', `legacy storage "${key}" size record at byte ${pos} is past the end of the file`);
    const count = view.getBigInt64(pos, true);
    pos += 8;
    const size = DTYPE_SIZE[root.dtype];
    const available = bytes.byteLength - pos;
    if (count < 0n || count * BigInt(size) > BigInt(available)) {
      throw new CheckpointError('truncated', `legacy storage "${key}" claims ${count} ${root.dtype} elements (${count * BigInt(size)} bytes) but only ${available} bytes remain`);
    }
    if (Number(count) !== root.numel) {
      throw new CheckpointError('corrupt', `legacy storage "${key}" holds ${count} elements but its tensors declared ${root.numel}`);
    }
    root.data = bytes.subarray(pos, pos + root.numel * size);
    pos += root.numel * size;
  }
  for (const p of loader.pending) materialize(p, bigEndian);
  return main.value;
}
