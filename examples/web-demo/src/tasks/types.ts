// The shape every task of the demo has. The page (main.ts) knows nothing about classification:
// it picks a task from TASKS (./index.ts), lists task.models, hands the chosen weights to
// task.load, each image to task.run, and the result to task.render. Detection and segmentation
// plug in as their own modules with this same shape.
import type { RgbImage, Weights } from '@mnv3/layers';

/** Pretrained weights the page can download (TorchVision's URL, cached in Cache Storage). */
export interface RegistryWeights {
  /** `IMAGENET1K_V1`, `COCO_V1`, … (DEFAULT is listed as the entry it aliases). */
  name: string;
  isDefault: boolean;
  entry: Weights;
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

export interface TaskDescriptor<Model = unknown, Result = unknown> {
  id: string;
  /** What the task selector shows. */
  label: string;
  models: readonly TaskModel[];
  /** Builds the model and loads the weights; throws with a message a person can act on. */
  load(model: string, weights: WeightsInput): Promise<Model>;
  run(model: Model, image: RgbImage): Promise<Result>;
  render(result: Result, target: RenderTarget): void;
  dispose(model: Model): void;
}

/** Erases the type parameters, so tasks of different types share one list. */
export type AnyTask = TaskDescriptor<any, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
