// `mnv3 train`, `mnv3 average-checkpoints`, `mnv3 eval`: TorchVision's classification reference
// (train.py, utils.average_checkpoints, train.py --test-only) over @mnv3/train-recipes.
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { CLASSIFICATION_MODELS } from '@mnv3/backbone';
import { PythonObject, findStateDict, loadTorchCheckpoint, type StateDict } from '@mnv3/io';
import { getWeights, isWeightsName, resolveStateDict } from '@mnv3/layers';
import { writeTorchCheckpoint } from '@mnv3/io/node';
import { QAT_RECIPE_NAMES, RECIPE_NAMES, RecipeError, TRAIN_PY_FLAGS, averageCheckpoints, getQatRecipe, getRecipe, recipeFromNamespace, recipeWeightsEntry, renderTorchrun, renderTorchrunQuantization, type Recipe, type RecipeOverrides, type TrainQuantizationArgs } from '@mnv3/train-recipes';
import { BatchLoader, evaluate, loadRecipeData, packUniform, pipelineSpec, subset, type PackedImages } from '@mnv3/train-recipes/node';
import { nonNegativeInt, parseVerbArgs, positiveFloat, positiveInt } from './args.js';
import { UsageError } from './errors.js';
import { checkOutputPath } from './files.js';

/**
 * The train.py flags `mnv3 train` takes as recipe overrides, spelled as train.py spells them: the
 * hyperparameters our trainer reads (the rest of train.py's flags are about devices, files and
 * distribution, which the verb's own flags or --print-torchrun cover).
 */
const HYPERPARAMETER_FLAGS = TRAIN_PY_FLAGS.filter((s) =>
  (
    [
      'batchSize', 'epochs', 'opt', 'lr', 'momentum', 'weightDecay', 'normWeightDecay', 'biasWeightDecay', 'labelSmoothing',
      'lrScheduler', 'lrWarmupEpochs', 'lrWarmupMethod', 'lrWarmupDecay', 'lrStepSize', 'lrGamma', 'lrMin',
      'mixupAlpha', 'cutmixAlpha', 'autoAugment', 'raMagnitude', 'randomErase', 'raSampler', 'raReps', 'modelEma', 'modelEmaSteps', 'modelEmaDecay', 'clipGradNorm',
      'interpolation', 'valResizeSize', 'valCropSize', 'trainCropSize',
    ] as string[]
  ).includes(s.key),
);

