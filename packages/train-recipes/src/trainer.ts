// ↔ references/classification/train.py's main() / train_one_epoch() / evaluate() (TorchVision
// 0.14), on tfjs (Node): the model from @mnv3/backbone's registry, parameter groups by
// set_weight_decay, the optimiser and LR schedule of the recipe's flags (+ warm-up, + timm's LR
// noise), EMA every `modelEmaSteps` iterations, label smoothing; per epoch: one epoch of training,
// evaluation of acc@1 / acc@5 / loss on the validation split (and of the EMA model), train.py's
// checkpoint dict written atomically as `model_<epoch>.pth` and `checkpoint.pth`, `history.json`,
// `log.txt` and `training.svg`. The held-out test split is evaluated once, after the last epoch.
//
// Randomness: the shuffle, each sample's augmentation and the dropout / stochastic-depth masks are
// seeded from (seed, epoch, step), so a run resumed from epoch k's checkpoint takes the very steps
// the uninterrupted run took.
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import * as tf from '@tensorflow/tfjs-core';
import { PythonObject, loadTorchCheckpoint, type StateDict } from '@mnv3/io';
import { writeFileAtomic, writeTorchCheckpoint } from '@mnv3/io/node';
import { Dropout, InvertedResidual, seededRng, type Module, type Rng } from '@mnv3/layers';
import { CLASSIFICATION_MODELS } from '@mnv3/backbone';
import { trainCheckpoint } from './checkpoint.js';
import { trainingChart } from './charts.js';
import { appendEpoch, formatLog, newHistory, parseHistory, serializeHistory, truncateHistory, type EpochRecord, type TrainHistory } from './history.js';
import { crossEntropy } from './loss.js';
import { LRNoise } from './lr-noise.js';
import type { Scheduler } from './lr-scheduler.js';
import type { Optimizer } from './optim/optimizer.js';
import { RMSprop } from './optim/rmsprop.js';
import type { Recipe } from './recipes.js';
import { createLrScheduler, createOptimizer } from './train.js';
import { ExponentialMovingAverage, averageCheckpoints, emaDecay, setWeightDecay } from './utils.js';
import { loadRecipeData } from './data/datasets.js';
import { BatchLoader } from './data/loader.js';
import { IMAGENET_MEAN, IMAGENET_STD, mixSeed, type PackedImages, type PipelineSpec } from './data/pipeline.js';

