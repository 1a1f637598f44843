// ↔ torch/optim/optimizer.py: parameter groups, per-parameter state, state_dict / load_state_dict.
// Parameters are tf.Variables updated in place (`assign`) with tfjs ops on whatever backend runs
// (WASM in training); every step runs inside tf.tidy, so only the variables and the state buffers
// live on between steps.
import * as tf from '@tensorflow/tfjs-core';
import type { HostTensor } from '@mnv3/io';

/**
 * Gradients for one step: a Map from each variable to its gradient (same shape, float32), or
 * tfjs' `NamedTensorMap` keyed by variable name, as `tf.variableGrads(f).grads` returns it.
 * A parameter without a gradient is skipped, as torch skips `p.grad is None`.
 */
export type Gradients = Map<tf.Variable, tf.Tensor> | tf.NamedTensorMap;

/** One value of an optimiser's per-parameter state (`square_avg`, `step`, …). */
export type StateValue = tf.Variable | number | null;

/** What every optimiser's group carries besides its own options. */
export interface GroupBase {
  /** The parameters of this group, in order (their indices in `stateDict()` follow this order). */
  params: tf.Variable[];
  /** Learning rate, read at every step: schedulers change it here. */
  lr: number;
  /** Set by the first LR scheduler attached (torch's `initial_lr`). */
  initialLr?: number;
}

/** A parameter group as given to a constructor: the parameters and any options to override. */
export type ParamGroupInit<O> = { params: tf.Variable[] } & Partial<O>;

/** torch's `optimizer.state_dict()`: state by parameter index, groups with the indices of their parameters. */
export interface OptimizerStateDict {
  /** Per-parameter state, keyed by the parameter's index across all groups (torch's int keys). */
  state: Map<number, Record<string, HostTensor | number | null>>;
  /** Each group's options under torch's names (`lr`, `weight_decay`, `initial_lr`…) and `params`. */
  param_groups: (Record<string, unknown> & { params: number[] })[];
}

/** An option of an optimiser: its camelCase name here and its name in torch's param_groups. */
export interface OptionSpec {
  key: string;
  torch: string;
  check: (value: unknown, where: string) => void;
}

export function checkNonNegative(name: string): (v: unknown, where: string) => void {
  return (v, where) => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
      throw new RangeError(`${where}: ${name} must be a finite number ≥ 0, got ${String(v)} (torch: "Invalid ${name} value")`);
    }
  };
}

export function checkBoolean(name: string): (v: unknown, where: string) => void {
  return (v, where) => {
    if (typeof v !== 'boolean') throw new TypeError(`${where}: ${name} must be true or false, got ${String(v)}`);
  };
}

/** torch's `state_dict` keys that an optimiser writes but that change nothing here. */
const FIXED_GROUP_KEYS: Record<string, unknown> = { foreach: false, differentiable: false };

let nextStateId = 0;

/**
 * The base of {@link SGD}, {@link RMSprop} and {@link AdamW}: torch 1.13's `Optimizer` with the
 * single-tensor (`foreach=False`) update path, on tfjs Variables.
 */
export abstract class Optimizer<O extends { lr: number }> {
  readonly paramGroups: (GroupBase & O)[] = [];
  /** Per-parameter state, created at a parameter's first step (torch's `optimizer.state`). */
  readonly state = new Map<tf.Variable, Record<string, StateValue>>();
  readonly defaults: O;
  private disposed = false;

  protected constructor(
    /** torch's class name, used in messages (`RMSprop`). */
    readonly name: string,
    params: tf.Variable[] | ParamGroupInit<O>[],
    defaults: O,
    private readonly options: readonly OptionSpec[],
    /** Keys torch also writes in param_groups for this class (`foreach: false`…). */
    private readonly extraTorchKeys: Record<string, unknown> = FIXED_GROUP_KEYS,
  ) {
    this.checkOptions(defaults as Record<string, unknown>, name);
    this.defaults = { ...defaults };
    if (!Array.isArray(params) || params.length === 0) {
      throw new TypeError(`${name}: params must be a non-empty array of tf.Variable or of parameter groups { params: tf.Variable[], …options }, got ${describe(params)}`);
    }
    const groups = params.every((p) => p instanceof tf.Variable) ? [{ params: params as tf.Variable[] }] : (params as ParamGroupInit<O>[]);
    for (const g of groups) this.addParamGroup(g as ParamGroupInit<O>);
  }