export const TRAIN_USAGE = `usage: mnv3 train --recipe NAME [--epochs N] [--output-dir DIR] [--resume CKPT] [--data-path DIR]
                  [--nproc-per-node N] [--print-torchrun] [--batch-size B] [--lr LR] [--image-size S]
                  [--limit-train N] [--limit-val N] [--limit-test N] [--workers W] [--seed K]
                  [TRAIN_PY_FLAG VALUE …] [--lr-noise START,END] [--val-size N] [--random-crop-padding P]
                  [--weights NAME]
       mnv3 train --resume CKPT [--epochs N] [--data-path DIR] [--workers W] …
       mnv3 train --recipe QAT_NAME --weights FLOAT.pth [--ema] [--num-observer-update-epochs N]
                  [--num-batch-norm-update-epochs N] [--epochs N] [--output-dir DIR] [--resume CKPT] [--batch-size B] [--lr LR] …

  TorchVision's references/classification/train.py loop on tfjs' WASM backend: per epoch, training,
  acc@1 / acc@5 / loss on the validation split, model_<epoch>.pth and checkpoint.pth (train.py's
  format), history.json, log.txt and training.svg in DIR; the test split once at the end (test.json).
  NAME   ${RECIPE_NAMES.join(', ')}
  DIR    output folder (default runs/NAME, or CKPT's folder when resuming)
  CKPT   a checkpoint of an earlier run to continue from (checkpoint.pth or model_<epoch>.pth): its
         recipe, arguments and seed come with it (--recipe and the flags may be left out; flags that
         differ from the run's are refused, except --epochs, which may grow)
  --data-path     Fashion-MNIST's idx folder (default Debian's /usr/share/datasets/fashion-mnist), or an
                  ImageFolder root with train/ and val/ for the ImageNet recipes
  --nproc-per-node N  train on N replicas (worker threads, one per core), as torchrun --nproc_per_node=N
                  runs train.py: each takes its share of every epoch (DistributedSampler), --batch-size is
                  per replica, gradients are averaged at every step (DistributedDataParallel); default 1
  --print-torchrun print the equivalent torchrun … train.py command of TorchVision's reference and exit
  --image-size S  train and evaluate at S×S (the recipe's crop size otherwise)
  TRAIN_PY_FLAG   any of train.py's training flags overrides the recipe, with train.py's meaning:
                  ${HYPERPARAMETER_FLAGS.map((s) => s.flag).join(' ').replace(/(.{1,84})(?: |$)/g, '$1\n                  ').trimEnd()}
  --auto-augment none  the recipe without its augmentation policy (train.py's default, None)
  --lr-noise START,END  timm's LR noise over epochs [START, END) (the recipe's noise percentage,
                  std and seed), or "none"
  --val-size N    hold out N training images for validation (Fashion-MNIST: the last N of its 60,000,
                  default 10,000; an ImageFolder: a seeded N of train/, default a tenth); a recorded
                  argument of the run, like the train.py flags
  --random-crop-padding P  pad by P pixels before the training RandomCrop (recipes that crop with
                  RandomCrop; the Fashion-MNIST recipes pad by 4)
  --limit-*       use at most N images of a split (quick runs); W loader threads (default 2)
  --progress      draw the per-epoch progress bar even when stderr is not a terminal (a line every 5 s)

  QAT recipes (train_quantization.py): QAT_NAME ${QAT_RECIPE_NAMES.join(', ')}
  --weights NAME  (train.py's) start from a weights entry of the model's table (FASHION_MNIST_V1,
                  IMAGENET1K_V1: downloaded and checked; its class count must be the data's)
  --weights FLOAT.pth  (QAT recipes) the trained float model to start from (a train.py checkpoint, model_avg.pth, a
                  state dict or a .safetensors file; --ema: a checkpoint's model_ema); prepare_qat with qnnpack's QAT qconfig, SGD + StepLR;
                  after epoch N (0-based) observers are disabled / BatchNorm frozen (--num-*-update-epochs);
                  the QAT and the converted int8 model are evaluated every epoch (log.txt, history.json);
                  at the end the int8 model is written as DIR/quantized.safetensors (mnv3 classify
                  --quantize --weights takes it) and its test-split accuracy as DIR/test.json`;

