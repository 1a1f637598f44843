// One replica (rank ≥ 1) of a data-parallel run, in a worker thread: what a process other than rank 0
// does under `torchrun --nproc_per_node=N train.py`. It builds the same model from the same seed (or
// loads the same weights or checkpoint), trains on its rank's share of every epoch, and averages its
// gradients with the group's at every step (gradient-average.ts), so that its weights stay rank 0's.
// Rank 0 (train(), on the calling thread) evaluates, writes the checkpoints and the history.
import { readFile } from 'node:fs/promises';
import { parentPort, workerData } from 'node:worker_threads';
import { setupBackend, type BackendName } from '@mnv3/layers/backend';
import { loadTorchCheckpoint, type StateDict } from '@mnv3/io';
import { GradientAverager } from './gradient-average.js';
import type { Recipe } from './recipes.js';
import { Trainer, pipelineSpec, trainLoaderOptions } from './train-core.js';
import { BatchLoader } from './data/loader.js';
import type { PackedImages } from './data/pipeline.js';

/** What rank 0 gives each replica (see replicas.ts). */
export interface ReplicaData {
  recipe: Recipe;
  numClasses: number;
  seed: number;
  rank: number;
  sab: SharedArrayBuffer;
  numel: number;
  images: PackedImages;
  workers: number;
  backend: BackendName;
  weights?: StateDict;
  resume?: string;
}

async function run(d: ReplicaData): Promise<void> {
  await setupBackend({ backend: d.backend });
  await import('@mnv3/layers/train');
  const a = d.recipe.args;
  const averager = new GradientAverager(d.sab, d.rank, a.worldSize, d.numel);
  const trainer = new Trainer(d.recipe, { numClasses: d.numClasses, seed: d.seed, averager, ...(d.weights ? { weights: d.weights } : {}) });
  const loader = new BatchLoader(d.images, pipelineSpec(d.recipe, 'train'), trainLoaderOptions(d.recipe, d.seed, d.workers, d.rank));
  try {
    const start = d.resume ? trainer.resume(loadTorchCheckpoint(new Uint8Array(await readFile(d.resume))), d.resume) : 0;
    for (let epoch = start; epoch < a.epochs; epoch++) {
      await trainer.trainEpoch(epoch, loader);
      trainer.endEpoch();
    }
  } finally {
    await loader.close();
    trainer.dispose();
  }
}

run(workerData as ReplicaData).then(
  () => parentPort!.postMessage({ done: true }),
  (e: unknown) => parentPort!.postMessage({ error: e instanceof Error ? e.message : String(e) }),
);
