// ↔ references/classification/train.py (TorchVision 0.14) as data: its flags (get_args_parser, in
// order, with their types and defaults), the published MobileNetV3 recipe and ours for
// Fashion-MNIST, validation of names and overrides, the `args` Namespace a checkpoint carries, and
// the equivalent `torchrun … train.py` command (and train_quantization.py's, for QAT).
import { PyFloat, PythonObject, pyFloat } from '@mnv3/io';
import { LR_SCHEDULER_NAMES, LR_WARMUP_METHODS } from './train.js';

/** A train.py argument's Python type (`store_true` flags are 'bool'). */
export type ArgType = 'int' | 'float' | 'str' | 'bool';

/** train.py's arguments under their `dest` names, camelCased (`--wd` → `weightDecay`). */
export interface TrainPyArgs {
  dataPath: string;
  model: string;
  device: string;
  batchSize: number;
  epochs: number;
  workers: number;
  opt: string;
  lr: number;
  momentum: number;
  weightDecay: number;
  normWeightDecay: number | null;
  biasWeightDecay: number | null;
  transformerEmbeddingDecay: number | null;
  labelSmoothing: number;
  mixupAlpha: number;
  cutmixAlpha: number;
  lrScheduler: string;
  lrWarmupEpochs: number;
  lrWarmupMethod: string;
  lrWarmupDecay: number;
  lrStepSize: number;
  lrGamma: number;
  lrMin: number;
  printFreq: number;
  outputDir: string;
  resume: string;
  startEpoch: number;
  cacheDataset: boolean;
  syncBn: boolean;
  testOnly: boolean;
  autoAugment: string | null;
  raMagnitude: number;
  augmixSeverity: number;
  randomErase: number;
  amp: boolean;
  worldSize: number;
  distUrl: string;
  modelEma: boolean;
  modelEmaSteps: number;
  modelEmaDecay: number;
  useDeterministicAlgorithms: boolean;
  interpolation: string;
  valResizeSize: number;
  valCropSize: number;
  trainCropSize: number;
  clipGradNorm: number | null;
  raSampler: boolean;
  raReps: number;
  weights: string | null;
}

/** One train.py argument: our key, its Python `dest`, the flag to render, type and default. */
export interface FlagSpec<K extends string = keyof TrainPyArgs> {
  readonly key: K;
  readonly dest: string;
  readonly flag: string;
  readonly type: ArgType;
  readonly default: string | number | boolean | null;
}

const f = <K extends string>(key: K, dest: string, flag: string, type: ArgType, def: string | number | boolean | null): FlagSpec<K> => ({ key, dest, flag, type, default: def });

/** TorchVision 0.14's train.py arguments, in `get_args_parser` order (argparse sets them in this order). */
export const TRAIN_PY_FLAGS: readonly FlagSpec[] = [
  f('dataPath', 'data_path', '--data-path', 'str', '/datasets01/imagenet_full_size/061417/'),
  f('model', 'model', '--model', 'str', 'resnet18'),
  f('device', 'device', '--device', 'str', 'cuda'),
  f('batchSize', 'batch_size', '--batch-size', 'int', 32),
  f('epochs', 'epochs', '--epochs', 'int', 90),
  f('workers', 'workers', '--workers', 'int', 16),
  f('opt', 'opt', '--opt', 'str', 'sgd'),
  f('lr', 'lr', '--lr', 'float', 0.1),
  f('momentum', 'momentum', '--momentum', 'float', 0.9),
  f('weightDecay', 'weight_decay', '--wd', 'float', 1e-4),
  f('normWeightDecay', 'norm_weight_decay', '--norm-weight-decay', 'float', null),
  f('biasWeightDecay', 'bias_weight_decay', '--bias-weight-decay', 'float', null),
  f('transformerEmbeddingDecay', 'transformer_embedding_decay', '--transformer-embedding-decay', 'float', null),
  f('labelSmoothing', 'label_smoothing', '--label-smoothing', 'float', 0),
  f('mixupAlpha', 'mixup_alpha', '--mixup-alpha', 'float', 0),
  f('cutmixAlpha', 'cutmix_alpha', '--cutmix-alpha', 'float', 0),
  f('lrScheduler', 'lr_scheduler', '--lr-scheduler', 'str', 'steplr'),
  f('lrWarmupEpochs', 'lr_warmup_epochs', '--lr-warmup-epochs', 'int', 0),
  f('lrWarmupMethod', 'lr_warmup_method', '--lr-warmup-method', 'str', 'constant'),
  f('lrWarmupDecay', 'lr_warmup_decay', '--lr-warmup-decay', 'float', 0.01),
  f('lrStepSize', 'lr_step_size', '--lr-step-size', 'int', 30),
  f('lrGamma', 'lr_gamma', '--lr-gamma', 'float', 0.1),
  f('lrMin', 'lr_min', '--lr-min', 'float', 0),
  f('printFreq', 'print_freq', '--print-freq', 'int', 10),
  f('outputDir', 'output_dir', '--output-dir', 'str', '.'),
  f('resume', 'resume', '--resume', 'str', ''),
  f('startEpoch', 'start_epoch', '--start-epoch', 'int', 0),
  f('cacheDataset', 'cache_dataset', '--cache-dataset', 'bool', false),
  f('syncBn', 'sync_bn', '--sync-bn', 'bool', false),
  f('testOnly', 'test_only', '--test-only', 'bool', false),
  f('autoAugment', 'auto_augment', '--auto-augment', 'str', null),
  f('raMagnitude', 'ra_magnitude', '--ra-magnitude', 'int', 9),
  f('augmixSeverity', 'augmix_severity', '--augmix-severity', 'int', 3),
  f('randomErase', 'random_erase', '--random-erase', 'float', 0),
  f('amp', 'amp', '--amp', 'bool', false),
  f('worldSize', 'world_size', '--world-size', 'int', 1),
  f('distUrl', 'dist_url', '--dist-url', 'str', 'env://'),
  f('modelEma', 'model_ema', '--model-ema', 'bool', false),
  f('modelEmaSteps', 'model_ema_steps', '--model-ema-steps', 'int', 32),
  f('modelEmaDecay', 'model_ema_decay', '--model-ema-decay', 'float', 0.99998),
  f('useDeterministicAlgorithms', 'use_deterministic_algorithms', '--use-deterministic-algorithms', 'bool', false),
  f('interpolation', 'interpolation', '--interpolation', 'str', 'bilinear'),
  f('valResizeSize', 'val_resize_size', '--val-resize-size', 'int', 256),
  f('valCropSize', 'val_crop_size', '--val-crop-size', 'int', 224),
  f('trainCropSize', 'train_crop_size', '--train-crop-size', 'int', 224),
  f('clipGradNorm', 'clip_grad_norm', '--clip-grad-norm', 'float', null),
  f('raSampler', 'ra_sampler', '--ra-sampler', 'bool', false),
  f('raReps', 'ra_reps', '--ra-reps', 'int', 3),
  f('weights', 'weights', '--weights', 'str', null),
];

