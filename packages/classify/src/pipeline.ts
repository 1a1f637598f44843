import * as tf from '@tensorflow/tfjs-core';
import { CLASSIFICATION_MODELS, buildClassifier, type ClassifierBuildOptions, type ImageClassifier } from '@mnv3/backbone';
import { getWeights, isWeightsName, loadPretrained, readImageInput, resolveStateDict, type ImageInput, type LoadOptions as BaseLoadOptions, type Weights } from '@mnv3/layers';
import {
  MobileNet_V3_Large_QuantizedWeights,
  QUANTIZABLE_ARCHS,
  QUANTIZED_WEIGHTS,
  QuantizationError,
  type QuantizedMobileNetV3,
  WasmQuantizedMobileNetV3,
  isQuantizedStateDict,
  quantizedModelFromStateDict,
} from '@mnv3/quantize';
import { ImageClassification, type ImageClassificationPreset } from '@mnv3/transforms';
import { topk, type Prediction } from './topk.js';

/** TorchVision's V1 classification preset: used when weights come from a file, which carries none. */
const DEFAULT_PRESET = { cropSize: 224, resizeSize: 256 } as const;

/** `load()`'s options: the build options, and the weights (default `DEFAULT`) as every task's `load()` takes them. */
export interface LoadOptions extends Omit<ClassifierBuildOptions, 'weights'>, Partial<BaseLoadOptions> {
  /**
   * TorchVision's quantized MobileNetV3 (int8, QNNPACK arithmetic; `mobilenet_v3_large` or
   * `mobilenet_v3_small`): `weights` is then `IMAGENET1K_QNNPACK_V1` (Large's `DEFAULT`),
   * `FASHION_MNIST_V1` (Small's `DEFAULT`, ours, shipped in @mnv3/quantize), a
   * QAT-layout `.pth` or our int8 `.safetensors` (`saveQuantized`, `mnv3 quantize`). It runs on the
   * int8 WASM SIMD kernels on tfjs' wasm backend, elsewhere on the exact host integer engine.
   */
  quantize?: boolean;
}

/**
 * The converted int8 model as a classifier runs it: on the WASM kernels when they load, else on the
 * host integer engine (same bits). Images in, float32 logits out.
 */
export class QuantizedImageClassifier {
  readonly kind = 'quantized';
  private readonly engine: WasmQuantizedMobileNetV3 | null;
  constructor(readonly model: QuantizedMobileNetV3) {
    this.engine = WasmQuantizedMobileNetV3.create(model);
  }

  get numClasses(): number {
    return this.model.numClasses;
  }

  /** Whether it runs on the int8 WASM kernels (else the host engine). */
  get wasm(): boolean {
    return this.engine !== null;
  }

  /**
   * Whether the int8 WASM kernels run their relaxed-SIMD build (picked when the kernels load, by a
   * `WebAssembly.validate` probe: Chromium; Node 20 with `--experimental-wasm-relaxed-simd`).
   * False on the plain-SIMD build and on the host engine.
   */
  get relaxedSimd(): boolean {
    return this.engine?.relaxedBuild ?? false;
  }

  /** The layers that run relaxed SIMD's int8 dot (weights within 7 bits); none off the relaxed build. */
  relaxedLayers(): string[] {
    return this.engine?.relaxedLayers() ?? [];
  }

  /** Dequantized logits, float32 `[N, numClasses]`, of NHWC float32 images `[N, H, W, 3]`. */
  forwardNhwc(data: Float32Array, shape: readonly [number, number, number, number]): Float32Array {
    return (this.engine ?? this.model).forward(data, shape).logits;
  }

  dispose(): void {
    this.engine?.dispose();
  }
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
    readonly name: string,
    /** The float model (a tfjs module), or the int8 one (`load(name, { quantize: true })`). */
    readonly model: ImageClassifier | QuantizedImageClassifier,
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
      rows.push(await this.logitsNhwc(data, [1, ...shape]));
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

  /** Classes per image. */
  get numClasses(): number {
    return this.model.numClasses;
  }

  /** Whether this is the int8 model (`load(name, { quantize: true })`). */
  get quantized(): boolean {
    return this.model instanceof QuantizedImageClassifier;
  }

