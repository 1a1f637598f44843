// ↔ references/classification/train.py of TorchVision: how its flags choose the optimiser
// (--opt, --lr, --momentum, --wd) and the LR schedule (--lr-scheduler, --lr-step-size, --lr-gamma,
// --lr-min, --lr-warmup-epochs, --lr-warmup-method, --lr-warmup-decay). The trainer steps the
// scheduler once per epoch, after the epoch's last optimiser step, as train.py does.
import type * as tf from '@tensorflow/tfjs-core';
import { AdamW } from './optim/adamw.js';
import type { ParamGroupInit } from './optim/optimizer.js';
import { RMSprop, type EpsPlacement } from './optim/rmsprop.js';
import { SGD } from './optim/sgd.js';
import { ConstantLR, CosineAnnealingLR, ExponentialLR, LinearLR, SequentialLR, StepLR, type LRScheduler, type SchedulableOptimizer, type Scheduler } from './lr-scheduler.js';

/** train.py's `--opt` values (any name starting with "sgd" is SGD; "nesterov" in it turns Nesterov on). */
export const OPTIMIZER_NAMES = ['sgd', 'sgd_nesterov', 'rmsprop', 'adamw'] as const;

/** train.py's optimiser flags. */
export interface OptimizerArgs {
  /** `--lr` (train.py's default 0.1). */
  lr?: number;
  /** `--momentum` (default 0.9; SGD and RMSprop). */
  momentum?: number;
  /** `--wd` (default 1e-4). */
  weightDecay?: number;
  /** RMSprop only: our option, torch's placement by default. */
  epsPlacement?: EpsPlacement;
}

/**
 * The optimiser train.py builds for `--opt NAME`: SGD (`sgd…`, Nesterov when the name contains
 * "nesterov"), RMSprop with TorchVision's `eps=0.0316, alpha=0.9`, or AdamW.
 *
 * @example const opt = createOptimizer('rmsprop', params, { lr: 0.064, weightDecay: 1e-5 }); // the MobileNetV3 recipe
 */
export function createOptimizer(name: string, params: tf.Variable[] | ParamGroupInit<{ weightDecay: number }>[], args: OptimizerArgs = {}): SGD | RMSprop | AdamW {
  const opt = typeof name === 'string' ? name.toLowerCase() : '';
  const lr = args.lr ?? 0.1;
  const momentum = args.momentum ?? 0.9;
  const weightDecay = args.weightDecay ?? 1e-4;
  if (args.epsPlacement !== undefined && opt !== 'rmsprop') throw new RangeError(`createOptimizer: epsPlacement is an RMSprop option, not one of ${String(name)}`);
  if (opt.startsWith('sgd')) return new SGD(params, { lr, momentum, weightDecay, nesterov: opt.includes('nesterov') });
  if (opt === 'rmsprop') return new RMSprop(params, { lr, momentum, weightDecay, eps: 0.0316, alpha: 0.9, epsPlacement: args.epsPlacement ?? 'outside' });
  if (opt === 'adamw') return new AdamW(params, { lr, weightDecay });
  throw new RangeError(`Invalid optimizer ${String(name)}. Only SGD, RMSprop and AdamW are supported (--opt ${OPTIMIZER_NAMES.join(' | ')}).`);
}

/** train.py's scheduler flags. */
export interface LrSchedulerArgs {
  /** `--lr-scheduler`: 'steplr' (default), 'cosineannealinglr' or 'exponentiallr' (any case). */
  lrScheduler?: string;
  /** `--lr-step-size` (default 30). */
  lrStepSize?: number;
  /** `--lr-gamma` (default 0.1). */
  lrGamma?: number;
  /** `--lr-min`, CosineAnnealingLR's eta_min (default 0). */
  lrMin?: number;
  /** `--epochs` (default 90), for CosineAnnealingLR's T_max = epochs − lrWarmupEpochs. */
  epochs?: number;
  /** `--lr-warmup-epochs` (default 0: no warm-up). */
  lrWarmupEpochs?: number;
  /** `--lr-warmup-method`: 'constant' (default) or 'linear'. */
  lrWarmupMethod?: string;
  /** `--lr-warmup-decay` (default 0.01). */
  lrWarmupDecay?: number;
}

export const LR_SCHEDULER_NAMES = ['steplr', 'cosineannealinglr', 'exponentiallr'] as const;
export const LR_WARMUP_METHODS = ['linear', 'constant'] as const;

/**
 * The LR schedule train.py builds: the main scheduler, behind a `SequentialLR` with a LinearLR or
 * ConstantLR warm-up when `lrWarmupEpochs > 0`. Step it once per epoch.
 *
 * @example const sched = createLrScheduler(opt, { lrScheduler: 'steplr', lrStepSize: 2, lrGamma: 0.973 }); // MobileNetV3
 */
export function createLrScheduler(optimizer: SchedulableOptimizer, args: LrSchedulerArgs = {}): Scheduler {
  const kind = (args.lrScheduler ?? 'steplr').toLowerCase();
  const warmupEpochs = args.lrWarmupEpochs ?? 0;
  const epochs = args.epochs ?? 90;
  const method = args.lrWarmupMethod ?? 'constant';
  if (!(LR_SCHEDULER_NAMES as readonly string[]).includes(kind)) {
    throw new RangeError(`Invalid lr scheduler '${String(args.lrScheduler)}'. Only StepLR, CosineAnnealingLR and ExponentialLR are supported (--lr-scheduler ${LR_SCHEDULER_NAMES.join(' | ')}).`);
  }
  if (warmupEpochs > 0 && !(LR_WARMUP_METHODS as readonly string[]).includes(method)) {
    throw new RangeError(`Invalid warmup lr method '${String(method)}'. Only linear and constant are supported (--lr-warmup-method ${LR_WARMUP_METHODS.join(' | ')}).`);
  }
  let main: LRScheduler;
  if (kind === 'steplr') main = new StepLR(optimizer, { stepSize: args.lrStepSize ?? 30, gamma: args.lrGamma ?? 0.1 });
  else if (kind === 'cosineannealinglr') main = new CosineAnnealingLR(optimizer, { tMax: epochs - warmupEpochs, etaMin: args.lrMin ?? 0 });
  else main = new ExponentialLR(optimizer, { gamma: args.lrGamma ?? 0.1 });
  if (warmupEpochs <= 0) return main;
  const decay = args.lrWarmupDecay ?? 0.01;
  const warmup =
    method === 'linear' ? new LinearLR(optimizer, { startFactor: decay, totalIters: warmupEpochs }) : new ConstantLR(optimizer, { factor: decay, totalIters: warmupEpochs });
  return new SequentialLR(optimizer, { schedulers: [warmup, main], milestones: [warmupEpochs] });
}
