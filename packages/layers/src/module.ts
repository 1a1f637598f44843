import * as tf from '@tensorflow/tfjs-core';
import { numel, toFloat32, type DType, type HostTensor, type StateDict } from '@mnv3/io';
import type { Rng } from './random.js';

/**
 * One entry of a module's `state_dict`: a learnable parameter or a buffer (BatchNorm's running
 * statistics). Values live on the host as float32 until the module builds its tfjs tensors.
 */
export class Parameter {
  data: Float32Array | null = null;
  /**
   * In train mode, the value as a `tf.Variable` (TorchVision's layout; trainable for parameters,
   * not for float buffers). `null` in eval mode, where `data` is the value.
   */
  variable: tf.Variable | null = null;
  constructor(
    readonly shape: readonly number[],
    /** Parameters count towards `numParams`; buffers (`running_mean`, …) do not. */
    readonly kind: 'parameter' | 'buffer' = 'parameter',
    /** The dtype TorchVision stores it with (`num_batches_tracked` is int64). */
    readonly dtype: DType = 'float32',
  ) {}

  /** The values; throws when nothing was loaded or initialised yet. */
  get value(): Float32Array {
    if (!this.data) throw new Error('parameter has no value yet: load a state dict or initialise the weights');
    return this.data;
  }

  set(values: Float32Array): void {
    if (values.length !== numel(this.shape)) {
      throw new RangeError(`expected ${numel(this.shape)} values for shape [${this.shape.join(', ')}], got ${values.length}`);
    }
    this.data = values;
  }
}

/** Set by `@mnv3/layers/train` when imported: registers what training needs (gradients, kernels). */
let trainingSupport: (() => void) | null = null;

/** Called by `@mnv3/layers/train` on import; `Module.train()` needs it. */
export function setTrainingSupport(prepare: () => void): void {
  trainingSupport = prepare;
}

/** Every problem `loadStateDict` found, in one error, as PyTorch reports them. */
export class StateDictError extends Error {
  constructor(
    readonly missingKeys: string[],
    readonly unexpectedKeys: string[],
    readonly shapeMismatches: { key: string; expected: number[]; actual: number[] }[],
  ) {
    const lines: string[] = [];
    if (missingKeys.length) lines.push(`Missing key(s) in state_dict: ${missingKeys.map((k) => `"${k}"`).join(', ')}.`);
    if (unexpectedKeys.length) lines.push(`Unexpected key(s) in state_dict: ${unexpectedKeys.map((k) => `"${k}"`).join(', ')}.`);
    for (const m of shapeMismatches) {
      lines.push(
        `size mismatch for ${m.key}: copying a param with shape [${m.actual.join(', ')}] from checkpoint, the shape in current model is [${m.expected.join(', ')}].`,
      );
    }
    super(`Error(s) in loading state_dict:\n  ${lines.join('\n  ')}`);
    this.name = 'StateDictError';
  }
}

export interface LoadStateDictOptions {
  /** Like PyTorch's `strict`: when true (default) any missing or unexpected key is an error. */
  strict?: boolean;
}

export interface LoadStateDictResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

/**
 * A tree of modules whose parameter names are TorchVision's `state_dict` keys. Subclasses
 * register parameters and children in TorchVision's order, and turn host weights into tfjs
 * tensors in `build()` (where BatchNorm folding happens).
 */
export abstract class Module {
  private readonly ownParams = new Map<string, Parameter>();
  private readonly children = new Map<string, Module>();
  private readonly tensors: { dispose(): void }[] = [];
  private built = false;
  private disposed = false;
  /** torch's `Module.training`: set by `train()` / `eval()`. */
  training = false;

  protected registerParameter(name: string, shape: readonly number[]): Parameter {
    return this.register(name, new Parameter(shape, 'parameter'));
  }

  protected registerBuffer(name: string, shape: readonly number[], dtype: DType = 'float32'): Parameter {
    return this.register(name, new Parameter(shape, 'buffer', dtype));
  }

  private register(name: string, p: Parameter): Parameter {
    if (this.ownParams.has(name) || this.children.has(name)) throw new Error(`duplicate name "${name}"`);
    this.ownParams.set(name, p);
    return p;
  }

  protected registerModule<M extends Module>(name: string, module: M): M {
    if (this.ownParams.has(name) || this.children.has(name)) throw new Error(`duplicate name "${name}"`);
    this.children.set(name, module);
    return module;
  }

  /** Direct children, by name. */
  namedChildren(): [string, Module][] {
    return [...this.children];
  }

  /** Every parameter and buffer, keyed as in TorchVision's `state_dict`. */
  *namedStateEntries(prefix = ''): Generator<[string, Parameter]> {
    for (const [name, p] of this.ownParams) yield [prefix + name, p];
    for (const [name, child] of this.children) yield* child.namedStateEntries(`${prefix}${name}.`);
  }

