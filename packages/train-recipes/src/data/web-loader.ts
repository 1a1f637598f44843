// The trainer's batching loader in a browser: the shared WorkerBatchLoader (batches.ts: seeded
// shuffle, prefetching) over module Web Workers that decode and augment the samples, so the page's
// training thread only runs tfjs. Same batches as Node's BatchLoader for the same (seed, epoch).
import { WorkerBatchLoader, type BatchLoaderOptions, type BatchReply } from './batches.js';
import type { PackedImages, PipelineSpec } from './pipeline.js';

/** Options of {@link WebBatchLoader}. */
export interface WebBatchLoaderOptions extends BatchLoaderOptions {
  /**
   * Starts one loader worker (default: this package's web-loader-worker.js as a module Worker,
   * which bundlers such as Vite find through `new URL(…, import.meta.url)`).
   */
  createWorker?: () => Worker;
}

function defaultWorker(): Worker {
  if (typeof Worker === 'undefined') throw new Error('WebBatchLoader: this environment has no Web Workers (use workers: 0, or BatchLoader from @mnv3/train-recipes/node in Node)');
  return new Worker(new URL('./web-loader-worker.js', import.meta.url), { type: 'module' });
}

/**
 * Batches of a packed image set through a pipeline, made in Web Workers.
 *
 * @example
 * const loader = new WebBatchLoader(train, pipelineSpec(recipe, 'train'), { batchSize: 32, shuffle: true, seed: 0, workers: 1 });
 * for await (const b of loader.epoch(0)) await trainer.step(b, 0);
 * await loader.close();
 */
export class WebBatchLoader extends WorkerBatchLoader {
  constructor(images: PackedImages, spec: PipelineSpec, options: WebBatchLoaderOptions) {
    super(
      images,
      spec,
      options,
      (onReply, onError) => {
        const worker = (options.createWorker ?? defaultWorker)();
        worker.onmessage = (e: MessageEvent<BatchReply>) => onReply(e.data);
        worker.onerror = (e) => {
          e.preventDefault();
          onError(new Error(`loader worker: ${e.message || 'failed to start (is web-loader-worker.js served?)'}`));
        };
        // The images are copied once into each worker; only batches cross afterwards.
        worker.postMessage({ images, spec });
        return { post: (m, transfer) => worker.postMessage(m, transfer), terminate: () => worker.terminate() };
      },
      'WebBatchLoader',
    );
  }
}
