// Data parallelism (train.py under `torchrun --nproc_per_node=N`): our samplers give torch's
// DistributedSampler and RASampler orders for every rank; two replicas stepping together give
// torch's DDP losses and weights (two gloo processes in the oracle: all-reduce in backward, then
// clip_grad_norm_ and RMSprop) and keep bit-identical weights, each its own BatchNorm statistics;
// train() with world_size 2 runs the second replica in a worker thread, evaluates on both (one
// process's result, bit for bit), resumes exactly, and a replica that fails stops the run with its error.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import '@mnv3/layers/train';
import { loadTorchCheckpoint, toFloat32, type HostTensor, type StateDict } from '@mnv3/io';
import { GradientAverager, ReplicaAbortedError, Trainer, WorkerBatchLoader, buildClassifier, distributedOrder, evalShard, evaluate, getRecipe, gradientAverageBuffer, packUniform, pipelineSpec, repeatedAugmentationOrder, type Batch } from '../src/index.js';
import { BatchLoader, TrainError, loadRecipeData, train, type TrainData, type TrainResult } from '../src/node.js';
import { ReplicaGroup } from '../src/replicas.js';
import { f32, get, scaledError, trainFixture, trainFixtures } from './fixtures.js';

describe.each(trainFixtures('dist_').concat(trainFixtures('ra_')))('%s: our order for every rank', (name) => {
  it("is torch's sampler's for the same permutation", () => {
    const f = trainFixture(name);
    const { repetitions, world_size: worldSize } = f.config as { repetitions: number | null; world_size: number };
    const ints = (k: string) => Uint32Array.from(get(f, k).data as BigInt64Array, Number);
    const perm = ints('perm');
    const seen = new Set<number>();
    for (let rank = 0; rank < worldSize; rank++) {
      const want = ints(`order${rank}`);
      const got = repetitions === null ? distributedOrder(perm, { rank, worldSize }) : repeatedAugmentationOrder(perm, repetitions, { rank, worldSize });
      expect(got).toEqual(want);
      got.forEach((i) => seen.add(i));
    }
    if (repetitions === null) expect(seen.size).toBe(perm.length);
  });
});

describe('the loader of one replica', () => {
  const images = packUniform(Uint8Array.from({ length: 101 * 8 * 8 }, (_, i) => (i * 37) % 251), Array.from({ length: 101 }, (_, i) => i), 8, 8, 1);
  const spec = pipelineSpec(getRecipe('mobilenet_v3_small-fashion-mnist', { trainCropSize: 8, valResizeSize: 8, valCropSize: 8 }), 'train');
  const noWorkers = () => {
    throw new Error('no workers here');
  };
  const labelsOf = async (loader: WorkerBatchLoader, epoch: number) => {
    const out: number[] = [];
    for await (const b of loader.epoch(epoch)) out.push(...b.labels);
    return out;
  };

  it("takes its rank's share of the shared permutation, augmented with its own seed", async () => {
    const one = new WorkerBatchLoader(images, spec, { batchSize: 16, shuffle: true, seed: 3, workers: 0 }, noWorkers);
    const ranks = [0, 1].map((rank) => new WorkerBatchLoader(images, spec, { batchSize: 16, shuffle: true, seed: 3, workers: 0, replica: { rank, worldSize: 2 } }, noWorkers));
    expect(ranks.map((l) => l.stepsPerEpoch)).toEqual([4, 4]); // ⌈101 / 2⌉ = 51 samples each
    const all = await labelsOf(one, 5);
    const [l0, l1] = await Promise.all(ranks.map((l) => labelsOf(l, 5)));
    expect(l0).toEqual(all.filter((_, i) => i % 2 === 0));
    expect(l1).toEqual([...all.filter((_, i) => i % 2 === 1), all[0]]); // padded from the start
    const first = async (l: WorkerBatchLoader) => (await l.epoch(5).next()).value as Batch;
    const [b0, b1, b] = await Promise.all([first(ranks[0]!), first(ranks[1]!), first(one)]);
    // Rank 0 augments as a run on its own does; rank 1 with a seed of its own.
    expect(b0.images.subarray(0, 192)).toEqual(b.images.subarray(0, 192));
    expect(b1.labels[0]).toBe(all[1]);
    expect(() => new WorkerBatchLoader(images, spec, { batchSize: 16, shuffle: true, seed: 3, workers: 0, replica: { rank: 2, worldSize: 2 } }, noWorkers)).toThrow(/replica.rank must be an integer in \[0, 2\), got 2/);
  });
});

