// What every task pipeline shares (classify, segment, detect), as transformers.js' pipelines share
// one base: a registry of models by TorchVision name, one rule for weights names, one load skeleton,
// and one reader for the images a pipeline takes.
import * as tf from '@tensorflow/tfjs-core';
import { ImageError, checkImageSize, loadImage, type ImageSource, type RgbImage, type StateDict } from '@mnv3/io';
import type { Module } from './module.js';
import { getWeights, overwriteValueParam, type Weights, type WeightsEnum } from './weights-api.js';
import { loadWeightsInto, resolveStateDict, type WeightsSource } from './weights-source.js';

/**
 * An image as a pipeline takes it: anything `loadImage` reads (a path or URL, PNG/JPEG bytes, a
 * browser image source, an `RgbImage`) or an RGB tfjs tensor `[H, W, 3]` of 0–255 values.
 */
export type ImageInput = ImageSource | tf.Tensor3D;

/**
 * Reads an `ImageInput` into an 8-bit RGB image (tensor values are rounded and clamped to 0–255).
 *
 * @example const img = await readImageInput(tf.browser.fromPixels(canvas));
 */
export async function readImageInput(input: ImageInput): Promise<RgbImage> {
  if (!(input instanceof tf.Tensor)) return loadImage(input);
  if (input.rank !== 3 || input.shape[2] !== 3) {
    throw new ImageError('invalid-argument', `an image tensor must be RGB [H, W, 3] with values 0–255, got shape [${input.shape.join(', ')}]`);
  }
  const [height, width] = input.shape as [number, number, number];
  checkImageSize(width, height, 'tensor');
  const values = await input.data();
  const data = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) data[i] = Math.min(255, Math.max(0, Math.round(values[i] as number)));
  return { width, height, data };
}

/** One model of a registry: TorchVision's builder and its weights table (`null`: none published). */
export interface ModelEntry<O extends object = object, M extends Module = Module> {
  /** Builds the model with random weights; `weights` fixes what the checkpoint fixes (numClasses, …). */
  build(options?: O & { weights?: Weights }): M;
  weights: WeightsEnum | null;
}

/**
 * The models of one task by TorchVision name, as TorchVision's `register_model` / `get_model` /
 * `list_models`: packages register their builders when imported; a lookup of an unknown name
 * lists the valid ones.
 *
 * @example DETECTION_MODELS.get('fasterrcnn_mobilenet_v3_large_320_fpn').build()
 */
export class ModelRegistry<E extends ModelEntry<never, Module>> {
  private readonly entries = new Map<string, E>();

  constructor(
    /** What the models do, for messages (`classification`, `segmentation`, `detection`). */
    readonly task: string,
  ) {}

  /** Adds models; registering a name twice with another entry is an error. */
  register(entries: Readonly<Record<string, E>>): void {
    for (const [name, entry] of Object.entries(entries)) {
      const known = this.entries.get(name);
      if (known && known !== entry) throw new Error(`${this.task} model "${name}" is registered twice`);
      this.entries.set(name, entry);
    }
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** The entry of `name`, or an error listing the registered names. */
  get(name: string): E {
    const entry = this.entries.get(name);
    if (!entry) throw new Error(`unknown model "${name}"; valid: ${this.names().join(', ') || `(none: import a ${this.task} package)`}`);
    return entry;
  }

  /** Registered names, in registration order. */
  names(): string[] {
    return [...this.entries.keys()];
  }
}

/**
 * Whether a weights source names an entry of the model's weights table (`IMAGENET1K_V1`,
 * `DEFAULT`, …) rather than a file, URL, bytes or state dict.
 */
export function isWeightsName(source: WeightsSource): source is string {
  return typeof source === 'string' && /^[A-Z0-9_]+$/.test(source);
}

/** What every task's `load()` takes besides its build options. */
export interface LoadOptions {
  /** A weights name (`DEFAULT`, …), a path or URL of a `.pth` / `.safetensors` file, its bytes, or a state dict. */
  weights: WeightsSource;
  /** Download progress on stderr (Node). Default: when stderr is a terminal. */
  progress?: boolean;
}

/**
 * The skeleton of every task's `load()`: look a weights name up in the model's table and check
 * `numClasses` against it (before any download), build the model with `weights` as TorchVision's
 * builders take it, fetch and read the checkpoint, load it strictly, and dispose the model if
 * anything fails. `fromStateDict` lets the checkpoint's keys choose build options (the detectors'
 * norm layer); the model is then built after the checkpoint is read.
 *
 * @example const { model, weights } = await loadPretrained(name, CLASSIFICATION_MODELS.get(name), { weights: 'DEFAULT' });
 */
export async function loadPretrained<O extends { numClasses?: number }, M extends Module>(
  name: string,
  entry: ModelEntry<O, M>,
  options: Omit<O, 'weights'> & LoadOptions,
  fromStateDict?: (stateDict: StateDict) => Partial<O>,
): Promise<{ model: M; weights: Weights | null }> {
  const { weights: source, progress, ...buildOptions } = options;
  let weights: Weights | null = null;
  if (isWeightsName(source)) {
    if (!entry.weights) throw new Error(`${name} has no published weights: pass a .pth or .safetensors file`);
    weights = getWeights(entry.weights, source, name);
    overwriteValueParam('num_classes', buildOptions.numClasses, weights.meta.categories.length);
  }
  const build = (extra: Partial<O>) => entry.build({ ...(buildOptions as unknown as O), ...extra, weights: weights ?? undefined });
  let model: M | undefined = fromStateDict ? undefined : build({});
  try {
    const stateDict = await resolveStateDict(weights ?? source, { progress });
    model ??= build(fromStateDict!(stateDict));
    loadWeightsInto(model, stateDict, name);
  } catch (e) {
    model?.dispose();
    throw e;
  }
  return { model, weights };
}
