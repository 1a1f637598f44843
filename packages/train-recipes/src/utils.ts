// ↔ references/classification/utils.py of TorchVision: ExponentialMovingAverage, average_checkpoints,
// set_weight_decay.
import * as tf from '@tensorflow/tfjs-core';
import { BatchNorm2d, type Module, type Parameter } from '@mnv3/layers';
import { CheckpointError, findStateDict, loadTorchCheckpoint, toFloat32, type HostTensor, type StateDict } from '@mnv3/io';
import { AveragedModel, type NamedTensors } from './swa-utils.js';

/**
 * TorchVision's `ExponentialMovingAverage`: an {@link AveragedModel} over parameters AND buffers
 * (`use_buffers=True`) with `avg = decay·avg + (1 − decay)·p`, in float32 (integer buffers
 * truncated, as torch does). train.py updates it every `--model-ema-steps` iterations and, during
 * the warm-up epochs, sets `nAveraged = 0` after each update so that it keeps copying the weights.
 * Get `decay` from the recipe's flags with {@link emaDecay}.
 *
 * @example
 * const ema = new ExponentialMovingAverage(weights, { decay: emaDecay({ modelEmaDecay: 0.99998, modelEmaSteps: 32, batchSize: 128, epochs: 600 }) });
 * if (iteration % 32 === 0) ema.updateParameters(weights);
 */
export class ExponentialMovingAverage extends AveragedModel {
  readonly decay: number;
  constructor(model: NamedTensors, options: { decay: number }) {
    const decay = options?.decay;
    if (typeof decay !== 'number' || !(decay >= 0 && decay <= 1)) {
      throw new RangeError(`ExponentialMovingAverage: decay must be a number in [0, 1], got ${String(decay)}`);
    }
    super(model, (avg, p) => tf.add(tf.mul(avg, decay), tf.mul(p, 1 - decay)), { useBuffers: true });
    this.decay = decay;
  }
}

/**
 * train.py's EMA decay from its flags: `adjust = worldSize·batchSize·modelEmaSteps / epochs;
 * alpha = min(1, (1 − modelEmaDecay)·adjust); decay = 1 − alpha` (pycls' adjustment, which keeps
 * the decay independent of the number of updates).
 *
 * @example emaDecay({ modelEmaDecay: 0.99998, modelEmaSteps: 32, batchSize: 128, epochs: 600 }) // 0.99986346…
 */
export function emaDecay(o: { modelEmaDecay?: number; modelEmaSteps?: number; batchSize: number; epochs: number; worldSize?: number }): number {
  const decay = o.modelEmaDecay ?? 0.99998;
  const steps = o.modelEmaSteps ?? 32;
  const worldSize = o.worldSize ?? 1;
  for (const [name, v] of [['batchSize', o.batchSize], ['epochs', o.epochs], ['modelEmaSteps', steps], ['worldSize', worldSize]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`emaDecay: ${name} must be an integer ≥ 1, got ${String(v)}`);
  }
  if (!(decay >= 0 && decay <= 1)) throw new RangeError(`emaDecay: modelEmaDecay must be in [0, 1], got ${String(decay)}`);
  const adjust = (worldSize * o.batchSize * steps) / o.epochs;
  let alpha = 1.0 - decay;
  alpha = Math.min(1.0, alpha * adjust);
  return 1.0 - alpha;
}

/** What {@link averageCheckpoints} returns. */
export interface AveragedCheckpoint {
  /** The averaged `model` state dict (float32 averages; integer tensors floor-divided). */
  model: StateDict;
  /** The first checkpoint as loaded (a Map), its `model` entry replaced by the average, as the reference returns it. */
  checkpoint: Map<unknown, unknown>;
}

/**
 * TorchVision's `average_checkpoints` (from fairseq): the mean of the `model` state dicts of
 * train.py checkpoints, the other entries taken from the first. Every checkpoint must have the
 * same keys in the same order. float16 tensors are averaged in float32 as the reference does (and
 * bfloat16 ones too, where the reference would stay in bfloat16); float32 sums run in checkpoint
 * order in float32, then divide, so the result is torch's bit for bit.
 *
 * @param inputs the checkpoints' bytes (`model_{epoch}.pth` as train.py saves them).
 * @example const { model } = averageCheckpoints(await Promise.all(['model_597.pth', 'model_598.pth', 'model_599.pth'].map((f) => readFile(f))));
 */
