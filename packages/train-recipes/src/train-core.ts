// The platform-free core of the trainer (↔ train.py's model / optimiser / scheduler set-up and
// train_one_epoch / evaluate), used by the Node trainer (trainer.ts: files, checkpoints, history)
// and by pages: the model from @mnv3/backbone's registry, parameter groups by set_weight_decay,
// the recipe's optimiser and LR schedule (+ warm-up, + timm's LR noise), EMA every `modelEmaSteps`
// iterations, label smoothing, and one training step.
//
// Randomness: the initial weights come from `seed`, the dropout / stochastic-depth masks of a step
// from (seed, epoch, step), and the batches (the loaders) from (seed, epoch, position), so the same
// steps give the same losses in Node and in a page, and a resumed run replays the uninterrupted one.
import * as tf from '@tensorflow/tfjs-core';
import { PythonObject, type StateDict } from '@mnv3/io';
import { Dropout, InvertedResidual, getWeights, overwriteValueParam, resolveStateDict, seededRng, type Module, type Rng, type Weights } from '@mnv3/layers';
import { CLASSIFICATION_MODELS } from '@mnv3/backbone';
import { crossEntropy } from './loss.js';
import { LRNoise } from './lr-noise.js';
import type { Scheduler } from './lr-scheduler.js';
import { clipGradNorm } from './optim/clip-grad.js';
import type { Gradients, Optimizer } from './optim/optimizer.js';
import type { GradientAverager } from './gradient-average.js';
import { RMSprop } from './optim/rmsprop.js';
import { RecipeError, assertTrainable, namespaceDifferences, recipeNamespace, type Recipe } from './recipes.js';
import { createLrScheduler, createOptimizer } from './train.js';
import { ExponentialMovingAverage, emaDecay, setWeightDecay } from './utils.js';
import type { Batch, BatchLoaderOptions, BatchSource } from './data/batches.js';
import { mixedTargets } from './data/mix.js';
import { IMAGENET_MEAN, IMAGENET_STD, mixSeed, subset, type PackedImages, type PipelineSpec } from './data/pipeline.js';

/** Why training stopped or refused to start. */
export class TrainError extends Error {
  constructor(
    readonly code: 'nan-loss' | 'resume-mismatch' | 'bad-checkpoint' | 'bad-data' | 'write-failed' | 'replica-failed',
    message: string,
  ) {
    super(message);
    this.name = 'TrainError';
  }
}

/** The splits a run uses: train, validation (per epoch) and, optionally, the held-out test set. */
export interface TrainData {
  train: PackedImages;
  val: PackedImages;
  test?: PackedImages;
  numClasses: number;
}

/** Accuracy and loss of one evaluation (percent; loss averaged over images). */
export interface EvalResult {
  acc1: number;
  acc5: number;
  loss: number;
  images: number;
}

/** A classification model of the registry: NHWC images in, logits out. */
export type Classifier = Module & { forward(x: tf.Tensor4D): tf.Tensor2D };

/** The recipe's model with `numClasses` outputs, its initial weights drawn from `seed`. */
export function buildClassifier(recipe: Recipe, numClasses: number, seed: number): Classifier {
  const entry = CLASSIFICATION_MODELS.get(recipe.args.model);
  const options: Record<string, unknown> = { numClasses };
  if (recipe.stochasticDepthProb > 0) options.stochasticDepthProb = recipe.stochasticDepthProb;
  const model = (entry.build as (o: unknown) => Classifier)(options);
  model.initWeights(seededRng(mixSeed(seed, 0x1417)));
  return model;
}

/** The modules that draw random masks in train mode, in a fixed order. */
function randomModules(model: Module): { rng: Rng }[] {
  const out: { rng: Rng }[] = [];
  const walk = (m: Module) => {
    if (m instanceof Dropout || m instanceof InvertedResidual) out.push(m as unknown as { rng: Rng });
    for (const [, c] of m.namedChildren()) walk(c);
  };
  walk(model);
  return out;
}

