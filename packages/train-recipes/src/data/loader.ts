// The trainer's batching loader (Node): a seeded shuffle of the epoch, and the samples' decoding and
// augmentation in a small pool of `worker_threads` that return ready float32 NHWC batches. The
// batches depend only on (seed, epoch, position in the epoch's order), never on which worker made
// them or how many there are (`workers: 0` makes them on the calling thread).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { batches, shuffledIndices } from '@mnv3/io';
import { seededRng } from '@mnv3/transforms';
import { fillBatch, makeTransform, mixSeed, outputSize, type PackedImages, type PipelineSpec } from './pipeline.js';

/** One batch: images float32 NHWC `[n, S, S, 3]`, labels int32 `[n]`. */
export interface Batch {
  images: Float32Array;
  labels: Int32Array;
  size: number;
  n: number;
  /** The batch's position in the epoch (0-based step). */
  step: number;
}

/** Options of {@link BatchLoader}. */
export interface BatchLoaderOptions {
  batchSize: number;
  /** Shuffle each epoch with a permutation seeded by (seed, epoch) (training); in order otherwise. */
  shuffle: boolean;
  seed: number;
  /** Worker threads (0: on the calling thread). Default min(2, cores − 1). */
  workers?: number;
  /** Batches in flight per worker (default 2). */
  prefetch?: number;
}

/** The permutation of epoch `epoch` (what a resumed run replays). */
export function epochOrder(n: number, seed: number, epoch: number, shuffle: boolean): Uint32Array {
  if (!shuffle) return Uint32Array.from({ length: n }, (_, i) => i);
  return shuffledIndices(n, seededRng(mixSeed(seed, 0x51, epoch)));
}

function workerUrl(): URL {
  // From dist the compiled worker is a sibling; from the sources (vitest) it is in dist too.
  const here = new URL('./loader-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(here))) return here;
  return new URL('../../dist/data/loader-worker.js', import.meta.url);
}

interface Pending {
  resolve: (b: { images: Float32Array; labels: Int32Array }) => void;
  reject: (e: Error) => void;
}

/**
 * Batches of a packed image set through a pipeline.
 *
 * @example
 * const loader = new BatchLoader(train, spec, { batchSize: 128, shuffle: true, seed: 0, workers: 2 });
 * for await (const b of loader.epoch(3)) step(b);
 * await loader.close();
 */
export class BatchLoader {
  readonly size: number;
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private readonly transform: ReturnType<typeof makeTransform> | null;
  private failure: Error | null = null;

  constructor(
    readonly images: PackedImages,
    readonly spec: PipelineSpec,
    readonly options: BatchLoaderOptions,
  ) {
    if (!Number.isInteger(options.batchSize) || options.batchSize < 1) throw new RangeError(`BatchLoader: batchSize must be a positive integer, got ${options.batchSize}`);
    this.size = outputSize(spec);
    const count = options.workers ?? 2;
    if (!Number.isInteger(count) || count < 0) throw new RangeError(`BatchLoader: workers must be an integer ≥ 0, got ${count}`);
    this.transform = count === 0 ? makeTransform(spec) : null;
    for (let w = 0; w < count; w++) {
      const worker = new Worker(workerUrl(), { workerData: { images, spec } });
      worker.on('message', (m: { id: number; images?: Float32Array; labels?: Int32Array; error?: string }) => {
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        if (m.error !== undefined) p.reject(new Error(`loader worker: ${m.error}`));
        else p.resolve({ images: m.images!, labels: m.labels! });
      });
      worker.on('error', (e) => this.fail(e));
      this.workers.push(worker);
    }
  }

  private fail(e: Error): void {
    this.failure = e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  /** The number of batches in an epoch. */
  get stepsPerEpoch(): number {
    return Math.ceil(this.images.length / this.options.batchSize);
  }

  private make(indices: Uint32Array, epoch: number, first: number, w: number): Promise<{ images: Float32Array; labels: Int32Array }> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.transform) {
      const images = new Float32Array(indices.length * this.size * this.size * 3);
      const labels = new Int32Array(indices.length);
      fillBatch(this.transform, this.images, indices, this.options.seed, epoch, first, images, labels);
      return Promise.resolve({ images, labels });
    }
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.workers[w % this.workers.length]!.postMessage({ id, indices: Uint32Array.from(indices), seed: this.options.seed, epoch, first });
    });
  }

  /** The batches of epoch `epoch`, in order, from step `fromStep` on. */
  async *epoch(epoch: number, fromStep = 0): AsyncGenerator<Batch> {
    const order = epochOrder(this.images.length, this.options.seed, epoch, this.options.shuffle);
    const bs = batches(order, this.options.batchSize);
    const ahead = Math.max(1, this.workers.length * (this.options.prefetch ?? 2));
    const queue: Promise<{ images: Float32Array; labels: Int32Array }>[] = [];
    let next = fromStep;
    const request = () => {
      if (next < bs.length) {
        queue.push(this.make(bs[next]!, epoch, next * this.options.batchSize, next));
        next++;
      }
    };
    for (let k = 0; k < (this.transform ? 1 : ahead); k++) request();
    for (let step = fromStep; step < bs.length; step++) {
      const b = await queue.shift()!;
      request();
      yield { images: b.images, labels: b.labels, size: this.size, n: b.labels.length, step };
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.workers.length = 0;
  }
}
