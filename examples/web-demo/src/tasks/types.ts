// The shape every task of the demo has. The page (main.ts) knows nothing about classification:
// it picks a task from TASKS (./index.ts), lists task.models, hands the chosen weights to
// task.load, each image to task.run, and the result to task.render. Detection and segmentation
// plug in as their own modules with this same shape.
import type { RgbImage } from '@mnv3/io';
import type { Weights } from '@mnv3/layers';

/** Pretrained weights the page can fetch (TorchVision's URL, or a built-in file; cached in Cache Storage). */
export interface RegistryWeights {
  /** `IMAGENET1K_V1`, `COCO_V1`, … (DEFAULT is listed as the entry it aliases). */
  name: string;
  isDefault: boolean;
  entry: Weights;
  /** Shipped inside the packages and served with the page (FASHION_MNIST_V1): works offline. */
  builtIn: boolean;
}

export interface TaskModel {
  /** TorchVision's builder name, e.g. `mobilenet_v3_large`. */
  name: string;
  weights: readonly RegistryWeights[];
}

/** The weights a user gave: a dropped/picked file, or a registry entry the page downloaded. */
export type WeightsInput =
  | { kind: 'file'; fileName: string; bytes: Uint8Array }
  | { kind: 'registry'; weights: RegistryWeights; bytes: Uint8Array };

/** Where a task draws its result: a panel for text/rows and a canvas laid over the image. */
export interface RenderTarget {
  panel: HTMLElement;
  /** Same pixel size as the image, stacked on its preview: boxes and masks go here. */
  overlay: HTMLCanvasElement;
  image: RgbImage;
}

/** A value of a task's own control (a select's value, a checkbox, a number). */
export type SettingValue = string | number | boolean;
export type Settings = Readonly<Record<string, SettingValue>>;

interface SettingBase {
  /** Key in `Settings`; the control gets `data-testid="setting-<id>"`. */
  id: string;
  label: string;
  /** `load`: a change rebuilds the model (and reruns); `run`: a change only reruns. */
  stage: 'load' | 'run';
  /** Shown only for these models (all when absent). */
  models?: readonly string[];
  /** A line under the control. */
  hint?: string;
}

/** A control a task adds to the page, next to the model selector. */
export type TaskSetting =
  | (SettingBase & { kind: 'select'; choices: readonly { value: string; label: string }[]; default: string })
  | (SettingBase & { kind: 'checkbox'; default: boolean })
  | (SettingBase & { kind: 'number'; min: number; max: number; step: number; default: number });

/** A short line about the loaded model (its precision, the kernels it runs on), shown by the latency. */
export interface ModelBadge {
  text: string;
  /** Set on the badge element as `data-*` attributes (for styles and tests). */
  data: Readonly<Record<string, string>>;
}

export interface TaskDescriptor<Model = unknown, Result = unknown> {
  id: string;
  /** What the task selector shows. */
  label: string;
  models: readonly TaskModel[];
  /** The task's own controls (resize, aux head, score threshold, …); none when absent. */
  settings?: readonly TaskSetting[];
  /**
   * The registry weights offered for `model` under these settings (a `load`-stage setting may pick
   * another weights table, e.g. the quantized one); `TaskModel.weights` when absent.
   */
  weightsFor?(model: string, settings: Settings): readonly RegistryWeights[];
  /**
   * Builds the model and loads the weights; throws with a message a person can act on.
   * `settings` holds every setting's current value (those of stage `load` are part of the model's key).
   */
  load(model: string, weights: WeightsInput, settings: Settings): Promise<Model>;
  run(model: Model, image: RgbImage, settings: Settings): Promise<Result>;
  render(result: Result, target: RenderTarget): void;
  /** What the page says about a loaded model next to the latency; nothing when absent or null. */
  badge?(model: Model): ModelBadge | null;
  dispose(model: Model): void;
}

/** Erases the type parameters, so tasks of different types share one list. */
export type AnyTask = TaskDescriptor<any, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
