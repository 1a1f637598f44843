// The batching loader's platform-free part, shared by the Node loader (worker_threads, loader.ts)
// and the browser's (Web Workers, web-loader.ts): the seeded shuffle of an epoch, the request /
// reply protocol with the workers, prefetching, and the worker side's answer. Only how a worker is
// started differs. The batches depend only on (seed, epoch, position in the epoch's order), never
// on which worker made them or how many there are (`workers: 0` makes them on the calling thread).
import { batches, shuffledIndices } from '@mnv3/io';
import { seededRng } from '@mnv3/transforms';
import { fillBatch, makeTransform, mixSeed, outputSize, type PackedImages, type PipelineSpec } from './pipeline.js';
import { batchMixSeed, mixBatch } from './mix.js';

/** One batch: images float32 NHWC `[n, S, S, 3]`, labels int32 `[n]`. */
export interface Batch {
  images: Float32Array;
  labels: Int32Array;
  size: number;
  n: number;
  /** The batch's position in the epoch (0-based step). */
  step: number;
  /**
   * Set when the batch was mixed with itself rolled by one (train.py's --mixup-alpha /
   * --cutmix-alpha): the targets are `mixedTargets(labels, lambda, classes)`.
   */
  lambda?: number;
}

/** What the trainer and `evaluate` read batches from. */
export interface BatchSource {
  /** The side of the square images. */
  readonly size: number;
  readonly stepsPerEpoch: number;
  /** The batches of epoch `epoch`, in order, from step `fromStep` on. */
  epoch(epoch: number, fromStep?: number): AsyncGenerator<Batch>;
  close(): Promise<void>;
}

/** Options of the batch loaders. */
export interface BatchLoaderOptions {
  batchSize: number;
  /** Shuffle each epoch with a permutation seeded by (seed, epoch) (training); in order otherwise. */
  shuffle: boolean;
  seed: number;
  /** Worker threads (0: on the calling thread). Default 2. */
  workers?: number;
  /** Batches in flight per worker (default 2). */
  prefetch?: number;
  /**
   * Repeated augmentation (train.py's --ra-sampler with --ra-reps R): each image of the epoch's
   * order R times in a row, cut to ⌊n / 256⌋·256 samples, as TorchVision's RASampler on one process.
   */
  repetitions?: number;
  /**
   * This loader's share of a data-parallel run (train.py under `torchrun --nproc_per_node=N`): rank
   * `rank` of `worldSize` takes the samples DistributedSampler (or RASampler) gives that rank, from
   * the permutation every rank shares, and augments them with its own seed. Default rank 0 of 1.
   */
  replica?: Replica;
}

/** One process of a data-parallel run: its rank and the number of processes. */
export interface Replica {
  rank: number;
  worldSize: number;
}

const ONE: Replica = { rank: 0, worldSize: 1 };

function checkReplica(r: Replica, name: string): void {
  if (!Number.isSafeInteger(r.worldSize) || r.worldSize < 1) throw new RangeError(`${name}: replica.worldSize must be an integer ≥ 1, got ${String(r.worldSize)}`);
  if (!Number.isSafeInteger(r.rank) || r.rank < 0 || r.rank >= r.worldSize) throw new RangeError(`${name}: replica.rank must be an integer in [0, ${r.worldSize}), got ${String(r.rank)}`);
}

/** The samples of an epoch RASampler keeps on one process of `worldSize` for `n` images: ⌊⌊n / 256⌋·256 / worldSize⌋. */
export function repeatedAugmentationSamples(n: number, worldSize = 1): number {
  return Math.floor((Math.floor(n / 256) * 256) / worldSize);
}

/**
 * RASampler's order (references/classification/sampler.py) for the epoch's permutation `perm`:
 * each index `repetitions` times in a row, padded from its start to a multiple of the world size,
 * every `worldSize`-th from `rank` on, then the first ⌊⌊n / 256⌋·256 / worldSize⌋.
 */