export async function trainCommand(argv: string[], out: (s: string) => void): Promise<void> {
  const { values, positionals } = parseVerbArgs(argv, {
    recipe: { type: 'string' },
    epochs: { type: 'string' },
    'output-dir': { type: 'string' },
    resume: { type: 'string' },
    'data-path': { type: 'string' },
    'print-torchrun': { type: 'boolean' },
    'nproc-per-node': { type: 'string' },
    'batch-size': { type: 'string' },
    lr: { type: 'string' },
    'image-size': { type: 'string' },
    'limit-train': { type: 'string' },
    'limit-val': { type: 'string' },
    'limit-test': { type: 'string' },
    workers: { type: 'string' },
    seed: { type: 'string' },
    progress: { type: 'boolean' },
    weights: { type: 'string' },
    ema: { type: 'boolean' },
    'num-observer-update-epochs': { type: 'string' },
    'num-batch-norm-update-epochs': { type: 'string' },
    'lr-noise': { type: 'string' },
    'val-size': { type: 'string' },
    'random-crop-padding': { type: 'string' },
    ...Object.fromEntries(HYPERPARAMETER_FLAGS.map((s) => [s.flag.slice(2), { type: s.type === 'bool' ? ('boolean' as const) : ('string' as const) }])),
  });
  if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}`);
  const resumed = values.resume ? await checkpointRun(values.resume) : null;
  const name = values.recipe ?? resumed?.name;
  const all = [...RECIPE_NAMES, ...QAT_RECIPE_NAMES];
  if (!name) throw new UsageError(`--recipe is required (or --resume CKPT of a run to continue); valid: ${all.join(', ')}`);
  if (!all.includes(name)) throw new UsageError(`unknown recipe "${name}"; valid: ${all.join(', ')}`);
  if (QAT_RECIPE_NAMES.includes(name)) return qatCommand(name, values, out);
  for (const flag of ['ema', 'num-observer-update-epochs', 'num-batch-norm-update-epochs'] as const) {
    if (values[flag] !== undefined) throw new UsageError(`--${flag} is for the QAT recipes (${QAT_RECIPE_NAMES.join(', ')})`);
  }
  const overrides: Record<string, unknown> = {};
  // train.py's --weights: a weights name of the model's table to start from (checked before any data is read).
  if (values.weights !== undefined) overrides.weights = values.weights;
  for (const spec of HYPERPARAMETER_FLAGS) {
    const v = (values as Record<string, string | boolean | undefined>)[spec.flag.slice(2)];
    if (v === undefined) continue;
    if (typeof v === 'boolean') overrides[spec.key] = v;
    // train.py cannot set --auto-augment back to None; "none" does (a recipe without its policy).
    else if (spec.type === 'str') overrides[spec.key] = spec.key === 'autoAugment' && v === 'none' ? null : v;
    else {
      const n = Number(v);
      if (v.trim() === '' || !Number.isFinite(n)) throw new UsageError(`${spec.flag} needs ${spec.type === 'int' ? 'an integer' : 'a number'}, got "${v}"`);
      overrides[spec.key] = n;
    }
  }
  if (values['lr-noise'] !== undefined) overrides.lrNoise = parseLrNoise(values['lr-noise'], name);
  if (values['val-size'] !== undefined) overrides.valSize = positiveInt(values['val-size'], '--val-size');
  if (values['random-crop-padding'] !== undefined) overrides.randomCropPadding = nonNegativeInt(values['random-crop-padding'], '--random-crop-padding');
  // torchrun's --nproc_per_node sets train.py's world size; --print-torchrun renders it instead.
  const nproc = values['nproc-per-node'] === undefined ? undefined : positiveInt(values['nproc-per-node'], '--nproc-per-node');
  if (nproc !== undefined && !values['print-torchrun']) overrides.worldSize = nproc;
  if (values['image-size'] !== undefined) {
    const s = positiveInt(values['image-size'], '--image-size');
    Object.assign(overrides, { trainCropSize: s, valCropSize: s, valResizeSize: s });
  }
  const outputDir = values['output-dir'] ?? (values.resume ? dirname(values.resume) : `runs/${name}`);
  let recipe: Recipe;
  try {
    // A resume continues its run: the checkpoint's recipe and arguments, the flags given on top
    // (the trainer refuses a recipe or flags that differ from the run's, --epochs aside).
    recipe = resumed?.args && name === resumed.name ? recipeFromNamespace(resumed.args, overrides as RecipeOverrides) : getRecipe(name, overrides as RecipeOverrides);
  } catch (e) {
    if (e instanceof RecipeError) throw new UsageError(e.message);
    throw e;
  }
  if (recipe.args.weights !== null) {
    if (!isWeightsName(recipe.args.weights)) {
      throw new UsageError(`--weights ${recipe.args.weights}: ${name} takes a weights name (train.py's --weights, e.g. FASHION_MNIST_V1); a checkpoint file is continued with --resume, or quantized by the QAT recipes (${QAT_RECIPE_NAMES.join(', ')})`);
    }
    try {
      recipeWeightsEntry(recipe);
    } catch (e) {
      if (e instanceof RecipeError) throw new UsageError(e.message);
      throw e;
    }
  }
  if (values['print-torchrun']) {
    out(renderTorchrun(recipe, { dataPath: values['data-path'] ?? (recipe.dataset === 'fashion-mnist' ? '/path/to/fashion-mnist-imagefolder' : '/path/to/imagenet'), outputDir, allowUnsupported: true, ...(nproc ? { nprocPerNode: nproc } : {}) }));
    return;
  }
  const limit = (flag: 'limit-train' | 'limit-val' | 'limit-test') => (values[flag] === undefined ? undefined : positiveInt(values[flag], `--${flag}`));
  const workers = values.workers === undefined ? 2 : nonNegativeInt(values.workers, '--workers');
  const seed = values.seed === undefined ? (resumed?.seed ?? 0) : Number(values.seed);
  if (!Number.isInteger(seed)) throw new UsageError(`--seed needs an integer, got "${values.seed}"`);
  await mkdir(outputDir, { recursive: true });

  await import('@mnv3/layers/train');
  const { train } = await import('@mnv3/train-recipes/node');
  const data = await loadRecipeData(recipe, {
    ...(values['data-path'] ? { dataDir: values['data-path'] } : {}),
    limit: { train: limit('limit-train'), val: limit('limit-val'), test: limit('limit-test') },
    onSkip: (path, err) => console.error(`mnv3 train: warning: skipped ${path}: ${err.message}`),
  }).catch((e: unknown) => {
    // A --val-size the data cannot hold.
    throw e instanceof RecipeError ? new UsageError(`--val-size: ${e.message}`) : e;
  });
  const { worldSize } = recipe.args;
  // The bar and the epoch lines count every replica's images (train.py's img/s is per process).
  const bar = values.progress || (values.progress === undefined && process.stderr.isTTY) ? await epochBar(recipe.args.batchSize * worldSize, values.progress === true) : null;
  const replicas = worldSize > 1 ? ` on ${worldSize} replicas of batch ${recipe.args.batchSize}` : '';
  console.error(`mnv3 train: ${recipe.name}: ${recipe.args.model}, ${data.train.length} train / ${data.val.length} val / ${data.test?.length ?? 0} test images, ${recipe.args.epochs} epochs${replicas} → ${outputDir}`);
  // What train() refuses in the recipe (a weights entry of another class count…) is a usage error.
  const result = await train(recipe, {
    data,
    outputDir,
    workers,
    seed,
    ...(values.resume ? { resume: values.resume } : {}),
    onStep: bar ? (s) => bar.step(s) : undefined,
    onEpoch: (r) => {
      bar?.end();
      out(`epoch ${r.epoch}: lr ${r.lr.toPrecision(4)} train loss ${r.trainLoss.toFixed(4)} acc@1 ${r.trainAcc1.toFixed(2)} | val loss ${r.valLoss.toFixed(4)} acc@1 ${r.valAcc1.toFixed(2)} acc@5 ${r.valAcc5.toFixed(2)}${r.emaAcc1 !== undefined ? ` | EMA acc@1 ${r.emaAcc1.toFixed(2)}` : ''} | ${(r.imgPerSec * worldSize).toFixed(0)} img/s, ${r.seconds.toFixed(1)} s`);
    },
  }).catch((e: unknown) => {
    throw e instanceof RecipeError ? new UsageError(e.message) : e;
  });
  if (result.averaged) out(`averaged epochs ${result.averaged.epochs.join(', ')} → model_avg.pth: val acc@1 ${result.averaged.val.acc1.toFixed(2)}${result.averaged.test ? `, test acc@1 ${result.averaged.test.acc1.toFixed(2)}` : ''}`);
  if (result.test) out(`test: acc@1 ${result.test.acc1.toFixed(2)} acc@5 ${result.test.acc5.toFixed(2)} loss ${result.test.loss.toFixed(4)} (${result.test.images} images)${result.testEma ? `; EMA acc@1 ${result.testEma.acc1.toFixed(2)}` : ''}`);
}