/** Why training stopped or refused to start. */
export class TrainError extends Error {
  constructor(
    readonly code: 'nan-loss' | 'resume-mismatch' | 'bad-checkpoint' | 'bad-data',
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

/** Options of {@link train}. */
export interface TrainOptions {
  /** The splits (see `loadRecipeData`); default: `loadRecipeData(recipe, { dataDir })`. */
  data?: TrainData;
  /** Where the recipe's dataset is (Fashion-MNIST's idx folder or an ImageFolder root), when `data` is not given. */
  dataDir?: string;
  /** Overrides the recipe's `epochs` (train.py's `--epochs`; it is also what the checkpoint's args say). */
  epochs?: number;
  /** Where checkpoints, history.json, log.txt and training.svg go (created). */
  outputDir: string;
  /** A train.py checkpoint (`checkpoint.pth` or `model_<k>.pth`) to resume from at epoch k + 1. */
  resume?: string;
  /** Seed of the initial weights, shuffles, augmentations and masks (default 0). */
  seed?: number;
  /** Loader worker threads (default 2; 0 = on the training thread). Results do not depend on it. */
  workers?: number;
  /** Called after each epoch with its record. */
  onEpoch?: (record: EpochRecord) => void;
  /** Called after each step. */
  onStep?: (info: { epoch: number; step: number; steps: number; loss: number; lr: number }) => void;
  /** Evaluate the test split after the last epoch (default true when `data.test` is given). */
  evaluateTest?: boolean;
}

/** Accuracy and loss of one evaluation (percent; loss averaged over images). */
export interface EvalResult {
  acc1: number;
  acc5: number;
  loss: number;
  images: number;
}

/** What {@link train} returns. */
export interface TrainResult {
  history: TrainHistory;
  /** Per epoch run here, the training loss of every step (what exact resume is tested on). */
  stepLosses: Map<number, number[]>;
  test?: EvalResult;
  testEma?: EvalResult;
  /**
   * The recipe's checkpoint averaging (`averageLastImproved` > 0): the epochs averaged (the last N
   * whose validation acc@1 beat every earlier epoch's), written as `model_avg.pth`, its validation
   * and test results.
   */
  averaged?: { epochs: number[]; val: EvalResult; test?: EvalResult };
  /** tf.memory().numTensors after each step of the run (flat when nothing leaks). */
  numTensors: number[];
}

type Classifier = Module & { forward(x: tf.Tensor4D): tf.Tensor2D };

function buildModel(recipe: Recipe, numClasses: number, seed: number): Classifier {
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

/**
 * Evaluates a model (eval mode: BatchNorm's running statistics, no dropout) on a split: acc@1,
 * acc@5 in percent and the mean cross-entropy (with the recipe's label smoothing, as train.py's
 * evaluate uses the training criterion).
 */
export async function evaluate(model: Classifier, loader: BatchLoader, labelSmoothing = 0): Promise<EvalResult> {
  let n = 0;
  let c1 = 0;
  let c5 = 0;
  let lossSum = 0;
  for await (const b of loader.epoch(0)) {
    const [loss, hits] = tf.tidy(() => {
      const x = tf.tensor4d(b.images, [b.n, b.size, b.size, 3]);
      const y = tf.tensor1d(b.labels, 'int32');
      const logits = model.forward(x);
      return [crossEntropy(logits, y, { labelSmoothing }), correct(logits, y)];
    });
    const h = await hits.data();
    lossSum += (await loss.data())[0]! * b.n;
    c1 += h[0]!;
    c5 += h[1]!;
    n += b.n;
    tf.dispose([loss, hits]);
  }
  return { acc1: (100 * c1) / n, acc5: (100 * c5) / n, loss: lossSum / n, images: n };
}

function checkResumeArgs(args: unknown, recipe: Recipe, numClasses: number): void {
  if (!(args instanceof PythonObject)) throw new TrainError('bad-checkpoint', 'resume: the checkpoint has no train.py `args` Namespace: it is not a train.py checkpoint');
  const a = args.attributes;
  const want: [string, unknown][] = [
    ['recipe', recipe.name],
    ['model', recipe.args.model],
    ['num_classes', numClasses],
    ['opt', recipe.args.opt],
    ['batch_size', recipe.args.batchSize],
    ['train_crop_size', recipe.args.trainCropSize],
  ];
  const diffs = want.filter(([k, v]) => a.has(k) && Number.isFinite(Number(v)) ? Number(a.get(k)) !== Number(v) : a.get(k) !== v);
  if (diffs.length) {
    throw new TrainError(
      'resume-mismatch',
      `resume: the checkpoint was written by another run: ${diffs.map(([k, v]) => `${k} ${JSON.stringify(String(a.get(k)))} (this run: ${JSON.stringify(String(v))})`).join(', ')}`,
    );
  }
}

function stripModule(sd: StateDict): StateDict {
  const out: StateDict = new Map();
  for (const [k, v] of sd) if (k.startsWith('module.')) out.set(k.slice('module.'.length), v);
  return out;
}

/**
 * train.py's loop for classification on tfjs. Needs `import '@mnv3/layers/train'` and a tfjs
 * backend set up (WASM in Node). Writes into `outputDir` after every epoch.
 *
 * @example
 * const recipe = getRecipe('mobilenet_v3_small-fashion-mnist', { epochs: 1 });
 * const data = await loadRecipeData(recipe);
 * await train(recipe, { data, outputDir: 'runs/fm' });
 */
export async function train(recipe: Recipe, options: TrainOptions): Promise<TrainResult> {
  if (options.epochs !== undefined) {
    if (!Number.isSafeInteger(options.epochs) || options.epochs < 1) throw new RangeError(`train: epochs must be an integer ≥ 1, got ${String(options.epochs)}`);
    recipe = Object.freeze({ ...recipe, args: Object.freeze({ ...recipe.args, epochs: options.epochs }) });
  }
  const a = recipe.args;
  const seed = options.seed ?? 0;
  const data = options.data ?? (await loadRecipeData(recipe, options.dataDir !== undefined ? { dataDir: options.dataDir } : {}));
  const numClasses = data.numClasses;
  if (data.train.length === 0 || data.val.length === 0) throw new TrainError('bad-data', `train: the train and validation splits need images (got ${data.train.length} and ${data.val.length})`);
  await mkdir(options.outputDir, { recursive: true });

  const model = buildModel(recipe, numClasses, seed);
  const evalModel = buildModel(recipe, numClasses, seed);
  let resumeCkpt: Map<string, unknown> | null = null;
  if (options.resume) {
    let ckpt: unknown;
    try {
      ckpt = loadTorchCheckpoint(new Uint8Array(await readFile(options.resume)));
    } catch (e) {
      throw new TrainError('bad-checkpoint', `resume: cannot read ${options.resume}: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (!(ckpt instanceof Map) || !ckpt.has('model') || !ckpt.has('optimizer') || !ckpt.has('epoch')) {
      throw new TrainError('bad-checkpoint', `resume: ${options.resume} is not a train.py checkpoint (it needs model, optimizer, lr_scheduler, epoch, args)`);
    }
    checkResumeArgs(ckpt.get('args'), recipe, numClasses);
    try {
      model.loadStateDict(ckpt.get('model') as StateDict);
    } catch (e) {
      throw new TrainError('resume-mismatch', `resume: the checkpoint's model does not fit ${a.model} with ${numClasses} classes: ${e instanceof Error ? e.message : String(e)}`);
    }
    resumeCkpt = ckpt as Map<string, unknown>;
  }
  model.train();
  const variables = new Map(model.namedParameters());
  const groups = setWeightDecay(model, a.weightDecay, {
    ...(a.normWeightDecay !== null ? { normWeightDecay: a.normWeightDecay } : {}),
    ...(a.biasWeightDecay !== null ? { customKeysWeightDecay: [['bias', a.biasWeightDecay] as const] } : {}),
    resolve: (key) => variables.get(key)!,
  });
  const optimizer: Optimizer<{ lr: number }> =
    a.opt === 'rmsprop'
      ? (new RMSprop(groups, { lr: a.lr, momentum: a.momentum, eps: recipe.rmspropEps, alpha: recipe.rmspropAlpha, epsPlacement: recipe.epsPlacement }) as unknown as Optimizer<{ lr: number }>)
      : (createOptimizer(a.opt, groups, { lr: a.lr, momentum: a.momentum, weightDecay: a.weightDecay }) as unknown as Optimizer<{ lr: number }>);
  let scheduler: Scheduler = createLrScheduler(optimizer as never, { ...a, epochs: a.epochs });
  if (recipe.lrNoise) scheduler = new LRNoise(scheduler, { noiseRangeT: recipe.lrNoise.noiseRangeT, noisePct: recipe.lrNoise.noisePct, noiseStd: recipe.lrNoise.noiseStd, noiseSeed: recipe.lrNoise.noiseSeed });
  let ema: ExponentialMovingAverage | null = null;
  if (a.modelEma) {
    const t = namedTensors(model);
    ema = new ExponentialMovingAverage(t, { decay: emaDecay({ modelEmaDecay: a.modelEmaDecay, modelEmaSteps: a.modelEmaSteps, batchSize: a.batchSize, epochs: a.epochs, worldSize: a.worldSize }) });
    // The average holds copies (its variables share data until assigned): keep its own.
    ema.updateParameters(t);
    ema.nAveraged = 0;
    disposeOwned(model, t);
  }
  let startEpoch = 0;
  let history = newHistory(recipe.name);
  if (resumeCkpt) {
    optimizer.loadStateDict(resumeCkpt.get('optimizer'));
    scheduler.loadStateDict(resumeCkpt.get('lr_scheduler') as never);
    if (ema) {
      const e = resumeCkpt.get('model_ema');
      if (!e) throw new TrainError('resume-mismatch', 'resume: the recipe averages the weights (--model-ema) but the checkpoint has no model_ema');
      ema.loadStateDict(e as StateDict);
    }
    startEpoch = Number(resumeCkpt.get('epoch')) + 1;
    try {
      history = truncateHistory(parseHistory(await readFile(join(options.outputDir, 'history.json'), 'utf8')), startEpoch);
    } catch {
      history = newHistory(recipe.name);
    }
  }

  const workers = options.workers ?? 2;
  const trainLoader = new BatchLoader(data.train, pipelineSpec(recipe, 'train'), { batchSize: a.batchSize, shuffle: true, seed, workers });
  const valLoader = new BatchLoader(data.val, pipelineSpec(recipe, 'eval'), { batchSize: a.batchSize, shuffle: false, seed, workers });
  const masks = randomModules(model);
  const ls = a.labelSmoothing;
  const params = model.parameters();
  const stepLosses = new Map<number, number[]>();
  const numTensors: number[] = [];
  const evalWith = async (sd: StateDict, loader: BatchLoader): Promise<EvalResult> => {
    evalModel.loadStateDict(sd);
    return evaluate(evalModel, loader, ls);
  };
  let result: TrainResult;
  try {
    for (let epoch = startEpoch; epoch < a.epochs; epoch++) {
      const t0 = performance.now();
      const lr = optimizer.paramGroups[0]!.lr;
      const losses: number[] = [];
      let n = 0;
      let c1 = 0;
      let c5 = 0;
      let lossSum = 0;
      let trainMs = 0;
      for await (const b of trainLoader.epoch(epoch)) {
        const s0 = performance.now();
        masks.forEach((m, k) => (m.rng = seededRng(mixSeed(seed, 0xd7, epoch, b.step, k))));
        const { value, grads, hits } = tf.tidy(() => {
          const x = tf.tensor4d(b.images, [b.n, b.size, b.size, 3]);
          const y = tf.tensor1d(b.labels, 'int32');
          let hitsT: tf.Tensor | null = null;
          const g = tf.variableGrads(() => {
            const logits = model.forward(x);
            hitsT = tf.keep(correct(logits, y));
            return crossEntropy(logits, y, { labelSmoothing: ls });
          }, params);
          return { value: g.value, grads: g.grads, hits: hitsT! };
        });
        // Read the loss without blocking the thread; step only on a finite one.
        const [lossData, h] = await Promise.all([value.data(), hits.data()]);
        const loss = lossData[0]!;
        if (Number.isFinite(loss)) optimizer.step(grads);
        tf.dispose([value, hits, ...Object.values(grads)]);
        if (!Number.isFinite(loss)) {
          throw new TrainError('nan-loss', `loss is ${loss} at epoch ${epoch}, step ${b.step} (learning rate ${lr}); training stopped, the last checkpoint (epoch ${epoch - 1}) is kept`);
        }
        if (ema && b.step % a.modelEmaSteps === 0) {
          const t = namedTensors(model);
          ema.updateParameters(t);
          disposeOwned(model, t);
          if (epoch < a.lrWarmupEpochs) ema.nAveraged = 0;
        }
        trainMs += performance.now() - s0;
        losses.push(loss);
        lossSum += loss * b.n;
        c1 += h[0]!;
        c5 += h[1]!;
        n += b.n;
        numTensors.push(tf.memory().numTensors);
        options.onStep?.({ epoch, step: b.step, steps: trainLoader.stepsPerEpoch, loss, lr });
      }
      scheduler.step();
      stepLosses.set(epoch, losses);
      const sd = model.stateDict();
      const val = await evalWith(sd, valLoader);
      let emaEval: EvalResult | undefined;
      if (ema) emaEval = await evalWith(stripModule(await ema.stateDict()), valLoader);
      const ckpt = await trainCheckpoint({ model: sd, optimizer, lrScheduler: scheduler, epoch, args: recipe, ...(ema ? { modelEma: ema } : {}) });
      await writeTorchCheckpoint(join(options.outputDir, `model_${epoch}.pth`), ckpt);
      await writeTorchCheckpoint(join(options.outputDir, 'checkpoint.pth'), ckpt);
      const record: EpochRecord = {
        epoch,
        lr,
        trainLoss: lossSum / n,
        trainAcc1: (100 * c1) / n,
        trainAcc5: (100 * c5) / n,
        imgPerSec: (1000 * n) / trainMs,
        valLoss: val.loss,
        valAcc1: val.acc1,
        valAcc5: val.acc5,
        ...(emaEval ? { emaAcc1: emaEval.acc1, emaAcc5: emaEval.acc5 } : {}),
        seconds: (performance.now() - t0) / 1000,
      };
      history = appendEpoch(history, record);
      await writeFileAtomic(join(options.outputDir, 'history.json'), serializeHistory(history));
      await writeFileAtomic(join(options.outputDir, 'log.txt'), formatLog(history));
      await writeFileAtomic(join(options.outputDir, 'training.svg'), await trainingChart(history));
      options.onEpoch?.(record);
    }
    result = { history, stepLosses, numTensors };
    let averagedSd: StateDict | null = null;
    if (recipe.averageLastImproved > 0 && history.epochs.length > 0) {
      let best = -Infinity;
      const improved: number[] = [];
      for (const e of history.epochs) {
        if (e.valAcc1 > best) {
          best = e.valAcc1;
          improved.push(e.epoch);
        }
      }
      const epochs = improved.slice(-recipe.averageLastImproved);
      const files = await Promise.all(epochs.map(async (e) => new Uint8Array(await readFile(join(options.outputDir, `model_${e}.pth`)))));
      const avg = averageCheckpoints(files);
      await writeTorchCheckpoint(join(options.outputDir, 'model_avg.pth'), avg.checkpoint);
      averagedSd = avg.model;
      result.averaged = { epochs, val: await evalWith(avg.model, valLoader) };
    }
    if (data.test && (options.evaluateTest ?? true) && data.test.length > 0) {
      const testLoader = new BatchLoader(data.test, pipelineSpec(recipe, 'eval'), { batchSize: a.batchSize, shuffle: false, seed, workers });
      try {
        result.test = await evalWith(model.stateDict(), testLoader);
        if (ema) result.testEma = await evalWith(stripModule(await ema.stateDict()), testLoader);
        if (averagedSd && result.averaged) result.averaged.test = await evalWith(averagedSd, testLoader);
      } finally {
        await testLoader.close();
      }
      await writeFileAtomic(join(options.outputDir, 'test.json'), `${JSON.stringify({ recipe: recipe.name, epochs: a.epochs, test: result.test, ...(result.testEma ? { testEma: result.testEma } : {}), ...(result.averaged ? { averaged: result.averaged } : {}) }, null, 2)}\n`);
    }
  } finally {
    await trainLoader.close();
    await valLoader.close();
    optimizer.dispose?.();
    ema?.dispose();
    model.dispose();
    evalModel.dispose();
  }
  return result;
}