export function averageCheckpoints(inputs: readonly Uint8Array[]): AveragedCheckpoint {
  if (!Array.isArray(inputs) || inputs.length === 0) throw new TypeError('averageCheckpoints: expected a non-empty array of checkpoint bytes');
  let first: Map<unknown, unknown> | null = null;
  let keys: string[] | null = null;
  const sums = new Map<string, { dtype: 'float32' | 'float64' | 'int'; shape: readonly number[]; data: Float32Array | Float64Array | bigint[]; origDtype: string }>();
  inputs.forEach((bytes, i) => {
    const ckpt = loadTorchCheckpoint(bytes);
    if (!(ckpt instanceof Map)) throw new CheckpointError('unsupported', `averageCheckpoints: checkpoint ${i} is not a dict`);
    first ??= ckpt;
    const model = findStateDict(ckpt, 'model');
    const k = [...model.keys()];
    if (keys === null) keys = k;
    else if (k.length !== keys.length || k.some((x, j) => x !== keys![j])) {
      throw new RangeError(`averageCheckpoints: for checkpoint ${i}, expected list of params: ${JSON.stringify(keys)}, but found: ${JSON.stringify(k)}`);
    }
    for (const [key, t] of model) addTo(sums, key, t, i);
  });
  const n = inputs.length;
  const model: StateDict = new Map();
  for (const [key, s] of sums) {
    let t: HostTensor;
    if (s.dtype === 'float32') t = { dtype: 'float32', shape: s.shape, data: (s.data as Float32Array).map((v) => Math.fround(v / n)) };
    else if (s.dtype === 'float64') t = { dtype: 'float64', shape: s.shape, data: (s.data as Float64Array).map((v) => v / n) };
    else {
      const q = (s.data as bigint[]).map((v) => floorDiv(v, BigInt(n)));
      t = { dtype: 'int64', shape: s.shape, data: BigInt64Array.from(q) };
      if (s.origDtype !== 'int64') t = { dtype: s.origDtype as HostTensor['dtype'], shape: s.shape, data: castInt(q, s.origDtype) };
    }
    model.set(key, t);
  }
  const checkpoint = new Map(first!);
  checkpoint.set('model', model);
  return { model, checkpoint };
}

function addTo(sums: Map<string, { dtype: 'float32' | 'float64' | 'int'; shape: readonly number[]; data: Float32Array | Float64Array | bigint[]; origDtype: string }>, key: string, t: HostTensor, i: number): void {
  const s = sums.get(key);
  if (s && (s.shape.length !== t.shape.length || s.shape.some((d, j) => d !== t.shape[j]))) {
    throw new RangeError(`averageCheckpoints: "${key}" has shape [${t.shape.join(', ')}] in checkpoint ${i}, [${s.shape.join(', ')}] in the first`);
  }
  if (t.dtype === 'bool') throw new TypeError(`averageCheckpoints: "${key}" is a bool tensor, which cannot be averaged`);
  if (s && s.origDtype !== t.dtype) throw new TypeError(`averageCheckpoints: "${key}" is ${t.dtype} in checkpoint ${i}, ${s.origDtype} in the first`);
  if (t.dtype === 'float64') {
    const d = t.data as Float64Array;
    if (!s) sums.set(key, { dtype: 'float64', shape: t.shape, data: Float64Array.from(d), origDtype: t.dtype });
    else (s.data as Float64Array).forEach((v, j, a) => (a[j] = v + d[j]!));
  } else if (t.dtype === 'float32' || t.dtype === 'float16' || t.dtype === 'bfloat16') {
    const d = toFloat32(t);
    if (!s) sums.set(key, { dtype: 'float32', shape: t.shape, data: Float32Array.from(d), origDtype: t.dtype });
    else (s.data as Float32Array).forEach((v, j, a) => (a[j] = Math.fround(v + d[j]!)));
  } else {
    const d = Array.from(t.data as ArrayLike<number | bigint>, (v) => BigInt(v));
    if (!s) sums.set(key, { dtype: 'int', shape: t.shape, data: d, origDtype: t.dtype });
    else (s.data as bigint[]).forEach((v, j, a) => (a[j] = v + d[j]!));
  }
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}

function castInt(q: bigint[], dtype: string): HostTensor['data'] {
  const nums = q.map(Number);
  switch (dtype) {
    case 'int32':
      return Int32Array.from(nums);
    case 'int16':
      return Int16Array.from(nums);
    case 'int8':
      return Int8Array.from(nums);
    default:
      return Uint8Array.from(nums);
  }
}

