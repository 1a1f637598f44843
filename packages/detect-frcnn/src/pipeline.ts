import {
  batchNorm2d,
  frozenBatchNorm2d,
  getWeights,
  loadImage,
  loadWeightsInto,
  overwriteValueParam,
  resolveStateDict,
  type ImageSource,
  type RgbImage as LayersRgbImage,
  type StateDict,
  type Weights,
  type WeightsSource,
} from '@mnv3/layers';
import { drawBoundingBoxes, encodePng } from './draw.js';
import { DETECTION_MODELS, DETECTION_MODEL_NAMES, type DetectionModelName, type FasterRCNN, type FasterRCNNMobileNetV3LargeFpnOptions } from './faster-rcnn.js';
import type { Detections } from './roi-heads.js';

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

/** An RGB image as TorchVision's detection models take it: float32 HWC in [0, 1]. */
function toUnitFloat(img: LayersRgbImage): { data: Float32Array; shape: [number, number, number] } {
  const data = new Float32Array(img.data.length);
  for (let i = 0; i < data.length; i++) data[i] = img.data[i]! / 255;
  return { data, shape: [img.height, img.width, 3] };
}

/**
 * A loaded Faster R-CNN with TorchVision's preprocessing (`ObjectDetection` preset: [0, 1]
 * floats; the model resizes and normalises itself). Create it with `load`; release with `dispose()`.
 */
export class Detector {
  constructor(
    readonly name: DetectionModelName,
    readonly model: FasterRCNN,
    readonly categories: readonly string[] | null,
    readonly weights: Weights | null,
  ) {}

  /**
   * Detects objects in one image (→ its result) or several (→ one each).
   *
   * @example const { boxes, names, scores } = await detector.detect('street.png');
   */
  async detect(input: ImageSource): Promise<DetectionResult>;
  async detect(input: readonly ImageSource[]): Promise<DetectionResult[]>;
  async detect(input: ImageSource | readonly ImageSource[]): Promise<DetectionResult | DetectionResult[]> {
    const inputs = Array.isArray(input) ? (input as readonly ImageSource[]) : [input as ImageSource];
    const results: DetectionResult[] = [];
    for (const item of inputs) results.push(await this.detectImage(await loadImage(item)));
    return Array.isArray(input) ? results : results[0]!;
  }

  /** Detections for an image already as float32 HWC `[H, W, 3]` in [0, 1]. */
  async detectFloat(image: { data: Float32Array; shape: [number, number, number] }): Promise<DetectionResult> {
    const [d] = await this.model.forward([image]);
    return toDetectionResult(d!, this.categories);
  }

  private async detectImage(img: LayersRgbImage): Promise<DetectionResult> {
    return this.detectFloat(toUnitFloat(img));
  }

  /**
   * Draws boxes with `name score` labels on the image, as `torchvision.utils.draw_bounding_boxes`,
   * and encodes it as PNG.
   */
  async drawPng(input: ImageSource, result: DetectionResult): Promise<Uint8Array> {
    const img = await loadImage(input);
    const drawn = drawBoundingBoxes({ data: img.data, shape: [img.height, img.width, 3] }, result.boxes.flat(), {
      labels: result.names.map((n, i) => `${n} ${result.scores[i]!.toFixed(2)}`),
      width: 2,
    });
    return encodePng(drawn);
  }

  dispose(): void {
    this.model.dispose();
  }
}

export interface LoadDetectorOptions extends Omit<FasterRCNNMobileNetV3LargeFpnOptions, 'weights' | 'normLayer'> {
  /** A registry name (`COCO_V1`, `DEFAULT`), a path/URL/bytes of a `.pth` or `.safetensors`, or a state dict. */
  weights: WeightsSource;
  progress?: boolean;
}

/**
 * Builds a Faster R-CNN by TorchVision name and loads its weights. Files from TorchVision's
 * detection checkpoints use FrozenBatchNorm2d (no `num_batches_tracked` keys); a state dict with
 * those keys is loaded into BatchNorm2d instead, as the model that saved it had.
 *
 * @example const detector = await load('fasterrcnn_mobilenet_v3_large_320_fpn', { weights: 'COCO_V1' });
 */
export async function load(name: string, options: LoadDetectorOptions): Promise<Detector> {
  if (!DETECTION_MODEL_NAMES.includes(name as DetectionModelName)) {
    throw new Error(`unknown model "${name}"; valid: ${DETECTION_MODEL_NAMES.join(', ')}`);
  }
  const modelName = name as DetectionModelName;
  const entry = DETECTION_MODELS[modelName];
  const { weights: source, progress, ...buildOptions } = options;
  const registry = typeof source === 'string' && /^[A-Z0-9_]+$/.test(source) ? getWeights(entry.weights, source, modelName) : null;
  // Option checks before any download.
  if (registry) overwriteValueParam('num_classes', buildOptions.numClasses, registry.meta.categories.length);
  const stateDict: StateDict = await resolveStateDict(registry ?? source, { progress });
  const hasBatchStats = [...stateDict.keys()].some((k) => k.endsWith('.num_batches_tracked'));
  const model = entry.build({
    ...buildOptions,
    weights: registry ? (source as 'COCO_V1') : undefined,
    normLayer: hasBatchStats ? batchNorm2d() : frozenBatchNorm2d(),
  });
  try {
    loadWeightsInto(model, stateDict, modelName);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return new Detector(modelName, model, model.categories, registry);
}
