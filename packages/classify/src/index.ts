export type { LoadOptions, ClassifyOptions, Logits } from './pipeline.js';
export { Classifier, load, loadChecked } from './pipeline.js';
export type { Prediction } from './topk.js';
export { softmax, topk } from './topk.js';
export type { WeightsSource } from './weights-source.js';
export { resolveStateDict } from './weights-source.js';
export type { ImageInput } from './inputs.js';
export { toImageBatch } from './inputs.js';
