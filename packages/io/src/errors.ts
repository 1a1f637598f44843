/** Why a checkpoint could not be read. */
export type CheckpointErrorCode =
  | 'truncated'
  | 'corrupt'
  | 'unsupported'
  | 'forbidden-global'
  | 'too-large'
  | 'too-deep';

/** A checkpoint file (torch.save, safetensors, .npy) that cannot be read safely, with the reason. */
export class CheckpointError extends Error {
  constructor(
    readonly code: CheckpointErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'CheckpointError';
  }
}