/** The pipeline spec of a recipe, for 'train' or 'eval'. */
export function pipelineSpec(recipe: Recipe, mode: 'train' | 'eval'): PipelineSpec {
  const a = recipe.args;
  return {
    mode,
    trainCrop: recipe.trainCrop,
    trainCropSize: a.trainCropSize,
    randomCropPadding: recipe.randomCropPadding,
    hflipProb: recipe.hflipProb,
    autoAugment: a.autoAugment,
    raMagnitude: a.raMagnitude,
    randomErase: a.randomErase,
    valResizeSize: a.valResizeSize,
    valCropSize: a.valCropSize,
    interpolation: a.interpolation === 'nearest' ? 'nearest' : 'bilinear',
    mean: IMAGENET_MEAN,
    std: IMAGENET_STD,
    ...(mode === 'train' ? { mixupAlpha: a.mixupAlpha, cutmixAlpha: a.cutmixAlpha } : {}),
  };
}

/**
 * The training loader's options for replica `rank` of the recipe's `worldSize` (train.py's
 * DistributedSampler share, or RASampler with --ra-sampler); rank 0 of 1 is a run on its own.
 */
export function trainLoaderOptions(recipe: Recipe, seed: number, workers: number, rank = 0): BatchLoaderOptions {
  const a = recipe.args;
  return {
    batchSize: a.batchSize,
    shuffle: true,
    seed,
    workers,
    ...(a.raSampler ? { repetitions: a.raReps } : {}),
    ...(a.worldSize > 1 ? { replica: { rank, worldSize: a.worldSize } } : {}),
  };
}

/** The model's tensors by state_dict key, parameters and buffers (train mode: its variables). For the EMA. */
function namedTensors(model: Module): Map<string, tf.Tensor> {
  const out = new Map<string, tf.Tensor>();
  for (const [key, p] of model.namedStateEntries()) {
    if (p.variable) out.set(key, p.variable);
    else out.set(key, tf.tensor(p.dtype === 'int64' ? Int32Array.from(p.value) : p.value, [...p.shape], p.dtype === 'int64' ? 'int32' : 'float32'));
  }
  return out;
}

/** Disposes what {@link namedTensors} made (not the model's variables). */
function disposeOwned(model: Module, tensors: Map<string, tf.Tensor>): void {
  for (const [key, p] of model.namedStateEntries()) if (!p.variable) tensors.get(key)?.dispose();
}

/** Counts of correct top-1 and top-5 predictions (a [2] int32 tensor). */
export function correct(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => {
    const k = Math.min(5, logits.shape[1]);
    const { indices } = tf.topk(logits, k);
    const hit = tf.cast(tf.equal(indices, tf.expandDims(labels, 1)), 'int32');
    const top1 = tf.sum(tf.slice(hit, [0, 0], [-1, 1]));
    const top5 = tf.sum(hit);
    return tf.stack([top1, top5]) as tf.Tensor1D;
  });
}

/** The index of each row's largest value (the first on ties), `[n][c]` → `[n]`. */
function argmaxRows(x: Float32Array, c: number): Int32Array {
  const out = new Int32Array(x.length / c);
  for (let k = 0; k < out.length; k++) {
    let best = 0;
    for (let j = 1; j < c; j++) if (x[k * c + j]! > x[k * c + best]!) best = j;
    out[k] = best;
  }
  return out;
}

/**
 * The evaluation loader's options: the recipe's batch size, in order. Rank 0 and the replicas both
 * use them, so that their shards' batches are one process's batches.
 */
export function evalLoaderOptions(recipe: Recipe, seed: number, workers: number): BatchLoaderOptions {
  return { batchSize: recipe.args.batchSize, shuffle: false, seed, workers };
}

/** One evaluated batch: its mean loss, its images and its top-1 / top-5 hits. */
export interface EvalBatch {
  loss: number;
  n: number;
  c1: number;
  c5: number;
}

/** {@link evaluate}'s batches, in the loader's order (the pieces a data-parallel evaluation gathers). */
export async function evaluateBatches(model: Classifier, loader: BatchSource, labelSmoothing = 0): Promise<EvalBatch[]> {
  const out: EvalBatch[] = [];
  for await (const b of loader.epoch(0)) {
    const [loss, hits] = tf.tidy(() => {
      const x = tf.tensor4d(b.images, [b.n, b.size, b.size, 3]);
      const y = tf.tensor1d(b.labels, 'int32');
      const logits = model.forward(x);
      return [crossEntropy(logits, y, { labelSmoothing }), correct(logits, y)];
    });
    const h = await hits.data();
    out.push({ loss: (await loss.data())[0]!, n: b.n, c1: h[0]!, c5: h[1]! });
    tf.dispose([loss, hits]);
  }
  return out;
}

