export type { LoadOptions, ClassifyOptions, Logits } from './pipeline.js';
export { Classifier, QuantizedImageClassifier, load } from './pipeline.js';
export type { Prediction } from './topk.js';
export { softmax, topk } from './topk.js';
