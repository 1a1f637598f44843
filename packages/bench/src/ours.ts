import { readCheckpoint } from '@mnv3/io';
import { countMacsAsync, seededRng } from '@mnv3/layers';
import { benchEntry, type BenchModel } from './models.js';
import { benchInput } from './peers.js';
import type { Candidate } from './stats.js';

export interface OursOptions {
  model: string;
  /** Input in TorchVision's layout (NCHW, or CHW for a detection image); default the model's own. */
  input?: readonly number[];
  /** Weights file bytes; random (seeded) weights otherwise. */
  weights?: Uint8Array;
}

export interface Ours extends Candidate {
  model: BenchModel;
  input: readonly number[];
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
  if (input.length !== entry.input.length) {
    throw new Error(`${options.model} takes a rank-${entry.input.length} input like [${entry.input.join(',')}], got [${input.join(',')}]`);
  }
  const t0 = performance.now();
  const model = entry.build();
  if (options.weights) model.module.loadStateDict(readCheckpoint(options.weights));
  else model.module.initWeights(seededRng(0));
  const x = model.prepare(benchInput(input), input);
  await model.run(x);
  const loadMs = performance.now() - t0;
  const macs = await countMacsAsync(() => model.run(x));
  return {
    name: 'mnv3 (tfjs-wasm)',
    model,
    input,
    params: model.module.numParams(),
    macs,
    loadMs,
    run: () => model.run(x),
    dispose: () => {
      x.dispose();
      model.module.dispose();
    },
  };
}
