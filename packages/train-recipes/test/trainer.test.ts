// The trainer end to end on a small Fashion-MNIST subset at 32×32 (a few hundred images, a few
// steps per epoch): losses go down, tf.memory() stays flat, the batch loader gives the same batches
// with 0, 1 or 3 workers (and over any worker transport: the shared WorkerBatchLoader), a run
// resumed from epoch 0's checkpoint repeats the uninterrupted run's losses exactly, the Trainer's
// steps (what pages run) are train()'s, torch loads the checkpoint into TorchVision's model and
// gets our eval logits, NaN stops with the step and LR, and a checkpoint of another recipe is
// refused.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import '@mnv3/layers/train';
import { encodePng, loadTorchCheckpoint, toFloat32, type StateDict } from '@mnv3/io';
import { CLASSIFICATION_MODELS } from '@mnv3/backbone';
import { ORACLE_PYTHON, REPO_ROOT } from '@mnv3/test-utils';
import { Trainer, WorkerBatchLoader, RecipeError, getRecipe, parseHistory, recipeWeights, type Batch, type Recipe } from '../src/index.js';
import { batchResponder } from '../src/data/batches.js';
import { BatchLoader, TrainError, loadRecipeData, pipelineSpec, train, type TrainData, type TrainResult } from '../src/node.js';

