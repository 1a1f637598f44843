// ↔ torch/optim/swa_utils.py AveragedModel (torch 1.13), on named tfjs tensors: a model's
// parameters and buffers by state_dict key.
import * as tf from '@tensorflow/tfjs-core';
import type { HostTensor, StateDict } from '@mnv3/io';

/** A model's tensors by state_dict key: parameters and buffers (`num_batches_tracked` as int32). */
export type NamedTensors = Map<string, tf.Tensor> | Iterable<readonly [string, tf.Tensor]>;

/**
 * The averaging function: new average from the average so far, the model's current value and how
 * many values were averaged (torch's `avg_fn(averaged_param, model_param, num_averaged)`). Both
 * tensors are float32; runs inside tf.tidy.
 */
export type AvgFn = (averaged: tf.Tensor, current: tf.Tensor, numAveraged: number) => tf.Tensor;

/** torch's default: the running mean, `avg + (p − avg) / (n + 1)`. */
export const swaAvg: AvgFn = (avg, p, n) => tf.add(avg, tf.div(tf.sub(p, avg), n + 1));

let nextId = 0;

/**
 * torch.optim.swa_utils.AveragedModel: a copy of a model's tensors averaged over updates. The
 * first update (and any after `nAveraged` is set back to 0) copies the model; later ones apply
 * `avgFn`. Integer tensors (BatchNorm's `num_batches_tracked`) are averaged in float32 and
 * truncated toward zero, as torch's `copy_` into an int64 tensor does. With `useBuffers`
 * (TorchVision's EMA) every tensor given is averaged; without it, only the keys in `parameters`.
 *
 * @example
 * const swa = new AveragedModel(namedWeights(model));
 * swa.updateParameters(namedWeights(model)); // after each epoch
 */
export class AveragedModel {
  /** The averaged tensors, by state_dict key (read them to evaluate the averaged model). */
  readonly averaged = new Map<string, tf.Variable>();
  /** How many updates went into the average (torch's `n_averaged` buffer). */
  nAveraged = 0;
  private disposed = false;

  constructor(
    model: NamedTensors,
    readonly avgFn: AvgFn = swaAvg,
    readonly options: { useBuffers?: boolean; parameters?: ReadonlySet<string> } = {},
  ) {
    if (!options.useBuffers && !options.parameters) {
      throw new TypeError('AveragedModel: pass useBuffers: true (average every tensor given) or the set of parameter keys to average (torch averages parameters only unless use_buffers=True)');
    }
    for (const [key, t] of toEntries(model, 'AveragedModel')) {
      if (!this.averages(key)) continue;
      this.averaged.set(key, tf.variable(t, false, `mnv3_avg_${nextId++}_${key}`)); // shares t's data until the first assign
    }
    if (this.averaged.size === 0) throw new RangeError('AveragedModel: the model has no tensors to average');
  }

  private averages(key: string): boolean {
    return this.options.useBuffers === true || this.options.parameters!.has(key);
  }

  /** torch's `update_parameters(model)`. */
  updateParameters(model: NamedTensors): void {
    if (this.disposed) throw new Error('AveragedModel was disposed');
    const current = new Map(toEntries(model, 'AveragedModel.updateParameters'));
    for (const [key, avg] of this.averaged) {
      const p = current.get(key);
      if (!p) throw new RangeError(`AveragedModel.updateParameters: the model has no tensor "${key}"`);
      if (p.shape.length !== avg.shape.length || p.shape.some((d, i) => d !== avg.shape[i])) {
        throw new RangeError(`AveragedModel.updateParameters: "${key}" has shape [${p.shape.join(', ')}], the average [${avg.shape.join(', ')}]`);
      }
    }
    const n = this.nAveraged;
    tf.tidy(() => {
      for (const [key, avg] of this.averaged) {
        const p = current.get(key)!;
        if (n === 0) {
          avg.assign(p.dtype === avg.dtype ? tf.clone(p) : tf.cast(p, avg.dtype));
        } else {
          const next = this.avgFn(tf.cast(avg, 'float32'), tf.cast(p, 'float32'), n);
          avg.assign(avg.dtype === 'float32' ? next : tf.cast(next, avg.dtype));
        }
      }
    });
    this.nAveraged += 1;
  }

  /**
   * torch's `state_dict()` of the AveragedModel: `n_averaged` (int64) and every averaged tensor
   * under `module.<key>` (float32, or int64 for integer tensors).
   */
  async stateDict(): Promise<StateDict> {
    const out: StateDict = new Map();
    out.set('n_averaged', { dtype: 'int64', shape: [], data: BigInt64Array.of(BigInt(this.nAveraged)) });
    for (const [key, v] of this.averaged) out.set(`module.${key}`, await toHost(v));
    return out;
  }

  /** Loads what `stateDict()` returns, or a train.py checkpoint's `model_ema` entry. */
  loadStateDict(sd: StateDict): void {
    const n = sd.get('n_averaged');
    if (!n) throw new RangeError('AveragedModel.loadStateDict: the state dict has no "n_averaged"');
    for (const [key, v] of this.averaged) {
      const t = sd.get(`module.${key}`);
      if (!t) throw new RangeError(`AveragedModel.loadStateDict: the state dict has no "module.${key}"`);
      if (t.shape.length !== v.shape.length || t.shape.some((d, i) => d !== v.shape[i])) {
        throw new RangeError(`AveragedModel.loadStateDict: "module.${key}" has shape [${t.shape.join(', ')}], expected [${v.shape.join(', ')}]`);
      }
    }
    for (const [key, v] of this.averaged) {
      const t = sd.get(`module.${key}`)!;
      v.assign(tf.tidy(() => tf.tensor(Array.from(t.data as ArrayLike<number | bigint>, Number), [...t.shape], v.dtype)));
    }
    this.nAveraged = Number(n.data[0]);
  }

  dispose(): void {
    for (const v of this.averaged.values()) v.dispose();
    this.averaged.clear();
    this.disposed = true;
  }
}

function toEntries(model: NamedTensors, who: string): [string, tf.Tensor][] {
  if (model === null || typeof model !== 'object' || typeof (model as Iterable<unknown>)[Symbol.iterator] !== 'function') {
    throw new TypeError(`${who}: expected the model's tensors as a Map<string, tf.Tensor> (state_dict keys), got ${String(model)}`);
  }
  const out: [string, tf.Tensor][] = [];
  for (const [k, t] of model) {
    if (!(t instanceof tf.Tensor)) throw new TypeError(`${who}: "${k}" is not a tf.Tensor`);
    if (t.dtype !== 'float32' && t.dtype !== 'int32') throw new TypeError(`${who}: "${k}" is ${t.dtype}; float32 and int32 tensors are averaged`);
    out.push([k, t]);
  }
  return out;
}

async function toHost(v: tf.Tensor): Promise<HostTensor> {
  const data = await v.data();
  if (v.dtype === 'int32') return { dtype: 'int64', shape: [...v.shape], data: BigInt64Array.from(data as Int32Array, (x) => BigInt(x)) };
  return { dtype: 'float32', shape: [...v.shape], data: Float32Array.from(data as Float32Array) };
}