/**
 * The run a `--resume` checkpoint continues: its recipe's name, and for the float recipes its train.py
 * `args` and seed (`Trainer.checkpointArgs`). Null when its args name no recipe (torch's train.py
 * wrote it): then --recipe is needed, and the trainer says what does not fit.
 */
async function checkpointRun(file: string): Promise<{ name: string; args: PythonObject | null; seed?: number } | null> {
  const bytes = await readFile(file).catch(() => {
    throw new UsageError(`--resume ${file}: no such file`);
  });
  let ckpt: unknown;
  try {
    ckpt = loadTorchCheckpoint(new Uint8Array(bytes));
  } catch (e) {
    throw new UsageError(`--resume ${file}: not a checkpoint: ${e instanceof Error ? e.message : String(e)}`);
  }
  const args = ckpt instanceof Map ? ckpt.get('args') : undefined;
  const name = args instanceof PythonObject ? args.attributes.get('recipe') : undefined;
  if (!(args instanceof PythonObject) || typeof name !== 'string') return null;
  const seed = args.attributes.get('seed');
  return { name, args: QAT_RECIPE_NAMES.includes(name) ? null : args, ...(typeof seed === 'number' ? { seed } : {}) };
}

/** `--lr-noise START,END` (or "none") as the recipe's lrNoise, keeping its percentage, std and seed. */
function parseLrNoise(s: string, recipeName: string): Recipe['lrNoise'] {
  if (s === 'none') return null;
  const m = /^(\d+),(\d+)$/.exec(s);
  if (!m || Number(m[1]) >= Number(m[2])) throw new UsageError(`--lr-noise needs START,END epochs with START < END (e.g. 18,54) or "none", got "${s}"`);
  const base = getRecipe(recipeName).lrNoise ?? { noisePct: 0.67, noiseStd: 1, noiseSeed: 42 };
  return { noisePct: base.noisePct, noiseStd: base.noiseStd, noiseSeed: base.noiseSeed, noiseRangeT: [Number(m[1]), Number(m[2])] };
}

