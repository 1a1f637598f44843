import * as tf from '@tensorflow/tfjs-core';
import { countMacs, readCheckpoint, seededRng, type StateDict } from '@mnv3/layers';
import { benchEntry, type BenchModel } from './models.js';
import { benchInput } from './peers.js';
import type { Candidate } from './stats.js';

export interface OursOptions {
  model: string;
  /** NCHW, as TorchVision writes it; our models run the NHWC transpose. */
  input?: readonly [number, number, number, number];
  /** Weights file bytes; random (seeded) weights otherwise. */
  weights?: Uint8Array;
}

export interface Ours extends Candidate {
  model: BenchModel;
  input: readonly [number, number, number, number];
  params: number;
  macs: number;
  /** Bytes → first result: read the checkpoint, build, fold, first inference. */
  loadMs: number;
  dispose(): void;
}

/** Builds our model, loads weights (bytes or seeded random), and times the first result. */
export async function ours(options: OursOptions): Promise<Ours> {
  const entry = benchEntry(options.model);
  const input = options.input ?? entry.input;
  const [n, c, h, w] = input;
  const t0 = performance.now();
  const model = entry.build();
  if (options.weights) {
    const sd: StateDict = readCheckpoint(options.weights);
    model.module.loadStateDict(sd);
  } else {
    model.module.initWeights(seededRng(0));
  }
  const nchw = new Float32Array(n * c * h * w);
  for (let b = 0; b < n; b++) nchw.set(benchInput(h, w).subarray(0, c * h * w), b * c * h * w);
  const x = tf.tidy(() => tf.transpose(tf.tensor4d(nchw, [n, c, h, w]), [0, 2, 3, 1]) as tf.Tensor4D);
  const first = () => {
    const y = model.run(x);
    return Promise.all((Array.isArray(y) ? y : [y]).map(async (t) => (await t.data(), t.dispose())));
  };
  await first();
  const loadMs = performance.now() - t0;
  const macs = countMacs(() => tf.dispose(model.run(x)));
  return {
    name: 'mnv3 (tfjs-wasm)',
    model,
    input,
    params: model.module.numParams(),
    macs,
    loadMs,
    run: async () => {
      await first();
    },
    dispose: () => {
      x.dispose();
      model.module.dispose();
    },
  };
}
