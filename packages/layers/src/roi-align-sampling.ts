/**
 * Averages of bilinear samples of NHWC feature maps: RoIAlign's inner loop, with its geometry
 * (which pixels, which weights) computed by the caller into a table. On tfjs' wasm backend it runs
 * in our WASM SIMD kernel on the maps in place; elsewhere (or in plain kernel mode) in the same
 * f32 arithmetic on the host, so both give the same bits.
 */
import * as tf from '@tensorflow/tfjs-core';
import { fastBackend, runKernel } from './kernels/fast.js';
import { Mnv3BilinearGather } from './kernels/names.js';

/**
 * The table, 4-byte words: per output cell, a header of 4 words — sample count, divisor (f32
 * bits), output offset (floats), map index — then per sample 8 words: four tap offsets (floats
 * from the map's start; each tap a pixel's C channels) and their four weights (f32 bits).
 */
export interface BilinearSamples {
  table: Int32Array;
  cells: number;
}

/** Words per cell header and per sample in `BilinearSamples.table`. */
export const GATHER_HEADER_WORDS = 4;
export const GATHER_SAMPLE_WORDS = 8;

const f = Math.fround;

/**
 * Channel j of a cell: `Σ_s (((w1·t1 + w2·t2) + w3·t3) + w4·t4) / divisor` (f32), written at
 * `offset + j·channelStride` of a float32 output of `outLength` values (`channelStride` 1: cells
 * NHWC; PH·PW: TorchVision's `[K, C, PH, PW]`). Outputs not covered by a cell are 0.
 */
export async function bilinearGather(maps: readonly tf.Tensor4D[], samples: BilinearSamples, outLength: number, channelStride: number): Promise<tf.Tensor1D> {
  if (maps.length === 0) throw new RangeError('bilinearGather needs at least one feature map');
  const c = maps[0]!.shape[3];
  if (maps.some((m) => m.shape[3] !== c)) throw new RangeError(`feature maps must have the same channel count, got ${maps.map((m) => m.shape[3]).join(', ')}`);
  if (fastBackend() && maps.every((m) => m.dtype === 'float32')) {
    const inputs: tf.NamedTensorMap = {};
    maps.forEach((m, i) => (inputs[`x${i}`] = m));
    return runKernel<tf.Tensor1D>(Mnv3BilinearGather, inputs, { table: samples.table, cells: samples.cells, outLength, channelStride });
  }
  const data = await Promise.all(maps.map(async (m) => (await m.data()) as Float32Array));
  return tf.tensor1d(bilinearGatherHost(data, c, samples, outLength, channelStride));
}

/** `bilinearGather` on host arrays (the maps' data, NHWC with `c` channels). */
export function bilinearGatherHost(maps: readonly Float32Array[], c: number, samples: BilinearSamples, outLength: number, channelStride: number): Float32Array {
  const { table, cells } = samples;
  const weights = new Float32Array(table.buffer, table.byteOffset, table.length);
  const out = new Float32Array(outLength);
  const acc = new Float32Array(c);
  let t = 0;
  for (let cell = 0; cell < cells; cell++) {
    const count = table[t]!;
    const divisor = weights[t + 1]!;
    const offset = table[t + 2]!;
    const x = maps[table[t + 3]!]!;
    t += GATHER_HEADER_WORDS;
    acc.fill(0);
    for (let s = 0; s < count; s++, t += GATHER_SAMPLE_WORDS) {
      const [p1, p2, p3, p4] = [table[t]!, table[t + 1]!, table[t + 2]!, table[t + 3]!];
      const [w1, w2, w3, w4] = [weights[t + 4]!, weights[t + 5]!, weights[t + 6]!, weights[t + 7]!];
      for (let j = 0; j < c; j++) {
        acc[j] = acc[j]! + f(f(f(f(w1 * x[p1 + j]!) + f(w2 * x[p2 + j]!)) + f(w3 * x[p3 + j]!)) + f(w4 * x[p4 + j]!));
      }
    }
    for (let j = 0; j < c; j++) out[offset + j * channelStride] = f(acc[j]! / divisor);
  }
  return out;
}
