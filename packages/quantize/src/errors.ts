/** Why a quantized model could not be built, loaded or converted. */
export type QuantizationErrorCode =
  | 'float-checkpoint'
  | 'per-channel'
  | 'missing-qparams'
  | 'unobserved'
  | 'invalid-option'
  | 'invalid-file'
  | 'wrong-architecture';

/**
 * A quantization failure with a `code` and a message that names the problem and what to pass
 * instead (`float-checkpoint`: load it with `quantize: false` or quantize it with `prepare`).
 */
export class QuantizationError extends Error {
  constructor(
    readonly code: QuantizationErrorCode,
    message: string,
    options?: unknown,
  ) {
    super(message, options instanceof Error ? { cause: options } : undefined);
    this.name = 'QuantizationError';
  }
}
