import {
  CLASSIFICATION_MODELS,
  CLASSIFICATION_MODEL_NAMES,
  buildClassifier,
  type ClassificationModelName,
  type ClassifierBuildOptions,
  type ImageClassifier,
} from '@mnv3/backbone';
import { ImageClassification, getWeights, loadWeightsInto, resolveStateDict, type WeightsSource, type ImageClassificationPreset, type StateDict, type Weights } from '@mnv3/layers';
import { toImageBatch, type ImageInput } from './inputs.js';
import { topk, type Prediction } from './topk.js';

/** TorchVision's V1 classification preset: used when weights come from a file, which carries none. */
const DEFAULT_PRESET = { kind: 'ImageClassification', cropSize: 224, resizeSize: 256 } as const;

export interface LoadOptions extends ClassifierBuildOptions {
  /**
   * A registry name (`IMAGENET1K_V1`, `IMAGENET1K_V2`, `DEFAULT`), a path or URL to a `.pth` or
   * `.safetensors` file, its bytes, or a state dict. Default `DEFAULT`.
   */
  weights?: WeightsSource;
  /** Download progress on stderr (Node). Default: when stderr is a terminal. */
  progress?: boolean;
}

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
    readonly name: ClassificationModelName,
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
      const x = await toImageBatch(item, this.preset);
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
  if (!CLASSIFICATION_MODEL_NAMES.includes(name as ClassificationModelName)) {
    throw new Error(`unknown model "${name}"; valid: ${CLASSIFICATION_MODEL_NAMES.join(', ')}`);
  }
  const modelName = name as ClassificationModelName;
  const source = options.weights ?? 'DEFAULT';
  const table = CLASSIFICATION_MODELS[modelName].weights;
  const registry = typeof source === 'string' && /^[A-Z0-9_]+$/.test(source) ? getWeights(table, source, modelName) : null;
  let numClasses = options.numClasses;
  if (registry) {
    const expected = registry.meta.categories.length;
    if (numClasses !== undefined && numClasses !== expected) {
      throw new Error(`The parameter 'numClasses' expected value ${expected} but got ${numClasses} instead (weights ${String(source)})`);
    }
    numClasses = expected;
  }
  const model = buildClassifier(modelName, { ...options, numClasses });
  try {
    const stateDict: StateDict = await resolveStateDict(registry ?? source, { progress: options.progress });
    loadWeightsInto(model, stateDict, modelName);
  } catch (e) {
    model.dispose();
    throw e;
  }
  const categories = registry
    ? registry.meta.categories
    : model.numClasses === table.DEFAULT.meta.categories.length
      ? table.DEFAULT.meta.categories
      : [];
  const preset = registry?.transforms.kind === 'ImageClassification' ? registry.transforms : DEFAULT_PRESET;
  return new Classifier(modelName, model, categories, ImageClassification(preset), registry);
}
