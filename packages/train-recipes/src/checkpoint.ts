// ↔ references/classification/train.py's checkpoint: {"model", "optimizer", "lr_scheduler",
// "epoch", "args"[, "model_ema"]}, written with @mnv3/io's saveTorchCheckpoint so that train.py's
// `--resume` (and torch's optimizer / scheduler / EMA `load_state_dict`) reads it.
import { OrderedDict, PythonObject, isHostTensor, pyFloat, type StateDict } from '@mnv3/io';
import type { Optimizer } from './optim/optimizer.js';
import type { Scheduler } from './lr-scheduler.js';
import type { AveragedModel } from './swa-utils.js';
import { recipeNamespace, type Recipe } from './recipes.js';

/** What one train.py checkpoint holds. */
export interface TrainCheckpointParts {
  /** The model's state dict (TorchVision keys, file order). */
  model: StateDict;
  optimizer: Optimizer<{ lr: number }>;
  lrScheduler: Scheduler;
  /** The epoch just finished (train.py resumes at epoch + 1). */
  epoch: number;
  /** The recipe (written as its train.py Namespace, see `recipeNamespace`) or a Namespace itself. */
  args: Recipe | PythonObject;
  /** The EMA model (train.py's `--model-ema`), written as `model_ema`. */
  modelEma?: AveragedModel;
}

/**
 * The checkpoint dict train.py saves after an epoch, in its key order: `model` and `model_ema` as
 * OrderedDicts (as `state_dict()` returns them), `optimizer` and `lr_scheduler` in torch's
 * `state_dict()` formats, `epoch` an int, `args` an `argparse.Namespace`. Pass it to
 * `saveTorchCheckpoint` / `writeTorchCheckpoint` (`@mnv3/io/node`, atomic).
 *
 * @example await writeTorchCheckpoint(join(out, `model_${epoch}.pth`), await trainCheckpoint({ model: sd, optimizer, lrScheduler, epoch, args: recipe }));
 */
export async function trainCheckpoint(parts: TrainCheckpointParts): Promise<Map<string, unknown>> {
  if (!Number.isSafeInteger(parts.epoch) || parts.epoch < 0) throw new RangeError(`trainCheckpoint: epoch must be an integer ≥ 0, got ${String(parts.epoch)}`);
  const ckpt = new Map<string, unknown>([
    ['model', new OrderedDict(parts.model)],
    ['optimizer', torchTyped(withoutTorchDefaults(await parts.optimizer.stateDict()))],
    ['lr_scheduler', torchTyped(parts.lrScheduler.stateDict())],
    ['epoch', parts.epoch],
    ['args', parts.args instanceof PythonObject ? parts.args : recipeNamespace(parts.args)],
  ]);
  if (parts.modelEma) ckpt.set('model_ema', new OrderedDict(await parts.modelEma.stateDict()));
  return ckpt;
}

/**
 * Keys of torch's optimiser and scheduler state dicts that hold Python floats when train.py builds
 * them (its flags are `type=float`; torch's float defaults): an integral value there (`eta_min`
 * 0.0, LinearLR's `end_factor` 1.0, `weight_decay` 0.0) is written as a float, as torch writes it.
 * SGD's `dampening` (torch's default, the int 0) and counters (`last_epoch`, `T_max`, `step`) stay ints.
 */
const FLOAT_KEYS = new Set(['lr', 'initial_lr', 'momentum', 'weight_decay', 'alpha', 'eps', 'betas', 'gamma', 'eta_min', 'start_factor', 'end_factor', 'factor', 'base_lrs', '_last_lr', '_clean_lr', 'noise_pct', 'noise_std']);

function floats(v: unknown): unknown {
  if (typeof v === 'number') return pyFloat(v);
  if (Array.isArray(v)) {
    const out = v.map(floats);
    return Object.isFrozen(v) ? Object.freeze(out) : out;
  }
  return v;
}

/** A state dict with the values of {@link FLOAT_KEYS} marked as Python floats, recursively. */
function torchTyped(v: unknown, key?: string): unknown {
  if (key !== undefined && FLOAT_KEYS.has(key)) return floats(v);
  if (isHostTensor(v) || v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) {
    const out = v.map((x) => torchTyped(x));
    return Object.isFrozen(v) ? Object.freeze(out) : out;
  }
  if (v instanceof Map) return new Map([...v].map(([k, x]) => [k, torchTyped(x, typeof k === 'string' ? k : undefined)]));
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, torchTyped(x, k)]));
}

/**
 * Drops RMSprop's `eps_placement` (our option, absent from torch's param_groups) when it is torch's
 * own placement, 'outside': torch's state dict then has exactly torch's keys. An 'inside' placement
 * is kept, so that our resume keeps it (torch cannot run it).
 */
function withoutTorchDefaults(sd: Awaited<ReturnType<Optimizer<{ lr: number }>['stateDict']>>): unknown {
  return {
    state: sd.state,
    param_groups: sd.param_groups.map((g) => {
      if (g.eps_placement !== 'outside') return g;
      const { eps_placement: _omitted, ...rest } = g;
      return rest;
    }),
  };
}