/** The state dict under `prefix` in a fixture. */
function stateOf(tensors: Map<string, HostTensor>, prefix: string): StateDict {
  const sd: StateDict = new Map();
  for (const [k, v] of tensors) if (k.startsWith(prefix)) sd.set(k.slice(prefix.length), v);
  return sd;
}

/** NCHW [n, 3, s, s] → the NHWC batch our trainer takes. */
function batchOf(x: Float32Array, labels: Int32Array, s: number, step: number): Batch {
  const n = labels.length;
  const images = new Float32Array(n * s * s * 3);
  for (let k = 0; k < n; k++) for (let c = 0; c < 3; c++) for (let i = 0; i < s * s; i++) images[(k * s * s + i) * 3 + c] = x[(k * 3 + c) * s * s + i]!;
  return { images, labels, size: s, n, step };
}

describe("two replicas against torch's DistributedDataParallel (two gloo processes)", () => {
  const f = trainFixture('ddp_mobilenet_v3_small');
  const c = f.config as { world_size: number; steps: number; lr: number; batch_size: number; image_size: number; clip_grad_norm: number; label_smoothing: number };
  const recipe = getRecipe('mobilenet_v3_small-fashion-mnist', {
    worldSize: c.world_size,
    batchSize: c.batch_size,
    trainCropSize: c.image_size,
    valResizeSize: c.image_size,
    valCropSize: c.image_size,
    lr: c.lr,
    clipGradNorm: c.clip_grad_norm,
    labelSmoothing: c.label_smoothing,
  });
  let losses: number[][];
  let states: StateDict[];

  beforeAll(async () => {
    const numel = [...stateOf(f.tensors, 'init.')].filter(([k]) => !/running_|num_batches/.test(k)).reduce((n, [, t]) => n + t.shape.reduce((a, d) => a * d, 1), 0);
    const sab = gradientAverageBuffer(c.world_size, numel);
    const trainers = [0, 1].map((rank) => new Trainer(recipe, { numClasses: 10, weights: stateOf(f.tensors, 'init.'), averager: new GradientAverager(sab, rank, c.world_size, numel) }));
    // Dropout off on both sides: torch draws its masks from its generator, we from ours.
    for (const t of trainers) for (const m of [t.model]) (m as unknown as { classifier: { layers: { p: number }[] } }).classifier.layers[2]!.p = 0;
    const x = f32(f, 'x');
    const y = Int32Array.from(get(f, 'y').data as BigInt64Array, Number);
    const per = c.batch_size * 3 * c.image_size ** 2;
    losses = [[], []];
    for (let step = 0; step < c.steps; step++) {
      // Both replicas step concurrently on this thread: each waits at the all-reduce for the other.
      const results = await Promise.all(
        trainers.map((t, rank) => {
          const k = step * c.world_size + rank;
          return t.step(batchOf(x.subarray(k * per, (k + 1) * per), y.subarray(k * c.batch_size, (k + 1) * c.batch_size), c.image_size, step), 0);
        }),
      );
      results.forEach((r, rank) => losses[rank]!.push(r.loss));
    }
    states = trainers.map((t) => t.model.stateDict());
    trainers.forEach((t) => t.dispose());
  }, 120_000);

  it("gives each replica torch's loss at every step", () => {
    const want = get(f, 'loss').data as Float64Array;
    for (let rank = 0; rank < 2; rank++) for (let s = 0; s < c.steps; s++) expect(Math.abs(losses[rank]![s]! - want[rank * c.steps + s]!), `rank ${rank} step ${s}`).toBeLessThan(1e-5);
  });

  it("ends with torch's weights, the same bits on both replicas, and each replica's own BatchNorm statistics (rank 0's saved)", () => {
    const want0 = stateOf(f.tensors, 'final0.');
    let worst = 0;
    for (const [key, t] of want0) {
      if (key.endsWith('num_batches_tracked')) continue;
      const got = toFloat32(states[0]!.get(key)!);
      worst = Math.max(worst, scaledError(got, toFloat32(t)));
      // Rank 1's statistics are its own batches' (torch's rank 1 overwrites them with rank 0's before
      // each forward, broadcast_buffers); train mode never reads them and only rank 0's are saved.
      if (key.includes('running_')) expect(toFloat32(states[1]!.get(key)!), key).not.toEqual(got);
      else expect(toFloat32(states[1]!.get(key)!), key).toEqual(got);
    }
    expect(worst).toBeLessThan(1e-5);
  });
});

