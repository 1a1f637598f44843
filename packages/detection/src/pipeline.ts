import { ModelRegistry, batchNorm2d, frozenBatchNorm2d, loadPretrained, readImageInput, type ImageInput, type LoadOptions, type Weights } from '@mnv3/layers';
import { encodePng, type RgbImage } from '@mnv3/io';
import { ObjectDetection, drawBoundingBoxes } from '@mnv3/transforms';
import type { DetectionBuildOptions, DetectionModel, DetectionModelEntry, Detections } from './detection-model.js';

/** One image's detections in its own pixels, best first, as TorchVision's dict plus class names. */
export interface DetectionResult {
  /** `[x1, y1, x2, y2]` per box. */
  boxes: [number, number, number, number][];
  labels: number[];
  scores: number[];
  /** Category names of the labels (the label as text when unknown). */
  names: string[];
}

export function toDetectionResult(d: Detections, categories: readonly string[] | null): DetectionResult {
  const n = d.labels.length;
  const boxes: [number, number, number, number][] = [];
  for (let i = 0; i < n; i++) boxes.push([d.boxes[4 * i]!, d.boxes[4 * i + 1]!, d.boxes[4 * i + 2]!, d.boxes[4 * i + 3]!]);
  const labels = Array.from(d.labels);
  return { boxes, labels, scores: Array.from(d.scores), names: labels.map((l) => categories?.[l] ?? String(l)) };
}

const PRESET = ObjectDetection();

/**
 * A loaded detector with TorchVision's preprocessing (`ObjectDetection` preset: [0, 1] floats;
 * the model resizes and normalises itself). Create it with `load`; release with `dispose()`.
 */
export class Detector {
  constructor(
    readonly name: string,
    readonly model: DetectionModel,
    readonly weights: Weights | null,
  ) {}

  /** Class names by label, as the model knows them (COCO's for the COCO builders). */
  get categories(): readonly string[] | null {
    return this.model.categories;
  }

  /**
   * Detects objects in one image (→ its result) or several (→ one each).
   *
   * @example const { boxes, names, scores } = await detector.detect('street.png');
   */
  async detect(input: ImageInput): Promise<DetectionResult>;
  async detect(input: readonly ImageInput[]): Promise<DetectionResult[]>;
  async detect(input: ImageInput | readonly ImageInput[]): Promise<DetectionResult | DetectionResult[]> {
    const inputs = Array.isArray(input) ? (input as readonly ImageInput[]) : [input as ImageInput];
    const results: DetectionResult[] = [];
    for (const item of inputs) results.push(await this.detectImage(await readImageInput(item)));
    return Array.isArray(input) ? results : results[0]!;
  }

  /** Detections for an image already as float32 HWC `[H, W, 3]` in [0, 1]. */
  async detectFloat(image: { data: Float32Array; shape: [number, number, number] }): Promise<DetectionResult> {
    const [d] = await this.model.forward([image]);
    return toDetectionResult(d!, this.categories);
  }

  private async detectImage(img: RgbImage): Promise<DetectionResult> {
    return this.detectFloat(PRESET.apply(img));
  }

  /**
   * Draws boxes with `name score` labels on the image, as `torchvision.utils.draw_bounding_boxes`,
   * and encodes it as PNG.
   */
  async drawPng(input: ImageInput, result: DetectionResult): Promise<Uint8Array> {
    const img = await readImageInput(input);
    const drawn = drawBoundingBoxes(img, result.boxes.flat(), {
      labels: result.names.map((n, i) => `${n} ${result.scores[i]!.toFixed(2)}`),
      width: 2,
    });
    return encodePng(drawn);
  }

  dispose(): void {
    this.model.dispose();
  }
}

/**
 * Every detection model by TorchVision name. `@mnv3/detect-frcnn` registers its builders when
 * imported (TorchVision's `register_model`).
 */
export const DETECTION_MODELS = new ModelRegistry<DetectionModelEntry>('detection');

/** `load()`'s options: the weights, and the builder's keyword options (`boxScoreThresh`, …). */
export interface LoadDetectorOptions extends Omit<DetectionBuildOptions, 'weights' | 'normLayer'>, LoadOptions {
  /**
   * Minimum score of a returned detection, whatever the model calls it (Faster R-CNN's
   * `boxScoreThresh`, RetinaNet's `scoreThresh`); default the builder's (0.05).
   */
  scoreThresh?: number;
  [kwarg: string]: unknown;
}

/**
 * Builds a registered detector by TorchVision name and loads its weights. Files from TorchVision's
 * detection checkpoints use FrozenBatchNorm2d (no `num_batches_tracked` keys); a state dict with
 * those keys is loaded into BatchNorm2d instead, as the model that saved it had.
 *
 * @example
 * import '@mnv3/detect-frcnn';
 * const detector = await load('fasterrcnn_mobilenet_v3_large_320_fpn', { weights: 'COCO_V1' });
 */
export async function load(name: string, options: LoadDetectorOptions): Promise<Detector> {
  const entry = DETECTION_MODELS.get(name);
  const { scoreThresh, ...rest } = options;
  const kwargs: LoadDetectorOptions = { ...rest };
  if (scoreThresh !== undefined) {
    const own = entry.scoreThreshOption;
    if (own !== 'scoreThresh' && kwargs[own] !== undefined) throw new Error(`give ${name}'s score threshold once: scoreThresh or ${own}, not both`);
    kwargs[own] = scoreThresh;
  }
  const { model, weights } = await loadPretrained(name, entry, kwargs as DetectionBuildOptions & LoadOptions, (stateDict) => ({
    normLayer: [...stateDict.keys()].some((k) => k.endsWith('.num_batches_tracked')) ? batchNorm2d() : frozenBatchNorm2d(),
  }));
  return new Detector(name, model, weights);
}