const SMALL = { batchSize: 32, trainCropSize: 32, valResizeSize: 32, valCropSize: 32 } as const;
const recipe: Recipe = getRecipe('mobilenet_v3_small-fashion-mnist', { ...SMALL, epochs: 2, lr: 0.01 });
let data: TrainData;
let dir: string;
let full: TrainResult;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mnv3-trainer-'));
  data = await loadRecipeData(recipe, { limit: { train: 192, val: 64, test: 64 } });
  full = await train(recipe, { data, outputDir: join(dir, 'full'), workers: 2, seed: 7 });
}, 300_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('train()', () => {
  it('holds the validation split out of the train set and keeps the test set for the end', async () => {
    const all = await loadRecipeData(recipe, {});
    expect(all.train.length).toBe(50_000);
    expect(all.val.length).toBe(10_000);
    expect(all.test!.length).toBe(10_000);
    expect(all.numClasses).toBe(10);
    // The recipe's valSize moves the cut: the last 1,000 training images validate, the other 59,000 train.
    const most = await loadRecipeData(getRecipe(recipe.name, { valSize: 1000 }), {});
    expect([most.train.length, most.val.length, most.test!.length]).toEqual([59_000, 1000, 10_000]);
    expect(Array.from(most.val.labels)).toEqual(Array.from(all.val.labels.subarray(9000)));
    expect(Array.from(most.train.labels.subarray(50_000))).toEqual(Array.from(all.val.labels.subarray(0, 9000)));
    await expect(loadRecipeData(getRecipe(recipe.name, { valSize: 60_000 }), {})).rejects.toThrow(new RecipeError('invalid-value', "valSize must be below Fashion-MNIST's 60000 training images, got 60000"));
  });

  it('trains: the loss goes down, files are written, numTensors stays flat', () => {
    const e0 = full.stepLosses.get(0)!;
    const e1 = full.stepLosses.get(1)!;
    expect(e0).toHaveLength(6);
    const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(mean(e1)).toBeLessThan(mean(e0));
    expect(e1[e1.length - 1]!).toBeLessThan(e0[0]!);
    for (const f of ['checkpoint.pth', 'model_0.pth', 'model_1.pth', 'history.json', 'log.txt', 'training.svg', 'test.json']) expect(existsSync(join(dir, 'full', f)), f).toBe(true);
    const h = parseHistory(readFileSync(join(dir, 'full', 'history.json'), 'utf8'));
    expect(h.epochs.map((e) => e.epoch)).toEqual([0, 1]);
    expect(h.epochs[1]!.lr).toBeCloseTo(0.01 * 0.7606, 12);
    expect(readFileSync(join(dir, 'full', 'log.txt'), 'utf8')).toMatch(/^Epoch: \[0\]/);
    expect(full.test!.images).toBe(64);
    const n = full.numTensors;
    expect(new Set(n.slice(1)).size, `numTensors per step: ${n.join(',')}`).toBe(1);
    const ckpt = loadTorchCheckpoint(new Uint8Array(readFileSync(join(dir, 'full', 'checkpoint.pth')))) as Map<string, unknown>;
    expect([...ckpt.keys()]).toEqual(['model', 'optimizer', 'lr_scheduler', 'epoch', 'args']);
    expect(ckpt.get('epoch')).toBe(1);
  });

  it('resumes exactly: epoch 1 after model_0.pth gives the uninterrupted run’s losses (with another worker count)', async () => {
    const resumed = await train(recipe, { data, outputDir: join(dir, 'resumed'), resume: join(dir, 'full', 'model_0.pth'), workers: 0, seed: 7, evaluateTest: false });
    expect([...resumed.stepLosses.keys()]).toEqual([1]);
    expect(resumed.stepLosses.get(1)).toEqual(full.stepLosses.get(1));
  });

  it('takes epochs and the data folder as options', async () => {
    await expect(train(recipe, { data, outputDir: join(dir, 'x'), epochs: 0 })).rejects.toThrow(/epochs must be an integer ≥ 1, got 0/);
    await expect(train(recipe, { dataDir: join(dir, 'nowhere'), outputDir: join(dir, 'x') })).rejects.toThrow(/nowhere/);
  });

  it('refuses a checkpoint of another recipe or model', async () => {
    const other = getRecipe('mobilenet_v3_small-fashion-mnist-full', { ...SMALL, epochs: 2 });
    await expect(train(other, { data, outputDir: join(dir, 'other'), resume: join(dir, 'full', 'model_0.pth'), workers: 0 })).rejects.toThrow(/another run: recipe "mobilenet_v3_small-fashion-mnist"/);
    const large = getRecipe('mobilenet_v3_small-fashion-mnist', { ...SMALL, model: 'mobilenet_v3_large' });
    await expect(train(large, { data, outputDir: join(dir, 'other'), resume: join(dir, 'full', 'model_0.pth'), workers: 0 })).rejects.toBeInstanceOf(TrainError);
    // The same recipe with another argument, or another seed, is another run too: nothing changes silently.
    const erased = getRecipe('mobilenet_v3_small-fashion-mnist', { ...SMALL, epochs: 2, lr: 0.01, randomErase: 0.1 });
    await expect(train(erased, { data, outputDir: join(dir, 'other'), resume: join(dir, 'full', 'model_0.pth'), workers: 0, seed: 7 })).rejects.toThrow(
      /another run: random_erase 0 \(this run: 0\.1\); a resumed run keeps its arguments/,
    );
    await expect(train(recipe, { data, outputDir: join(dir, 'other'), resume: join(dir, 'full', 'model_0.pth'), workers: 0, seed: 8 })).rejects.toThrow(/another run: seed 7 \(this run: 8\)/);
  });

  it("refuses train.py arguments it does not implement instead of ignoring them, before any work", async () => {
    const refused = getRecipe('mobilenet_v3_small-fashion-mnist', { ...SMALL, amp: true, testOnly: true });
    const out = join(dir, 'refused');
    await expect(train(refused, { data, outputDir: out, workers: 0 })).rejects.toThrow(
      /recipe mobilenet_v3_small-fashion-mnist sets what this trainer does not implement: --amp \(CUDA's mixed precision; the WASM backend trains in float32\); --test-only \(evaluation only: evaluate\(\) or mnv3 eval\)\. Set them back to train\.py's defaults/,
    );
    expect(existsSync(out)).toBe(false);
    expect(() => new Trainer(refused, { numClasses: 10 })).toThrow(/does not implement: --amp/);
    // --ra-sampler reaches the loader (repeated augmentation keeps ⌊n / 256⌋·256 images: none of 192).
    const ra = getRecipe('mobilenet_v3_small-fashion-mnist', { ...SMALL, raSampler: true });
    await expect(train(ra, { data, outputDir: join(dir, 'ra'), workers: 0 })).rejects.toThrow(/train: repeated augmentation \(--ra-sampler\) keeps .* none of these 192 images/);
    expect(existsSync(join(dir, 'ra'))).toBe(false);
    // With 300 images an epoch is RASampler's 256 samples: 4 steps of 64 (5 without it).
    const ra300 = await loadRecipeData(ra, { limit: { train: 300, val: 64 } });
    const run = await train(getRecipe('mobilenet_v3_small-fashion-mnist', { ...SMALL, batchSize: 64, epochs: 1, raSampler: true }), { data: ra300, outputDir: join(dir, 'ra300'), workers: 0, evaluateTest: false });
    expect(run.stepLosses.get(0)!.length).toBe(4);
  });

  it("starts from a weights entry as train.py's --weights does (offline: FASHION_MNIST_V1), its EMA too; refuses another class count before any download", async () => {
    const tuned = getRecipe('mobilenet_v3_small-fashion-mnist', { ...SMALL, epochs: 1, weights: 'FASHION_MNIST_V1', opt: 'sgd', lr: 0, momentum: 0, weightDecay: 0, modelEma: true });
    const want = (await recipeWeights(tuned, 10))!;
    const key = 'features.0.0.weight';
    const out = join(dir, 'pretrained');
    await train(tuned, { data, outputDir: out, workers: 0, evaluateTest: false });
    // lr 0: the weights after the epoch are the entry's (BatchNorm's running statistics aside).
    const ckpt = loadTorchCheckpoint(readFileSync(join(out, 'model_0.pth'))) as Map<string, unknown>;
    const model = ckpt.get('model') as StateDict;
    const ema = ckpt.get('model_ema') as StateDict;
    for (const t of [model.get(key), ema.get(`module.${key}`)]) expect(toFloat32(t!)).toEqual(toFloat32(want.get(key)!));
    const other = getRecipe('mobilenet_v3_small-fashion-mnist', { ...SMALL, weights: 'IMAGENET1K_V1' });
    await expect(train(other, { data, outputDir: join(dir, 'imagenet'), workers: 0 })).rejects.toThrow(/weights \(--weights\) IMAGENET1K_V1 classify 1000 classes, the data has 10/);
    expect(existsSync(join(dir, 'imagenet'))).toBe(false);
    await expect(recipeWeights(getRecipe('mobilenet_v3_small-fashion-mnist', { weights: 'IMAGENET9K' }), 10)).rejects.toThrow(/unknown weights "IMAGENET9K" for mobilenet_v3_small; valid: IMAGENET1K_V1, FASHION_MNIST_V1, DEFAULT/);
  });

  it('stops on a NaN loss naming the epoch, step and learning rate, and keeps the last checkpoint', async () => {
    const wild = getRecipe('mobilenet_v3_small-fashion-mnist', { ...SMALL, epochs: 3, lr: 1e6, opt: 'sgd', momentum: 0 });
    const out = join(dir, 'nan');
    // A checkpoint already in the folder (as after an earlier epoch) stays as it was.
    mkdirSync(out, { recursive: true });
    const before = readFileSync(join(dir, 'full', 'checkpoint.pth'));
    writeFileSync(join(out, 'checkpoint.pth'), before);
    const err = await train(wild, { data, outputDir: out, workers: 0 }).catch((e: unknown) => e);
    expect(readFileSync(join(out, 'checkpoint.pth')).equals(before)).toBe(true);
    expect(err).toBeInstanceOf(TrainError);
    expect((err as TrainError).code).toBe('nan-loss');
    expect((err as Error).message).toMatch(/loss is NaN at epoch \d+, step \d+ \(learning rate 1000000\)/);
  });

  it('writes checkpoints TorchVision loads: torch’s eval logits equal ours', async () => {
    const ckpt = loadTorchCheckpoint(new Uint8Array(readFileSync(join(dir, 'full', 'model_1.pth')))) as Map<string, unknown>;
    const model = CLASSIFICATION_MODELS.get('mobilenet_v3_small').build({ numClasses: 10 });
    model.loadStateDict(ckpt.get('model') as StateDict);
    const loader = new BatchLoader(data.val, pipelineSpec(recipe, 'eval'), { batchSize: 8, shuffle: false, seed: 0, workers: 0 });
    const first = (await loader.epoch(0).next()).value!;
    await loader.close();
    const x = tf.tensor4d(first.images, [first.n, 32, 32, 3]);
    const ours = (await model.forward(x).array()) as number[][];
    const nchw = await tf.transpose(x, [0, 3, 1, 2]).data();
    const input = join(dir, 'input.f32');
    writeFileSync(input, new Uint8Array(nchw.buffer, nchw.byteOffset, nchw.byteLength));
    const script = join(REPO_ROOT, 'tools/reference/check_trained_model.py');
    const out = JSON.parse(execFileSync(ORACLE_PYTHON, [script, join(dir, 'full', 'model_1.pth'), 'mobilenet_v3_small', '10', input, String(first.n), '32', '32'], { encoding: 'utf8' })) as { logits: number[][]; epoch: number };
    expect(out.epoch).toBe(1);
    let worst = 0;
    ours.forEach((row, i) => row.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - out.logits[i]![j]!)))));
    expect(worst).toBeLessThan(1e-3);
    tf.dispose(x);
    model.dispose();
  });
});

