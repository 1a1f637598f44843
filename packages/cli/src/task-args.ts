import { UsageError } from './errors.js';

/** The options every task verb (classify, segment, detect) takes, for `parseArgs`. */
export const TASK_OPTIONS = {
  model: { type: 'string' },
  weights: { type: 'string' },
  'num-classes': { type: 'string' },
  json: { type: 'boolean' },
  progress: { type: 'boolean' },
} as const;

/**
 * Checks what every task verb needs: a known `--model`, `--weights`, and at least one input.
 * Returns the model name.
 */
export function checkTaskArgs(
  values: { model?: string; weights?: string },
  positionals: readonly string[],
  models: readonly string[],
  registryNames: string,
): string {
  if (!values.model) throw new UsageError(`--model is required; valid: ${models.join(', ')}`);
  if (!models.includes(values.model)) throw new UsageError(`unknown model "${values.model}"; valid: ${models.join(', ')}`);
  if (!values.weights) throw new UsageError(`--weights is required: a .pth or .safetensors file, or ${registryNames}`);
  if (positionals.length === 0) throw new UsageError('no INPUT given: pass one or more image or .npy files');
  return values.model;
}