/**
 * A progress bar per epoch on a terminal (cli-progress, as the downloads and benchmarks draw theirs):
 * steps done, loss, learning rate, throughput and time left; cleared when the epoch's line is printed.
 */
async function epochBar(batchSize: number, force: boolean): Promise<{ step(s: { epoch: number; step: number; steps: number; loss: number; lr: number }): void; end(): void }> {
  const { SingleBar } = (await import('cli-progress')).default;
  const bar = new SingleBar({
    stream: process.stderr,
    format: 'epoch {epoch} [{bar}] {value}/{total} | loss {loss} | lr {lr} | {rate} img/s | ETA {eta_formatted}',
    hideCursor: false,
    clearOnComplete: true,
    gracefulExit: false, // its SIGINT handler would keep Ctrl-C from ending the process
    etaBuffer: 50,
    barsize: 24,
    noTTYOutput: force, // --progress: a line every few seconds even into a pipe or a log file
    notTTYSchedule: 5000,
  });
  let started = false;
  let t0 = 0;
  return {
    step(s) {
      if (!started) {
        bar.start(s.steps, 0, { epoch: s.epoch, loss: '-', lr: s.lr.toPrecision(4), rate: '-' });
        started = true;
        t0 = performance.now();
      }
      const done = s.step + 1;
      const ms = performance.now() - t0; // since the first step ended
      bar.update(done, { epoch: s.epoch, loss: s.loss.toFixed(4), lr: s.lr.toPrecision(4), rate: done > 1 ? (((done - 1) * batchSize * 1000) / ms).toFixed(0) : '-' });
    },
    end() {
      if (started) bar.stop();
      started = false;
    },
  };
}

type TrainValues = Record<string, string | boolean | undefined>;

