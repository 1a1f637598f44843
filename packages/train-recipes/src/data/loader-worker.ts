// A BatchLoader worker thread: holds the packed images and the pipeline, and answers batch requests
// with transferred float32 NHWC batches (batchResponder, shared with the Web Worker).
import { parentPort, workerData } from 'node:worker_threads';
import { batchResponder, type BatchRequest } from './batches.js';
import type { PackedImages, PipelineSpec } from './pipeline.js';

const { images, spec } = workerData as { images: PackedImages; spec: PipelineSpec };
const answer = batchResponder(images, spec);

parentPort!.on('message', (m: BatchRequest) => {
  const { reply, transfer } = answer(m);
  parentPort!.postMessage(reply, transfer);
});
