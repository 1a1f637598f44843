// ↔ references/classification/train_quantization.py's main() (TorchVision 0.14), eager-mode QAT on
// tfjs (Node): a trained float model (`--weights`) fused and prepared with qnnpack's QAT qconfig
// (@mnv3/quantize/qat's prepareQat), SGD over every parameter, StepLR, train.py's
// train_one_epoch; after each epoch: lr_scheduler.step(), observers disabled once epoch ≥
// --num-observer-update-epochs, BatchNorm frozen once epoch ≥ --num-batch-norm-update-epochs, the
// QAT model evaluated on the validation split (eval mode; observers still observe until disabled,
// as torch's do), a copy converted to int8 and evaluated, and the checkpoint ({model, optimizer,
// lr_scheduler, epoch, args}) written as model_<epoch>.pth / checkpoint.pth. After the last epoch:
// the int8 model as int8 safetensors (`quantized.safetensors`) and its test-split accuracy in test.json.
// `resume` continues from an epoch's checkpoint as train.py's --resume does (model with its observer
// state, optimizer, lr_scheduler, epoch). Not ported: the checkpoint's `eval_model` (torch's packed
// quantized state_dict).
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import * as tf from '@tensorflow/tfjs-core';
import { PythonObject, findStateDict, loadTorchCheckpoint, readCheckpoint, sniffCheckpointFormat, type StateDict } from '@mnv3/io';
import { writeFileAtomic } from '@mnv3/io/node';
import { seededRng } from '@mnv3/layers';
import { QuantizationError, WasmQuantizedMobileNetV3, saveQuantized, type QuantizedMobileNetV3 } from '@mnv3/quantize';
import { type QatMobileNetV3, convertQat, disableObserver, enableFakeQuant, enableObserver, freezeBnStats, prepareQat } from '@mnv3/quantize/qat';
import { writeEpochCheckpoint, writeEpochFiles, type TrainOptions } from './trainer.js';
import { EpochTally, appendEpoch, newHistory, parseHistory, truncateHistory, type TrainHistory } from './history.js';
import { crossEntropy } from './loss.js';
import { SGD } from './optim/sgd.js';
import { StepLR } from './lr-scheduler.js';
import { qatRecipeNamespace, type QatRecipe } from './recipes.js';
import { loadRecipeData } from './data/datasets.js';
import { BatchLoader } from './data/loader.js';
import { mixSeed, type PackedImages } from './data/pipeline.js';
import { TrainError, correct, evaluate, pipelineSpec, type EvalResult } from './train-core.js';
import { trainCheckpoint } from './checkpoint.js';

/** Options of {@link trainQat}: `train()`'s but `epochs` (the QAT recipe's), and the float model to start from. */
export interface TrainQatOptions extends Omit<TrainOptions, 'epochs'> {
  /** The float model to start from: a train.py checkpoint / state dict file (`model`, or `model_ema` with `ema`), or a state dict. */
  weights: string | StateDict;
  /** With a train.py checkpoint file: start from its EMA weights (`model_ema`). */
  ema?: boolean;
}

export interface TrainQatResult {
  history: TrainHistory;
  stepLosses: Map<number, number[]>;
  /** The int8 model after the last epoch (what `quantized.safetensors` holds). */
  int8: QuantizedMobileNetV3;
  /** The test split: the QAT model (fake quant) and the int8 model. */
  test?: { qat: EvalResult; int8: EvalResult };
  /** Share of test images where the int8 model's top-1 equals the QAT model's. */
  agreement?: number;
}

/**
 * The float state dict `--weights` names: a train.py checkpoint's `model` (or `model_ema`, `module.`
 * stripped), a plain state dict, or a .safetensors file (a weights entry's, e.g. FASHION_MNIST_V1's).
 */