/** train.py's defaults (what `python train.py` with no flags runs). */
export const TRAIN_PY_DEFAULTS: Readonly<TrainPyArgs> = Object.freeze(Object.fromEntries(TRAIN_PY_FLAGS.map((s) => [s.key, s.default])) as unknown as TrainPyArgs);

/** What our trainer does that train.py has no flag for. */
export interface RecipeExtras {
  /** 'imagenet' (an ImageFolder with train/ and val/) or 'fashion-mnist' (Debian's idx files). */
  dataset: 'imagenet' | 'fashion-mnist';
  /** Classes; train.py takes them from the dataset's folders. */
  numClasses: number;
  /**
   * Training crop: train.py's `RandomResizedCrop(trainCropSize)`, or `RandomCrop(trainCropSize,
   * padding=randomCropPadding)` of the image resized to trainCropSize (what the Fashion-MNIST recipe uses).
   */
  trainCrop: 'RandomResizedCrop' | 'RandomCrop';
  randomCropPadding: number;
  /** RandomHorizontalFlip probability (train.py's preset: 0.5). */
  hflipProb: number;
  /** RMSprop's eps and alpha (train.py hard-codes 0.0316 and 0.9) and where eps goes. */
  rmspropEps: number;
  rmspropAlpha: number;
  epsPlacement: 'outside' | 'inside';
  /** Stochastic depth probability on the inverted residuals ('row' mode); 0 = off. TorchVision's MobileNetV3 has none. */
  stochasticDepthProb: number;
  /** timm's LR noise (`noiseRangeT` in epochs), or null. */
  lrNoise: { noiseRangeT: [number, number]; noisePct: number; noiseStd: number; noiseSeed: number } | null;
  /** After training, average the last `count` checkpoints that improved acc@1 (0 = no averaging). */
  averageLastImproved: number;
  /**
   * Images of the training data held out for validation (the per-epoch evaluation and every choice;
   * the test set stays for the end): Fashion-MNIST the last `valSize` of its 60,000 training images,
   * an ImageFolder a seeded `valSize` of train/; null: 10,000 and a tenth.
   */
  valSize: number | null;
}

/** A training recipe: train.py's arguments plus what train.py cannot express. */
export interface Recipe extends RecipeExtras {
  readonly name: string;
  readonly description: string;
  /** The number of processes TorchVision trained the published weights with. */
  readonly referenceNprocPerNode: number;
  readonly args: Readonly<TrainPyArgs>;
}

const IMAGENET_EXTRAS: RecipeExtras = {
  dataset: 'imagenet',
  numClasses: 1000,
  trainCrop: 'RandomResizedCrop',
  randomCropPadding: 0,
  hflipProb: 0.5,
  rmspropEps: 0.0316,
  rmspropAlpha: 0.9,
  epsPlacement: 'outside',
  stochasticDepthProb: 0,
  lrNoise: null,
  averageLastImproved: 3,
  valSize: null,
};

function mobilenetV3ImageNet(model: string): Recipe {
  return {
    name: model,
    description: `TorchVision's published recipe for ${model} (IMAGENET1K_V1): RMSprop, StepLR every 2 epochs, AutoAugment + RandomErasing, 600 epochs on 8 GPUs, then the average of the last 3 checkpoints that improved acc@1`,
    referenceNprocPerNode: 8,
    ...IMAGENET_EXTRAS,
    args: {
      ...TRAIN_PY_DEFAULTS,
      model,
      epochs: 600,
      opt: 'rmsprop',
      batchSize: 128,
      lr: 0.064,
      weightDecay: 0.00001,
      lrStepSize: 2,
      lrGamma: 0.973,
      autoAugment: 'imagenet',
      randomErase: 0.2,
    },
  };
}

