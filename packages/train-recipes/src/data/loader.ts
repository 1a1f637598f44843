// The trainer's batching loader in Node: the shared WorkerBatchLoader (batches.ts: seeded shuffle,
// prefetching) over a small pool of `worker_threads` that decode and augment the samples and return
// ready float32 NHWC batches. The browser's is WebBatchLoader (Web Workers, same batches).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { WorkerBatchLoader, type BatchLoaderOptions, type BatchReply } from './batches.js';
import type { PackedImages, PipelineSpec } from './pipeline.js';

export type { Batch, BatchLoaderOptions } from './batches.js';
export { epochOrder } from './batches.js';

function workerUrl(): URL {
  // From dist the compiled worker is a sibling; from the sources (vitest) it is in dist too.
  const here = new URL('./loader-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(here))) return here;
  return new URL('../../dist/data/loader-worker.js', import.meta.url);
}

/**
 * Batches of a packed image set through a pipeline, made in worker threads.
 *
 * @example
 * const loader = new BatchLoader(train, spec, { batchSize: 128, shuffle: true, seed: 0, workers: 2 });
 * for await (const b of loader.epoch(3)) step(b);
 * await loader.close();
 */
export class BatchLoader extends WorkerBatchLoader {
  constructor(images: PackedImages, spec: PipelineSpec, options: BatchLoaderOptions) {
    super(images, spec, options, (onReply, onError) => {
      const worker = new Worker(workerUrl(), { workerData: { images, spec } });
      worker.on('message', (m: BatchReply) => onReply(m));
      worker.on('error', onError);
      return { post: (m, transfer) => worker.postMessage(m, transfer), terminate: () => worker.terminate() };
    });
  }
}