  /**
   * Raw logits of already-preprocessed NHWC float32 images `[N, H, W, 3]`: float32 `[N × numClasses]`.
   *
   * @example const logits = await classifier.logitsNhwc(pixels, [1, 224, 224, 3]);
   */
  async logitsNhwc(data: Float32Array, shape: readonly [number, number, number, number]): Promise<Float32Array> {
    if (this.model instanceof QuantizedImageClassifier) return this.model.forwardNhwc(data, shape);
    const x = tf.tensor4d(data, [...shape]);
    try {
      const y = this.model.forward(x);
      const out = (await y.data()) as Float32Array;
      y.dispose();
      return out;
    } finally {
      x.dispose();
    }
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
  const { quantize, ...rest } = options;
  if (quantize) return loadQuantizedClassifier(name, rest);
  if (typeof rest.weights === 'string' && rest.weights in MobileNet_V3_Large_QuantizedWeights && rest.weights !== 'DEFAULT') {
    throw new QuantizationError('invalid-option', `${rest.weights} is TorchVision's quantized checkpoint: load it with quantize: true (mnv3 classify --quantize)`);
  }
  const entry = CLASSIFICATION_MODELS.get(name);
  const refuseQuantized = (sd: Parameters<typeof isQuantizedStateDict>[0]) => {
    if (isQuantizedStateDict(sd)) {
      throw new QuantizationError('invalid-option', 'this is a quantized checkpoint (QAT layout with fake quants and observers, or an mnv3 int8 file): load it with quantize: true (mnv3 classify --quantize)');
    }
    return {};
  };
  const fromFile = !isWeightsName(rest.weights ?? 'DEFAULT');
  const { model, weights } = await loadPretrained(
    name,
    { ...entry, build: (o) => buildClassifier(name, o) },
    { ...rest, weights: rest.weights ?? 'DEFAULT' },
    fromFile ? refuseQuantized : undefined,
  );
  const known = getWeights(entry.weights, 'DEFAULT', name).meta.categories;
  const categories = weights ? weights.meta.categories : model.numClasses === known.length ? known : [];
  const preset = weights?.transforms.kind === 'ImageClassification' ? weights.transforms : DEFAULT_PRESET;
  return new Classifier(name, model, categories, ImageClassification(preset), weights);
}

/** `load(name, { quantize: true, … })`: the int8 model from a registry name, a QAT-layout .pth or our int8 file. */
async function loadQuantizedClassifier(name: string, options: Omit<LoadOptions, 'quantize'>): Promise<Classifier> {
  if (!(QUANTIZABLE_ARCHS as readonly string[]).includes(name)) {
    throw new QuantizationError('invalid-option', `quantize: true takes ${QUANTIZABLE_ARCHS.join(' or ')}, got ${name}`);
  }
  if (options.widthMult !== undefined && options.widthMult !== 1) throw new QuantizationError('invalid-option', 'the quantized MobileNetV3 has width multiplier 1 only');
  if (options.reducedTail || options.dilated) throw new QuantizationError('invalid-option', 'the quantized MobileNetV3 has no reduced tail or dilated variant');
  const source = options.weights ?? 'DEFAULT';
  let weights: Weights | null = null;
  if (isWeightsName(source)) {
    const table = QUANTIZED_WEIGHTS[name as (typeof QUANTIZABLE_ARCHS)[number]] as Record<string, Weights>;
    weights = Object.prototype.hasOwnProperty.call(table, source) ? table[source]! : null;
    if (!weights) {
      throw new QuantizationError(
        'invalid-option',
        `no quantized weights named ${source} for ${name} (valid: ${Object.keys(table).join(', ')}): or pass a QAT-layout .pth or an mnv3 int8 .safetensors file`,
      );
    }
  }
  const sd = await resolveStateDict(weights ?? source, { progress: options.progress });
  const model = quantizedModelFromStateDict(name, sd, { numClasses: weights ? undefined : options.numClasses });
  if (weights && options.numClasses !== undefined && options.numClasses !== model.numClasses) {
    throw new QuantizationError('invalid-option', `numClasses is ${options.numClasses} but ${source} has ${model.numClasses} classes: leave it out`);
  }
  const known = getWeights(CLASSIFICATION_MODELS.get(name).weights, 'DEFAULT', name).meta.categories;
  const categories = weights ? weights.meta.categories : model.numClasses === known.length ? known : [];
  const preset = weights?.transforms.kind === 'ImageClassification' ? weights.transforms : DEFAULT_PRESET;
  return new Classifier(name, new QuantizedImageClassifier(model), categories, ImageClassification(preset), weights);
}