/** `mnv3 train --recipe <QAT recipe> --weights FLOAT.pth`: train_quantization.py's loop. */
async function qatCommand(name: string, values: TrainValues, out: (s: string) => void): Promise<void> {
  const str = (k: string) => values[k] as string | undefined;
  const overrides: Partial<TrainQuantizationArgs> = {};
  if (str('epochs') !== undefined) overrides.epochs = positiveInt(str('epochs')!, '--epochs');
  if (str('batch-size') !== undefined) overrides.batchSize = positiveInt(str('batch-size')!, '--batch-size');
  if (str('lr') !== undefined) overrides.lr = positiveFloat(str('lr')!, '--lr');
  for (const [flag, key] of [
    ['num-observer-update-epochs', 'numObserverUpdateEpochs'],
    ['num-batch-norm-update-epochs', 'numBatchNormUpdateEpochs'],
  ] as const) {
    const v = str(flag);
    if (v !== undefined) overrides[key] = nonNegativeInt(v, `--${flag}`);
  }
  const size = str('image-size') === undefined ? undefined : positiveInt(str('image-size')!, '--image-size');
  let recipe;
  try {
    recipe = getQatRecipe(name, overrides, size ? { trainCropSize: size, valCropSize: size, valResizeSize: size } : undefined);
  } catch (e) {
    if (e instanceof RecipeError) throw new UsageError(e.message);
    throw e;
  }
  const outputDir = str('output-dir') ?? `runs/${name}`;
  const nproc = str('nproc-per-node') === undefined ? 1 : positiveInt(str('nproc-per-node')!, '--nproc-per-node');
  if (values['print-torchrun']) {
    const b = recipe.base.args;
    const cmd = renderTorchrunQuantization(recipe.args, { dataPath: str('data-path') ?? '/path/to/fashion-mnist-imagefolder', outputDir, nprocPerNode: nproc });
    // train_quantization.py has the crop flags too (train.py's load_data reads them); --weights there is a weights name.
    out(`${cmd.replace(' --output-dir', ` --val-resize-size ${b.valResizeSize} --val-crop-size ${b.valCropSize} --train-crop-size ${b.trainCropSize} --output-dir`)}  # not expressible in train_quantization.py: --weights takes a TorchVision weights name, so load the float checkpoint (${str('weights') ?? 'FLOAT.pth'}) into the model in its code`);
    return;
  }
  if (nproc !== 1) throw new UsageError(`--nproc-per-node ${nproc}: the QAT recipes train on one process here (the float recipes train on N); --print-torchrun renders train_quantization.py on N`);
  const weights = str('weights');
  if (!weights) throw new UsageError(`--weights is required for ${name}: the trained float model (a train.py checkpoint of ${recipe.base.name}, model_avg.pth or a state dict)`);
  await readFile(weights).catch(() => {
    throw new UsageError(`--weights ${weights}: no such file`);
  });
  const resume = str('resume'); // (checked by trainCommand's checkpointRun)
  const limit = (flag: 'limit-train' | 'limit-val' | 'limit-test') => (str(flag) === undefined ? undefined : positiveInt(str(flag)!, `--${flag}`));
  const workers = str('workers') === undefined ? 2 : nonNegativeInt(str('workers')!, '--workers');
  const seed = str('seed') === undefined ? 0 : Number(str('seed'));
  if (!Number.isInteger(seed)) throw new UsageError(`--seed needs an integer, got "${str('seed')}"`);
  await mkdir(outputDir, { recursive: true });
  await import('@mnv3/layers/train');
  const { trainQat, TrainError } = await import('@mnv3/train-recipes/node');
  const data = await loadRecipeData(recipe.base, {
    ...(str('data-path') ? { dataDir: str('data-path')! } : {}),
    limit: { train: limit('limit-train'), val: limit('limit-val'), test: limit('limit-test') },
  });
  const bar = values.progress || (values.progress === undefined && process.stderr.isTTY) ? await epochBar(recipe.args.batchSize, values.progress === true) : null;
  console.error(`mnv3 train: ${recipe.name}: QAT of ${recipe.args.model} from ${weights}, ${data.train.length} train / ${data.val.length} val / ${data.test?.length ?? 0} test images, ${recipe.args.epochs} epochs → ${outputDir}`);
  let result;
  try {
    result = await trainQat(recipe, {
      weights,
      ema: values.ema === true,
      ...(resume ? { resume } : {}),
      data,
      outputDir,
      workers,
      seed,
      onStep: bar ? (s) => bar.step(s) : undefined,
      onEpoch: (r) => {
        bar?.end();
        out(`epoch ${r.epoch}: lr ${r.lr.toPrecision(4)} train loss ${r.trainLoss.toFixed(4)} acc@1 ${r.trainAcc1.toFixed(2)} | QAT val acc@1 ${r.valAcc1.toFixed(2)} | int8 val acc@1 ${r.int8Acc1!.toFixed(2)} | ${r.imgPerSec.toFixed(0)} img/s, ${r.seconds.toFixed(1)} s`);
      },
    });
  } catch (e) {
    if (e instanceof TrainError && e.code === 'bad-checkpoint') throw new UsageError(e.message);
    throw e;
  }
  out(`int8 model → ${outputDir}/quantized.safetensors`);
  if (result.test) out(`test: int8 acc@1 ${result.test.int8.acc1.toFixed(2)} acc@5 ${result.test.int8.acc5.toFixed(2)} (QAT acc@1 ${result.test.qat.acc1.toFixed(2)}; int8 top-1 = QAT top-1 on ${(100 * result.agreement!).toFixed(1)}% of ${result.test.int8.images} images)`);
}

export const AVERAGE_USAGE = `usage: mnv3 average-checkpoints --out OUT.pth CKPT...

  TorchVision's utils.average_checkpoints: the element-wise mean of the checkpoints' "model" entries
  (integer buffers floor-divided), written as the first checkpoint with its "model" replaced.`;