describe('the full recipe (TrivialAugment, RandomErasing, label smoothing, stochastic depth, EMA, checkpoint averaging)', () => {
  it('trains, evaluates the EMA, averages the last improved checkpoints and resumes exactly', async () => {
    const fullRecipe = getRecipe('mobilenet_v3_small-fashion-mnist-full', { ...SMALL, epochs: 2, modelEmaSteps: 2 });
    const small: TrainData = { ...data, train: { ...data.train, length: 96 } };
    const a = await train(fullRecipe, { data: small, outputDir: join(dir, 'fullrecipe'), workers: 2, seed: 1 });
    expect(a.history.epochs.every((e) => e.emaAcc1 !== undefined)).toBe(true);
    expect(a.averaged!.epochs.length).toBeGreaterThan(0);
    expect(a.averaged!.test!.images).toBe(64);
    expect(a.testEma!.images).toBe(64);
    expect(existsSync(join(dir, 'fullrecipe', 'model_avg.pth'))).toBe(true);
    const ckpt = loadTorchCheckpoint(new Uint8Array(readFileSync(join(dir, 'fullrecipe', 'model_1.pth')))) as Map<string, unknown>;
    expect([...ckpt.keys()]).toEqual(['model', 'optimizer', 'lr_scheduler', 'epoch', 'args', 'model_ema']);
    const b = await train(fullRecipe, { data: small, outputDir: join(dir, 'fullrecipe-resumed'), resume: join(dir, 'fullrecipe', 'model_0.pth'), workers: 1, seed: 1, evaluateTest: false });
    expect(b.stepLosses.get(1)).toEqual(a.stepLosses.get(1));
    expect(b.history.epochs.map((e) => e.emaAcc1)).toEqual([a.history.epochs[1]!.emaAcc1]);
  });
});