/** Acc@1, acc@5 and mean loss of evaluated batches, summed in their order. */
export function summarizeEval(batches: readonly EvalBatch[]): EvalResult {
  let n = 0;
  let c1 = 0;
  let c5 = 0;
  let lossSum = 0;
  for (const b of batches) {
    lossSum += b.loss * b.n;
    c1 += b.c1;
    c5 += b.c5;
    n += b.n;
  }
  return { acc1: (100 * c1) / n, acc5: (100 * c5) / n, loss: lossSum / n, images: n };
}

/**
 * Evaluates a model (eval mode: BatchNorm's running statistics, no dropout) on a split: acc@1,
 * acc@5 in percent and the mean cross-entropy (with the recipe's label smoothing, as train.py's
 * evaluate uses the training criterion).
 */
export async function evaluate(model: Classifier, loader: BatchSource, labelSmoothing = 0): Promise<EvalResult> {
  return summarizeEval(await evaluateBatches(model, loader, labelSmoothing));
}

/**
 * Replica `rank`'s shard of a split of `images` to evaluate, out of `worldSize`: whole batches of
 * `batchSize`, contiguous and in rank order (possibly none), so that the replicas' batches, put
 * together, are one process's batches and every image is counted once (torch's DistributedSampler
 * pads the split with repeats instead).
 */
export function evalShard(images: PackedImages, batchSize: number, rank: number, worldSize: number): PackedImages {
  const batches = Math.ceil(images.length / batchSize);
  const [start, end] = [rank, rank + 1].map((r) => Math.min(images.length, Math.floor((r * batches) / worldSize) * batchSize)) as [number, number];
  return subset(images, Array.from({ length: end - start }, (_, i) => start + i));
}

/**
 * What a resumed run may change: its length (as train.py's `--epochs` on a resume) and where it
 * reads and writes. Everything else continues as the checkpoint's run had it.
 */
const RESUME_MAY_CHANGE = ['epochs', 'data_path', 'output_dir', 'resume', 'start_epoch', 'workers', 'print_freq', 'device'];

function checkResumeArgs(args: unknown, mine: PythonObject): void {
  if (!(args instanceof PythonObject)) throw new TrainError('bad-checkpoint', 'resume: the checkpoint has no train.py `args` Namespace: it is not a train.py checkpoint');
  // What the run is (recipe, model, classes) first, then its arguments in train.py's order.
  const first = ['recipe', 'model', 'num_classes'];
  const rank = (k: string) => (first.includes(k) ? first.indexOf(k) : first.length);
  const diffs = namespaceDifferences(args, mine, RESUME_MAY_CHANGE).sort((x, y) => rank(x.key) - rank(y.key));
  if (diffs.length) {
    throw new TrainError(
      'resume-mismatch',
      `resume: the checkpoint was written by another run: ${diffs.map((d) => `${d.key} ${JSON.stringify(d.a)} (this run: ${JSON.stringify(d.b)})`).join(', ')}; a resumed run keeps its arguments (only the epochs may grow), start a new run to change them`,
    );
  }
}

/** One training step's outcome. */
export interface StepResult {
  epoch: number;
  step: number;
  loss: number;
  /** The learning rate of the step (the epoch's: the scheduler steps per epoch). */
  lr: number;
  /** Images in the batch, and how many of them the model ranked right at top-1 / top-5 (before the update). */
  n: number;
  correct1: number;
  correct5: number;
  /** Milliseconds from the batch's arrival to the end of the update. */
  ms: number;
}

