// ↔ timm/scheduler/scheduler.py (Scheduler._add_noise, _is_apply_noise, _calculate_noise): LR noise
// on top of any of our schedulers.
import { TorchGenerator } from './generator.js';
import { stateRecord, type SchedulableOptimizer, type Scheduler, type SchedulerStateDict } from './lr-scheduler.js';

/** timm's noise types: a normal draw resampled until inside ±noisePct, or uniform in ±noisePct. */
export type NoiseType = 'normal' | 'uniform';
export const NOISE_TYPES: readonly NoiseType[] = ['normal', 'uniform'];

/** Options of {@link LRNoise}, timm's scheduler arguments in camelCase. */
export interface LRNoiseOptions {
  /** Epochs with noise: `[start, end)`, or a number `t` for every epoch ≥ t (timm's `noise_range_t`). */
  noiseRangeT: number | [number, number];
  /** Noise is kept within ±noisePct (default 0.67). */
  noisePct?: number;
  /**
   * Standard deviation of the normal draw before the ±noisePct test (default 1). timm stores its
   * `noise_std` but draws `torch.randn(1)` with standard deviation 1 whatever it is, so only the
   * default reproduces timm; other values scale the draw, as the option's name says.
   */
  noiseStd?: number;
  /** `'normal'` (default) or `'uniform'`. */
  noiseType?: NoiseType;
  /** The generator for epoch t is seeded with `noiseSeed + t` (default 42, timm's). */
  noiseSeed?: number;
}

/**
 * timm's LR noise around a torch-style scheduler: after each step, at epoch t inside the noise range,
 * every group's lr becomes `lr + lr·noise(t)`, with `noise(t)` drawn as timm draws it — a
 * `torch.Generator` seeded with `noiseSeed + t`, `torch.randn(1)` repeated until `|noise| <
 * noisePct` (or `2·(torch.rand(1) − 0.5)·noisePct` for 'uniform') — from {@link TorchGenerator},
 * which gives torch's numbers bit for bit, so the noise is timm's own. The wrapped scheduler
 * always works from the noiseless lr (torch's recursive schedulers read the group's lr, so noise
 * left in it would compound); timm's schedulers are closed-form, so this matches them.
 *
 * @example
 * const sched = new LRNoise(new StepLR(opt, { stepSize: 2, gamma: 0.973 }), { noiseRangeT: [10, 500], noisePct: 0.67 });
 * // after each epoch: sched.step()
 */
export class LRNoise implements Scheduler {
  readonly optimizer: SchedulableOptimizer;
  readonly noiseRangeT: number | [number, number];
  readonly noisePct: number;
  readonly noiseStd: number;
  readonly noiseType: NoiseType;
  readonly noiseSeed: number;
  /** The epoch of the current lr (the wrapped scheduler's step count since construction). */
  lastEpoch = 0;
  private lastLr: number[];
  private cleanLr: number[];