describe('BatchLoader', () => {
  it('gives the same batches with 0, 1 and 3 workers, different ones per epoch and seed', async () => {
    const spec = pipelineSpec(getRecipe('mobilenet_v3_small-fashion-mnist-full', SMALL), 'train'); // TrivialAugment + RandomErasing
    const small = { ...data.train, length: 40 };
    const run = async (workers: number, epoch: number, seed = 3) => {
      const l = new BatchLoader(small, spec, { batchSize: 16, shuffle: true, seed, workers });
      const out: { images: Float32Array; labels: Int32Array }[] = [];
      for await (const b of l.epoch(epoch)) out.push({ images: b.images, labels: b.labels });
      await l.close();
      return out;
    };
    const a = await run(0, 1);
    expect(a.map((b) => b.labels.length)).toEqual([16, 16, 8]);
    expect(await run(1, 1)).toEqual(a);
    expect(await run(3, 1)).toEqual(a);
    expect(await run(0, 2)).not.toEqual(a);
    expect(await run(0, 1, 4)).not.toEqual(a);
  });
});

describe('Trainer (the state and step train() and pages share)', () => {
  it("steps as train() does: epoch 0's first steps give the full run's losses", async () => {
    const trainer = new Trainer(recipe, { numClasses: 10, seed: 7 });
    const loader = new BatchLoader(data.train, pipelineSpec(recipe, 'train'), { batchSize: 32, shuffle: true, seed: 7, workers: 0 });
    try {
      const steps = await trainer.trainEpoch(0, loader, { maxSteps: 3 });
      expect(steps.map((s) => [s.epoch, s.step, s.n, s.lr])).toEqual([0, 1, 2].map((k) => [0, k, 32, 0.01]));
      expect(steps.map((s) => s.loss)).toEqual(full.stepLosses.get(0)!.slice(0, 3));
    } finally {
      await loader.close();
      trainer.dispose();
    }
  });

  it('clips the gradients as train.py --clip-grad-norm does: one SGD step of lr 1 moves the parameters by the norm', async () => {
    // Without clipping the same step moves them by the gradient's norm, well above 0.25.
    const moved: number[] = [];
    for (const clipGradNorm of [null, 0.25]) {
      const r = getRecipe('mobilenet_v3_small-fashion-mnist', { ...SMALL, opt: 'sgd', momentum: 0, lr: 1, weightDecay: 0, clipGradNorm });
      const trainer = new Trainer(r, { numClasses: 10, seed: 3 });
      const loader = new BatchLoader(data.train, pipelineSpec(r, 'train'), { batchSize: 32, shuffle: true, seed: 3, workers: 0 });
      try {
        const before = trainer.model.parameters().map((p) => p.dataSync().slice());
        await trainer.trainEpoch(0, loader, { maxSteps: 1 });
        let sq = 0;
        trainer.model.parameters().forEach((p, i) => p.dataSync().forEach((v, j) => (sq += (v - before[i]![j]!) ** 2)));
        moved.push(Math.sqrt(sq));
      } finally {
        await loader.close();
        trainer.dispose();
      }
    }
    expect(moved[0]).toBeGreaterThan(0.5);
    expect(moved[1]).toBeCloseTo(0.25, 3);
  });

  it('mixes batches as train.py --mixup-alpha / --cutmix-alpha do: the same with 0 or 2 workers, trained on soft targets', async () => {
    const r = getRecipe('mobilenet_v3_small-fashion-mnist', { ...SMALL, mixupAlpha: 0.2, cutmixAlpha: 1 });
    const spec = pipelineSpec(r, 'train');
    expect(pipelineSpec(r, 'eval').mixupAlpha).toBeUndefined();
    const seen: Batch[][] = [];
    for (const workers of [0, 2]) {
      const loader = new BatchLoader(data.train, spec, { batchSize: 32, shuffle: true, seed: 5, workers });
      const got = [];
      for await (const b of loader.epoch(1)) got.push(b);
      await loader.close();
      seen.push(got);
    }
    expect(seen[0]!.every((b) => b.lambda !== undefined && b.lambda >= 0 && b.lambda <= 1)).toBe(true);
    expect(seen[1]).toEqual(seen[0]);
    // The trainer takes the soft targets: the same batch without its lambda gives another loss.
    const losses: number[] = [];
    const { lambda: _mixed, ...unmixed } = seen[0]![0]!;
    for (const b of [seen[0]![0]!, unmixed]) {
      const trainer = new Trainer(r, { numClasses: 10, seed: 3 });
      try {
        losses.push((await trainer.step(b, 1)).loss);
      } finally {
        trainer.dispose();
      }
    }
    expect(Number.isFinite(losses[0])).toBe(true);
    expect(losses[0]).not.toBe(losses[1]);
  });

  it("WorkerBatchLoader gives BatchLoader's batches over any worker transport (here: in-process ports)", async () => {
    const spec = pipelineSpec(getRecipe('mobilenet_v3_small-fashion-mnist-full', SMALL), 'train');
    const small = { ...data.train, length: 40 };
    const options = { batchSize: 16, shuffle: true, seed: 3, workers: 2 };
    let posted = 0;
    const inProcess = new WorkerBatchLoader(small, spec, options, (onReply) => {
      const answer = batchResponder(small, spec);
      return { post: (m) => (posted++, setTimeout(() => onReply(answer(m).reply))), terminate: () => undefined };
    });
    const threads = new BatchLoader(small, spec, options);
    const all = async (l: WorkerBatchLoader) => {
      const out: unknown[] = [];
      for await (const b of l.epoch(1)) out.push(b);
      await l.close();
      return out;
    };
    expect(await all(inProcess)).toEqual(await all(threads));
    expect(posted).toBe(3);
  });
});

