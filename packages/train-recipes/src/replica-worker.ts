// One replica (rank ≥ 1) of a data-parallel run, in a worker thread: what a process other than rank 0
// does under `torchrun --nproc_per_node=N train.py`. It builds the same model from the same seed (or
// loads the same weights or checkpoint), trains on its rank's share of every epoch, and averages its
// gradients with the group's at every step (gradient-average.ts), so that its weights stay rank 0's.
// After each epoch (and once more at the end) it evaluates the weights rank 0 sends on its shard of
// the split, until rank 0 lets it proceed. Rank 0 (train(), on the calling thread) gathers the
// evaluations and writes the checkpoints and the history.
import { readFile } from 'node:fs/promises';
import { parentPort, workerData } from 'node:worker_threads';
import { setupBackend, type BackendName } from '@mnv3/layers/backend';
import { loadTorchCheckpoint, type StateDict } from '@mnv3/io';
import { GradientAverager } from './gradient-average.js';
import type { Recipe } from './recipes.js';
import { Trainer, buildClassifier, evalLoaderOptions, evaluateBatches, pipelineSpec, trainLoaderOptions, type EvalBatch } from './train-core.js';
import { BatchLoader } from './data/loader.js';
import type { PackedImages } from './data/pipeline.js';

/** What rank 0 asks of a replica between epochs: evaluate weights on its shard of a split, or go on. */
export type ReplicaRequest = { evaluate: { split: 'val' | 'test'; stateDict: StateDict } } | { proceed: true };
/** A replica's messages: its shard's evaluated batches, its end, or the error that stopped it. */
export type ReplicaReply = { evaluated: EvalBatch[] } | { done: true } | { error: string };

/** What rank 0 gives each replica (see replicas.ts). */
export interface ReplicaData {
  recipe: Recipe;
  numClasses: number;
  seed: number;
  rank: number;
  sab: SharedArrayBuffer;
  numel: number;
  images: PackedImages;
  /** This replica's shards of the splits it evaluates (evalShard). */
  evalImages: { val: PackedImages; test?: PackedImages };
  workers: number;
  backend: BackendName;
  weights?: StateDict;
  resume?: string;
}

const inbox: ReplicaRequest[] = [];
let wake: (() => void) | null = null;
parentPort!.on('message', (m: ReplicaRequest) => {
  inbox.push(m);
  wake?.();
});

async function nextRequest(): Promise<ReplicaRequest> {
  while (inbox.length === 0) await new Promise<void>((r) => (wake = r));
  wake = null;
  return inbox.shift()!;
}

const reply = (m: ReplicaReply) => parentPort!.postMessage(m);

async function run(d: ReplicaData): Promise<void> {
  await setupBackend({ backend: d.backend });
  await import('@mnv3/layers/train');
  const a = d.recipe.args;
  const averager = new GradientAverager(d.sab, d.rank, a.worldSize, d.numel);
  const trainer = new Trainer(d.recipe, { numClasses: d.numClasses, seed: d.seed, averager, ...(d.weights ? { weights: d.weights } : {}) });
  const loader = new BatchLoader(d.images, pipelineSpec(d.recipe, 'train'), trainLoaderOptions(d.recipe, d.seed, d.workers, d.rank));
  const evalModel = buildClassifier(d.recipe, d.numClasses, d.seed);
  const evalLoaders = new Map<string, BatchLoader>();
  // Evaluates what rank 0 sends, on this replica's shard, until rank 0 lets it proceed.
  const serveEvaluations = async () => {
    for (let m = await nextRequest(); !('proceed' in m); m = await nextRequest()) {
      const { split, stateDict } = m.evaluate;
      const images = d.evalImages[split];
      if (!images) throw new Error(`rank 0 asked for an evaluation on the ${split} split, which this replica was not given`);
      let shard = evalLoaders.get(split);
      if (!shard) evalLoaders.set(split, (shard = new BatchLoader(images, pipelineSpec(d.recipe, 'eval'), evalLoaderOptions(d.recipe, d.seed, d.workers))));
      evalModel.loadStateDict(stateDict);
      reply({ evaluated: await evaluateBatches(evalModel, shard, a.labelSmoothing) });
    }
  };
  try {
    const start = d.resume ? trainer.resume(loadTorchCheckpoint(new Uint8Array(await readFile(d.resume))), d.resume) : 0;
    for (let epoch = start; epoch < a.epochs; epoch++) {
      await trainer.trainEpoch(epoch, loader);
      trainer.endEpoch();
      await serveEvaluations();
    }
    await serveEvaluations(); // the averaged checkpoint and the test split
  } finally {
    await Promise.all([loader, ...evalLoaders.values()].map((l) => l.close()));
    trainer.dispose();
    evalModel.dispose();
  }
}

run(workerData as ReplicaData).then(
  () => reply({ done: true }),
  (e: unknown) => reply({ error: e instanceof Error ? e.message : String(e) }),
);