  constructor(
    readonly scheduler: Scheduler,
    options: LRNoiseOptions,
  ) {
    if (!scheduler || typeof scheduler.step !== 'function' || typeof scheduler.getLastLr !== 'function') {
      throw new TypeError(`LRNoise needs a scheduler to wrap (StepLR, CosineAnnealingLR, SequentialLR…), got ${String(scheduler)}`);
    }
    this.optimizer = scheduler.optimizer;
    const o = options ?? ({} as LRNoiseOptions);
    const r = o.noiseRangeT;
    const rangeOk = Array.isArray(r) ? r.length === 2 && r.every(Number.isInteger) && r[0] <= r[1] : Number.isInteger(r);
    if (!rangeOk) throw new RangeError(`LRNoise: noiseRangeT must be an epoch t (noise from t on) or [start, end) with integers start ≤ end, got ${JSON.stringify(r)}`);
    this.noiseRangeT = Array.isArray(r) ? [r[0], r[1]] : r;
    this.noisePct = o.noisePct ?? 0.67;
    if (!(this.noisePct > 0) || !Number.isFinite(this.noisePct)) throw new RangeError(`LRNoise: noisePct must be a finite number > 0, got ${String(o.noisePct)}`);
    this.noiseStd = o.noiseStd ?? 1;
    if (!(this.noiseStd > 0) || !Number.isFinite(this.noiseStd)) throw new RangeError(`LRNoise: noiseStd must be a finite number > 0, got ${String(o.noiseStd)}`);
    this.noiseType = o.noiseType ?? 'normal';
    if (!NOISE_TYPES.includes(this.noiseType)) throw new RangeError(`LRNoise: noiseType must be one of ${NOISE_TYPES.map((t) => `'${t}'`).join(', ')}, got ${JSON.stringify(o.noiseType)}`);
    this.noiseSeed = o.noiseSeed ?? 42;
    if (!Number.isSafeInteger(this.noiseSeed) || this.noiseSeed < 0) throw new RangeError(`LRNoise: noiseSeed must be an integer ≥ 0, got ${String(o.noiseSeed)}`);
    this.cleanLr = scheduler.getLastLr();
    this.lastLr = [...this.cleanLr];
  }

  /** Whether epoch t gets noise (timm's `_is_apply_noise`). */
  isApplyNoise(t: number): boolean {
    const r = this.noiseRangeT;
    return Array.isArray(r) ? r[0] <= t && t < r[1] : t >= r;
  }

  /** timm's `_calculate_noise(t)`. */
  calculateNoise(t: number): number {
    const g = new TorchGenerator(this.noiseSeed + t);
    if (this.noiseType === 'normal') {
      for (;;) {
        const noise = g.randn(1)[0]! * this.noiseStd;
        if (Math.abs(noise) < this.noisePct) return noise;
      }
    }
    return 2 * (g.rand(1)[0]! - 0.5) * this.noisePct;
  }

  step(): void {
    const groups = this.optimizer.paramGroups;
    groups.forEach((g, i) => (g.lr = this.cleanLr[i]!));
    this.scheduler.step();
    this.lastEpoch += 1;
    this.cleanLr = groups.map((g) => g.lr);
    if (this.isApplyNoise(this.lastEpoch)) {
      const noise = this.calculateNoise(this.lastEpoch);
      groups.forEach((g) => (g.lr = g.lr + g.lr * noise));
    }
    this.lastLr = groups.map((g) => g.lr);
  }

  getLastLr(): number[] {
    return [...this.lastLr];
  }

  /** The lr the wrapped scheduler set before the noise. */
  getCleanLr(): number[] {
    return [...this.cleanLr];
  }

  stateDict(): Record<string, unknown> {
    return {
      noise_range_t: Array.isArray(this.noiseRangeT) ? [...this.noiseRangeT] : this.noiseRangeT,
      noise_pct: this.noisePct,
      noise_std: this.noiseStd,
      noise_type: this.noiseType,
      noise_seed: this.noiseSeed,
      last_epoch: this.lastEpoch,
      _clean_lr: [...this.cleanLr],
      _last_lr: [...this.lastLr],
      scheduler: this.scheduler.stateDict(),
    };
  }

  loadStateDict(state: SchedulerStateDict): void {
    const s = stateRecord(state, 'LRNoise');
    if (typeof s.scheduler !== 'object' || s.scheduler === null) throw new TypeError('LRNoise.loadStateDict: expected what LRNoise.stateDict() returns (with a "scheduler" entry)');
    this.scheduler.loadStateDict(s.scheduler as SchedulerStateDict);
    if (s.last_epoch !== undefined) this.lastEpoch = Number(s.last_epoch);
    if (Array.isArray(s._clean_lr)) this.cleanLr = s._clean_lr.map(Number);
    if (Array.isArray(s._last_lr)) this.lastLr = s._last_lr.map(Number);
  }
}
