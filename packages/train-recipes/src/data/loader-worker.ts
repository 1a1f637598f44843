// A BatchLoader worker: holds the packed images and the pipeline, and answers batch requests with
// transferred float32 NHWC batches.
import { parentPort, workerData } from 'node:worker_threads';
import { fillBatch, makeTransform, outputSize, type PackedImages, type PipelineSpec } from './pipeline.js';

const { images, spec } = workerData as { images: PackedImages; spec: PipelineSpec };
const transform = makeTransform(spec);
const size = outputSize(spec);

parentPort!.on('message', (m: { id: number; indices: Uint32Array; seed: number; epoch: number; first: number }) => {
  try {
    const out = new Float32Array(m.indices.length * size * size * 3);
    const labels = new Int32Array(m.indices.length);
    fillBatch(transform, images, m.indices, m.seed, m.epoch, m.first, out, labels);
    parentPort!.postMessage({ id: m.id, images: out, labels }, [out.buffer, labels.buffer]);
  } catch (e) {
    parentPort!.postMessage({ id: m.id, error: e instanceof Error ? e.message : String(e) });
  }
});
