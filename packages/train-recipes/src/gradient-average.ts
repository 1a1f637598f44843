// Data parallelism's one collective, as torch's DistributedDataParallel runs it after backward: every
// replica's gradients divided by the world size and summed (an all-reduce), so that every replica
// applies the same update to the same weights. Here the replicas are threads of one machine (worker
// threads in Node) and the all-reduce goes through a SharedArrayBuffer, as a reduce-scatter then an
// all-gather: each replica writes its gradients into its own slot; after a barrier, replica r sums
// the r-th chunk of every slot in rank order into the shared average; after a second barrier every
// replica reads the whole average, the same bits for all. Slots and averages alternate between two
// regions by step parity, so that a replica already in the next step cannot overwrite what a slower
// one is still reading.
import * as tf from '@tensorflow/tfjs-core';
import { wasmValues } from '@mnv3/layers';

// Header words: the barrier's generation and arrivals, the abort flag, then per region and rank
// whether that replica's loss was finite.
const GEN = 0;
const ARRIVED = 1;
const ABORTED = 2;
const HEADER = 4;

/** `Atomics.waitAsync` (ES2024; in Node ≥ 16 and Chromium), typed here for the ES2022 lib. */
type WaitAsync = (a: Int32Array, index: number, value: number, timeout?: number) => { async: false; value: string } | { async: true; value: Promise<string> };
const waitAsync = (Atomics as unknown as { waitAsync?: WaitAsync }).waitAsync;

/** Why the all-reduce could not finish: another replica failed, or this group was aborted. */
export class ReplicaAbortedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReplicaAbortedError';
  }
}

/**
 * The shared memory of a data-parallel group of `worldSize` replicas, each averaging `numel`
 * float32 gradient values per step. Make it once and give it (it is transferable by sharing) to
 * every replica's {@link GradientAverager}.
 */
export function gradientAverageBuffer(worldSize: number, numel: number): SharedArrayBuffer {
  if (!Number.isSafeInteger(worldSize) || worldSize < 1) throw new RangeError(`gradientAverageBuffer: worldSize must be an integer ≥ 1, got ${String(worldSize)}`);
  if (!Number.isSafeInteger(numel) || numel < 1) throw new RangeError(`gradientAverageBuffer: numel must be an integer ≥ 1, got ${String(numel)}`);
  return new SharedArrayBuffer(bufferBytes(worldSize, numel));
}

function bufferBytes(worldSize: number, numel: number): number {
  return 4 * (HEADER + 2 * worldSize) + 4 * 2 * (worldSize + 1) * numel;
}

/** The outcome of one step's all-reduce. */
export type AverageResult = { finite: true; grads: tf.Tensor[] } | { finite: false; ranks: number[] };

/**
 * One replica's end of the group's all-reduce. `average(grads, finite)` is called by every replica
 * at every step, with its gradients in the same parameter order: it returns their average over the
 * replicas (new tensors, the caller disposes them), or, when some replica's loss was not finite,
 * which ranks had such a loss (then no replica steps).
 *
 * @example
 * const sab = gradientAverageBuffer(2, numel);      // shared with the other replica's thread
 * const averager = new GradientAverager(sab, rank, 2, numel);
 * const r = await averager.average(grads, Number.isFinite(loss));
 */
export class GradientAverager {
  private readonly header: Int32Array;
  private readonly slots: Float32Array[][];
  private readonly averages: Float32Array[];
  private steps = 0;
  /** Why the group stopped, when a replica other than this one failed (set by whoever watches them). */
  abortReason = 'another replica stopped';

  constructor(
    readonly sab: SharedArrayBuffer,
    readonly rank: number,
    readonly worldSize: number,
    readonly numel: number,
  ) {
    if (!(sab instanceof SharedArrayBuffer) || sab.byteLength !== bufferBytes(worldSize, numel)) {
      throw new RangeError(`GradientAverager: the shared buffer does not fit ${worldSize} replicas of ${numel} values (make it with gradientAverageBuffer)`);
    }
    if (!Number.isSafeInteger(rank) || rank < 0 || rank >= worldSize) throw new RangeError(`GradientAverager: rank must be an integer in [0, ${worldSize}), got ${String(rank)}`);
    if (!waitAsync) throw new Error('GradientAverager: this engine has no Atomics.waitAsync (Node ≥ 16, Chromium ≥ 87)');
    this.header = new Int32Array(sab, 0, HEADER + 2 * worldSize);
    const base = 4 * (HEADER + 2 * worldSize);
    this.slots = [0, 1].map((region) => Array.from({ length: worldSize }, (_, r) => new Float32Array(sab, base + 4 * numel * (region * worldSize + r), numel)));
    this.averages = [0, 1].map((region) => new Float32Array(sab, base + 4 * numel * (2 * worldSize + region), numel));
  }