export async function averageCheckpointsCommand(argv: string[], out: (s: string) => void): Promise<void> {
  const { values, positionals } = parseVerbArgs(argv, { out: { type: 'string' } });
  if (!values.out) throw new UsageError('--out is required: the averaged checkpoint (.pth)');
  if (positionals.length === 0) throw new UsageError('no CKPT given: pass the checkpoints to average');
  await checkOutputPath('--out', values.out);
  const inputs = await Promise.all(
    positionals.map((p) =>
      readFile(p).then(
        (b) => new Uint8Array(b),
        () => {
          throw new UsageError(`${p}: no such file`);
        },
      ),
    ),
  );
  const { checkpoint } = averageCheckpoints(inputs);
  await writeTorchCheckpoint(values.out, checkpoint);
  out(`averaged ${positionals.length} checkpoint(s) → ${values.out}`);
}

export const EVAL_USAGE = `usage: mnv3 eval --model NAME --weights SRC --data fashion-mnist|DIR [--split SPLIT [--val-size N]] [--image-size S]
                 [--resize-size R] [--ema] [--limit N] [--batch-size B] [--json]

  Acc@1, acc@5 and loss of a classifier (train.py --test-only): SRC a .pth (a train.py checkpoint
  or a state dict; --ema takes its model_ema), a .safetensors file or a weights name (IMAGENET1K_V1,
  DEFAULT, …); fashion-mnist is Debian's files, DIR an ImageFolder (class folders). Images: resize
  to R then centre crop S (defaults 64/64 for Fashion-MNIST, 256/224 for folders), ImageNet's
  normalisation.
  SPLIT  of fashion-mnist: test (t10k, the default), or the recipes' train (the first 50,000 images
         of the training file) or val (its last 10,000): how well a model fits what it trained on;
         --val-size N moves that cut as mnv3 train's does (the last N validate)
  NAME   ${CLASSIFICATION_MODELS.names().join(', ')}`;

const EVAL_SPLITS = ['train', 'val', 'test'];

