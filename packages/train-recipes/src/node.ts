// @mnv3/train-recipes/node: the trainer (train.py's loop), its data (Fashion-MNIST, ImageFolder) and
// the worker-thread batch loader. Node only (node:fs, node:worker_threads).
export type { EvalResult, TrainData, TrainOptions, TrainResult } from './trainer.js';
export { TrainError, evaluate, pipelineSpec, train } from './trainer.js';
export type { LoadDataOptions } from './data/datasets.js';
export { loadRecipeData } from './data/datasets.js';
export type { Batch, BatchLoaderOptions } from './data/loader.js';
export { BatchLoader, epochOrder } from './data/loader.js';
export type { PackedImages, PipelineSpec } from './data/pipeline.js';
export { fillBatch, makeTransform, mixSeed, packUniform, sampleSeed, subset } from './data/pipeline.js';
export type { TrainQatOptions, TrainQatResult } from './qat-trainer.js';
export { trainQat } from './qat-trainer.js';
