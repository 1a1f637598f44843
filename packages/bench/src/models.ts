import type * as tf from '@tensorflow/tfjs-core';
import { CLASSIFICATION_MODEL_NAMES, buildClassifier } from '@mnv3/backbone';
import type { Module } from '@mnv3/layers';

/** A model as the benchmark runs it: one NHWC batch in, whatever tensors out. */
export interface BenchModel {
  module: Module;
  run(x: tf.Tensor4D): tf.Tensor | tf.Tensor[];
}

export interface BenchEntry {
  /** Default input, NCHW as TorchVision users write it. */
  input: readonly [number, number, number, number];
  build(): BenchModel;
}

const classifiers = Object.fromEntries(
  CLASSIFICATION_MODEL_NAMES.map((name) => [
    name,
    {
      input: [1, 3, 224, 224] as const,
      build: (): BenchModel => {
        const m = buildClassifier(name);
        return { module: m, run: (x) => m.forward(x) };
      },
    },
  ]),
) as Record<string, BenchEntry>;

/** Every model the benchmark knows, by TorchVision name. */
export const BENCH_MODELS: Readonly<Record<string, BenchEntry>> = { ...classifiers };

export function benchEntry(name: string): BenchEntry {
  const entry = BENCH_MODELS[name];
  if (!entry) throw new Error(`unknown model "${name}"; valid: ${Object.keys(BENCH_MODELS).join(', ')}`);
  return entry;
}