async function floatWeights(w: string | StateDict, ema: boolean): Promise<StateDict> {
  if (typeof w !== 'string') return w;
  let ckpt: unknown;
  try {
    const bytes = new Uint8Array(await readFile(w));
    if (!ema && sniffCheckpointFormat(bytes) === 'safetensors') return readCheckpoint(bytes);
    ckpt = loadTorchCheckpoint(bytes);
  } catch (e) {
    throw new TrainError('bad-checkpoint', `--weights ${w}: cannot read it as a torch checkpoint: ${e instanceof Error ? e.message : String(e)}`);
  }
  const sd = findStateDict(ckpt, ema ? 'model_ema' : undefined);
  return ema ? new Map([...sd].filter(([k]) => k.startsWith('module.')).map(([k, v]) => [k.slice('module.'.length), v])) : sd;
}

/** Evaluates an int8 model on a split (host logits; the WASM int8 engine when the backend is wasm). */
async function evaluateInt8(model: QuantizedMobileNetV3, loader: BatchLoader): Promise<EvalResult & { top1: Int32Array }> {
  const engine = WasmQuantizedMobileNetV3.create(model);
  let n = 0;
  let c1 = 0;
  let c5 = 0;
  let lossSum = 0;
  const top1: number[] = [];
  try {
    for await (const b of loader.epoch(0)) {
      const { logits } = engine ? engine.forward(b.images, [b.n, b.size, b.size, 3]) : model.forward(b.images, [b.n, b.size, b.size, 3]);
      const k = logits.length / b.n;
      for (let i = 0; i < b.n; i++) {
        const row = logits.subarray(i * k, (i + 1) * k);
        const label = b.labels[i]!;
        let max = -Infinity;
        for (const v of row) max = Math.max(max, v);
        let sum = 0;
        for (const v of row) sum += Math.exp(v - max);
        lossSum += Math.log(sum) + max - row[label]!;
        const above = row.reduce((a, v, j) => a + (v > row[label]! || (v === row[label]! && j < label) ? 1 : 0), 0);
        if (above === 0) c1++;
        if (above < 5) c5++;
        let best = 0;
        for (let j = 1; j < k; j++) if (row[j]! > row[best]!) best = j;
        top1.push(best);
      }
      n += b.n;
    }
  } finally {
    engine?.dispose();
  }
  return { acc1: (100 * c1) / n, acc5: (100 * c5) / n, loss: lossSum / n, images: n, top1: Int32Array.from(top1) };
}

/** Top-1 predictions of the QAT model on a split (eval mode). */
async function qatTop1(model: QatMobileNetV3, loader: BatchLoader): Promise<Int32Array> {
  const out: number[] = [];
  for await (const b of loader.epoch(0)) {
    const t = tf.tidy(() => tf.argMax(model.forward(tf.tensor4d(b.images, [b.n, b.size, b.size, 3])), 1));
    out.push(...((await t.data()) as Int32Array));
    t.dispose();
  }
  return Int32Array.from(out);
}

/**
 * `resume`: the QAT checkpoint of an epoch of this recipe, loaded into the prepared model (its
 * observer and fake-quant state included) before its variables exist. Returns the checkpoint's
 * optimizer and lr_scheduler states and the epoch to start from.
 */
