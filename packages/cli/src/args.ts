import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './errors.js';

type Options = NonNullable<ParseArgsConfig['options']>;
type Parsed<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; allowPositionals: true; strict: true; options: O }>>;

/** Every verb's prologue: strict `parseArgs` over the verb's options, positionals allowed. */
export function parseVerbArgs<O extends Options>(argv: string[], options: O): Parsed<O> {
  return parseArgs({ args: argv, allowPositionals: true, strict: true, options });
}

/** The options every task verb (classify, segment, detect) takes. */
const TASK_OPTIONS = {
  model: { type: 'string' },
  weights: { type: 'string' },
  'num-classes': { type: 'string' },
  json: { type: 'boolean' },
  progress: { type: 'boolean' },
} as const;

/**
 * A task verb's prologue: parse its options beside the common ones, check what every task verb
 * needs (a known `--model`, `--weights`, at least one input) and read `--num-classes`.
 *
 * @param models the registered model names.
 * @param weightsNames the weights names to suggest (`IMAGENET1K_V1, DEFAULT`).
 * @param fallback what to use when `--model` or `--weights` is left out (classify's built-in
 *   model); without it both are required.
 */
export function parseTaskArgs<O extends Options>(
  argv: string[],
  options: O,
  models: readonly string[],
  weightsNames: string,
  fallback?: (given: { model?: string; weights?: string }) => { model: string; weights: string },
): { values: Parsed<typeof TASK_OPTIONS & O>['values']; positionals: string[]; model: string; weights: string; numClasses: number | undefined } {
  const { values, positionals } = parseVerbArgs(argv, { ...TASK_OPTIONS, ...options });
  const given = values as { model?: string; weights?: string };
  const { model, weights } = fallback && !(given.model && given.weights) ? fallback(given) : given;
  if (!model) throw new UsageError(`--model is required; valid: ${models.join(', ')}`);
  if (!models.includes(model)) throw new UsageError(`unknown model "${model}"; valid: ${models.join(', ')}`);
  if (!weights) throw new UsageError(`--weights is required: a .pth or .safetensors file, or ${weightsNames}`);
  if (positionals.length === 0) throw new UsageError('no INPUT given: pass one or more image or .npy files');
  const numClassesFlag = (values as { 'num-classes'?: string })['num-classes'];
  const numClasses = numClassesFlag === undefined ? undefined : positiveInt(numClassesFlag, '--num-classes');
  return { values, positionals, model, weights, numClasses };
}

/** An integer flag of at least `min` (an empty value is not 0). */
function integerAtLeast(s: string, flag: string, min: 0 | 1): number {
  const v = Number(s);
  if (s.trim() === '' || !Number.isInteger(v) || v < min) throw new UsageError(`${flag} needs ${min === 1 ? 'a positive integer' : 'an integer ≥ 0'}, got "${s}"`);
  return v;
}

export const positiveInt = (s: string, flag: string): number => integerAtLeast(s, flag, 1);
export const nonNegativeInt = (s: string, flag: string): number => integerAtLeast(s, flag, 0);

export function positiveFloat(s: string, flag: string): number {
  const v = Number(s);
  if (!Number.isFinite(v) || v <= 0) throw new UsageError(`${flag} needs a positive number, got "${s}"`);
  return v;
}
