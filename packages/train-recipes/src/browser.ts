// @mnv3/train-recipes/browser: the Web Worker batch loader (the same batches as Node's BatchLoader).
// The trainer's core (Trainer, evaluate, pipelineSpec, packUniform…) is in the main entry.
export type { WebBatchLoaderOptions } from './data/web-loader.js';
export { WebBatchLoader } from './data/web-loader.js';