describe('train() on 2 replicas (the second in a worker thread)', () => {
  const SMALL = { batchSize: 16, trainCropSize: 32, valResizeSize: 32, valCropSize: 32 } as const;
  const recipe = getRecipe('mobilenet_v3_small-fashion-mnist', { ...SMALL, epochs: 2, lr: 0.01, worldSize: 2 });
  let data: TrainData;
  let dir: string;
  let full: TrainResult;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mnv3-ddp-'));
    data = await loadRecipeData(recipe, { limit: { train: 192, val: 64, test: 64 } });
    full = await train(recipe, { data, outputDir: join(dir, 'full'), workers: 1, seed: 7 });
  }, 300_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('trains on half of each epoch per replica, leaks no tensors, records world_size in the checkpoint', () => {
    expect(full.stepLosses.get(0)).toHaveLength(6); // ⌈96 / 16⌉
    const ckpt = loadTorchCheckpoint(new Uint8Array(readFileSync(join(dir, 'full', 'checkpoint.pth')))) as Map<string, unknown>;
    const args = ckpt.get('args') as { attributes: Map<string, unknown> };
    expect(args.attributes.get('world_size')).toBe(2);
    const mean = (xs: number[]) => xs.reduce((s, v) => s + v, 0) / xs.length;
    expect(mean(full.stepLosses.get(1)!)).toBeLessThan(mean(full.stepLosses.get(0)!));
    // The averaged gradients are disposed with the step's own tensors.
    expect(new Set(full.numTensors.slice(1)).size, `numTensors per step: ${full.numTensors.join(',')}`).toBe(1);
  });

  it("evaluates on both replicas, each its shard of whole batches: one process's result on the same weights, bit for bit", async () => {
    const model = buildClassifier(recipe, 10, 0);
    const ckpt = loadTorchCheckpoint(new Uint8Array(readFileSync(join(dir, 'full', 'model_1.pth')))) as Map<string, unknown>;
    model.loadStateDict(ckpt.get('model') as StateDict);
    const whole = async (images: typeof data.val) => {
      const loader = new BatchLoader(images, pipelineSpec(recipe, 'eval'), { batchSize: 16, shuffle: false, seed: 7, workers: 0 });
      try {
        return await evaluate(model, loader, 0);
      } finally {
        await loader.close();
      }
    };
    try {
      const val = await whole(data.val);
      const last = full.history.epochs[1]!;
      expect([last.valAcc1, last.valAcc5, last.valLoss]).toEqual([val.acc1, val.acc5, val.loss]);
      expect(full.test).toEqual(await whole(data.test!));
      expect(full.test!.images).toBe(64);
    } finally {
      model.dispose();
    }
  }, 120_000);

  it('shards a split into whole batches in rank order, every image once (a shard may be empty)', () => {
    const labels = (p: { labels: Int32Array }) => Array.from(p.labels);
    for (const [n, batch, world] of [[64, 16, 2], [70, 16, 3], [5, 16, 2], [33, 8, 4]] as const) {
      const images = packUniform(new Uint8Array(n * 4), Array.from({ length: n }, (_, i) => i), 2, 2, 1);
      const shards = Array.from({ length: world }, (_, r) => evalShard(images, batch, r, world));
      expect(shards.flatMap(labels), `${n} images, batch ${batch}, ${world} replicas`).toEqual(labels(images));
      for (const s of shards.slice(0, -1)) expect(s.length % batch, `${n}/${batch}/${world}`).toBe(0);
    }
    expect(evalShard(packUniform(new Uint8Array(20), [0, 1, 2, 3, 4], 2, 2, 1), 16, 0, 2).length).toBe(0);
  });

  it("resumes exactly: both replicas continue from model_0.pth with the uninterrupted run's losses", async () => {
    const resumed = await train(recipe, { data, outputDir: join(dir, 'resumed'), resume: join(dir, 'full', 'model_0.pth'), workers: 0, seed: 7, evaluateTest: false });
    expect(resumed.stepLosses.get(1)).toEqual(full.stepLosses.get(1));
  }, 120_000);

  it('refuses a resume on another number of replicas, and a Trainer of a world_size-2 recipe on its own', async () => {
    const one = getRecipe('mobilenet_v3_small-fashion-mnist', { ...SMALL, epochs: 2, lr: 0.01 });
    await expect(train(one, { data, outputDir: join(dir, 'one'), resume: join(dir, 'full', 'model_0.pth'), workers: 0, seed: 7 })).rejects.toThrow(/another run: world_size 2 \(this run: 1\)/);
    expect(() => new Trainer(recipe, { numClasses: 10 })).toThrow(/trains on 2 processes \(world_size\) but this trainer is on its own/);
  });

  it('stops when a replica fails, with its error', async () => {
    // The replica fails on its checkpoint before its first step: any size of group will do.
    const numel = 10;
    const averager = ReplicaGroup.averagerFor(2, numel);
    const group = ReplicaGroup.start(averager, { recipe, numClasses: 10, seed: 7, images: data.train, evalImages: { val: data.val }, workers: 0, resume: join(dir, 'no-such.pth') });
    const grads = [tf.zeros([numel])];
    try {
      const err = await averager.average(grads, true).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ReplicaAbortedError);
      expect((err as Error).message).toMatch(/process 1 of 2 \(a worker thread\) failed: .*no-such\.pth/);
      // An evaluation asked of a failed group fails the same way, instead of waiting for an answer.
      await expect(group.evaluate('val', new Map())).rejects.toThrow(/process 1 of 2 \(a worker thread\) failed: .*no-such\.pth/);
    } finally {
      tf.dispose(grads);
      await group.close();
    }
  }, 60_000);

  it('keeps a replica waiting as long as rank 0 takes (as during an evaluation), without loader workers to keep its thread alive', async () => {
    const probe = new Trainer(getRecipe('mobilenet_v3_small-fashion-mnist', SMALL), { numClasses: 10 });
    const numel = probe.model.parameters().reduce((n, p) => n + p.size, 0);
    probe.dispose();
    const averager = ReplicaGroup.averagerFor(2, numel);
    const group = ReplicaGroup.start(averager, { recipe, numClasses: 10, seed: 7, images: data.train, evalImages: { val: data.val }, workers: 0 });
    const grads = [tf.zeros([numel])];
    try {
      await new Promise((ok) => setTimeout(ok, 3000)); // the replica reached its first step's all-reduce long ago
      const r = await averager.average(grads, true);
      expect(r.finite).toBe(true);
      if (r.finite) tf.dispose(r.grads);
    } finally {
      tf.dispose(grads);
      await group.close();
    }
  }, 60_000);

  it('stops on a NaN loss in any replica, naming them', async () => {
    const wild = getRecipe('mobilenet_v3_small-fashion-mnist', { ...SMALL, epochs: 2, lr: 1e6, opt: 'sgd', momentum: 0, worldSize: 2 });
    const err = await train(wild, { data, outputDir: join(dir, 'nan'), workers: 0 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TrainError);
    expect((err as Error).message).toMatch(/the loss of process [01](, 1)? of 2 is not finite at epoch \d+, step \d+ \(learning rate 1000000\)/);
  }, 120_000);
});