  /** The number of learnable parameters, as `sum(p.numel() for p in model.parameters())`. */
  numParams(): number {
    let n = 0;
    for (const [, p] of this.namedStateEntries()) if (p.kind === 'parameter') n += numel(p.shape);
    return n;
  }

  /**
   * Copies a TorchVision `state_dict` into this module and builds its tensors. With `strict`
   * (default), every missing key, unexpected key and shape mismatch is reported in one
   * `StateDictError`; shape mismatches are errors either way.
   */
  loadStateDict(checkpoint: StateDict, options: LoadStateDictOptions = {}): LoadStateDictResult {
    const strict = options.strict ?? true;
    // A copy: upgrades rename keys, and the caller's map stays as it was.
    const stateDict: StateDict = new Map(checkpoint);
    this.visitNamed('', (m, prefix) => m.upgradeStateDict(stateDict, prefix));
    const own = new Map(this.namedStateEntries());
    const missingKeys: string[] = [];
    const unexpectedKeys: string[] = [];
    const shapeMismatches: { key: string; expected: number[]; actual: number[] }[] = [];
    for (const [key, p] of own) {
      const t = stateDict.get(key);
      if (!t) {
        missingKeys.push(key);
      } else if (!sameShape(t.shape, p.shape)) {
        shapeMismatches.push({ key, expected: [...p.shape], actual: [...t.shape] });
      }
    }
    for (const key of stateDict.keys()) if (!own.has(key)) unexpectedKeys.push(key);
    if (shapeMismatches.length || (strict && (missingKeys.length || unexpectedKeys.length))) {
      throw new StateDictError(strict ? missingKeys : [], strict ? unexpectedKeys : [], shapeMismatches);
    }
    for (const [key, p] of own) {
      const t = stateDict.get(key);
      if (!t) continue;
      p.set(copyFloat32(t));
      // In train mode the variables are the values: they take the loaded ones.
      if (p.variable) tf.tidy(() => p.variable!.assign(tf.tensor(p.value, [...p.shape], 'float32')));
    }
    this.rebuild();
    return { missingKeys, unexpectedKeys };
  }

  /**
   * torch's `module.train(mode)`: in train mode every parameter and float buffer of this module
   * and its children is a `tf.Variable` made from the host weights, forward passes run
   * differentiable ops (no BatchNorm folding: BatchNorm2d normalises with batch statistics and
   * updates its running statistics; dropout and stochastic depth are live), and `parameters()`
   * lists what to optimise. `train(false)` (= `eval()`) writes the variables back to the host
   * parameters, disposes them and rebuilds the fast inference path. Needs `import
   * '@mnv3/layers/train'` (gradients and training kernels).
   *
   * @example
   * import '@mnv3/layers/train';
   * model.train();
   * const { value, grads } = tf.variableGrads(() => loss(model.forward(x)), model.parameters());
   * model.eval();
   */
  train(mode = true): this {
    if (mode) {
      if (!trainingSupport) throw new Error("training needs `import '@mnv3/layers/train'` first (it registers gradients and the training kernels)");
      trainingSupport();
      this.visit((m) => {
        if (m.disposed) throw new Error(`${m.constructor.name} was disposed: load the model again to use it`);
        for (const p of m.ownParams.values()) {
          if (!p.data) throw new Error(`${this.constructor.name} has no weights: call loadStateDict() or initWeights() first`);
        }
      });
      this.visit((m) => {
        if (!m.training) m.enterTraining();
        m.training = true;
      });
      return this;
    }
    let changed = false;
    this.visit((m) => {
      if (m.training) {
        m.leaveTraining();
        m.training = false;
        changed = true;
      }
    });
    if (changed) this.rebuild();
    return this;
  }

  /** torch's `module.eval()`: `train(false)`. */
  eval(): this {
    return this.train(false);
  }

  /** Creates this module's variables from its host values (train mode). Subclasses add to it. */
  protected enterTraining(): void {
    for (const p of this.ownParams.values()) {
      if (p.dtype !== 'float32' || p.variable) continue;
      const initial = tf.tensor(p.value, [...p.shape], 'float32');
      p.variable = tf.variable(initial, p.kind === 'parameter');
      initial.dispose();
    }
  }

  /** Writes this module's variables back to the host and disposes them (leaving train mode). */
  protected leaveTraining(): void {
    for (const p of this.ownParams.values()) {
      if (!p.variable) continue;
      p.data = new Float32Array(p.variable.dataSync() as Float32Array);
      p.variable.dispose();
      p.variable = null;
    }
  }

  /** The trainable variables of this module and its children, keyed as in `state_dict` (train mode). */
  namedParameters(): [string, tf.Variable][] {
    const out: [string, tf.Variable][] = [];
    for (const [key, p] of this.namedStateEntries()) if (p.kind === 'parameter' && p.variable) out.push([key, p.variable]);
    return out;
  }

  /** The trainable variables (train mode), as `model.parameters()`; empty in eval mode. */
  parameters(): tf.Variable[] {
    return this.namedParameters().map(([, v]) => v);
  }

