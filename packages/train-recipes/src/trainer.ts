// ↔ references/classification/train.py's main() (TorchVision 0.14), on tfjs (Node). The training
// state and step are train-core.ts's Trainer (pages run the same); here, per epoch: one epoch of
// training, evaluation of acc@1 / acc@5 / loss on the validation split (and of the EMA model), train.py's
// checkpoint dict written atomically as `model_<epoch>.pth` and `checkpoint.pth`, `history.json`,
// `log.txt` and `training.svg`. The held-out test split is evaluated once, after the last epoch.
//
// Randomness: the shuffle, each sample's augmentation and the dropout / stochastic-depth masks are
// seeded from (seed, epoch, step), so a run resumed from epoch k's checkpoint takes the very steps
// the uninterrupted run took.
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import * as tf from '@tensorflow/tfjs-core';
import type { Module } from '@mnv3/layers';
import { loadTorchCheckpoint, type StateDict } from '@mnv3/io';
import { writeFileAtomic, writeTorchCheckpoint } from '@mnv3/io/node';
import { trainCheckpoint } from './checkpoint.js';
import { trainingChart } from './charts.js';
import { EpochTally, appendEpoch, formatLog, newHistory, parseHistory, serializeHistory, truncateHistory, type EpochRecord, type TrainHistory } from './history.js';
import { assertTrainable, type Recipe } from './recipes.js';
import { TrainError, Trainer, buildClassifier, evalLoaderOptions, evalShard, evaluate, evaluateBatches, pipelineSpec, summarizeEval, trainLoaderOptions, recipeWeights, type EvalResult, type StepResult, type TrainData } from './train-core.js';
import { averageCheckpoints } from './utils.js';
import { loadRecipeData } from './data/datasets.js';
import { repeatedAugmentationSamples } from './data/batches.js';
import { BatchLoader } from './data/loader.js';
import { ReplicaAbortedError } from './gradient-average.js';
import { ReplicaGroup } from './replicas.js';
import type { PackedImages } from './data/pipeline.js';

export type { EvalResult, TrainData } from './train-core.js';
export { TrainError, evaluate, pipelineSpec } from './train-core.js';

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
  /** Loader worker threads (default 2; 0 = on the training thread), per replica. Results do not depend on it. */
  workers?: number;
  /** Called after each epoch with its record. */
  onEpoch?: (record: EpochRecord) => void;
  /** Called after each step. */
  onStep?: (info: { epoch: number; step: number; steps: number; loss: number; lr: number }) => void;
  /** Evaluate the test split after the last epoch (default true when `data.test` is given). */
  evaluateTest?: boolean;
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

/** The number of parameter values of a model (what a data-parallel step averages). */
function parameterCount(model: Module): number {
  let n = 0;
  for (const [, p] of model.namedStateEntries()) if (p.kind === 'parameter') n += p.shape.reduce((a, d) => a * d, 1);
  return n;
}

function stripModule(sd: StateDict): StateDict {
  const out: StateDict = new Map();
  for (const [k, v] of sd) if (k.startsWith('module.')) out.set(k.slice('module.'.length), v);
  return out;
}

/**
 * The epoch's checkpoint dict as `model_<epoch>.pth`, then `checkpoint.pth`, each atomically. When a
 * write fails (a full disk, a file-size limit) the run stops with a `TrainError('write-failed')` that
 * names the file and the cause: `checkpoint.pth` still holds the previous epoch, ready for `--resume`.
 */
export async function writeEpochCheckpoint(dir: string, epoch: number, ckpt: Map<string, unknown>): Promise<void> {
  for (const name of [`model_${epoch}.pth`, 'checkpoint.pth']) {
    const path = join(dir, name);
    try {
      await writeTorchCheckpoint(path, ckpt);
    } catch (e) {
      const last = join(dir, 'checkpoint.pth');
      const kept = existsSync(last) ? `${last} is unchanged (the previous epoch's): free space, then --resume from it` : `no checkpoint.pth was written in ${dir} before`;
      throw new TrainError('write-failed', `could not write ${path} after epoch ${epoch}: ${e instanceof Error ? e.message : String(e)}; ${kept}`);
    }
  }
}

