import { CheckpointError } from './errors.js';
import type { StateDict } from './host-tensor.js';
import { readSafetensors } from './safetensors.js';
import { readStateDict } from './torch-load/index.js';

/** The weight-file formats `readCheckpoint` recognises. */
export type CheckpointFormat = 'safetensors' | 'torch-zip' | 'torch-legacy';

/** Tells a weights file's format from its first bytes, or `null` when it is none of them. */
export function sniffCheckpointFormat(bytes: Uint8Array): CheckpointFormat | null {
  if (bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04) return 'torch-zip';
  if (bytes.length >= 2 && bytes[0] === 0x80 && bytes[1]! >= 2 && bytes[1]! <= 5) return 'torch-legacy';
  if (bytes.length >= 9 && bytes[8] === 0x7b) return 'safetensors';
  return null;
}

/**
 * Reads a state dict from a weights file of any supported format: `torch.save` (zip or legacy,
 * as TorchVision publishes them, including `{"model": state_dict, …}` training checkpoints) or
 * safetensors. Bytes in, tensors out: no filesystem needed.
 *
 * @example const stateDict = readCheckpoint(new Uint8Array(await (await fetch(url)).arrayBuffer()));
 */
export function readCheckpoint(bytes: Uint8Array): StateDict {
  switch (sniffCheckpointFormat(bytes)) {
    case 'safetensors':
      return readSafetensors(bytes).tensors;
    case 'torch-zip':
    case 'torch-legacy':
      return readStateDict(bytes);
    default:
      throw new CheckpointError(
        'unsupported',
        `not a weights file: expected a torch.save checkpoint (.pth, zip or legacy) or safetensors, got bytes starting ${[...bytes.subarray(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join(' ')}`,
      );
  }
}
