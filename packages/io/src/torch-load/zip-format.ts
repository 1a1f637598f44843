// torch.save's zip container (torch >= 1.6): <archive>/data.pkl plus one record per storage.
import { DTYPE_SIZE } from '../host-tensor.js';
import { CheckpointError } from '../errors.js';
import { unpickle } from '../pickle.js';
import { openZip, type ZipArchive } from '../zip.js';
import { StorageRef, defaultLimit, makeLoader, materialize, storageArgs, type TorchLoadOptions } from './loader.js';

export function loadZip(bytes: Uint8Array, options: TorchLoadOptions): unknown {
  const zip: ZipArchive = openZip(bytes);
  const names = [...zip.entries.keys()];
  if (names.length === 0) throw new CheckpointError('corrupt', 'zip archive is empty');
  let prefix = names[0]!.includes('/') ? names[0]!.slice(0, names[0]!.indexOf('/')) : '';
  if (!zip.entries.has(`${prefix}/data.pkl`)) {
    const pkl = names.find((n) => n.endsWith('/data.pkl') && n.indexOf('/') === n.length - '/data.pkl'.length);
    if (!pkl) throw new CheckpointError('corrupt', `zip archive has no <archive>/data.pkl (entries: ${names.slice(0, 8).join(', ')}${names.length > 8 ? ', …' : ''})`);
    prefix = pkl.slice(0, -'/data.pkl'.length);
  }
  if (zip.entries.has(`${prefix}/constants.pkl`) || names.some((n) => n.startsWith(`${prefix}/code/`))) {
    throw new CheckpointError('unsupported', 'this is a TorchScript archive (torch.jit.save); save the model\'s state_dict() with torch.save instead');
  }
  const byteorderEntry = zip.entries.get(`${prefix}/byteorder`);
  const bigEndian = byteorderEntry ? new TextDecoder().decode(zip.read(byteorderEntry)).trim() === 'big' : false;
  const storages = new Map<string, StorageRef>();
  // Records are inflated once each (a record viewed under several dtypes shares its bytes), and the
  // bytes they inflate to count against the same limit as the tensors copied out of them: a small
  // file of highly compressed records (a zip bomb) is refused before it is inflated.
  const records = new Map<string, Uint8Array>();
  const limit = defaultLimit(bytes, options);
  let inflated = 0;
  const loader = makeLoader((pid) => {
    if (pid.length !== 5) throw new CheckpointError('corrupt', `storage persistent id has ${pid.length} fields, expected 5`);
    const { type, key, numel: n } = storageArgs(pid);
    const id = `${key}\u0000${type.dtype}`;
    const cached = storages.get(id);
    if (cached) return cached;
    const entry = zip.entries.get(`${prefix}/data/${key}`);
    if (!entry) throw new CheckpointError('corrupt', `storage "${key}" has no record ${prefix}/data/${key} in the archive`);
    const needBytes = n * DTYPE_SIZE[type.dtype!];
    if (needBytes > entry.size) {
      throw new CheckpointError('truncated', `storage "${key}" claims ${n} ${type.dtype} elements (${needBytes} bytes) but its record holds ${entry.size}`);
    }
    let data = records.get(entry.name);
    if (!data) {
      inflated += entry.size;
      if (inflated > limit) {
        throw new CheckpointError('too-large', `the archive's storage records inflate to more than ${limit} bytes (pass maxOutputBytes to allow more)`);
      }
      data = zip.read(entry);
      records.set(entry.name, data);
    }
    const ref = new StorageRef(key, type.dtype!, n);
    ref.data = data;
    storages.set(id, ref);
    return ref;
  }, limit);
  const pklEntry = zip.entries.get(`${prefix}/data.pkl`)!;
  const pkl = zip.read(pklEntry);
  const { value } = unpickle(pkl, 0, loader.hooks, { maxDepth: options.maxDepth });
  for (const p of loader.pending) materialize(p, bigEndian);
  return value;
}