  /** torch's `add_param_group`: options not given take the optimiser's defaults. */
  addParamGroup(group: ParamGroupInit<O>): void {
    const where = `${this.name} param group ${this.paramGroups.length}`;
    if (group === null || typeof group !== 'object' || !Array.isArray(group.params)) {
      throw new TypeError(`${where}: expected { params: tf.Variable[], …options } or an array of tf.Variable, got ${describe(group)}`);
    }
    const known = new Set(['params', 'initialLr', ...this.options.map((o) => o.key)]);
    for (const k of Object.keys(group)) {
      if (!known.has(k)) throw new TypeError(`${where}: unknown option "${k}"; ${this.name} takes ${[...known].join(', ')}`);
    }
    group.params.forEach((p, i) => {
      if (!(p instanceof tf.Variable)) throw new TypeError(`${where}: params[${i}] is not a tf.Variable (${describe(p)})`);
      if (p.dtype !== 'float32') throw new TypeError(`${where}: params[${i}] is ${p.dtype}; only float32 parameters are optimised`);
    });
    const seen = new Set(this.paramGroups.flatMap((g) => g.params));
    for (const p of group.params) {
      if (seen.has(p)) throw new Error(`${where}: a parameter appears more than once (in this group or in more than one parameter group; torch refuses parameters shared between groups)`);
      seen.add(p);
    }
    const full = { ...this.defaults, ...group, params: [...group.params] } as GroupBase & O;
    this.checkOptions(full as unknown as Record<string, unknown>, where);
    this.paramGroups.push(full);
  }

  private checkOptions(o: Record<string, unknown>, where: string): void {
    for (const spec of this.options) spec.check(o[spec.key], where);
    this.checkGroup(o as unknown as O, where);
  }

  /** Cross-option rules (SGD's nesterov needs momentum); options were checked one by one already. */
  protected checkGroup(_group: O, _where: string): void {}

  /**
   * One optimisation step with these gradients, torch's `optimizer.step()` after `backward()`.
   * Parameters are updated in place; no tensor outlives the call except the state buffers.
   */
  step(grads: Gradients): void {
    if (this.disposed) throw new Error(`${this.name} was disposed`);
    const lookup = gradientLookup(grads, this.name);
    tf.tidy(() => {
      this.paramGroups.forEach((group, gi) => {
        group.params.forEach((param, pi) => {
          const grad = lookup(param);
          if (grad === undefined) return;
          if (!sameShape(grad.shape, param.shape)) {
            throw new RangeError(`${this.name}: the gradient of param group ${gi} params[${pi}] has shape [${grad.shape.join(', ')}], the parameter [${param.shape.join(', ')}]`);
          }
          let state = this.state.get(param);
          if (!state) {
            state = {};
            this.state.set(param, state);
          }
          this.update(param, grad.dtype === 'float32' ? grad : tf.cast(grad, 'float32'), group, state);
        });
      });
    });
  }

  /** Updates one parameter and its state, in torch's order of operations. Runs inside tidy. */
  protected abstract update(param: tf.Variable, grad: tf.Tensor, group: GroupBase & O, state: Record<string, StateValue>): void;

  /** A state buffer: a variable (not trainable) kept across steps. */
  protected buffer(value: tf.Tensor): tf.Variable {
    return tf.variable(value, false, `mnv3_optim_${this.name}_${nextStateId++}`);
  }

  /** How torch stores a state entry that is a number (`step`: a Python int, or AdamW's float32 0-d tensor). */
  protected stepAsTensor(): boolean {
    return false;
  }

  /** torch's `state_dict()`, tensors read back to the host. */
  async stateDict(): Promise<OptimizerStateDict> {
    const index = new Map<tf.Variable, number>();
    const paramGroups = this.paramGroups.map((g) => {
      const out: Record<string, unknown> & { params: number[] } = { params: [] };
      for (const spec of this.options) out[spec.torch] = copyOption((g as unknown as Record<string, unknown>)[spec.key]);
      Object.assign(out, this.extraTorchKeys);
      if (g.initialLr !== undefined) out.initial_lr = g.initialLr;
      out.params = g.params.map((p) => {
        if (!index.has(p)) index.set(p, index.size);
        return index.get(p)!;
      });
      return out;
    });
    const state = new Map<number, Record<string, HostTensor | number | null>>();
    for (const [param, s] of this.state) {
      const i = index.get(param);
      if (i === undefined) continue;
      const entry: Record<string, HostTensor | number | null> = {};
      for (const [k, v] of Object.entries(s)) {
        if (v instanceof tf.Variable) {
          entry[k] = { dtype: 'float32', shape: [...v.shape], data: (await v.data()) as Float32Array };
        } else if (typeof v === 'number' && this.stepAsTensor()) {
          entry[k] = { dtype: 'float32', shape: [], data: Float32Array.of(v) };
        } else {
          entry[k] = v;
        }
      }
      state.set(i, entry);
    }
    return { state, param_groups: paramGroups };
  }

