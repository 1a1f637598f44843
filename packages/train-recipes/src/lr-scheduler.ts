// ↔ torch/optim/lr_scheduler.py (torch 1.13): StepLR, ExponentialLR, CosineAnnealingLR, LinearLR,
// ConstantLR and SequentialLR with torch's recursive ("chainable") formulas, its closed forms for
// step(epoch), its bookkeeping (last_epoch, _step_count, base_lrs, _last_lr) and its state_dict.
// Learning rates are float64 JS numbers computed in torch's order of operations.

/** What a scheduler needs of an optimiser: its parameter groups' learning rates. */
export interface SchedulableOptimizer {
  readonly paramGroups: { lr: number; initialLr?: number }[];
}

/** Common face of the schedulers (torch's `_LRScheduler` protocol). */
/** A scheduler's state dict: a record, or a Map as `@mnv3/io`'s `loadTorchCheckpoint` returns dicts. */
export type SchedulerStateDict = Record<string, unknown> | ReadonlyMap<unknown, unknown>;

/** A state dict as a record (a Map read from a checkpoint becomes one; its values are kept). */
export function stateRecord(s: unknown, who: string): Record<string, unknown> {
  if (s instanceof Map) return Object.fromEntries([...s].map(([k, v]) => [String(k), v]));
  if (s === null || typeof s !== 'object' || Array.isArray(s)) throw new TypeError(`${who}.loadStateDict: expected a state dict object, got ${String(s)}`);
  return s as Record<string, unknown>;
}

export interface Scheduler {
  readonly optimizer: SchedulableOptimizer;
  /** Advances one epoch (or iteration, as the training loop decides) and sets each group's `lr`. */
  step(): void;
  /** The learning rates of the groups after the last step, torch's `get_last_lr()`. */
  getLastLr(): number[];
  /** torch's `state_dict()` (every attribute but the optimiser), JSON-compatible. */
  stateDict(): Record<string, unknown>;
  /** Takes what `stateDict()` returns, or the same read from a checkpoint by `@mnv3/io` (dicts as Maps). */
  loadStateDict(stateDict: SchedulerStateDict): void;
}

/** Python's `a % b` (the result takes the divisor's sign). */
function pyMod(a: number, b: number): number {
  return ((a % b) + b) % b;
}

function checkOptimizer(optimizer: unknown, who: string): SchedulableOptimizer {
  const groups = (optimizer as SchedulableOptimizer | undefined)?.paramGroups;
  if (!Array.isArray(groups) || groups.length === 0 || groups.some((g) => typeof g?.lr !== 'number')) {
    throw new TypeError(`${who} needs an optimizer (SGD, RMSprop or AdamW from @mnv3/train-recipes, or anything with paramGroups[].lr), got ${optimizer === null || optimizer === undefined ? String(optimizer) : typeof optimizer}`);
  }
  return optimizer as SchedulableOptimizer;
}

function checkInteger(who: string, name: string, v: unknown, min: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new RangeError(`${who}: ${name} must be an integer ≥ ${min}, got ${String(v)}`);
  return v;
}

function checkFactor(who: string, name: string, v: unknown, allowZero: boolean): number {
  if (typeof v !== 'number' || !(allowZero ? v >= 0 : v > 0) || v > 1) {
    throw new RangeError(`${who}: ${name} must be a number in ${allowZero ? '[0' : '(0'}, 1], got ${String(v)}`);
  }
  return v;
}

/**
 * torch's `_LRScheduler`. Subclasses set their options, then call `initialStep()`, as torch's
 * constructors set theirs before `super().__init__`.
 */
export abstract class LRScheduler implements Scheduler {
  readonly optimizer: SchedulableOptimizer;
  baseLrs: number[];
  lastEpoch: number;
  /** torch's `_step_count`. */
  stepCount = 0;
  protected lastLr: number[] = [];
  private getLrCalledWithinStep = false;

