// Finding the state dict in a loaded checkpoint, as torch.load users do by hand.
import type { StateDict } from '../host-tensor.js';
import { CheckpointError } from '../errors.js';
import { guard, loadTorchCheckpoint } from './load.js';
import { isHostTensor, type ReadStateDictOptions } from './loader.js';

function asStateDict(v: unknown): StateDict | undefined {
  if (!(v instanceof Map)) return undefined;
  const out: StateDict = new Map();
  for (const [k, t] of v) {
    if (typeof k !== 'string' || !isHostTensor(t)) return undefined;
    out.set(k, t);
  }
  return out;
}

const STATE_DICT_KEYS = ['model', 'state_dict', 'model_state_dict'];

function describeKeys(m: Map<unknown, unknown>): string {
  const keys = [...m.keys()].map((k) => (typeof k === 'string' ? JSON.stringify(k) : String(k)));
  return keys.length > 20 ? `${keys.slice(0, 20).join(', ')}, … (${keys.length} keys)` : keys.join(', ') || '(none)';
}

/**
 * Finds the state dict in a loaded checkpoint: the top-level dict itself when it maps names to
 * tensors, else its `model` entry (as TorchVision's reference scripts save `{"model": …,
 * "optimizer": …, "epoch": …}`), then `state_dict` or `model_state_dict`; or the `key` given.
 * Throws `CheckpointError('unsupported')` naming the keys found otherwise.
 */
export function findStateDict(checkpoint: unknown, key?: string): StateDict {
  if (key !== undefined) {
    if (!(checkpoint instanceof Map) || !checkpoint.has(key)) {
      throw new CheckpointError('unsupported', `checkpoint has no key "${key}"; it has ${checkpoint instanceof Map ? describeKeys(checkpoint) : 'no dict at the top level'}`);
    }
    const sd = asStateDict(checkpoint.get(key));
    if (!sd) throw new CheckpointError('unsupported', `checkpoint["${key}"] is not a dict of tensors`);
    return sd;
  }
  const direct = asStateDict(checkpoint);
  if (direct) return direct;
  if (checkpoint instanceof Map) {
    for (const k of STATE_DICT_KEYS) {
      const sd = asStateDict(checkpoint.get(k));
      if (sd) return sd;
    }
    if ([...checkpoint.values()].some(isHostTensor)) {
      const odd = [...checkpoint].filter(([k, v]) => typeof k !== 'string' || !isHostTensor(v)).map(([k]) => k);
      throw new CheckpointError(
        'unsupported',
        `the checkpoint's top-level dict mixes tensors with other values at keys ${describeKeys(new Map(odd.map((k) => [k, null])))}; a state dict maps names to tensors only`,
      );
    }
    throw new CheckpointError(
      'unsupported',
      `no state dict found: the checkpoint's top-level dict has keys ${describeKeys(checkpoint)}; expected a dict of tensors or one under ${STATE_DICT_KEYS.map((k) => `"${k}"`).join(', ')} (pass { key } to choose)`,
    );
  }
  throw new CheckpointError('unsupported', 'no state dict found: the checkpoint is not a dict');
}

/**
 * Reads a `torch.save` file and returns its state dict (see {@link findStateDict}), tensors in
 * file order.
 *
 * @example const sd = readStateDict(await fs.readFile('mobilenet_v3_small-047dcff4.pth'));
 */
export function readStateDict(bytes: Uint8Array, options: ReadStateDictOptions = {}): StateDict {
  const ckpt = loadTorchCheckpoint(bytes, options);
  return guard(() => findStateDict(ckpt, options.key));
}