  /**
   * torch's `load_state_dict()`: group options (and `initial_lr`) from the saved groups, state by
   * parameter index. Takes what `stateDict()` returns or the `optimizer` entry of a train.py
   * checkpoint read with `@mnv3/io`'s `loadTorchCheckpoint` (dicts as Maps).
   */
  loadStateDict(stateDict: unknown): void {
    const sd = asRecord(stateDict, `${this.name}.loadStateDict`);
    const groups = sd.param_groups;
    if (!Array.isArray(groups)) throw new TypeError(`${this.name}.loadStateDict: expected param_groups to be a list, got ${describe(groups)}`);
    if (groups.length !== this.paramGroups.length) {
      throw new RangeError(`${this.name}.loadStateDict: loaded state dict has ${groups.length} parameter groups, the optimizer ${this.paramGroups.length} (torch: "loaded state dict has a different number of parameter groups")`);
    }
    const saved = groups.map((g, i) => asRecord(g, `${this.name}.loadStateDict param_groups[${i}]`));
    const idToParam = new Map<number, tf.Variable>();
    saved.forEach((g, gi) => {
      const ids = g.params;
      const mine = this.paramGroups[gi]!.params;
      if (!Array.isArray(ids) || ids.length !== mine.length) {
        throw new RangeError(
          `${this.name}.loadStateDict: param group ${gi} has ${Array.isArray(ids) ? ids.length : describe(ids)} parameters in the state dict, ${mine.length} here (torch: "loaded state dict contains a parameter group that doesn't match the size of optimizer's group")`,
        );
      }
      ids.forEach((id, k) => idToParam.set(Number(id), mine[k]!));
    });
    // Check everything before changing anything.
    const newGroups = saved.map((g, gi) => {
      const group = { ...this.paramGroups[gi]! } as unknown as Record<string, unknown>;
      for (const spec of this.options) if (g[spec.torch] !== undefined) group[spec.key] = fromTorchOption(g[spec.torch]);
      if (typeof g.initial_lr === 'number') group.initialLr = g.initial_lr;
      this.checkOptions(group, `${this.name}.loadStateDict param group ${gi}`);
      return group as unknown as GroupBase & O;
    });
    const states = sd.state instanceof Map ? [...sd.state] : Object.entries(asRecord(sd.state, `${this.name}.loadStateDict state`));
    const newState = new Map<tf.Variable, Record<string, StateValue>>();
    const created: tf.Variable[] = [];
    try {
      for (const [id, value] of states) {
        const param = idToParam.get(Number(id));
        if (!param) continue; // torch ignores state of unknown ids too
        const entry: Record<string, StateValue> = {};
        for (const [k, v] of Object.entries(asRecord(value, `${this.name}.loadStateDict state[${String(id)}]`))) {
          if (v === null || v === undefined) entry[k] = null;
          else if (typeof v === 'number' || typeof v === 'bigint') entry[k] = Number(v);
          else if (isHost(v) && v.shape.length === 0) entry[k] = Number(v.data[0]);
          else if (isHost(v)) {
            if (!sameShape(v.shape, param.shape)) {
              throw new RangeError(`${this.name}.loadStateDict: state[${String(id)}].${k} has shape [${v.shape.join(', ')}], its parameter [${param.shape.join(', ')}]`);
            }
            const t = this.buffer(tf.tensor(Float32Array.from(v.data as ArrayLike<number>), [...v.shape], 'float32'));
            created.push(t);
            entry[k] = t;
          } else throw new TypeError(`${this.name}.loadStateDict: state[${String(id)}].${k} is neither a tensor, a number nor None`);
        }
        newState.set(param, entry);
      }
    } catch (e) {
      for (const t of created) t.dispose();
      throw e;
    }
    this.disposeState();
    for (const [p, s] of newState) this.state.set(p, s);
    newGroups.forEach((g, i) => {
      const own = this.paramGroups[i]!;
      for (const k of Object.keys(g)) (own as unknown as Record<string, unknown>)[k] = (g as unknown as Record<string, unknown>)[k];
    });
  }

  private disposeState(): void {
    for (const s of this.state.values()) for (const v of Object.values(s)) if (v instanceof tf.Variable) v.dispose();
    this.state.clear();
  }

  /** Releases the state buffers (not the parameters, which belong to the model). */
  dispose(): void {
    this.disposeState();
    this.disposed = true;
  }
}

function gradientLookup(grads: Gradients, name: string): (p: tf.Variable) => tf.Tensor | undefined {
  if (grads instanceof Map) return (p) => grads.get(p);
  if (grads !== null && typeof grads === 'object') return (p) => (grads as tf.NamedTensorMap)[p.name];
  throw new TypeError(`${name}.step: expected gradients as a Map<tf.Variable, tf.Tensor> or a NamedTensorMap (tf.variableGrads(f).grads), got ${describe(grads)}`);
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (typeof v === 'object') return v.constructor?.name ?? 'an object';
  return `${typeof v} ${String(v)}`;
}

function copyOption(v: unknown): unknown {
  // torch keeps tuples (AdamW's betas) as tuples: a frozen array is a tuple to @mnv3/io.
  return Array.isArray(v) ? Object.freeze([...v]) : v;
}

function fromTorchOption(v: unknown): unknown {
  if (Array.isArray(v)) return v.map((x) => (typeof x === 'bigint' ? Number(x) : x));
  return typeof v === 'bigint' ? Number(v) : v;
}

function isHost(v: unknown): v is HostTensor {
  return v !== null && typeof v === 'object' && 'dtype' in v && 'shape' in v && 'data' in v;
}

/** A Python dict as `loadTorchCheckpoint` returns it (a Map) or a plain object, as a record. */
export function asRecord(v: unknown, where: string): Record<string, unknown> {
  if (v instanceof Map) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of v) out[String(k)] = x;
    return out;
  }
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  throw new TypeError(`${where}: expected a dict, got ${describe(v)}`);
}
