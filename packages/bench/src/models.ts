import * as tf from '@tensorflow/tfjs-core';
import { CLASSIFICATION_MODELS } from '@mnv3/backbone';
import { DETECTION_MODELS } from '@mnv3/detection';
import type { Module } from '@mnv3/layers';
import { SEGMENTATION_MODELS } from '@mnv3/segmentation';
// Imported for their registrations (in this order, which is the order the registries list them).
import '@mnv3/detect-frcnn';
import '@mnv3/detect-retinanet';
import '@mnv3/segment-lraspp';
import '@mnv3/segment-deeplab';

/** A model as the benchmark runs it: one input in TorchVision's layout, one whole inference. */
export interface BenchModel {
  module: Module;
  /** Runs the model on `x` (as `prepare` made it) and waits for every output value. */
  run(x: tf.Tensor): Promise<void>;
  /** Our layout of the input: NHWC for images, HWC for one detection image. */
  prepare(input: Float32Array, shape: readonly number[]): tf.Tensor;
}

export interface BenchEntry {
  /** Default input in TorchVision's layout: NCHW, or CHW for one detection image. */
  input: readonly number[];
  build(): BenchModel;
  /**
   * An int8 row (`<arch>@int8`): TorchVision's quantized model of this architecture on
   * @mnv3/quantize's int8 engine (see ours.ts); `build` makes its float twin, the plain row's model,
   * timed beside it.
   */
  int8?: QuantizableArch;
}

export type QuantizableArch = 'mobilenet_v3_large' | 'mobilenet_v3_small';

const nchwToNhwc = (data: Float32Array, shape: readonly number[]): tf.Tensor =>
  tf.tidy(() => tf.transpose(tf.tensor4d(data, shape as [number, number, number, number]), [0, 2, 3, 1]));

async function readAll(y: tf.Tensor | tf.Tensor[]): Promise<void> {
  for (const t of Array.isArray(y) ? y : [y]) {
    await t.data();
    t.dispose();
  }
}

const classifiers = Object.fromEntries(
  CLASSIFICATION_MODELS.names().map((name): [string, BenchEntry] => [
    name,
    {
      input: [1, 3, 224, 224],
      build: () => {
        const m = CLASSIFICATION_MODELS.get(name).build();
        return { module: m, prepare: nchwToNhwc, run: (x) => readAll(m.forward(x as tf.Tensor4D)) };
      },
    },
  ]),
);

const segmenters = Object.fromEntries(
  SEGMENTATION_MODELS.names().flatMap((name) =>
    [520, 320].map((size): [string, BenchEntry] => [
      `${name}@${size}`,
      {
        input: [1, 3, size, size],
        build: () => {
          const m = SEGMENTATION_MODELS.get(name).build();
          return {
            module: m,
            prepare: nchwToNhwc,
            run: (x) => {
              const { out, aux } = m.forward(x as tf.Tensor4D);
              return readAll(aux ? [out, aux] : out);
            },
          };
        },
      },
    ]),
  ),
);

const detectors = Object.fromEntries(
  DETECTION_MODELS.names().map((name): [string, BenchEntry] => [
    name,
    {
      input: [3, 480, 640],
      build: () => {
        const m = DETECTION_MODELS.get(name).build();
        return {
          module: m,
          prepare: (data, shape) => tf.tidy(() => tf.transpose(tf.tensor3d(data, shape as [number, number, number]), [1, 2, 0])),
          run: async (x) => {
            await m.forward([x as tf.Tensor3D]);
          },
        };
      },
    },
  ]),
);

const quantized = Object.fromEntries(
  (['mobilenet_v3_large', 'mobilenet_v3_small'] as const).map((arch): [string, BenchEntry] => [`${arch}@int8`, { ...classifiers[arch]!, int8: arch }]),
);

/**
 * Every model the benchmark knows, by TorchVision name (`@520` / `@320`: segmentation input size;
 * `@int8`: TorchVision's quantized MobileNetV3 on our int8 engine).
 */
export const BENCH_MODELS: Readonly<Record<string, BenchEntry>> = { ...classifiers, ...quantized, ...segmenters, ...detectors };

export function benchEntry(name: string): BenchEntry {
  const entry = BENCH_MODELS[name];
  if (!entry) throw new Error(`unknown model "${name}"; valid: ${Object.keys(BENCH_MODELS).join(', ')}`);
  return entry;
}
