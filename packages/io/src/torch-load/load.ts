import { CheckpointError } from '../errors.js';
import { latin1 } from '../pickle.js';
import { looksLikeZip } from '../zip.js';
import { loadLegacy } from './legacy.js';
import type { TorchLoadOptions } from './loader.js';
import { loadZip } from './zip-format.js';

/** @internal Turns any non-CheckpointError thrown while reading into a typed one. */
export function guard<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof CheckpointError) throw e;
    if (e instanceof RangeError && /call stack/i.test(e.message)) throw new CheckpointError('too-deep', `checkpoint nests too deeply: ${e.message}`);
    const err = e as Error;
    throw new CheckpointError('corrupt', `checkpoint is malformed (${err?.name ?? 'Error'}: ${err?.message ?? String(e)})`);
  }
}

/**
 * Reads a file written by `torch.save` — the zip container (torch ≥ 1.6) or the legacy
 * `_use_new_zipfile_serialization=False` stream — like `torch.load(weights_only=True)`: only
 * tensors, storages, `OrderedDict` and plain Python data are accepted, and any other global
 * (`os.system`, `builtins.eval`, …) throws `CheckpointError('forbidden-global')` naming it.
 * Nothing in the file is ever executed. Two plain-data things torch 1.13's weights-only unpickler
 * refuses are read here: floats (its unpickler lacks `BINFLOAT`, so it refuses every optimiser
 * state dict) and `argparse.Namespace` (TorchVision's `args`, an attribute bag that runs no code;
 * train.py's `--resume` reads checkpoints with the full `torch.load`, which accepts both).
 *
 * Tensors become {@link HostTensor}s (C order, copied out of `bytes`); dicts become `Map`s
 * (`collections.OrderedDict` an {@link OrderedDict}, a `Map` subclass), lists arrays, tuples
 * frozen arrays, `argparse.Namespace` a {@link PythonObject}. Every size is checked against the
 * file before allocating. {@link saveTorchCheckpoint} writes these values back.
 *
 * @example const ckpt = loadTorchCheckpoint(new Uint8Array(await (await fetch(url)).arrayBuffer()));
 */
export function loadTorchCheckpoint(bytes: Uint8Array, options: TorchLoadOptions = {}): unknown {
  return guard(() => {
    if (looksLikeZip(bytes)) return loadZip(bytes, options);
    if (bytes.length >= 2 && bytes[0] === 0x80) return loadLegacy(bytes, options);
    if (bytes.length >= 262 && latin1(bytes.subarray(257, 262)) === 'ustar') {
      throw new CheckpointError('unsupported', 'tar-based torch.save files (PyTorch < 0.4) are not supported');
    }
    if (bytes.length < 4) throw new CheckpointError('truncated', `file of ${bytes.length} bytes is too short for a checkpoint`);
    throw new CheckpointError('corrupt', 'not a torch.save file: neither a zip archive nor a legacy pickle stream');
  });
}
