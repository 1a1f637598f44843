import { hashPrefixFromFileName } from '@mnv3/io';

/**
 * Pretrained weights as a typed table, TorchVision's `WeightsEnum` (`torchvision/models/_api.py`):
 * one entry per published checkpoint, with its URL, hash prefix, preprocessing and metrics.
 */

/** The preprocessing a checkpoint was trained with (TorchVision's `transforms/_presets.py`). */
export type TransformsPreset =
  | { kind: 'ImageClassification'; cropSize: number; resizeSize: number; grayscale?: boolean; inputType?: 'pil' | 'tensor' }
  | { kind: 'SemanticSegmentation'; resizeSize: number }
  | { kind: 'ObjectDetection' };

export interface WeightsMeta {
  /** Class names, index-aligned with the model's outputs. */
  categories: readonly string[];
  numParams: number;
  /** Smallest input (height, width) the model accepts. */
  minSize: readonly [number, number];
  /** Published metrics by dataset, e.g. `{ 'ImageNet-1K': { 'acc@1': 74.042, 'acc@5': 91.34 } }`. */
  metrics: Readonly<Record<string, Readonly<Record<string, number>>>>;
  recipe: string;
}

export interface Weights {
  url: string;
  /** The first hex digits of the file's SHA-256, as in its name (`…-8738ca79.pth`). */
  sha256Prefix: string;
  transforms: TransformsPreset;
  meta: WeightsMeta;
}

/** A model's weights table: named entries plus `DEFAULT`, which aliases one of them. */
export type WeightsEnum<K extends string = string> = Readonly<Record<K | 'DEFAULT', Weights>>;

/**
 * Makes a `Weights` entry, taking the hash prefix from the URL's file name as torch.hub does, or
 * from `sha256Prefix` when given: a file shipped in a package, whose URL a bundler may rename
 * (`…-e167efa2-BN1SwMCB.safetensors`), names its prefix itself.
 */
export function weights(url: string, transforms: TransformsPreset, meta: WeightsMeta, sha256Prefix?: string): Weights {
  const prefix = sha256Prefix ?? hashPrefixFromFileName(url.slice(url.lastIndexOf('/') + 1));
  if (!prefix || !/^[0-9a-f]+$/.test(prefix)) throw new Error(`weights URL ${url} carries no hash prefix`);
  return { url, sha256Prefix: prefix, transforms, meta };
}

/**
 * Looks a weights entry up by name (`IMAGENET1K_V1`, `DEFAULT`, …), with an error that lists the
 * valid names.
 */
export function getWeights<K extends string>(table: WeightsEnum<K>, name: string, model: string): Weights {
  if (!Object.prototype.hasOwnProperty.call(table, name)) {
    throw new Error(`unknown weights "${name}" for ${model}; valid: ${Object.keys(table).join(', ')}`);
  }
  return table[name as K];
}

/**
 * TorchVision's `WeightsEnum.verify`: the weights a builder is given must be an entry of its
 * table; anything else is an error that names the model and the valid entries.
 */
export function verifyWeights(table: WeightsEnum, w: Weights, model: string): Weights {
  if (!Object.values(table).includes(w)) {
    throw new Error(`the weights ${w.url} are not weights of ${model}; valid: ${Object.keys(table).filter((k) => k !== 'DEFAULT').join(', ')} of its weights table`);
  }
  return w;
}

/**
 * TorchVision's `_ovewrite_value_param`: a builder option that a checkpoint fixes takes the
 * checkpoint's value; an explicit different value is an error with TorchVision's message.
 *
 * @example overwriteValueParam('num_classes', options.numClasses, weights.meta.categories.length)
 */
export function overwriteValueParam<T>(param: string, actual: T | undefined, expected: T): T {
  if (actual !== undefined && actual !== expected) {
    throw new Error(`The parameter '${param}' expected value ${String(expected)} but got ${String(actual)} instead.`);
  }
  return expected;
}