  protected constructor(optimizer: SchedulableOptimizer, lastEpoch: number, readonly who: string) {
    this.optimizer = checkOptimizer(optimizer, who);
    if (!Number.isInteger(lastEpoch) || lastEpoch < -1) throw new RangeError(`${who}: lastEpoch must be an integer ≥ -1, got ${String(lastEpoch)}`);
    const groups = this.optimizer.paramGroups;
    if (lastEpoch === -1) {
      for (const g of groups) if (g.initialLr === undefined) g.initialLr = g.lr;
    } else {
      groups.forEach((g, i) => {
        if (g.initialLr === undefined) throw new Error(`${who}: param 'initial_lr' is not specified in param_groups[${i}] when resuming an optimizer (lastEpoch ${lastEpoch})`);
      });
    }
    this.baseLrs = groups.map((g) => g.initialLr!);
    this.lastEpoch = lastEpoch;
  }

  /** torch's `_initial_step`: resets the step count and takes the first step (epoch 0). */
  initialStep(): void {
    this.stepCount = 0;
    this.step();
  }

  /**
   * Advances one epoch with the recursive formula; `step(epoch)` jumps to that epoch with the
   * closed form (torch's deprecated form, which SequentialLR uses at its milestones).
   */
  step(epoch?: number): void {
    this.stepCount += 1;
    this.getLrCalledWithinStep = true;
    let values: number[];
    try {
      if (epoch === undefined) {
        this.lastEpoch += 1;
        values = this.getLr();
      } else {
        this.lastEpoch = epoch;
        values = this.closedFormLr();
      }
    } finally {
      this.getLrCalledWithinStep = false;
    }
    this.optimizer.paramGroups.forEach((g, i) => (g.lr = values[i]!));
    this.lastLr = this.optimizer.paramGroups.map((g) => g.lr);
  }

  getLastLr(): number[] {
    return [...this.lastLr];
  }

  protected get groupLrs(): number[] {
    return this.optimizer.paramGroups.map((g) => g.lr);
  }

  /** The chainable form, from the groups' current lr. */
  protected abstract getLr(): number[];
  /** The closed form at `lastEpoch`. */
  protected abstract closedFormLr(): number[];
  /** This scheduler's own options under torch's attribute names. */
  protected abstract ownState(): Record<string, unknown>;
  protected abstract loadOwnState(s: Record<string, unknown>): void;

  stateDict(): Record<string, unknown> {
    return {
      ...this.ownState(),
      base_lrs: [...this.baseLrs],
      last_epoch: this.lastEpoch,
      verbose: false,
      _step_count: this.stepCount,
      _get_lr_called_within_step: this.getLrCalledWithinStep,
      _last_lr: [...this.lastLr],
    };
  }

  /** torch's `load_state_dict` (`__dict__.update`): every attribute present is taken. */
  loadStateDict(state: SchedulerStateDict): void {
    const s = stateRecord(state, this.who);
    if (Array.isArray(s.base_lrs)) this.baseLrs = s.base_lrs.map(Number);
    if (s.last_epoch !== undefined) this.lastEpoch = Number(s.last_epoch);
    if (s._step_count !== undefined) this.stepCount = Number(s._step_count);
    if (Array.isArray(s._last_lr)) this.lastLr = s._last_lr.map(Number);
    this.loadOwnState(s);
  }
}

/**
 * `torch.optim.lr_scheduler.StepLR`: multiplies each group's lr by `gamma` every `stepSize` epochs.
 * TorchVision's MobileNetV3 recipe: `new StepLR(opt, { stepSize: 2, gamma: 0.973 })`, stepped once
 * per epoch.
 *
 * @example const sched = new StepLR(opt, { stepSize: 2, gamma: 0.973 }); // after each epoch: sched.step()
 */