async function loadQatResume(file: string, recipe: QatRecipe, model: QatMobileNetV3): Promise<{ optimizer: unknown; lrScheduler: unknown; startEpoch: number }> {
  let ckpt: unknown;
  try {
    ckpt = loadTorchCheckpoint(new Uint8Array(await readFile(file)));
  } catch (e) {
    throw new TrainError('bad-checkpoint', `resume: cannot read ${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!(ckpt instanceof Map) || !['model', 'optimizer', 'lr_scheduler', 'epoch', 'args'].every((k) => ckpt.has(k))) {
    throw new TrainError('bad-checkpoint', `resume: ${file} is not a train_quantization.py checkpoint (it needs model, optimizer, lr_scheduler, epoch, args)`);
  }
  const args = ckpt.get('args');
  const a = args instanceof PythonObject ? args.attributes : new Map<string, unknown>();
  const want: [string, unknown][] = [
    ['recipe', recipe.name],
    ['model', recipe.args.model],
    ['batch_size', recipe.args.batchSize],
    ['train_crop_size', recipe.base.args.trainCropSize],
  ];
  const diffs = want.filter(([k, v]) => (typeof v === 'number' ? Number(a.get(k)) !== v : a.get(k) !== v));
  if (diffs.length) {
    throw new TrainError('resume-mismatch', `resume: ${file} was written by another run: ${diffs.map(([k, v]) => `${k} ${JSON.stringify(String(a.get(k)))} (this run: ${JSON.stringify(String(v))})`).join(', ')}`);
  }
  try {
    model.loadStateDict(ckpt.get('model') as StateDict);
  } catch (e) {
    throw new TrainError('resume-mismatch', `resume: the checkpoint's model does not fit this QAT model: ${e instanceof Error ? e.message : String(e)}`);
  }
  return { optimizer: ckpt.get('optimizer'), lrScheduler: ckpt.get('lr_scheduler'), startEpoch: Number(ckpt.get('epoch')) + 1 };
}

/**
 * train_quantization.py's QAT loop on tfjs. Needs `import '@mnv3/layers/train'` and a tfjs backend
 * (WASM in Node). Writes into `outputDir` after every epoch; the int8 model at the end.
 *
 * @example
 * const recipe = getQatRecipe('mobilenet_v3_small-fashion-mnist-qat');
 * await trainQat(recipe, { weights: 'runs/fm/checkpoint.pth', outputDir: 'runs/fm-qat' });
 */
export async function trainQat(recipe: QatRecipe, options: TrainQatOptions): Promise<TrainQatResult> {
  const a = recipe.args;
  const base = recipe.base;
  const seed = options.seed ?? 0;
  const data = options.data ?? (await loadRecipeData(base, options.dataDir !== undefined ? { dataDir: options.dataDir } : {}));
  if (data.train.length === 0 || data.val.length === 0) throw new TrainError('bad-data', `train: the train and validation splits need images (got ${data.train.length} and ${data.val.length})`);
  const float = await floatWeights(options.weights, options.ema ?? false);
  let model: QatMobileNetV3;
  try {
    model = prepareQat(float, { arch: a.model as 'mobilenet_v3_small', numClasses: data.numClasses });
  } catch (e) {
    if (e instanceof QuantizationError) throw new TrainError('bad-checkpoint', `--weights: ${e.message}`);
    throw e;
  }
  await mkdir(options.outputDir, { recursive: true });
  model.rng = seededRng(mixSeed(seed, 0x9a7));
  enableObserver(model);
  enableFakeQuant(model);
  let resumed: Awaited<ReturnType<typeof loadQatResume>> | null = null;
  let history = newHistory(recipe.name);
  if (options.resume) {
    try {
      resumed = await loadQatResume(options.resume, recipe, model);
    } catch (e) {
      model.dispose();
      throw e;
    }
    // The observers' flags came with the checkpoint; BatchNorm's freeze is the loop's to redo.
    if (resumed.startEpoch - 1 >= a.numBatchNormUpdateEpochs) freezeBnStats(model);
    try {
      history = truncateHistory(parseHistory(await readFile(join(options.outputDir, 'history.json'), 'utf8')), resumed.startEpoch);
    } catch {
      history = newHistory(recipe.name);
    }
  }
  model.train();
  const params = model.parameters();
  // train_quantization.py: SGD over model.parameters() (one group, weight decay on all), StepLR.
  const optimizer = new SGD(params, { lr: a.lr, momentum: a.momentum, weightDecay: a.weightDecay });
  const scheduler = new StepLR(optimizer, { stepSize: a.lrStepSize, gamma: a.lrGamma });
  if (resumed) {
    optimizer.loadStateDict(resumed.optimizer as never);
    scheduler.loadStateDict(resumed.lrScheduler as never);
  }
  // train_quantization.py's data is train.py's load_data: the samples' pipeline, no batch mixing.
  const spec = (mode: 'train' | 'eval') => ({ ...pipelineSpec(base, mode), mixupAlpha: 0, cutmixAlpha: 0 });
  const workers = options.workers ?? 2;
  const trainLoader = new BatchLoader(data.train, spec('train'), { batchSize: a.batchSize, shuffle: true, seed, workers });
  const valLoader = new BatchLoader(data.val, spec('eval'), { batchSize: a.evalBatchSize, shuffle: false, seed, workers });
  const stepLosses = new Map<number, number[]>();
  let int8: QuantizedMobileNetV3 | null = null;
  try {
    for (let epoch = resumed?.startEpoch ?? 0; epoch < a.epochs; epoch++) {
      const t0 = performance.now();
      const lr = optimizer.paramGroups[0]!.lr;
      model.train();
      const tally = new EpochTally();
      for await (const b of trainLoader.epoch(epoch)) {
        const s0 = performance.now();
        model.rng = seededRng(mixSeed(seed, 0xd7, epoch, b.step));
        const { value, grads, hits } = tf.tidy(() => {
          const x = tf.tensor4d(b.images, [b.n, b.size, b.size, 3]);
          const y = tf.tensor1d(b.labels, 'int32');
          let hitsT: tf.Tensor | null = null;
          const g = tf.variableGrads(() => {
            const logits = model.forward(x);
            hitsT = tf.keep(correct(logits, y));
            return crossEntropy(logits, y);
          }, params);
          return { value: g.value, grads: g.grads, hits: hitsT! };
        });
        const [lossData, h] = await Promise.all([value.data(), hits.data()]);
        const loss = lossData[0]!;
        if (Number.isFinite(loss)) optimizer.step(grads);
        tf.dispose([value, hits, ...Object.values(grads)]);
        if (!Number.isFinite(loss)) throw new TrainError('nan-loss', `loss is ${loss} at epoch ${epoch}, step ${b.step} (learning rate ${lr}); QAT stopped`);
        tally.add({ loss, n: b.n, correct1: h[0]!, correct5: h[1]!, ms: performance.now() - s0 });
        options.onStep?.({ epoch, step: b.step, steps: trainLoader.stepsPerEpoch, loss, lr });
      }
      scheduler.step();
      stepLosses.set(epoch, tally.losses);
      if (epoch >= a.numObserverUpdateEpochs) disableObserver(model);
      if (epoch >= a.numBatchNormUpdateEpochs) freezeBnStats(model);
      model.eval();
      const val = await evaluate(model, valLoader);
      int8 = await convertQat(model);
      const int8Val = await evaluateInt8(int8, valLoader);
      model.train();
      const sd = model.stateDict();
      const ckpt = await trainCheckpoint({ model: sd, optimizer: optimizer as never, lrScheduler: scheduler, epoch, args: qatRecipeNamespace(recipe) });
      await writeEpochCheckpoint(options.outputDir, epoch, ckpt);
      const record = tally.record(epoch, lr, val, { int8Acc1: int8Val.acc1, int8Acc5: int8Val.acc5 }, (performance.now() - t0) / 1000);
      history = appendEpoch(history, record);
      await writeEpochFiles(options.outputDir, history);
      options.onEpoch?.(record);
    }
    // Resumed after the last epoch: nothing trained here, the checkpoint's model is the one to convert.
    int8 ??= await convertQat(model);
    await writeFileAtomic(join(options.outputDir, 'quantized.safetensors'), saveQuantized(int8, model.config));
    const result: TrainQatResult = { history, stepLosses, int8 };
    const test: PackedImages | undefined = data.test;
    if (test && test.length > 0 && (options.evaluateTest ?? true)) {
      const testLoader = new BatchLoader(test, spec('eval'), { batchSize: a.evalBatchSize, shuffle: false, seed, workers });
      try {
        model.eval();
        const qat = await evaluate(model, testLoader);
        const ours = await evaluateInt8(int8, testLoader);
        const qatPred = await qatTop1(model, testLoader);
        let same = 0;
        for (let i = 0; i < qatPred.length; i++) if (qatPred[i] === ours.top1[i]) same++;
        const { top1: _top1, ...int8Test } = ours;
        result.test = { qat, int8: int8Test };
        result.agreement = same / qatPred.length;
      } finally {
        await testLoader.close();
      }
      await writeFileAtomic(
        join(options.outputDir, 'test.json'),
        `${JSON.stringify({ recipe: recipe.name, epochs: a.epochs, test: result.test.int8, qat: result.test.qat, int8Agreement: result.agreement, quantized: 'quantized.safetensors' }, null, 2)}\n`,
      );
    }
    return result;
  } finally {
    await trainLoader.close();
    await valLoader.close();
    optimizer.dispose?.();
    model.dispose();
  }
}