  /** The module's weights as a state dict (float32 except the int64 counters). */
  stateDict(): StateDict {
    const out: StateDict = new Map();
    // In train mode the variables hold the current values: read them back first.
    for (const [, p] of this.namedStateEntries()) if (p.variable) p.data = new Float32Array(p.variable.dataSync() as Float32Array);
    for (const [key, p] of this.namedStateEntries()) {
      if (p.dtype === 'int64') {
        out.set(key, { dtype: 'int64', shape: [...p.shape], data: BigInt64Array.from(p.value, (v) => BigInt(v)) });
      } else {
        out.set(key, { dtype: 'float32', shape: [...p.shape], data: p.value });
      }
    }
    return out;
  }

  /** Fills every parameter with TorchVision's default initialisation, from a seeded generator. */
  initWeights(rng: Rng): this {
    this.visit((m) => m.resetParameters(rng));
    this.rebuild();
    return this;
  }

  /**
   * TorchVision's `_load_from_state_dict` version upgrades: a module whose keys changed (its
   * `_version` 2) renames, in place, the keys a checkpoint saved before that uses. `prefix` is
   * this module's key prefix. Runs parent first, as torch's `load_state_dict` does.
   */
  protected upgradeStateDict(_stateDict: StateDict, _prefix: string): void {}

  /** Leaf modules set their own parameters here (TorchVision's `reset_parameters` / model init). */
  protected resetParameters(_rng: Rng): void {}

  protected visit(fn: (m: Module) => void): void {
    fn(this);
    for (const child of this.children.values()) child.visit(fn);
  }

  private visitNamed(prefix: string, fn: (m: Module, prefix: string) => void): void {
    fn(this, prefix);
    for (const [name, child] of this.children) child.visitNamed(`${prefix}${name}.`, fn);
  }

  /** Disposes this module's tensors and builds them again from the host weights. */
  protected rebuild(): void {
    this.visit((m) => m.releaseTensors());
    this.visit((m) => {
      m.build();
      m.built = true;
      m.disposed = false;
    });
  }

  /** Turns host weights into tfjs tensors (a module with nothing to build does nothing). */
  protected build(): void {}

  /** Records a tensor (or anything disposable) this module owns, so that `dispose()` releases it. */
  protected own<T extends { dispose(): void }>(t: T): T {
    this.tensors.push(t);
    return t;
  }

  protected assertBuilt(): void {
    if (this.disposed) throw new Error(`${this.constructor.name} was disposed: load the model again to use it`);
    if (!this.built) throw new Error(`${this.constructor.name} has no weights: call loadStateDict() or initWeights() first`);
  }

  private releaseTensors(): void {
    for (const t of this.tensors) t.dispose();
    this.tensors.length = 0;
    this.built = false;
  }

  /**
   * Releases every tfjs tensor this module and its children hold. A call in flight, or any later
   * one, fails with an error that says so (loading weights again makes the module usable).
   */
  dispose(): void {
    this.visit((m) => {
      m.releaseTensors();
      for (const p of m.ownParams.values()) {
        p.variable?.dispose();
        p.variable = null;
      }
      m.training = false;
      m.disposed = true;
    });
  }
}

/** A module that maps one tensor to another: NHWC feature maps unless stated otherwise. */
export abstract class Layer<T extends tf.Tensor = tf.Tensor4D> extends Module {
  abstract forward(x: T): T;
}

/** TorchVision's `nn.Sequential`: children named `0`, `1`, … applied in order. */
export class Sequential<T extends tf.Tensor = tf.Tensor4D> extends Layer<T> {
  readonly layers: readonly Layer<T>[];
  constructor(layers: Layer<T>[]) {
    super();
    layers.forEach((layer, i) => this.registerModule(String(i), layer));
    this.layers = layers;
  }

  forward(x: T): T {
    let y = x;
    for (const layer of this.layers) y = layer.forward(y);
    return y;
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Renames `from` to `to` when the state dict has it (TorchVision's `state_dict[new] = state_dict.pop(old)`). */
export function renameKey(stateDict: StateDict, from: string, to: string): void {
  const t = stateDict.get(from);
  if (t === undefined) return;
  stateDict.delete(from);
  stateDict.set(to, t);
}

function copyFloat32(t: HostTensor): Float32Array {
  const values = toFloat32(t);
  // Own a copy: the checkpoint's buffer may be a view the caller reuses or frees.
  return values === t.data ? new Float32Array(values) : values;
}

/**
 * TorchVision's `nn.ModuleList`: children `0`, `1`, … (their `state_dict` keys) with no forward of
 * their own.
 *
 * @example this.innerBlocks = this.registerModule('inner_blocks', new ModuleList(convs));
 */
export class ModuleList<M extends Module> extends Module {
  constructor(readonly items: readonly M[]) {
    super();
    items.forEach((m, i) => this.registerModule(String(i), m));
  }
}