export class StepLR extends LRScheduler {
  stepSize: number;
  gamma: number;
  constructor(optimizer: SchedulableOptimizer, options: { stepSize: number; gamma?: number; lastEpoch?: number }) {
    super(optimizer, options?.lastEpoch ?? -1, 'StepLR');
    this.stepSize = checkInteger('StepLR', 'stepSize', options.stepSize, 1);
    this.gamma = options.gamma ?? 0.1;
    this.initialStep();
  }
  protected getLr(): number[] {
    if (this.lastEpoch === 0 || pyMod(this.lastEpoch, this.stepSize) !== 0) return this.groupLrs;
    return this.groupLrs.map((lr) => lr * this.gamma);
  }
  protected closedFormLr(): number[] {
    return this.baseLrs.map((b) => b * this.gamma ** Math.floor(this.lastEpoch / this.stepSize));
  }
  protected ownState(): Record<string, unknown> {
    return { step_size: this.stepSize, gamma: this.gamma };
  }
  protected loadOwnState(s: Record<string, unknown>): void {
    if (s.step_size !== undefined) this.stepSize = Number(s.step_size);
    if (s.gamma !== undefined) this.gamma = Number(s.gamma);
  }
}

/**
 * `torch.optim.lr_scheduler.ExponentialLR`: multiplies each group's lr by `gamma` every epoch.
 *
 * @example const sched = new ExponentialLR(opt, { gamma: 0.95 });
 */
export class ExponentialLR extends LRScheduler {
  gamma: number;
  constructor(optimizer: SchedulableOptimizer, options: { gamma: number; lastEpoch?: number }) {
    super(optimizer, options?.lastEpoch ?? -1, 'ExponentialLR');
    if (typeof options.gamma !== 'number' || !Number.isFinite(options.gamma)) throw new RangeError(`ExponentialLR: gamma must be a finite number, got ${String(options.gamma)}`);
    this.gamma = options.gamma;
    this.initialStep();
  }
  protected getLr(): number[] {
    if (this.lastEpoch === 0) return this.groupLrs;
    return this.groupLrs.map((lr) => lr * this.gamma);
  }
  protected closedFormLr(): number[] {
    return this.baseLrs.map((b) => b * this.gamma ** this.lastEpoch);
  }
  protected ownState(): Record<string, unknown> {
    return { gamma: this.gamma };
  }
  protected loadOwnState(s: Record<string, unknown>): void {
    if (s.gamma !== undefined) this.gamma = Number(s.gamma);
  }
}

/**
 * `torch.optim.lr_scheduler.CosineAnnealingLR` with torch 1.13's recursive formula (so, as in torch,
 * it keeps going past `tMax`: back up to the base lr at 2·tMax, and so on).
 *
 * @example const sched = new CosineAnnealingLR(opt, { tMax: epochs - warmupEpochs, etaMin: 0 });
 */
export class CosineAnnealingLR extends LRScheduler {
  tMax: number;
  etaMin: number;
  constructor(optimizer: SchedulableOptimizer, options: { tMax: number; etaMin?: number; lastEpoch?: number }) {
    super(optimizer, options?.lastEpoch ?? -1, 'CosineAnnealingLR');
    this.tMax = checkInteger('CosineAnnealingLR', 'tMax (T_max)', options.tMax, 1);
    this.etaMin = options.etaMin ?? 0;
    if (typeof this.etaMin !== 'number' || !Number.isFinite(this.etaMin)) throw new RangeError(`CosineAnnealingLR: etaMin must be a finite number, got ${String(this.etaMin)}`);
    this.initialStep();
  }
  protected getLr(): number[] {
    const { lastEpoch: e, tMax: T, etaMin } = this;
    if (e === 0) return this.groupLrs;
    if (this.stepCount === 1 && e > 0) return this.baseLrs.map((b) => etaMin + ((b - etaMin) * (1 + Math.cos((e * Math.PI) / T))) / 2);
    if (pyMod(e - 1 - T, 2 * T) === 0) {
      return this.groupLrs.map((lr, i) => lr + ((this.baseLrs[i]! - etaMin) * (1 - Math.cos(Math.PI / T))) / 2);
    }
    return this.groupLrs.map((lr) => ((1 + Math.cos((Math.PI * e) / T)) / (1 + Math.cos((Math.PI * (e - 1)) / T))) * (lr - etaMin) + etaMin);
  }
  protected closedFormLr(): number[] {
    return this.baseLrs.map((b) => this.etaMin + ((b - this.etaMin) * (1 + Math.cos((Math.PI * this.lastEpoch) / this.tMax))) / 2);
  }
  protected ownState(): Record<string, unknown> {
    return { T_max: this.tMax, eta_min: this.etaMin };
  }
  protected loadOwnState(s: Record<string, unknown>): void {
    if (s.T_max !== undefined) this.tMax = Number(s.T_max);
    if (s.eta_min !== undefined) this.etaMin = Number(s.eta_min);
  }
}

