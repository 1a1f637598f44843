import * as tf from '@tensorflow/tfjs-core';
import { CLASSIFICATION_MODELS, buildClassifier, type ClassifierBuildOptions, type ImageClassifier } from '@mnv3/backbone';
import { getWeights, loadPretrained, readImageInput, type ImageInput, type LoadOptions as BaseLoadOptions, type Weights } from '@mnv3/layers';
import { ImageClassification, type ImageClassificationPreset } from '@mnv3/transforms';
import { topk, type Prediction } from './topk.js';

/** TorchVision's V1 classification preset: used when weights come from a file, which carries none. */
const DEFAULT_PRESET = { cropSize: 224, resizeSize: 256 } as const;

/** `load()`'s options: the build options, and the weights (default `DEFAULT`) as every task's `load()` takes them. */
export interface LoadOptions extends Omit<ClassifierBuildOptions, 'weights'>, Partial<BaseLoadOptions> {}

/** Raw logits: float32 `[N, numClasses]`, row-major. */
export interface Logits {
  data: Float32Array;
  shape: [number, number];
}

export interface ClassifyOptions {
  /** How many classes per image, best first. Default 5. */
  topk?: number;
}

/**
 * A loaded classification model with its preprocessing: images in, top-k classes out.
 * Create it with `load()`; release it with `dispose()`.
 */
export class Classifier {
  constructor(
    readonly name: string,
    readonly model: ImageClassifier,
    /** Class names, index-aligned with the logits (empty when unknown). */
    readonly categories: readonly string[],
    readonly preset: ImageClassificationPreset,
    /** The registry entry the weights came from, if any. */
    readonly weights: Weights | null,
  ) {}

  /**
   * Raw logits, float32 `[N, numClasses]` row-major, one row per image in input order.
   *
   * @example const { data, shape } = await classifier.logits(['cat.png', 'dog.png']);
   */
  async logits(input: ImageInput | readonly ImageInput[]): Promise<Logits> {
    const inputs = Array.isArray(input) ? (input as readonly ImageInput[]) : [input as ImageInput];
    const rows: Float32Array[] = [];
    for (const item of inputs) {
      // One image at a time: sizes may differ before the crop, and memory stays flat.
      const { data, shape } = this.preset.apply(await readImageInput(item));
      const x = tf.tensor4d(data, [1, ...shape]);
      try {
        const y = this.model.forward(x);
        rows.push((await y.data()) as Float32Array);
        y.dispose();
      } finally {
        x.dispose();
      }
    }
    const n = this.model.numClasses;
    const data = new Float32Array(rows.reduce((a, r) => a + r.length, 0));
    let offset = 0;
    for (const r of rows) {
      data.set(r, offset);
      offset += r.length;
    }
    return { shape: [data.length / n, n], data };
  }

  /**
   * Classifies one image (→ its top-k) or several (→ one top-k list each). Inputs: a path or URL
   * (Node), encoded PNG/JPEG bytes, a Blob, ImageData or a DOM image source (browsers), or an
   * RGB tfjs tensor `[H, W, 3]` of 0–255 values.
   *
   * @example const [best] = await classifier.classify('cat.png', { topk: 1 }); // { index: 281, label: 'tabby', score: 0.83 }
   */
  async classify(input: ImageInput, options?: ClassifyOptions): Promise<Prediction[]>;
  async classify(input: readonly ImageInput[], options?: ClassifyOptions): Promise<Prediction[][]>;
  async classify(input: ImageInput | readonly ImageInput[], options: ClassifyOptions = {}): Promise<Prediction[] | Prediction[][]> {
    const k = options.topk ?? 5;
    if (!Number.isInteger(k) || k < 1) throw new RangeError(`topk must be a positive integer, got ${k}`);
    const { data, shape } = await this.logits(input);
    const n = shape[1]!;
    const results: Prediction[][] = [];
    for (let i = 0; i < shape[0]!; i++) results.push(topk(data.subarray(i * n, (i + 1) * n), k, this.categories));
    return Array.isArray(input) ? results : results[0]!;
  }

  dispose(): void {
    this.model.dispose();
  }
}

/**
 * Builds a classification model by TorchVision name and loads its weights.
 *
 * @example
 * const classifier = await load('mobilenet_v3_large', { weights: 'IMAGENET1K_V1' });
 * console.log(await classifier.classify('cat.png'));
 */
export async function load(name: string, options: LoadOptions = {}): Promise<Classifier> {
  const entry = CLASSIFICATION_MODELS.get(name);
  const { model, weights } = await loadPretrained(name, { ...entry, build: (o) => buildClassifier(name, o) }, { ...options, weights: options.weights ?? 'DEFAULT' });
  const known = getWeights(entry.weights, 'DEFAULT', name).meta.categories;
  const categories = weights ? weights.meta.categories : model.numClasses === known.length ? known : [];
  const preset = weights?.transforms.kind === 'ImageClassification' ? weights.transforms : DEFAULT_PRESET;
  return new Classifier(name, model, categories, ImageClassification(preset), weights);
}
