// @mnv3/train-recipes/node: the trainer (train.py's loop: files, checkpoints, history), its data
// (Fashion-MNIST, ImageFolder) and the worker-thread batch loader. Node only (node:fs,
// node:worker_threads). The platform-free core (Trainer, evaluate, pipelines) is in the main entry.
export type { TrainOptions, TrainResult } from './trainer.js';
export { train } from './trainer.js';
export type { EvalResult, TrainData } from './train-core.js';
export { TrainError, evaluate, pipelineSpec } from './train-core.js';
export type { LoadDataOptions } from './data/datasets.js';
export { loadRecipeData } from './data/datasets.js';
export type { Batch, BatchLoaderOptions } from './data/batches.js';
export { epochOrder } from './data/batches.js';
export { BatchLoader } from './data/loader.js';
export type { PackedImages, PipelineSpec } from './data/pipeline.js';
export { fillBatch, makeTransform, mixSeed, packUniform, sampleSeed, subset } from './data/pipeline.js';
export type { TrainQatOptions, TrainQatResult } from './qat-trainer.js';
export { trainQat } from './qat-trainer.js';