export function repeatedAugmentationOrder(perm: Uint32Array, repetitions: number, replica: Replica = ONE): Uint32Array {
  const { rank, worldSize } = replica;
  const repeated = perm.length * repetitions;
  const keep = repeatedAugmentationSamples(perm.length, worldSize);
  const out = new Uint32Array(keep);
  for (let i = 0; i < keep; i++) {
    const j = (rank + i * worldSize) % repeated;
    out[i] = perm[Math.floor(j / repetitions)]!;
  }
  return out;
}

/**
 * DistributedSampler's order (torch.utils.data.distributed, drop_last=False) for the epoch's
 * permutation `perm`: padded by repeating it from its start to a multiple of the world size, then
 * every `worldSize`-th from `rank` on (⌈n / worldSize⌉ samples).
 */
export function distributedOrder(perm: Uint32Array, replica: Replica): Uint32Array {
  const { rank, worldSize } = replica;
  const out = new Uint32Array(Math.ceil(perm.length / worldSize));
  for (let i = 0; i < out.length; i++) out[i] = perm[(rank + i * worldSize) % perm.length]!;
  return out;
}

/**
 * The order of epoch `epoch` (what a resumed run replays): a seeded permutation, or 0 … n − 1
 * unshuffled, through RASampler when `repetitions` is given, and the share of `replica`.
 */
export function epochOrder(n: number, seed: number, epoch: number, shuffle: boolean, repetitions?: number, replica: Replica = ONE): Uint32Array {
  const perm = shuffle ? shuffledIndices(n, seededRng(mixSeed(seed, 0x51, epoch))) : Uint32Array.from({ length: n }, (_, i) => i);
  if (repetitions !== undefined) return repeatedAugmentationOrder(perm, repetitions, replica);
  return replica.worldSize === 1 ? perm : distributedOrder(perm, replica);
}

/** A request to a worker: the samples at positions `first, first+1, …` of epoch `epoch`'s order. */
export interface BatchRequest {
  id: number;
  indices: Uint32Array;
  seed: number;
  epoch: number;
  first: number;
}

/** A worker's reply (its buffers transferred). */
export interface BatchReply {
  id: number;
  images?: Float32Array;
  labels?: Int32Array;
  lambda?: number;
  error?: string;
}

/** A made batch, before its place in the epoch is known. */
type Made = { images: Float32Array; labels: Int32Array; lambda?: number };

/** The samples at positions `first, first+1, …` of epoch `epoch`'s order through the pipeline, then the batch mixing (where the worker or the calling thread makes them). */
function makeBatch(transform: ReturnType<typeof makeTransform>, spec: PipelineSpec, images: PackedImages, m: Omit<BatchRequest, 'id'>): Made {
  const size = outputSize(spec);
  const out = new Float32Array(m.indices.length * size * size * 3);
  const labels = new Int32Array(m.indices.length);
  fillBatch(transform, images, m.indices, m.seed, m.epoch, m.first, out, labels);
  const lambda = mixBatch(spec, out, labels.length, size, batchMixSeed(m.seed, m.epoch, m.first));
  return { images: out, labels, ...(lambda !== undefined ? { lambda } : {}) };
}

/** The worker side: answers requests for a packed image set through a pipeline. */
export function batchResponder(images: PackedImages, spec: PipelineSpec): (m: BatchRequest) => { reply: BatchReply; transfer: ArrayBuffer[] } {
  const transform = makeTransform(spec);
  return (m) => {
    try {
      const b = makeBatch(transform, spec, images, m);
      return { reply: { id: m.id, ...b }, transfer: [b.images.buffer as ArrayBuffer, b.labels.buffer as ArrayBuffer] };
    } catch (e) {
      return { reply: { id: m.id, error: e instanceof Error ? e.message : String(e) }, transfer: [] };
    }
  };
}

/** The loader's end of one worker. */
export interface LoaderPort {
  post(m: BatchRequest, transfer: ArrayBuffer[]): void;
  terminate(): Promise<unknown> | void;
}

/** Starts one worker holding `images` and `spec`, wired to the loader's reply and error handlers. */
export type SpawnWorker = (onReply: (m: BatchReply) => void, onError: (e: Error) => void) => LoaderPort;