/**
 * `torch.optim.lr_scheduler.LinearLR`: the lr factor goes linearly from `startFactor` to
 * `endFactor` over `totalIters` steps (TorchVision's `--lr-warmup-method linear`).
 *
 * @example const warmup = new LinearLR(opt, { startFactor: 0.01, totalIters: 5 });
 */
export class LinearLR extends LRScheduler {
  startFactor: number;
  endFactor: number;
  totalIters: number;
  constructor(optimizer: SchedulableOptimizer, options: { startFactor?: number; endFactor?: number; totalIters?: number; lastEpoch?: number } = {}) {
    super(optimizer, options.lastEpoch ?? -1, 'LinearLR');
    // torch 1.13 accepts startFactor 0, which divides by zero at the second step; refused here.
    this.startFactor = checkFactor('LinearLR', 'startFactor', options.startFactor ?? 1 / 3, false);
    this.endFactor = checkFactor('LinearLR', 'endFactor', options.endFactor ?? 1, true);
    this.totalIters = checkInteger('LinearLR', 'totalIters', options.totalIters ?? 5, 1);
    this.initialStep();
  }
  protected getLr(): number[] {
    const { lastEpoch: e, startFactor: s, endFactor: f, totalIters: n } = this;
    if (e === 0) return this.groupLrs.map((lr) => lr * s);
    if (e > n) return this.groupLrs;
    return this.groupLrs.map((lr) => lr * (1 + (f - s) / (n * s + (e - 1) * (f - s))));
  }
  protected closedFormLr(): number[] {
    const { lastEpoch: e, startFactor: s, endFactor: f, totalIters: n } = this;
    return this.baseLrs.map((b) => b * (s + ((f - s) * Math.min(n, e)) / n));
  }
  protected ownState(): Record<string, unknown> {
    return { start_factor: this.startFactor, end_factor: this.endFactor, total_iters: this.totalIters };
  }
  protected loadOwnState(s: Record<string, unknown>): void {
    if (s.start_factor !== undefined) this.startFactor = Number(s.start_factor);
    if (s.end_factor !== undefined) this.endFactor = Number(s.end_factor);
    if (s.total_iters !== undefined) this.totalIters = Number(s.total_iters);
  }
}

/**
 * `torch.optim.lr_scheduler.ConstantLR`: the lr times `factor` for `totalIters` steps, then back
 * (TorchVision's `--lr-warmup-method constant`).
 *
 * @example const warmup = new ConstantLR(opt, { factor: 0.01, totalIters: 5 });
 */
export class ConstantLR extends LRScheduler {
  factor: number;
  totalIters: number;
  constructor(optimizer: SchedulableOptimizer, options: { factor?: number; totalIters?: number; lastEpoch?: number } = {}) {
    super(optimizer, options.lastEpoch ?? -1, 'ConstantLR');
    this.factor = checkFactor('ConstantLR', 'factor', options.factor ?? 1 / 3, false);
    this.totalIters = checkInteger('ConstantLR', 'totalIters', options.totalIters ?? 5, 0);
    this.initialStep();
  }
  protected getLr(): number[] {
    const { lastEpoch: e, totalIters: n } = this;
    if (e === 0) return this.groupLrs.map((lr) => lr * this.factor);
    if (e > n || e !== n) return this.groupLrs;
    return this.groupLrs.map((lr) => lr * (1 / this.factor));
  }
  protected closedFormLr(): number[] {
    return this.baseLrs.map((b) => b * (this.factor + (this.lastEpoch >= this.totalIters ? 1 : 0) * (1 - this.factor)));
  }
  protected ownState(): Record<string, unknown> {
    return { factor: this.factor, total_iters: this.totalIters };
  }
  protected loadOwnState(s: Record<string, unknown>): void {
    if (s.factor !== undefined) this.factor = Number(s.factor);
    if (s.total_iters !== undefined) this.totalIters = Number(s.total_iters);
  }
}