describe('ImageFolder data', () => {
  // Two classes of Fashion-MNIST images as 28×28 RGB PNGs, one corrupt file, and TorchVision's
  // ImageNet recipe (RandomResizedCrop, AutoAugment, RandomErasing) at 32×32.
  function folder(root: string, classes: string[], perClass: number, corrupt: boolean): void {
    classes.forEach((cls, c) => {
      mkdirSync(join(root, cls), { recursive: true });
      for (let k = 0; k < perClass; k++) {
        const i = c * perClass + k;
        const rgb = new Uint8Array(28 * 28 * 3);
        for (let p = 0; p < 784; p++) rgb[3 * p] = rgb[3 * p + 1] = rgb[3 * p + 2] = data.train.data[i * 784 + p]!;
        writeFileSync(join(root, cls, `${k}.png`), encodePng({ width: 28, height: 28, data: rgb }));
      }
      if (corrupt && c === 0) writeFileSync(join(root, cls, 'broken.png'), 'not a png');
    });
  }

  it('trains on train/ (10% held out), tests on val/, skips a corrupt image with a warning', async () => {
    const root = join(dir, 'folder');
    folder(join(root, 'train'), ['bag', 'coat'], 10, true);
    folder(join(root, 'val'), ['bag', 'coat'], 4, false);
    const imagenet = getRecipe('mobilenet_v3_small', { epochs: 1, batchSize: 6, trainCropSize: 32, valResizeSize: 36, valCropSize: 32 });
    const skipped: string[] = [];
    const d = await loadRecipeData(imagenet, { dataDir: root, onSkip: (path) => skipped.push(path) });
    expect(skipped).toEqual([join(root, 'train', 'bag', 'broken.png')]);
    expect([d.train.length, d.val.length, d.test!.length, d.numClasses]).toEqual([18, 2, 8, 2]);
    const five = await loadRecipeData(getRecipe('mobilenet_v3_small', { valSize: 5 }), { dataDir: root });
    expect([five.train.length, five.val.length]).toEqual([15, 5]);
    const r = await train(imagenet, { data: d, outputDir: join(dir, 'folder-run'), workers: 2 });
    expect(r.stepLosses.get(0)).toHaveLength(3);
    expect(r.stepLosses.get(0)!.every(Number.isFinite)).toBe(true);
    expect(r.test!.images).toBe(8);
  });

  it('refuses a folder with one class', async () => {
    const root = join(dir, 'one');
    folder(join(root, 'train'), ['bag'], 3, false);
    folder(join(root, 'val'), ['bag'], 1, false);
    await expect(loadRecipeData(getRecipe('mobilenet_v3_small'), { dataDir: root })).rejects.toThrow(/has 1 class; classification needs at least 2/);
  });
});