/** After each epoch: `history.json`, `log.txt` and `training.svg` in `dir`, each written atomically. */
export async function writeEpochFiles(dir: string, history: TrainHistory): Promise<void> {
  await writeFileAtomic(join(dir, 'history.json'), serializeHistory(history));
  await writeFileAtomic(join(dir, 'log.txt'), formatLog(history));
  await writeFileAtomic(join(dir, 'training.svg'), await trainingChart(history));
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
  assertTrainable(recipe);
  if (options.epochs !== undefined) {
    if (!Number.isSafeInteger(options.epochs) || options.epochs < 1) throw new RangeError(`train: epochs must be an integer ≥ 1, got ${String(options.epochs)}`);
    recipe = Object.freeze({ ...recipe, args: Object.freeze({ ...recipe.args, epochs: options.epochs }) });
  }
  const a = recipe.args;
  const seed = options.seed ?? 0;
  const data = options.data ?? (await loadRecipeData(recipe, options.dataDir !== undefined ? { dataDir: options.dataDir } : {}));
  const numClasses = data.numClasses;
  if (data.train.length === 0 || data.val.length === 0) throw new TrainError('bad-data', `train: the train and validation splits need images (got ${data.train.length} and ${data.val.length})`);
  if (a.raSampler && repeatedAugmentationSamples(data.train.length, a.worldSize) === 0) {
    throw new TrainError('bad-data', `train: repeated augmentation (--ra-sampler) keeps ⌊n / 256⌋·256 training images per epoch, as RASampler does: none of these ${data.train.length} images`);
  }
  const weights = await recipeWeights(recipe, numClasses);
  await mkdir(options.outputDir, { recursive: true });

  const workers = options.workers ?? 2;
  const evalModel = buildClassifier(recipe, numClasses, seed);
  // world_size > 1: ranks 1 … N − 1 in worker threads (ReplicaGroup), started once rank 0's checkpoint has loaded.
  let group: ReplicaGroup | null = null;
  const averager = a.worldSize > 1 ? ReplicaGroup.averagerFor(a.worldSize, parameterCount(evalModel)) : null;
  const trainer = new Trainer(recipe, { numClasses, seed, ...(weights ? { weights } : {}), ...(averager ? { averager } : {}) });
  const { model, optimizer, ema } = trainer;
  let startEpoch = 0;
  let history = newHistory(recipe.name);
  if (options.resume) {
    try {
      let ckpt: unknown;
      try {
        ckpt = loadTorchCheckpoint(new Uint8Array(await readFile(options.resume)));
      } catch (e) {
        throw new TrainError('bad-checkpoint', `resume: cannot read ${options.resume}: ${e instanceof Error ? e.message : String(e)}`);
      }
      startEpoch = trainer.resume(ckpt, options.resume);
    } catch (e) {
      trainer.dispose();
      evalModel.dispose();
      throw e;
    }
    try {
      history = truncateHistory(parseHistory(await readFile(join(options.outputDir, 'history.json'), 'utf8')), startEpoch);
    } catch {
      history = newHistory(recipe.name);
    }
  }

  const trainLoader = new BatchLoader(data.train, pipelineSpec(recipe, 'train'), trainLoaderOptions(recipe, seed, workers));
  // With replicas, rank 0 evaluates its shard of each split and the replicas the rest (ReplicaGroup.evaluate).
  const test = data.test && (options.evaluateTest ?? true) && data.test.length > 0 ? data.test : undefined;
  const evalImages = { val: data.val, ...(test ? { test } : {}) };
  const mine = (images: PackedImages) => (averager ? evalShard(images, a.batchSize, 0, a.worldSize) : images);
  const evalLoader = (images: PackedImages) => new BatchLoader(mine(images), pipelineSpec(recipe, 'eval'), evalLoaderOptions(recipe, seed, workers));
  const valLoader = evalLoader(data.val);
  const ls = a.labelSmoothing;
  const stepLosses = new Map<number, number[]>();
  const numTensors: number[] = [];
  const evalWith = async (sd: StateDict, split: 'val' | 'test', loader: BatchLoader): Promise<EvalResult> => {
    evalModel.loadStateDict(sd);
    if (!group) return evaluate(evalModel, loader, ls);
    const [own, others] = await Promise.all([evaluateBatches(evalModel, loader, ls), group.evaluate(split, sd)]);
    return summarizeEval([...own, ...others]);
  };
  let result: TrainResult;
  try {
    if (averager) group = ReplicaGroup.start(averager, { recipe, numClasses, seed, images: data.train, evalImages, workers, ...(weights ? { weights } : {}), ...(options.resume ? { resume: options.resume } : {}) });
    for (let epoch = startEpoch; epoch < a.epochs; epoch++) {
      const t0 = performance.now();
      const lr = trainer.lr;
      const tally = new EpochTally();
      const onStep = (s: StepResult) => {
        tally.add(s);
        numTensors.push(tf.memory().numTensors);
        options.onStep?.({ epoch, step: s.step, steps: trainLoader.stepsPerEpoch, loss: s.loss, lr });
      };
      try {
        await trainer.trainEpoch(epoch, trainLoader, { onStep });
      } catch (e) {
        if (e instanceof TrainError && e.code === 'nan-loss') throw new TrainError('nan-loss', `${e.message}, the last checkpoint (epoch ${epoch - 1}) is kept`);
        if (e instanceof ReplicaAbortedError) throw new TrainError('replica-failed', `${e.message}; training stopped at epoch ${epoch}, the last checkpoint (epoch ${epoch - 1}) is kept`);
        throw e;
      }
      trainer.endEpoch();
      stepLosses.set(epoch, tally.losses);
      const sd = model.stateDict();
      const val = await evalWith(sd, 'val', valLoader);
      let emaEval: EvalResult | undefined;
      if (ema) emaEval = await evalWith(stripModule(await ema.stateDict()), 'val', valLoader);
      group?.proceed();
      const ckpt = await trainCheckpoint({ model: sd, optimizer, lrScheduler: trainer.scheduler, epoch, args: trainer.checkpointArgs(), ...(ema ? { modelEma: ema } : {}) });
      await writeEpochCheckpoint(options.outputDir, epoch, ckpt);
      const record = tally.record(epoch, lr, val, emaEval ? { emaAcc1: emaEval.acc1, emaAcc5: emaEval.acc5 } : {}, (performance.now() - t0) / 1000);
      history = appendEpoch(history, record);
      await writeEpochFiles(options.outputDir, history);
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
      result.averaged = { epochs, val: await evalWith(avg.model, 'val', valLoader) };
    }
    if (test) {
      const testLoader = evalLoader(test);
      try {
        result.test = await evalWith(model.stateDict(), 'test', testLoader);
        if (ema) result.testEma = await evalWith(stripModule(await ema.stateDict()), 'test', testLoader);
        if (averagedSd && result.averaged) result.averaged.test = await evalWith(averagedSd, 'test', testLoader);
      } finally {
        await testLoader.close();
      }
      await writeFileAtomic(join(options.outputDir, 'test.json'), `${JSON.stringify({ recipe: recipe.name, epochs: a.epochs, test: result.test, ...(result.testEma ? { testEma: result.testEma } : {}), ...(result.averaged ? { averaged: result.averaged } : {}) }, null, 2)}\n`);
    }
    group?.proceed(); // to their end
  } finally {
    await group?.close();
    await trainLoader.close();
    await valLoader.close();
    trainer.dispose();
    evalModel.dispose();
  }
  return result;
}