/** Options of {@link Trainer}. */
export interface TrainerOptions {
  numClasses: number;
  /** Seed of the initial weights and the masks (default 0); the loaders take the same seed. */
  seed?: number;
  /**
   * Weights to start from instead of the seeded initialisation (train.py's --weights:
   * `recipeWeights`), loaded strictly before the EMA copies the model, as train.py builds its EMA
   * from the pretrained model.
   */
  weights?: StateDict;
  /**
   * This trainer's end of a data-parallel group (one of the recipe's `worldSize` replicas): each
   * step's gradients are averaged over the group before the update, as DistributedDataParallel
   * does; the replica's rank also seeds its dropout / stochastic-depth masks. Needed exactly when
   * the recipe's `worldSize` is above 1 (`train()` makes the group in Node).
   */
  averager?: GradientAverager;
}

/**
 * The entry of the model's weights table the recipe's `weights` names (train.py's --weights), or
 * undefined when it trains from scratch; an unknown name is a `RecipeError` listing the valid ones.
 */
export function recipeWeightsEntry(recipe: Recipe): Weights | undefined {
  const { model, weights: name } = recipe.args;
  if (name === null) return undefined;
  try {
    return getWeights(CLASSIFICATION_MODELS.get(model).weights, name, model);
  } catch (e) {
    throw new RecipeError('invalid-value', `--weights: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/**
 * train.py's --weights: the recipe's weights entry of its model's table (`IMAGENET1K_V1`,
 * `FASHION_MNIST_V1`…), fetched through the checked hub, or undefined when the recipe trains from
 * scratch. As TorchVision's builders, the entry's class count must be the data's.
 */
export async function recipeWeights(recipe: Recipe, numClasses: number): Promise<StateDict | undefined> {
  const entry = recipeWeightsEntry(recipe);
  if (!entry) return undefined;
  const name = recipe.args.weights;
  try {
    overwriteValueParam('num_classes', numClasses, entry.meta.categories.length);
  } catch (e) {
    throw new RecipeError('invalid-value', `weights (--weights) ${name} classify ${entry.meta.categories.length} classes, the data has ${numClasses} (TorchVision: ${(e as Error).message})`);
  }
  return resolveStateDict(entry);
}

/**
 * train.py's classification training state and step, platform-free (Node or a page): the model
 * (train mode), its parameter groups, the optimiser, the LR schedule and the EMA. Needs
 * `import '@mnv3/layers/train'` and a tfjs backend (WASM).
 *
 * @example
 * const trainer = new Trainer(recipe, { numClasses: 10, seed: 0 });
 * for await (const b of loader.epoch(0)) console.log((await trainer.step(b, 0)).loss);
 * trainer.endEpoch();
 */
export class Trainer {
  readonly model: Classifier;
  readonly optimizer: Optimizer<{ lr: number }>;
  scheduler: Scheduler;
  readonly ema: ExponentialMovingAverage | null = null;
  readonly seed: number;
  readonly numClasses: number;
  private readonly masks: { rng: Rng }[];
  private readonly params: tf.Variable[];
  private readonly averager: GradientAverager | null;
  /** This replica's rank in its data-parallel group (0 on its own). */
  readonly rank: number;

  constructor(
    readonly recipe: Recipe,
    options: TrainerOptions,
  ) {
    assertTrainable(recipe);
    const a = recipe.args;
    this.seed = options.seed ?? 0;
    this.numClasses = options.numClasses;
    this.averager = options.averager ?? null;
    this.rank = this.averager?.rank ?? 0;
    if ((this.averager?.worldSize ?? 1) !== a.worldSize) {
      throw new RecipeError(
        'not-trainable',
        `recipe ${recipe.name} trains on ${a.worldSize} processes (world_size) but this trainer is ${this.averager ? `one of ${this.averager.worldSize}` : 'on its own'}: train() starts the replicas in Node (mnv3 train --nproc-per-node N)`,
      );
    }
    this.model = buildClassifier(recipe, this.numClasses, this.seed);
    if (options.weights) this.model.loadStateDict(options.weights);
    this.model.train();
    const variables = new Map(this.model.namedParameters());
    const groups = setWeightDecay(this.model, a.weightDecay, {
      ...(a.normWeightDecay !== null ? { normWeightDecay: a.normWeightDecay } : {}),
      ...(a.biasWeightDecay !== null ? { customKeysWeightDecay: [['bias', a.biasWeightDecay] as const] } : {}),
      resolve: (key) => variables.get(key)!,
    });
    this.optimizer =
      a.opt === 'rmsprop'
        ? (new RMSprop(groups, { lr: a.lr, momentum: a.momentum, eps: recipe.rmspropEps, alpha: recipe.rmspropAlpha, epsPlacement: recipe.epsPlacement }) as unknown as Optimizer<{ lr: number }>)
        : (createOptimizer(a.opt, groups, { lr: a.lr, momentum: a.momentum, weightDecay: a.weightDecay }) as unknown as Optimizer<{ lr: number }>);
    this.scheduler = createLrScheduler(this.optimizer as never, { ...a, epochs: a.epochs });
    if (recipe.lrNoise) this.scheduler = new LRNoise(this.scheduler, { noiseRangeT: recipe.lrNoise.noiseRangeT, noisePct: recipe.lrNoise.noisePct, noiseStd: recipe.lrNoise.noiseStd, noiseSeed: recipe.lrNoise.noiseSeed });
    if (a.modelEma) {
      const t = namedTensors(this.model);
      const ema = new ExponentialMovingAverage(t, { decay: emaDecay({ modelEmaDecay: a.modelEmaDecay, modelEmaSteps: a.modelEmaSteps, batchSize: a.batchSize, epochs: a.epochs, worldSize: a.worldSize }) });
      // The average holds copies (its variables share data until assigned): keep its own.
      ema.updateParameters(t);
      ema.nAveraged = 0;
      disposeOwned(this.model, t);
      this.ema = ema;
    }
    this.masks = randomModules(this.model);
    this.params = this.model.parameters();
  }

  /**
   * The checkpoint's `args`: the recipe's train.py Namespace (`recipeNamespace`) with this run's class
   * count and seed, so that a resume can continue the run from the checkpoint alone.
   */
  checkpointArgs(): PythonObject {
    const ns = recipeNamespace(this.recipe);
    ns.attributes.set('num_classes', this.numClasses);
    ns.attributes.set('seed', this.seed);
    return ns;
  }

  /** The current learning rate (of the first parameter group). */
  get lr(): number {
    return this.optimizer.paramGroups[0]!.lr;
  }

  /**
   * Restores the model, optimiser, LR schedule and EMA from a train.py checkpoint dict (as
   * `loadTorchCheckpoint` reads it), after checking it was written by a run of this recipe.
   * Returns the epoch to go on with (the checkpoint's + 1). `source` names it in errors.
   */
  resume(ckpt: unknown, source: string): number {
    if (!(ckpt instanceof Map) || !ckpt.has('model') || !ckpt.has('optimizer') || !ckpt.has('epoch')) {
      throw new TrainError('bad-checkpoint', `resume: ${source} is not a train.py checkpoint (it needs model, optimizer, lr_scheduler, epoch, args)`);
    }
    checkResumeArgs(ckpt.get('args'), this.checkpointArgs());
    try {
      this.model.loadStateDict(ckpt.get('model') as StateDict);
    } catch (e) {
      throw new TrainError('resume-mismatch', `resume: the checkpoint's model does not fit ${this.recipe.args.model} with ${this.numClasses} classes: ${e instanceof Error ? e.message : String(e)}`);
    }
    this.model.train();
    this.optimizer.loadStateDict(ckpt.get('optimizer'));
    this.scheduler.loadStateDict(ckpt.get('lr_scheduler') as never);
    if (this.ema) {
      const e = ckpt.get('model_ema');
      if (!e) throw new TrainError('resume-mismatch', 'resume: the recipe averages the weights (--model-ema) but the checkpoint has no model_ema');
      this.ema.loadStateDict(e as StateDict);
    }
    return Number(ckpt.get('epoch')) + 1;
  }

  /**
   * One optimiser step on a batch of epoch `epoch`: forward, cross-entropy (label smoothing),
   * gradients, the update (only on a finite loss; a non-finite one throws `nan-loss`), the EMA.
   */
  async step(b: Batch, epoch: number): Promise<StepResult> {
    const a = this.recipe.args;
    const s0 = performance.now();
    const lr = this.lr;
    const rank = this.rank === 0 ? [] : [this.rank];
    this.masks.forEach((m, k) => (m.rng = seededRng(mixSeed(this.seed, 0xd7, epoch, b.step, k, ...rank))));
    // A mixed batch (--mixup-alpha / --cutmix-alpha) trains on soft targets; its accuracy counts
    // their argmax, as train.py's utils.accuracy does with 2-D targets.
    const soft = b.lambda === undefined ? null : mixedTargets(b.labels, b.lambda, this.numClasses);
    const labels = soft ? argmaxRows(soft, this.numClasses) : b.labels;
    const { value, grads, hits } = tf.tidy(() => {
      const x = tf.tensor4d(b.images, [b.n, b.size, b.size, 3]);
      const y = tf.tensor1d(labels, 'int32');
      const target = soft ? tf.tensor2d(soft, [b.n, this.numClasses]) : y;
      let hitsT: tf.Tensor | null = null;
      const g = tf.variableGrads(() => {
        const logits = this.model.forward(x);
        hitsT = tf.keep(correct(logits, y));
        return crossEntropy(logits, target, { labelSmoothing: a.labelSmoothing });
      }, this.params);
      return { value: g.value, grads: g.grads, hits: hitsT! };
    });
    // Read the loss without blocking the thread; step only on a finite one.
    const [lossData, h] = await Promise.all([value.data(), hits.data()]);
    const loss = lossData[0]!;
    let update: Gradients = grads;
    const owned: tf.Tensor[] = [];
    let notFinite = Number.isFinite(loss) ? [] : [this.rank];
    if (this.averager) {
      // DDP's all-reduce, which backward runs: every replica then clips and steps alike.
      const r = await this.averager.average(this.params.map((p) => grads[p.name]!), notFinite.length === 0);
      if (r.finite) {
        owned.push(...r.grads);
        update = new Map(this.params.map((p, i) => [p, r.grads[i]!]));
      } else notFinite = r.ranks;
    }
    if (notFinite.length === 0) {
      // train.py's --clip-grad-norm: clip_grad_norm_ between backward and the optimiser step.
      if (a.clipGradNorm !== null) {
        const c = clipGradNorm(update, a.clipGradNorm);
        owned.push(...(c.grads instanceof Map ? c.grads.values() : Object.values(c.grads)), c.totalNorm);
        update = c.grads;
      }
      this.optimizer.step(update);
    }
    tf.dispose([value, hits, ...Object.values(grads), ...owned]);
    if (notFinite.length > 0) {
      const whose = this.averager ? `the loss of process ${notFinite.join(', ')} of ${this.averager.worldSize} is not finite` : `loss is ${loss}`;
      throw new TrainError('nan-loss', `${whose} at epoch ${epoch}, step ${b.step} (learning rate ${lr}); training stopped`);
    }
    if (this.ema && b.step % a.modelEmaSteps === 0) {
      const t = namedTensors(this.model);
      this.ema.updateParameters(t);
      disposeOwned(this.model, t);
      if (epoch < a.lrWarmupEpochs) this.ema.nAveraged = 0;
    }
    return { epoch, step: b.step, loss, lr, n: b.n, correct1: h[0]!, correct5: h[1]!, ms: performance.now() - s0 };
  }

  /**
   * Steps through epoch `epoch` of `loader` (from `fromStep`, at most `maxSteps` steps), calling
   * `onStep` after each. Does not step the scheduler: call {@link endEpoch} after a whole epoch.
   */
  async trainEpoch(epoch: number, loader: BatchSource, options: { fromStep?: number; maxSteps?: number; onStep?: (s: StepResult) => void } = {}): Promise<StepResult[]> {
    const out: StepResult[] = [];
    const max = options.maxSteps ?? Infinity;
    if (out.length >= max) return out;
    for await (const b of loader.epoch(epoch, options.fromStep ?? 0)) {
      const s = await this.step(b, epoch);
      out.push(s);
      options.onStep?.(s);
      if (out.length >= max) break;
    }
    return out;
  }

  /** The end of an epoch: the LR scheduler's step (train.py steps it once per epoch). */
  endEpoch(): void {
    this.scheduler.step();
  }

  dispose(): void {
    this.optimizer.dispose?.();
    this.ema?.dispose();
    this.model.dispose();
  }
}