  /** Stops the group: every replica waiting in `average` (now or later) throws a {@link ReplicaAbortedError}. */
  abort(): void {
    Atomics.store(this.header, ABORTED, 1);
    Atomics.notify(this.header, GEN);
  }

  get aborted(): boolean {
    return Atomics.load(this.header, ABORTED) !== 0;
  }

  /** DDP's all-reduce of this step's gradients (every replica calls it once per step). */
  async average(grads: readonly tf.Tensor[], finite: boolean): Promise<AverageResult> {
    const region = this.steps++ % 2;
    const mine = this.slots[region]![this.rank]!;
    let offset = 0;
    for (const g of grads) {
      const size = g.size;
      if (offset + size > this.numel) throw new RangeError(`GradientAverager: the gradients hold more than the ${this.numel} values the group was made for`);
      // Straight from the WASM heap where the backend is WASM; elsewhere without blocking the thread.
      if (finite) mine.set(wasmValues(g) ?? ((await g.data()) as Float32Array), offset);
      offset += size;
    }
    if (offset !== this.numel) throw new RangeError(`GradientAverager: the gradients hold ${offset} values, the group was made for ${this.numel}`);
    Atomics.store(this.header, HEADER + region * this.worldSize + this.rank, finite ? 1 : 0);
    await this.barrier();
    const ranks: number[] = [];
    for (let r = 0; r < this.worldSize; r++) if (Atomics.load(this.header, HEADER + region * this.worldSize + r) !== 1) ranks.push(r);
    if (ranks.length > 0) return { finite: false, ranks };
    // This replica's chunk of the average. DDP divides each replica's gradients by the world size,
    // then sums them in rank order (with 2 replicas: (a + b) / 2, the same bits, subnormal halves aside).
    const w = this.worldSize;
    const slots = this.slots[region]!;
    const avg = this.averages[region]!;
    const chunk = Math.ceil(this.numel / w);
    const end = Math.min(this.numel, (this.rank + 1) * chunk);
    if (w === 2) {
      const [a, b] = slots as [Float32Array, Float32Array];
      for (let i = this.rank * chunk; i < end; i++) avg[i] = Math.fround(a[i]! + b[i]!) * 0.5;
    } else {
      for (let i = this.rank * chunk; i < end; i++) {
        let v = Math.fround(slots[0]![i]! / w);
        for (let r = 1; r < w; r++) v = Math.fround(v + Math.fround(slots[r]![i]! / w));
        avg[i] = v;
      }
    }
    await this.barrier();
    offset = 0;
    const out = grads.map((g) => {
      const values = avg.subarray(offset, offset + g.size);
      offset += g.size;
      // A new tensor filled on the WASM heap in place; elsewhere, from a copy.
      const t = tf.zeros(g.shape, 'float32');
      const heap = wasmValues(t);
      if (heap) {
        heap.set(values);
        return t;
      }
      t.dispose();
      return tf.tensor(values.slice(), g.shape, 'float32');
    });
    return { finite: true, grads: out };
  }

  /** Waits until every replica has arrived (a generation-counting barrier on `Atomics.waitAsync`). */
  private async barrier(): Promise<void> {
    const h = this.header;
    const gen = Atomics.load(h, GEN);
    if (this.aborted) throw new ReplicaAbortedError(this.abortReason);
    if (Atomics.add(h, ARRIVED, 1) === this.worldSize - 1) {
      Atomics.store(h, ARRIVED, 0);
      Atomics.add(h, GEN, 1);
      Atomics.notify(h, GEN);
      return;
    }
    while (Atomics.load(h, GEN) === gen) {
      if (this.aborted) throw new ReplicaAbortedError(this.abortReason);
      const w = waitAsync!(h, GEN, gen, 1000);
      if (!w.async) continue;
      // A pending waitAsync does not keep Node's event loop alive: without this timer a replica with
      // nothing else to do (no loader workers) would end its thread while it waits.
      const alive = setTimeout(() => {}, 2000);
      await w.value;
      clearTimeout(alive);
    }
  }
}