/**
 * `torch.optim.lr_scheduler.SequentialLR`: `schedulers[i]` runs from `milestones[i-1]` on; at a
 * milestone the next scheduler restarts at its epoch 0 (closed form). TorchVision's warm-up:
 * `new SequentialLR(opt, { schedulers: [warmup, main], milestones: [warmupEpochs] })`.
 *
 * @example
 * const warmup = new LinearLR(opt, { startFactor: 0.01, totalIters: 5 });
 * const main = new StepLR(opt, { stepSize: 2, gamma: 0.973 });
 * const sched = new SequentialLR(opt, { schedulers: [warmup, main], milestones: [5] });
 */
export class SequentialLR implements Scheduler {
  readonly optimizer: SchedulableOptimizer;
  readonly schedulers: LRScheduler[];
  milestones: number[];
  lastEpoch: number;
  private lastLr: number[];

  constructor(optimizer: SchedulableOptimizer, options: { schedulers: LRScheduler[]; milestones: number[]; lastEpoch?: number }) {
    this.optimizer = checkOptimizer(optimizer, 'SequentialLR');
    const { schedulers, milestones } = options ?? ({} as never);
    if (!Array.isArray(schedulers) || schedulers.length === 0 || !schedulers.every((s) => s instanceof LRScheduler)) {
      throw new TypeError('SequentialLR: schedulers must be a non-empty array of StepLR, ExponentialLR, CosineAnnealingLR, LinearLR or ConstantLR');
    }
    schedulers.forEach((s, i) => {
      if (s.optimizer !== optimizer) {
        throw new Error(`SequentialLR: Sequential Schedulers expects all schedulers to belong to the same optimizer, but got schedulers at index ${i} to be different than the optimizer passed in.`);
      }
    });
    if (!Array.isArray(milestones) || milestones.length !== schedulers.length - 1 || !milestones.every((m) => Number.isInteger(m))) {
      throw new RangeError(
        `SequentialLR: expects the number of milestones to be one less than the number of schedulers (integers), but got ${schedulers.length} schedulers and milestones ${JSON.stringify(milestones)}`,
      );
    }
    this.schedulers = schedulers;
    this.milestones = [...milestones];
    this.lastEpoch = (options.lastEpoch ?? -1) + 1;
    for (const g of this.optimizer.paramGroups) g.lr = g.initialLr!;
    for (const s of schedulers) s.lastEpoch -= 1;
    schedulers[0]!.initialStep();
    this.lastLr = schedulers[0]!.getLastLr();
  }

  step(): void {
    this.lastEpoch += 1;
    const idx = bisectRight(this.milestones, this.lastEpoch);
    const scheduler = this.schedulers[idx]!;
    if (idx > 0 && this.milestones[idx - 1] === this.lastEpoch) scheduler.step(0);
    else scheduler.step();
    this.lastLr = scheduler.getLastLr();
  }

  getLastLr(): number[] {
    return [...this.lastLr];
  }

  stateDict(): Record<string, unknown> {
    return { _milestones: [...this.milestones], last_epoch: this.lastEpoch, _last_lr: [...this.lastLr], _schedulers: this.schedulers.map((s) => s.stateDict()) };
  }

  loadStateDict(state: SchedulerStateDict): void {
    const s = stateRecord(state, 'SequentialLR');
    const subs = s._schedulers;
    if (!Array.isArray(subs) || subs.length !== this.schedulers.length) {
      throw new RangeError(`SequentialLR.loadStateDict: expected ${this.schedulers.length} scheduler states in _schedulers, got ${Array.isArray(subs) ? subs.length : String(subs)}`);
    }
    if (Array.isArray(s._milestones)) this.milestones = s._milestones.map(Number);
    if (s.last_epoch !== undefined) this.lastEpoch = Number(s.last_epoch);
    if (Array.isArray(s._last_lr)) this.lastLr = s._last_lr.map(Number);
    subs.forEach((sub, i) => this.schedulers[i]!.loadStateDict(sub as SchedulerStateDict));
  }
}

function bisectRight(a: readonly number[], x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (x < a[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