const FASHION: Recipe = {
  name: 'mobilenet_v3_small-fashion-mnist',
  description:
    'MobileNetV3-Small from scratch on Fashion-MNIST at 64×64, 10 classes: RMSprop (lr 0.008, alpha 0.9, eps 0.0316, momentum 0.9, wd 1e-5), StepLR gamma 0.7606 every epoch, random crop + flip, batch 128, 15 epochs (PyTorch 1.13 reached 92.0–92.2% test accuracy with it)',
  referenceNprocPerNode: 1,
  ...IMAGENET_EXTRAS,
  dataset: 'fashion-mnist',
  numClasses: 10,
  trainCrop: 'RandomCrop',
  randomCropPadding: 4,
  averageLastImproved: 0,
  args: {
    ...TRAIN_PY_DEFAULTS,
    model: 'mobilenet_v3_small',
    batchSize: 128,
    epochs: 15,
    opt: 'rmsprop',
    lr: 0.008,
    weightDecay: 0.00001,
    lrStepSize: 1,
    lrGamma: 0.7606,
    valResizeSize: 64,
    valCropSize: 64,
    trainCropSize: 64,
  },
};

const FASHION_FULL: Recipe = {
  ...FASHION,
  name: 'mobilenet_v3_small-fashion-mnist-full',
  description:
    "The Fashion-MNIST recipe with the seed's full regularisation: TrivialAugment (wide) and RandomErasing 0.2, label smoothing 0.1, stochastic depth 0.1, timm's LR noise (67%) over the middle of training, EMA of the weights (train.py's --model-ema) and the average of the last 3 checkpoints that improved acc@1; 30 epochs",
  stochasticDepthProb: 0.1,
  lrNoise: { noiseRangeT: [9, 27], noisePct: 0.67, noiseStd: 1, noiseSeed: 42 },
  averageLastImproved: 3,
  args: {
    ...FASHION.args,
    epochs: 30,
    autoAugment: 'ta_wide',
    randomErase: 0.2,
    labelSmoothing: 0.1,
    modelEma: true,
  },
};

/** The recipes by name. */
export const RECIPES: Readonly<Record<string, Recipe>> = Object.freeze({
  mobilenet_v3_large: mobilenetV3ImageNet('mobilenet_v3_large'),
  mobilenet_v3_small: mobilenetV3ImageNet('mobilenet_v3_small'),
  'mobilenet_v3_small-fashion-mnist': FASHION,
  'mobilenet_v3_small-fashion-mnist-full': FASHION_FULL,
});

export const RECIPE_NAMES = Object.keys(RECIPES);

/** Why a recipe, an override or a rendering was refused. */
export class RecipeError extends Error {
  constructor(
    readonly code: 'unknown-recipe' | 'unknown-argument' | 'invalid-value' | 'not-expressible' | 'not-trainable',
    message: string,
  ) {
    super(message);
    this.name = 'RecipeError';
  }
}

/** Models a recipe may name (the classification models of @mnv3/backbone). */
export const RECIPE_MODELS = ['mobilenet_v3_large', 'mobilenet_v3_small', 'mobilenet_v2', 'resnet18', 'resnet50'] as const;
/** train.py's `--auto-augment` policies (presets.py: ra, ta_wide, augmix, or an AutoAugmentPolicy). */
export const AUTO_AUGMENT_POLICIES = ['imagenet', 'cifar10', 'svhn', 'ra', 'ta_wide', 'augmix'] as const;
export const INTERPOLATIONS = ['nearest', 'bilinear', 'bicubic'] as const;

const CHOICES: Partial<Record<keyof TrainPyArgs, readonly string[]>> = {
  model: RECIPE_MODELS,
  opt: ['sgd', 'sgd_nesterov', 'rmsprop', 'adamw'],
  lrScheduler: LR_SCHEDULER_NAMES,
  lrWarmupMethod: LR_WARMUP_METHODS,
  autoAugment: AUTO_AUGMENT_POLICIES,
  interpolation: INTERPOLATIONS,
};

/** Our extras under their Namespace names (snake_case), with the Python type they are saved as. */
const EXTRA_DESTS: readonly [keyof RecipeExtras, string, 'float' | 'other'][] = [
  ['dataset', 'dataset', 'other'],
  ['numClasses', 'num_classes', 'other'],
  ['trainCrop', 'train_crop', 'other'],
  ['randomCropPadding', 'random_crop_padding', 'other'],
  ['hflipProb', 'hflip_prob', 'float'],
  ['rmspropEps', 'rmsprop_eps', 'float'],
  ['rmspropAlpha', 'rmsprop_alpha', 'float'],
  ['epsPlacement', 'eps_placement', 'other'],
  ['stochasticDepthProb', 'stochastic_depth_prob', 'float'],
  ['lrNoise', 'lr_noise', 'other'],
  ['averageLastImproved', 'average_last_improved', 'other'],
  ['valSize', 'val_size', 'other'],
];

const EXTRA_KEYS: readonly (keyof RecipeExtras)[] = EXTRA_DESTS.map(([key]) => key);

/** What {@link getRecipe} accepts as overrides: any train.py argument or extra, by its key here. */
export type RecipeOverrides = Partial<TrainPyArgs> & Partial<RecipeExtras>;