export async function evalCommand(argv: string[], out: (s: string) => void): Promise<void> {
  const { values, positionals } = parseVerbArgs(argv, {
    model: { type: 'string' },
    weights: { type: 'string' },
    data: { type: 'string' },
    'image-size': { type: 'string' },
    'resize-size': { type: 'string' },
    split: { type: 'string' },
    'val-size': { type: 'string' },
    ema: { type: 'boolean' },
    limit: { type: 'string' },
    'batch-size': { type: 'string' },
    json: { type: 'boolean' },
  });
  const models = CLASSIFICATION_MODELS.names();
  if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}`);
  if (!values.model) throw new UsageError(`--model is required; valid: ${models.join(', ')}`);
  if (!models.includes(values.model)) throw new UsageError(`unknown model "${values.model}"; valid: ${models.join(', ')}`);
  if (!values.weights) throw new UsageError('--weights is required: a .pth checkpoint (train.py format or a state dict)');
  if (!values.data) throw new UsageError('--data is required: fashion-mnist or an ImageFolder directory');
  const fashion = values.data === 'fashion-mnist';
  const split = values.split ?? 'test';
  if (!fashion && values.split !== undefined) throw new UsageError('--split picks a split of fashion-mnist; an ImageFolder is evaluated whole');
  if (!EVAL_SPLITS.includes(split)) throw new UsageError(`unknown --split "${split}"; valid: ${EVAL_SPLITS.join(', ')}`);
  const valSize = values['val-size'] === undefined ? undefined : positiveInt(values['val-size'], '--val-size');
  if (valSize !== undefined && split === 'test') throw new UsageError('--val-size moves the cut between the train and val splits of fashion-mnist: pass --split train or val with it');
  let sd: StateDict;
  const weights = values.weights;
  const byName: boolean = isWeightsName(weights);
  if (byName) {
    if (values.ema) throw new UsageError('--ema reads a train.py checkpoint file, not a weights name');
    let entry;
    try {
      entry = getWeights(CLASSIFICATION_MODELS.get(values.model).weights, weights, values.model);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    sd = await resolveStateDict(entry);
  } else {
    const bytes = await readFile(weights).catch(() => {
      throw new UsageError(`--weights ${weights}: no such file`);
    });
    if (weights.endsWith('.safetensors')) {
      if (values.ema) throw new UsageError('--ema reads a train.py checkpoint (.pth), not a .safetensors file');
      sd = await resolveStateDict(new Uint8Array(bytes));
    } else {
      const ckpt = loadTorchCheckpoint(new Uint8Array(bytes));
      if (values.ema) {
        const ema = findStateDict(ckpt, 'model_ema');
        sd = new Map([...ema].filter(([k]) => k.startsWith('module.')).map(([k, v]) => [k.slice('module.'.length), v]));
      } else sd = findStateDict(ckpt);
    }
  }
  const head = [...sd].filter(([k, v]) => k.endsWith('.weight') && v.shape.length === 2).pop();
  const numClasses = head ? head[1].shape[0]! : 1000;
  const size = values['image-size'] === undefined ? (fashion ? 64 : 224) : positiveInt(values['image-size'], '--image-size');
  const resize = values['resize-size'] === undefined ? (fashion ? size : Math.floor((size * 256) / 224)) : positiveInt(values['resize-size'], '--resize-size');
  const batchSize = positiveInt(values['batch-size'] ?? '64', '--batch-size');
  const limit = values.limit === undefined ? undefined : positiveInt(values.limit, '--limit');

  let images: PackedImages;
  if (fashion && split !== 'test') {
    // The trainer's own split of the training file (loadRecipeData), so that train and val here are
    // the images a Fashion-MNIST run trained and validated on.
    const recipe = getRecipe('mobilenet_v3_small-fashion-mnist', valSize === undefined ? {} : { valSize });
    const data = await loadRecipeData(recipe).catch((e: unknown) => {
      throw e instanceof RecipeError ? new UsageError(`--val-size: ${e.message}`) : e;
    });
    images = data[split as 'train' | 'val'];
  } else if (fashion) {
    const { readFashionMnist } = await import('@mnv3/io/node');
    const te = await readFashionMnist({ train: false });
    images = packUniform(te.images, te.labels, 28, 28, 1);
  } else {
    const { loadImageFolder } = await import('@mnv3/io/node');
    const ds = await loadImageFolder(values.data).catch((e: Error) => {
      throw new UsageError(`--data ${values.data}: ${e.message}`);
    });
    const chunks: Uint8Array[] = [];
    const ws: number[] = [];
    const hs: number[] = [];
    const labels: number[] = [];
    for (let i = 0; i < Math.min(ds.length, limit ?? ds.length); i++) {
      const { image, label } = await ds.get(i);
      chunks.push(image.data);
      ws.push(image.width);
      hs.push(image.height);
      labels.push(label);
    }
    const offsets = new Float64Array(chunks.length + 1);
    chunks.forEach((c, i) => (offsets[i + 1] = offsets[i]! + c.length));
    const data = new Uint8Array(offsets[chunks.length]!);
    chunks.forEach((c, i) => data.set(c, offsets[i]!));
    images = { data, offsets, widths: Uint32Array.from(ws), heights: Uint32Array.from(hs), channels: 3, labels: Int32Array.from(labels), length: chunks.length };
  }
  if (limit !== undefined && limit < images.length) images = subset(images, Array.from({ length: limit }, (_, i) => i));

  const model = CLASSIFICATION_MODELS.get(values.model).build({ numClasses });
  model.loadStateDict(sd);
  const recipe = getRecipe('mobilenet_v3_small-fashion-mnist', { valResizeSize: resize, valCropSize: size, trainCropSize: size });
  const loader = new BatchLoader(images, pipelineSpec(recipe, 'eval'), { batchSize, shuffle: false, seed: 0, workers: 0 });
  try {
    const r = await evaluate(model as never, loader);
    if (values.json) out(JSON.stringify({ model: values.model, weights: values.weights, data: values.data, ...(fashion ? { split } : {}), ema: values.ema ?? false, ...r }));
    else out(`Acc@1 ${r.acc1.toFixed(3)} Acc@5 ${r.acc5.toFixed(3)} loss ${r.loss.toFixed(4)} (${r.images} images)`);
  } finally {
    await loader.close();
    model.dispose();
  }
}