interface Pending {
  resolve: (b: Made) => void;
  reject: (e: Error) => void;
}

/** A batch loader over a pool of workers that `spawn` starts (see BatchLoader and WebBatchLoader). */
export class WorkerBatchLoader implements BatchSource {
  readonly size: number;
  private readonly ports: LoaderPort[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private readonly transform: ReturnType<typeof makeTransform> | null;
  private failure: Error | null = null;
  private readonly replica: Replica;
  /** The seed of the samples' augmentations: the run's, mixed with the rank on ranks > 0. */
  private readonly augmentSeed: number;

  constructor(
    readonly images: PackedImages,
    readonly spec: PipelineSpec,
    readonly options: BatchLoaderOptions,
    spawn: SpawnWorker,
    name = 'BatchLoader',
  ) {
    if (!Number.isInteger(options.batchSize) || options.batchSize < 1) throw new RangeError(`${name}: batchSize must be a positive integer, got ${options.batchSize}`);
    this.size = outputSize(spec);
    this.replica = options.replica ?? ONE;
    checkReplica(this.replica, name);
    this.augmentSeed = this.replica.rank === 0 ? options.seed : mixSeed(options.seed, 0xd5, this.replica.rank);
    const reps = options.repetitions;
    if (reps !== undefined && !(Number.isInteger(reps) && reps >= 1)) throw new RangeError(`${name}: repetitions (--ra-reps) must be an integer ≥ 1, got ${reps}`);
    // (⌊n / 256⌋·256 samples per epoch, split over the processes: none below 256 images.)
    if (reps !== undefined && repeatedAugmentationSamples(images.length, this.replica.worldSize) === 0) throw new RangeError(`${name}: repeated augmentation (--ra-sampler) keeps ⌊n / 256⌋·256 samples per epoch, none of these ${images.length} images`);
    const count = options.workers ?? 2;
    if (!Number.isInteger(count) || count < 0) throw new RangeError(`${name}: workers must be an integer ≥ 0, got ${count}`);
    this.transform = count === 0 ? makeTransform(spec) : null;
    const onReply = (m: BatchReply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.error !== undefined) p.reject(new Error(`loader worker: ${m.error}`));
      else p.resolve({ images: m.images!, labels: m.labels!, ...(m.lambda !== undefined ? { lambda: m.lambda } : {}) });
    };
    for (let w = 0; w < count; w++) this.ports.push(spawn(onReply, (e) => this.fail(e)));
  }

  private fail(e: Error): void {
    this.failure = e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  /** The number of batches in an epoch. */
  get stepsPerEpoch(): number {
    const { worldSize } = this.replica;
    const n = this.options.repetitions === undefined ? Math.ceil(this.images.length / worldSize) : repeatedAugmentationSamples(this.images.length, worldSize);
    return Math.ceil(n / this.options.batchSize);
  }

  private make(indices: Uint32Array, epoch: number, first: number, w: number): Promise<Made> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.transform) return Promise.resolve(makeBatch(this.transform, this.spec, this.images, { indices, seed: this.augmentSeed, epoch, first }));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.ports[w % this.ports.length]!.post({ id, indices: Uint32Array.from(indices), seed: this.augmentSeed, epoch, first }, []);
    });
  }

  /** The batches of epoch `epoch`, in order, from step `fromStep` on. */
  async *epoch(epoch: number, fromStep = 0): AsyncGenerator<Batch> {
    const order = epochOrder(this.images.length, this.options.seed, epoch, this.options.shuffle, this.options.repetitions, this.replica);
    const bs = batches(order, this.options.batchSize);
    const ahead = Math.max(1, this.ports.length * (this.options.prefetch ?? 2));
    const queue: Promise<Made>[] = [];
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
      yield { images: b.images, labels: b.labels, size: this.size, n: b.labels.length, step, ...(b.lambda !== undefined ? { lambda: b.lambda } : {}) };
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.ports.map((p) => p.terminate()));
    this.ports.length = 0;
  }
}