function checkArg(spec: FlagSpec, v: unknown): void {
  const where = `${spec.key} (${spec.flag})`;
  if (v === null) {
    if (spec.default !== null) throw new RecipeError('invalid-value', `${where} cannot be null (train.py's default is ${String(spec.default)})`);
    return;
  }
  const ok =
    spec.type === 'int' ? Number.isSafeInteger(v) : spec.type === 'float' ? typeof v === 'number' && Number.isFinite(v) : spec.type === 'bool' ? typeof v === 'boolean' : typeof v === 'string';
  if (!ok) throw new RecipeError('invalid-value', `${where} must be ${spec.type === 'int' ? 'an integer' : spec.type === 'float' ? 'a finite number' : spec.type === 'bool' ? 'true or false' : 'a string'}, got ${JSON.stringify(v) ?? String(v)}`);
  const choices = CHOICES[spec.key];
  if (choices && !choices.includes((v as string).toLowerCase())) {
    throw new RecipeError('invalid-value', `${where} must be one of ${choices.join(', ')}; got ${JSON.stringify(v)}`);
  }
  if (typeof v === 'number' && v < 0 && !['lrMin'].includes(spec.key)) throw new RecipeError('invalid-value', `${where} must be ≥ 0, got ${v}`);
  if (['batchSize', 'epochs', 'lrStepSize', 'modelEmaSteps', 'worldSize', 'raReps', 'valResizeSize', 'valCropSize', 'trainCropSize'].includes(spec.key) && (v as number) < 1) {
    throw new RecipeError('invalid-value', `${where} must be ≥ 1, got ${String(v)}`);
  }
  if (spec.key === 'clipGradNorm' && v === 0) throw new RecipeError('invalid-value', `${where} must be > 0 (or null: no clipping), got 0`);
  if (['randomErase', 'labelSmoothing'].includes(spec.key) && (v as number) > 1) throw new RecipeError('invalid-value', `${where} must be in [0, 1], got ${String(v)}`);
}

function checkExtras(r: RecipeExtras): void {
  const bad = (k: string, msg: string) => new RecipeError('invalid-value', `${k} ${msg}`);
  if (r.dataset !== 'imagenet' && r.dataset !== 'fashion-mnist') throw bad('dataset', `must be 'imagenet' or 'fashion-mnist', got ${JSON.stringify(r.dataset)}`);
  if (!Number.isSafeInteger(r.numClasses) || r.numClasses < 2) throw bad('numClasses', `must be an integer ≥ 2, got ${String(r.numClasses)}`);
  if (r.trainCrop !== 'RandomResizedCrop' && r.trainCrop !== 'RandomCrop') throw bad('trainCrop', `must be 'RandomResizedCrop' or 'RandomCrop', got ${JSON.stringify(r.trainCrop)}`);
  if (!Number.isSafeInteger(r.randomCropPadding) || r.randomCropPadding < 0) throw bad('randomCropPadding', `must be an integer ≥ 0, got ${String(r.randomCropPadding)}`);
  // RandomResizedCrop has no padding: a padding there would be silently ignored.
  if (r.trainCrop === 'RandomResizedCrop' && r.randomCropPadding !== 0) throw bad('randomCropPadding', `pads a RandomCrop; this recipe crops with RandomResizedCrop (no padding), so it must stay 0, got ${r.randomCropPadding}`);
  for (const k of ['hflipProb', 'stochasticDepthProb'] as const) if (!(r[k] >= 0 && r[k] <= 1)) throw bad(k, `must be in [0, 1], got ${String(r[k])}`);
  for (const k of ['rmspropEps', 'rmspropAlpha'] as const) if (!(typeof r[k] === 'number' && r[k] > 0 && Number.isFinite(r[k]))) throw bad(k, `must be a number > 0, got ${String(r[k])}`);
  if (r.epsPlacement !== 'outside' && r.epsPlacement !== 'inside') throw bad('epsPlacement', `must be 'outside' or 'inside', got ${JSON.stringify(r.epsPlacement)}`);
  if (!Number.isSafeInteger(r.averageLastImproved) || r.averageLastImproved < 0) throw bad('averageLastImproved', `must be an integer ≥ 0, got ${String(r.averageLastImproved)}`);
  if (r.valSize !== null && !(Number.isSafeInteger(r.valSize) && r.valSize >= 1)) throw bad('valSize', `must be null (the dataset's default) or an integer ≥ 1, got ${String(r.valSize)}`);
  if (r.lrNoise !== null) {
    const n = r.lrNoise;
    if (typeof n !== 'object' || !Array.isArray(n.noiseRangeT) || n.noiseRangeT.length !== 2 || !n.noiseRangeT.every(Number.isSafeInteger) || n.noiseRangeT[0] >= n.noiseRangeT[1]) {
      throw bad('lrNoise', `must be null or { noiseRangeT: [start, end) epochs, noisePct, noiseStd, noiseSeed }, got ${JSON.stringify(n)}`);
    }
  }
}

/**
 * A recipe by name, with overrides of any train.py argument (camelCase: `{ epochs: 3, lr: 0.01 }`)
 * or extra. Unknown names and keys throw a {@link RecipeError} listing the valid ones; values are
 * checked against train.py's types and choices.
 *
 * @example const r = getRecipe('mobilenet_v3_small-fashion-mnist', { epochs: 3 });
 */
export function getRecipe(name: string, overrides: RecipeOverrides = {}): Recipe {
  const base = Object.prototype.hasOwnProperty.call(RECIPES, name) ? RECIPES[name] : undefined;
  if (!base) throw new RecipeError('unknown-recipe', `unknown recipe ${JSON.stringify(name)}; the recipes are ${RECIPE_NAMES.join(', ')}`);
  const args: Record<string, unknown> = { ...base.args };
  const extras: Record<string, unknown> = Object.fromEntries(EXTRA_KEYS.map((k) => [k, base[k]]));
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) continue;
    const spec = TRAIN_PY_FLAGS.find((s) => s.key === k);
    if (spec) {
      checkArg(spec, v);
      args[k] = typeof v === 'string' && CHOICES[spec.key] ? v.toLowerCase() : v;
    } else if ((EXTRA_KEYS as readonly string[]).includes(k)) extras[k] = v;
    else {
      throw new RecipeError('unknown-argument', `unknown recipe argument ${JSON.stringify(k)}; the arguments are train.py's (${TRAIN_PY_FLAGS.map((s) => s.key).join(', ')}) and ${EXTRA_KEYS.join(', ')}`);
    }
  }
  const recipe = { ...base, ...(extras as unknown as RecipeExtras), args: Object.freeze(args as unknown as TrainPyArgs) };
  checkExtras(recipe);
  return Object.freeze(recipe);
}

