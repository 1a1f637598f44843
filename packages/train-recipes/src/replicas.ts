// The replicas of a data-parallel run in Node: train() with a recipe whose `worldSize` is N > 1 runs
// rank 0 on the calling thread and ranks 1 … N − 1 in worker threads (replica-worker.ts), as
// `torchrun --nproc_per_node=N train.py` runs N processes: the batch size is per replica, each takes
// its DistributedSampler share of every epoch, gradients are averaged at every step, BatchNorm's
// statistics stay per replica (rank 0's are the ones saved, as DDP's broadcast_buffers keeps them).
// Between epochs rank 0 hands each replica the weights to evaluate (its own model's, the EMA's, the
// averaged checkpoint's) and every replica evaluates its shard of the split (evalShard), as train.py
// evaluates on every process.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import type { StateDict } from '@mnv3/io';
import type { BackendName } from '@mnv3/layers/backend';
import { GradientAverager, ReplicaAbortedError, gradientAverageBuffer } from './gradient-average.js';
import type { Recipe } from './recipes.js';
import type { ReplicaData, ReplicaReply, ReplicaRequest } from './replica-worker.js';
import { evalShard, type EvalBatch } from './train-core.js';
import type { PackedImages } from './data/pipeline.js';

function workerUrl(): URL {
  // From dist the compiled worker is a sibling; from the sources (vitest) it is in dist too.
  const here = new URL('./replica-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(here))) return here;
  return new URL('../dist/replica-worker.js', import.meta.url);
}

/** Options of {@link ReplicaGroup.start}. */
export interface ReplicaGroupOptions {
  recipe: Recipe;
  numClasses: number;
  seed: number;
  images: PackedImages;
  /** The splits the replicas evaluate their shards of (`evaluate`): validation every epoch, test at the end. */
  evalImages: { val: PackedImages; test?: PackedImages };
  /** Loader worker threads per replica. */
  workers: number;
  weights?: StateDict;
  /** The checkpoint every replica resumes from. */
  resume?: string;
}

/**
 * Ranks 1 … N − 1 of a data-parallel run, started in worker threads around rank 0's end of the
 * group (`averagerFor`). When a replica fails, the group is aborted: rank 0's next (or current)
 * average or evaluation throws a `ReplicaAbortedError` naming the replica and its error.
 */
export class ReplicaGroup {
  private readonly workers: Worker[] = [];
  /** Per replica, the evaluations asked of it and not yet answered, oldest first. */
  private readonly waiting: { resolve: (b: EvalBatch[]) => void; reject: (e: Error) => void }[][] = [];
  private closed = false;

  private constructor(readonly averager: GradientAverager) {}

  /** Rank 0's end of a new group of `worldSize` replicas averaging `numel` values per step. */
  static averagerFor(worldSize: number, numel: number): GradientAverager {
    return new GradientAverager(gradientAverageBuffer(worldSize, numel), 0, worldSize, numel);
  }

  /** Starts ranks 1 … N − 1 on rank 0's `averager` (the recipe's `worldSize` replicas in all). */
  static start(averager: GradientAverager, o: ReplicaGroupOptions): ReplicaGroup {
    const { worldSize, numel, sab } = averager;
    if (averager.rank !== 0 || o.recipe.args.worldSize !== worldSize) throw new RangeError(`ReplicaGroup.start: needs rank 0's averager of a group of ${o.recipe.args.worldSize}`);
    const group = new ReplicaGroup(averager);
    const backend = tf.getBackend() as BackendName;
    for (let rank = 1; rank < worldSize; rank++) {
      const batchSize = o.recipe.args.batchSize;
      const evalImages = {
        val: evalShard(o.evalImages.val, batchSize, rank, worldSize),
        ...(o.evalImages.test ? { test: evalShard(o.evalImages.test, batchSize, rank, worldSize) } : {}),
      };
      const data: ReplicaData = { recipe: o.recipe, numClasses: o.numClasses, seed: o.seed, rank, sab, numel, images: o.images, evalImages, workers: o.workers, backend, ...(o.weights ? { weights: o.weights } : {}), ...(o.resume ? { resume: o.resume } : {}) };
      const worker = new Worker(workerUrl(), { workerData: data });
      const waiting: (typeof group.waiting)[number] = [];
      let done = false;
      const fail = (why: string) => {
        if (group.closed || group.averager.aborted) return;
        group.averager.abortReason = `process ${rank} of ${worldSize} (a worker thread) failed: ${why}`;
        group.averager.abort();
        for (const w of group.waiting) for (const p of w.splice(0)) p.reject(new ReplicaAbortedError(group.averager.abortReason));
      };
      worker.on('message', (m: ReplicaReply) => {
        if ('done' in m) done = true;
        else if ('error' in m) fail(m.error);
        else waiting.shift()?.resolve(m.evaluated);
      });
      worker.on('error', (e) => fail(e.message));
      worker.on('exit', (code) => {
        if (!done) fail(`it exited (code ${code}) before the end of the run`);
      });
      group.workers.push(worker);
      group.waiting.push(waiting);
    }
    return group;
  }

  /**
   * Has ranks 1 … N − 1 evaluate `stateDict` on their shards of `split` (rank 0 evaluates its own
   * meanwhile): their batches, in rank order.
   */
  async evaluate(split: 'val' | 'test', stateDict: StateDict): Promise<EvalBatch[]> {
    if (this.averager.aborted) throw new ReplicaAbortedError(this.averager.abortReason);
    const replies = this.workers.map((worker, k) => {
      const reply = new Promise<EvalBatch[]>((resolve, reject) => this.waiting[k]!.push({ resolve, reject }));
      worker.postMessage({ evaluate: { split, stateDict } } satisfies ReplicaRequest);
      return reply;
    });
    return (await Promise.all(replies)).flat();
  }

  /** Lets the replicas go on (to the next epoch, or to their end) once rank 0's evaluations are asked. */
  proceed(): void {
    for (const worker of this.workers) worker.postMessage({ proceed: true } satisfies ReplicaRequest);
  }

  /** Stops the replicas (at the end of the run, or when rank 0 stops). */
  async close(): Promise<void> {
    this.closed = true;
    this.averager.abort();
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.workers.length = 0;
  }
}
