// A WebBatchLoader worker (a module Web Worker): the first message brings the packed images and the
// pipeline spec, every later one is a batch request, answered with transferred float32 NHWC batches
// (batchResponder, shared with the Node worker thread).
import { batchResponder, type BatchReply, type BatchRequest } from './batches.js';
import type { PackedImages, PipelineSpec } from './pipeline.js';

let answer: ((m: BatchRequest) => { reply: BatchReply; transfer: ArrayBuffer[] }) | null = null;

self.onmessage = (e: MessageEvent<BatchRequest | { images: PackedImages; spec: PipelineSpec }>) => {
  if (!answer) {
    const init = e.data as { images: PackedImages; spec: PipelineSpec };
    answer = batchResponder(init.images, init.spec);
    return;
  }
  const { reply, transfer } = answer(e.data as BatchRequest);
  self.postMessage(reply, { transfer });
};