/** Renders a number as Python's argparse reads it back to the same value. */
function renderValue(v: string | number | boolean): string {
  if (typeof v === 'string') return /^[A-Za-z0-9_./:=@%+-]+$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`;
  return String(v);
}

/** What the recipe sets that train.py has no flag for (empty when the command reproduces it). */
export function torchrunUnsupported(recipe: Recipe): string[] {
  const out: string[] = [];
  if (recipe.trainCrop !== 'RandomResizedCrop') out.push(`${recipe.trainCrop}(${recipe.args.trainCropSize}, padding=${recipe.randomCropPadding}) (train.py crops with RandomResizedCrop)`);
  if (recipe.hflipProb !== 0.5) out.push(`horizontal flips with p=${recipe.hflipProb} (train.py: 0.5)`);
  if (recipe.rmspropEps !== 0.0316 || recipe.rmspropAlpha !== 0.9 || recipe.epsPlacement !== 'outside') {
    out.push(`RMSprop eps=${recipe.rmspropEps} alpha=${recipe.rmspropAlpha} (${recipe.epsPlacement} the square root; train.py: 0.0316, 0.9, outside)`);
  }
  if (recipe.stochasticDepthProb > 0) out.push(`stochastic depth ${recipe.stochasticDepthProb} (TorchVision's MobileNetV3 has none)`);
  if (recipe.lrNoise) out.push(`LR noise over epochs [${recipe.lrNoise.noiseRangeT.join(', ')}) (timm's; train.py has none)`);
  return out;
}

/**
 * The train.py arguments a recipe sets that our trainer does not implement (empty when `train()`
 * runs it as train.py would). A recipe may carry them for `renderTorchrun`; training refuses them
 * (`assertTrainable`) rather than quietly running another recipe.
 */
export function trainerUnsupported(recipe: Recipe): string[] {
  const a = recipe.args;
  const out: string[] = [];
  if (a.amp) out.push("--amp (CUDA's mixed precision; the WASM backend trains in float32)");
  if (a.autoAugment === 'augmix') out.push('--auto-augment augmix (AugMix is not ported)');
  if (a.testOnly) out.push('--test-only (evaluation only: evaluate() or mnv3 eval)');
  return out;
}

/** Throws a `RecipeError('not-trainable')` listing what {@link trainerUnsupported} finds. */
export function assertTrainable(recipe: Recipe): void {
  const unsupported = trainerUnsupported(recipe);
  if (unsupported.length > 0) {
    throw new RecipeError(
      'not-trainable',
      `recipe ${recipe.name} sets what this trainer does not implement: ${unsupported.join('; ')}. Set them back to train.py's defaults, or train it with PyTorch (renderTorchrun)`,
    );
  }
}

/** Options of {@link renderTorchrun}. */
export interface TorchrunOptions {
  /** Processes on this node (GPUs); default the recipe's `worldSize` when above 1, else its reference (8 for TorchVision's). */
  nprocPerNode?: number;
  /** `--data-path`: an ImageFolder root with train/ and val/. */
  dataPath: string;
  /** `--output-dir` for the checkpoints. */
  outputDir: string;
  /**
   * When the recipe sets something train.py cannot (see {@link torchrunUnsupported}): false (default)
   * throws a `RecipeError('not-expressible')` listing it; true renders the command anyway and lists
   * it in a trailing shell comment.
   */
  allowUnsupported?: boolean;
}

/**
 * The `torchrun --nproc_per_node=N train.py …` command of TorchVision's reference that trains the
 * recipe on PyTorch's distributed data parallel: `--data-path`, `--model`, then every train.py flag
 * whose value differs from train.py's default, in train.py's order, then `--output-dir`. Batch size
 * is per process, as train.py's is. Checkpoints it writes load with `loadTorchCheckpoint` (their
 * `model` or `model_ema` entry into our models).
 *
 * @example
 * renderTorchrun(getRecipe('mobilenet_v3_large'), { nprocPerNode: 8, dataPath: '/data/imagenet', outputDir: 'out' })
 * // 'torchrun --nproc_per_node=8 train.py --data-path /data/imagenet --model mobilenet_v3_large --batch-size 128 --epochs 600 --opt rmsprop --lr 0.064 --wd 0.00001 --lr-step-size 2 --lr-gamma 0.973 --auto-augment imagenet --random-erase 0.2 --output-dir out'
 */
export function renderTorchrun(recipe: Recipe, options: TorchrunOptions): string {
  const nproc = options.nprocPerNode ?? (recipe.args.worldSize > 1 ? recipe.args.worldSize : recipe.referenceNprocPerNode);
  if (!Number.isSafeInteger(nproc) || nproc < 1) throw new RecipeError('invalid-value', `nprocPerNode must be an integer ≥ 1, got ${String(nproc)}`);
  for (const k of ['dataPath', 'outputDir'] as const) {
    if (typeof options[k] !== 'string' || options[k] === '') throw new RecipeError('invalid-value', `renderTorchrun needs ${k} (a path), got ${JSON.stringify(options[k])}`);
  }
  const unsupported = torchrunUnsupported(recipe);
  if (unsupported.length && !options.allowUnsupported) {
    throw new RecipeError('not-expressible', `train.py cannot express recipe ${recipe.name}: ${unsupported.join('; ')} (pass allowUnsupported to render the nearest command)`);
  }
  return renderCommand(`torchrun --nproc_per_node=${nproc} train.py`, TRAIN_PY_FLAGS, recipe.args as unknown as Record<string, unknown>, options, unsupported);
}

function renderCommand(head: string, flags: readonly FlagSpec<string>[], values: Record<string, unknown>, paths: { dataPath: string; outputDir: string }, unsupported: string[]): string {
  const parts = [head, '--data-path', renderValue(paths.dataPath), '--model', renderValue(values.model as string)];
  for (const spec of flags) {
    // torchrun sets the world size (--nproc_per_node), train.py's --world-size flag is overwritten.
    if (spec.key === 'dataPath' || spec.key === 'model' || spec.key === 'outputDir' || spec.key === 'worldSize') continue;
    const v = values[spec.key] as string | number | boolean | null;
    if (v === spec.default || v === undefined) continue;
    if (spec.type === 'bool') {
      if (v === true) parts.push(spec.flag);
      continue;
    }
    if (v === null) throw new RecipeError('not-expressible', `${spec.flag} cannot be set back to None on the command line`);
    parts.push(spec.flag, renderValue(v));
  }
  parts.push('--output-dir', renderValue(paths.outputDir));
  const cmd = parts.join(' ');
  return unsupported.length ? `${cmd}  # not expressible in ${head.split(' ').pop()}: ${unsupported.join('; ')}` : cmd;
}

/**
 * train.py's `args` for a recipe, as an `argparse.Namespace` for a checkpoint's `args` entry: every
 * train.py argument under its `dest` in parser order with train.py's types (floats stay floats:
 * `label_smoothing=0.0`), then `distributed=False` (what `utils.init_distributed_mode` adds on one
 * process), then our extras train.py does not have, under snake_case names (`recipe`,
 * `num_classes`, `train_crop`, `random_crop_padding`, `hflip_prob`, `rmsprop_eps`, `rmsprop_alpha`,
 * `eps_placement`, `stochastic_depth_prob`, `lr_noise` (a dict or None), `average_last_improved`).
 * train.py never reads a checkpoint's `args`, so the extras do not disturb a torch resume.
 */
export function recipeNamespace(recipe: Recipe): PythonObject {
  const attrs = new Map<unknown, unknown>();
  const args = recipe.args as unknown as Record<string, unknown>;
  for (const spec of TRAIN_PY_FLAGS) {
    const v = args[spec.key];
    attrs.set(spec.dest, spec.type === 'float' && typeof v === 'number' ? pyFloat(v) : v);
  }
  attrs.set('distributed', false);
  attrs.set('recipe', recipe.name);
  for (const [key, dest, type] of EXTRA_DESTS) {
    const v = recipe[key];
    if (key === 'lrNoise') {
      const n = v as Recipe['lrNoise'];
      attrs.set(
        dest,
        n
          ? new Map<string, unknown>([
              ['noise_range_t', Object.freeze([...n.noiseRangeT])],
              ['noise_pct', pyFloat(n.noisePct)],
              ['noise_std', pyFloat(n.noiseStd)],
              ['noise_seed', n.noiseSeed],
            ])
          : null,
      );
    } else attrs.set(dest, type === 'float' ? pyFloat(v as number) : v);
  }
  return new PythonObject('argparse.Namespace', attrs);
}

/** A Namespace value as plain data (Python floats as numbers, dicts as sorted entries) for comparison. */
function plainValue(v: unknown): unknown {
  if (v instanceof PyFloat) return v.value;
  if (v instanceof Map) return [...v].map(([k, x]) => [k, plainValue(x)]).sort();
  if (Array.isArray(v)) return v.map(plainValue);
  return v;
}

/**
 * The recipe a checkpoint's `args` Namespace was written for, the inverse of
 * {@link recipeNamespace}: its `recipe` by name with every train.py argument and extra as saved
 * (those it lacks keep the recipe's values), then `overrides`. A Namespace without `recipe`
 * (torch's train.py wrote it) names no recipe to continue: a RecipeError.
 *
 * @example const r = recipeFromNamespace(loadTorchCheckpoint(bytes).get('args'), { epochs: 60 });
 */
export function recipeFromNamespace(args: unknown, overrides: RecipeOverrides = {}): Recipe {
  if (!(args instanceof PythonObject)) throw new RecipeError('invalid-value', 'the checkpoint has no train.py `args` Namespace: it is not a train.py checkpoint');
  const a = args.attributes;
  const name = a.get('recipe');
  if (typeof name !== 'string') throw new RecipeError('not-expressible', "the checkpoint's args name no recipe (torch's train.py wrote it): pass --recipe and the run's flags");
  const saved: Record<string, unknown> = {};
  for (const spec of TRAIN_PY_FLAGS) if (a.has(spec.dest)) saved[spec.key] = plainValue(a.get(spec.dest));
  for (const [key, dest] of EXTRA_DESTS) {
    if (!a.has(dest)) continue;
    const v = a.get(dest);
    if (key === 'lrNoise') {
      const m = v instanceof Map ? v : null;
      saved.lrNoise = m
        ? { noiseRangeT: [...(m.get('noise_range_t') as number[])], noisePct: plainValue(m.get('noise_pct')), noiseStd: plainValue(m.get('noise_std')), noiseSeed: m.get('noise_seed') }
        : null;
    } else saved[key] = plainValue(v);
  }
  const given = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  return getRecipe(name, { ...(saved as RecipeOverrides), ...given });
}

/**
 * Where two `args` Namespaces differ: the keys `b` has whose values in `a` are other (keys `a` lacks,
 * as in a checkpoint of an older version, are left out, and so are `except`).
 */
export function namespaceDifferences(a: PythonObject, b: PythonObject, except: readonly string[] = []): { key: string; a: unknown; b: unknown }[] {
  const out: { key: string; a: unknown; b: unknown }[] = [];
  for (const [key, v] of b.attributes) {
    if (typeof key !== 'string' || except.includes(key) || !a.attributes.has(key)) continue;
    const [x, y] = [plainValue(a.attributes.get(key)), plainValue(v)];
    if (JSON.stringify(x) !== JSON.stringify(y)) out.push({ key, a: x, b: y });
  }
  return out;
}

/** train_quantization.py's arguments (TorchVision 0.14), camelCased. */
export interface TrainQuantizationArgs {
  dataPath: string;
  model: string;
  backend: string;
  device: string;
  batchSize: number;
  evalBatchSize: number;
  epochs: number;
  numObserverUpdateEpochs: number;
  numBatchNormUpdateEpochs: number;
  numCalibrationBatches: number;
  workers: number;
  lr: number;
  momentum: number;
  weightDecay: number;
  lrStepSize: number;
  lrGamma: number;
  postTrainingQuantize: boolean;
}

/** train_quantization.py's flags, in parser order (those the QAT recipe can set). */
export const TRAIN_QUANTIZATION_FLAGS: readonly FlagSpec<keyof TrainQuantizationArgs>[] = [
  f('dataPath', 'data_path', '--data-path', 'str', '/datasets01/imagenet_full_size/061417/'),
  f('model', 'model', '--model', 'str', 'mobilenet_v2'),
  f('backend', 'backend', '--backend', 'str', 'qnnpack'),
  f('device', 'device', '--device', 'str', 'cuda'),
  f('batchSize', 'batch_size', '--batch-size', 'int', 32),
  f('evalBatchSize', 'eval_batch_size', '--eval-batch-size', 'int', 128),
  f('epochs', 'epochs', '--epochs', 'int', 90),
  f('numObserverUpdateEpochs', 'num_observer_update_epochs', '--num-observer-update-epochs', 'int', 4),
  f('numBatchNormUpdateEpochs', 'num_batch_norm_update_epochs', '--num-batch-norm-update-epochs', 'int', 3),
  f('numCalibrationBatches', 'num_calibration_batches', '--num-calibration-batches', 'int', 32),
  f('workers', 'workers', '--workers', 'int', 16),
  f('lr', 'lr', '--lr', 'float', 0.0001),
  f('momentum', 'momentum', '--momentum', 'float', 0.9),
  f('weightDecay', 'weight_decay', '--wd', 'float', 1e-4),
  f('lrStepSize', 'lr_step_size', '--lr-step-size', 'int', 30),
  f('lrGamma', 'lr_gamma', '--lr-gamma', 'float', 0.1),
  f('postTrainingQuantize', 'post_training_quantize', '--post-training-quantize', 'bool', false),
];

/**
 * TorchVision's QAT recipe for `mobilenet_v3_large` (IMAGENET1K_QNNPACK_V1): train_quantization.py
 * with `--lr 0.001 --wd 0.00001`, its defaults otherwise (batch 32 per GPU, observers updated for 4
 * epochs, BatchNorm statistics for 3, StepLR 30 / 0.1, qnnpack), on 8 GPUs.
 */
export const QAT_RECIPE_MOBILENET_V3_LARGE: Readonly<TrainQuantizationArgs> = Object.freeze({
  ...(Object.fromEntries(TRAIN_QUANTIZATION_FLAGS.map((s) => [s.key, s.default])) as unknown as TrainQuantizationArgs),
  model: 'mobilenet_v3_large',
  lr: 0.001,
  weightDecay: 0.00001,
});

/**
 * The `torchrun --nproc_per_node=N train_quantization.py …` command for a QAT recipe (flags that
 * differ from train_quantization.py's defaults, in its order).
 *
 * @example renderTorchrunQuantization(QAT_RECIPE_MOBILENET_V3_LARGE, { nprocPerNode: 8, dataPath: '/data/imagenet', outputDir: 'qat' })
 */
export function renderTorchrunQuantization(args: TrainQuantizationArgs, options: Omit<TorchrunOptions, 'allowUnsupported'>): string {
  const nproc = options.nprocPerNode ?? 8;
  if (!Number.isSafeInteger(nproc) || nproc < 1) throw new RecipeError('invalid-value', `nprocPerNode must be an integer ≥ 1, got ${String(nproc)}`);
  for (const spec of TRAIN_QUANTIZATION_FLAGS) checkArg(spec as unknown as FlagSpec, (args as unknown as Record<string, unknown>)[spec.key]);
  if (args.backend !== 'qnnpack' && args.backend !== 'fbgemm') throw new RecipeError('invalid-value', `backend must be qnnpack or fbgemm, got ${JSON.stringify(args.backend)}`);
  return renderCommand(`torchrun --nproc_per_node=${nproc} train_quantization.py`, TRAIN_QUANTIZATION_FLAGS, args as unknown as Record<string, unknown>, options, []);
}

/**
 * A QAT recipe: train_quantization.py's arguments, and the float recipe whose data, pipeline and
 * model it fine-tunes (train_quantization.py starts from a trained float model, `--weights`).
 */
export interface QatRecipe {
  readonly name: string;
  readonly description: string;
  readonly base: Recipe;
  readonly args: Readonly<TrainQuantizationArgs>;
}

const FASHION_QAT: QatRecipe = {
  name: 'mobilenet_v3_small-fashion-mnist-qat',
  description:
    "QAT of a trained mobilenet_v3_small-fashion-mnist model (--weights: a train.py checkpoint or a state dict) as train_quantization.py runs it: prepare_qat with qnnpack's QAT qconfig, SGD (lr 0.0005: TorchVision's 0.001 for 8 × 32 images per step, halved for 128; momentum 0.9, wd 1e-5), StepLR 2 / 0.1, 3 epochs; observers updated for epochs 0–2 (disabled after epoch 2: --num-observer-update-epochs 2), BatchNorm statistics frozen after epoch 1 (--num-batch-norm-update-epochs 1); the QAT and the converted int8 model evaluated every epoch; the int8 model saved at the end",
  base: FASHION,
  args: {
    ...QAT_RECIPE_MOBILENET_V3_LARGE,
    dataPath: '/usr/share/datasets/fashion-mnist',
    model: 'mobilenet_v3_small',
    device: 'cpu',
    batchSize: 128,
    evalBatchSize: 128,
    epochs: 3,
    numObserverUpdateEpochs: 2,
    numBatchNormUpdateEpochs: 1,
    workers: 2,
    lr: 0.0005,
    momentum: 0.9,
    weightDecay: 0.00001,
    lrStepSize: 2,
    lrGamma: 0.1,
  },
};

/** The QAT recipes by name (`mnv3 train --recipe NAME --weights FLOAT.pth`). */
export const QAT_RECIPES: Readonly<Record<string, QatRecipe>> = Object.freeze({ 'mobilenet_v3_small-fashion-mnist-qat': FASHION_QAT });
export const QAT_RECIPE_NAMES = Object.keys(QAT_RECIPES);

/**
 * A QAT recipe with overrides, checked: positive epochs, batch size and lr, and observer-disable /
 * BatchNorm-freeze epochs that fall within the run (train_quantization.py applies them after the
 * epoch of that number; one at or past the last epoch would never take effect).
 *
 * `baseOverrides` change the float recipe's data settings (e.g. the crop sizes).
 *
 * @example getQatRecipe('mobilenet_v3_small-fashion-mnist-qat', { epochs: 1, numObserverUpdateEpochs: 0, numBatchNormUpdateEpochs: 0 })
 */
export function getQatRecipe(name: string, overrides: Partial<TrainQuantizationArgs> = {}, baseOverrides?: RecipeOverrides): QatRecipe {
  const known = QAT_RECIPES[name];
  if (!known) throw new RecipeError('unknown-recipe', `unknown QAT recipe ${JSON.stringify(name)}; valid: ${QAT_RECIPE_NAMES.join(', ')}`);
  // The float recipe's data and pipeline settings (crop sizes, …) can be overridden too.
  const base = baseOverrides ? { ...known, base: getRecipe(known.base.name, baseOverrides) } : known;
  const args = { ...base.args, ...overrides };
  for (const spec of TRAIN_QUANTIZATION_FLAGS) checkArg(spec as unknown as FlagSpec, (args as unknown as Record<string, unknown>)[spec.key]);
  const positive = (k: keyof TrainQuantizationArgs, integer: boolean) => {
    const v = args[k] as number;
    if (!(v > 0) || (integer && !Number.isSafeInteger(v))) throw new RecipeError('invalid-value', `${k} must be ${integer ? 'an integer ' : ''}> 0, got ${String(v)}`);
  };
  positive('epochs', true);
  positive('batchSize', true);
  positive('lr', false);
  positive('lrStepSize', true);
  for (const [k, flag, what] of [
    ['numObserverUpdateEpochs', '--num-observer-update-epochs', 'observers are disabled'],
    ['numBatchNormUpdateEpochs', '--num-batch-norm-update-epochs', 'BatchNorm statistics are frozen'],
  ] as const) {
    const v = args[k];
    if (!Number.isSafeInteger(v) || v < 0 || v >= args.epochs) {
      throw new RecipeError(
        'invalid-value',
        `${flag} ${v}: ${what} after epoch ${v} (0-based, as train_quantization.py), but the run's last epoch is ${args.epochs - 1}: pass 0 … ${args.epochs - 1}, or more --epochs`,
      );
    }
  }
  if (args.backend !== 'qnnpack') throw new RecipeError('invalid-value', `backend must be qnnpack (the int8 engine is QNNPACK's arithmetic), got ${JSON.stringify(args.backend)}`);
  return Object.freeze({ ...base, args: Object.freeze(args) });
}

/** A QAT recipe's train_quantization.py `args` Namespace (what its checkpoints carry). */
export function qatRecipeNamespace(recipe: QatRecipe): PythonObject {
  const attrs = new Map<string, unknown>();
  for (const spec of TRAIN_QUANTIZATION_FLAGS) {
    const v = (recipe.args as unknown as Record<string, unknown>)[spec.key];
    attrs.set(spec.dest, spec.type === 'float' ? pyFloat(v as number) : v);
  }
  attrs.set('recipe', recipe.name);
  attrs.set('train_crop_size', recipe.base.args.trainCropSize);
  attrs.set('val_crop_size', recipe.base.args.valCropSize);
  attrs.set('val_resize_size', recipe.base.args.valResizeSize);
  return new PythonObject('argparse.Namespace', attrs);
}