/** A parameter group as {@link setWeightDecay} makes it: parameters (keys, or what `resolve` maps them to) and their weight decay. */
export interface WeightDecayGroup<T = string> {
  params: T[];
  weightDecay: number;
}

/** Options of {@link setWeightDecay}, the reference's keyword arguments in camelCase. */
export interface SetWeightDecayOptions<T> {
  /** Weight decay of normalisation layers' parameters; when undefined they stay with the others. */
  normWeightDecay?: number;
  /** Classes counted as normalisation layers (default: `BatchNorm2d`, TorchVision's `_BatchNorm`; our models have no other norm with parameters). */
  normClasses?: readonly (abstract new (...args: never[]) => Module)[];
  /**
   * `[name, weightDecay]` pairs: a parameter whose name (or, when the key has a dot, its full
   * `module.path.name`) equals the key goes in that key's group (train.py: `--bias-weight-decay`
   * gives `['bias', wd]`).
   */
  customKeysWeightDecay?: readonly (readonly [string, number])[];
  /** Maps a parameter's state_dict key to what the optimiser takes (its tf.Variable). */
  resolve?: (key: string, parameter: Parameter) => T;
}

/**
 * TorchVision's `set_weight_decay(model, weight_decay, norm_weight_decay, norm_classes,
 * custom_keys_weight_decay)`: the parameters (not buffers) of a `@mnv3/layers` model in groups —
 * `other` (weightDecay), `norm` (normWeightDecay), then one per custom key — leaving out empty
 * ones, in the reference's order (a module's own parameters, then its children's, depth first).
 *
 * @example
 * const groups = setWeightDecay(model, 1e-5, { normWeightDecay: 0, resolve: (key) => variables.get(key)! });
 * const opt = new RMSprop(groups, { lr: 0.064, alpha: 0.9, eps: 0.0316, momentum: 0.9 });
 */
export function setWeightDecay<T = string>(model: Module, weightDecay: number, options: SetWeightDecayOptions<T> = {}): WeightDecayGroup<T>[] {
  if (typeof weightDecay !== 'number' || !(weightDecay >= 0)) throw new RangeError(`setWeightDecay: weightDecay must be a number ≥ 0, got ${String(weightDecay)}`);
  const { normWeightDecay } = options;
  if (normWeightDecay !== undefined && !(normWeightDecay >= 0)) throw new RangeError(`setWeightDecay: normWeightDecay must be a number ≥ 0 or undefined, got ${String(normWeightDecay)}`);
  const normClasses = options.normClasses ?? [BatchNorm2d];
  const resolve = options.resolve ?? ((key: string) => key as unknown as T);
  const params = new Map<string, T[]>([
    ['other', []],
    ['norm', []],
  ]);
  const decays = new Map<string, number | undefined>([
    ['other', weightDecay],
    ['norm', normWeightDecay],
  ]);
  const customKeys: string[] = [];
  for (const [key, wd] of options.customKeysWeightDecay ?? []) {
    if (typeof key !== 'string' || !(wd >= 0)) throw new RangeError(`setWeightDecay: customKeysWeightDecay entries must be [name, weightDecay ≥ 0], got ${JSON.stringify([key, wd])}`);
    params.set(key, []);
    decays.set(key, wd);
    customKeys.push(key);
  }
  const visit = (module: Module, prefix: string) => {
    for (const [name, p] of ownParameters(module)) {
      const full = prefix ? `${prefix}.${name}` : name;
      const custom = customKeys.find((key) => key === (prefix !== '' && key.includes('.') ? full : name));
      if (custom !== undefined) params.get(custom)!.push(resolve(full, p));
      else if (normWeightDecay !== undefined && normClasses.some((c) => module instanceof c)) params.get('norm')!.push(resolve(full, p));
      else params.get('other')!.push(resolve(full, p));
    }
    for (const [childName, child] of module.namedChildren()) visit(child, prefix ? `${prefix}.${childName}` : childName);
  };
  visit(model, '');
  const groups: WeightDecayGroup<T>[] = [];
  for (const [key, ps] of params) if (ps.length > 0) groups.push({ params: ps, weightDecay: decays.get(key)! });
  return groups;
}

/** A module's own parameters (not its children's, not buffers), as `named_parameters(recurse=False)`. */
function ownParameters(module: Module): [string, Parameter][] {
  const out: [string, Parameter][] = [];
  for (const [key, p] of module.namedStateEntries()) if (!key.includes('.') && p.kind === 'parameter') out.push([key, p]);
  return out;
}
