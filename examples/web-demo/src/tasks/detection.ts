// Object detection: every registered detector (Faster R-CNN MobileNetV3-Large FPN at 800 and 320
// px and ResNet-50 FPN through @mnv3/detect-frcnn, RetinaNet ResNet-50 FPN through
// @mnv3/detect-retinanet), COCO's categories.
import { DETECTION_MODELS, load as loadDetector, type DetectionResult, type Detector } from '@mnv3/detection';
import '@mnv3/detect-frcnn'; // registers the Faster R-CNN builders
import '@mnv3/detect-retinanet'; // then RetinaNet's
import type { RgbImage } from '@mnv3/io';
import type { RegistryWeights, RenderTarget, Settings, TaskDescriptor, TaskModel, WeightsInput } from './types.js';
import { tableWeights } from './weights.js';

const registryWeights = (name: string): RegistryWeights[] => tableWeights(DETECTION_MODELS.get(name).weights as Record<string, RegistryWeights['entry']> | null);

const models: TaskModel[] = DETECTION_MODELS.names().map((name) => ({ name, weights: registryWeights(name) }));

async function load(name: string, weights: WeightsInput, settings: Settings): Promise<Detector> {
  // TorchVision's box_score_thresh (score_thresh for RetinaNet): detections below it are dropped before NMS.
  const scoreThresh = Number(settings.scoreThresh);
  if (weights.kind === 'file') return loadDetector(name, { weights: weights.bytes, scoreThresh }); // as `mnv3 detect --weights FILE --score-thresh T`
  // Registry weights: the page downloaded the bytes; the entry gives the class count.
  return loadDetector(name, { weights: weights.bytes, numClasses: weights.weights.entry.meta.categories.length, scoreThresh });
}

/** A colour per label, stable across images. */
function color(label: number): string {
  return `hsl(${(label * 137.508) % 360} 85% 45%)`;
}

function drawBoxes(result: DetectionResult, overlay: HTMLCanvasElement, image: RgbImage): void {
  overlay.width = image.width;
  overlay.height = image.height;
  const ctx = overlay.getContext('2d')!;
  ctx.clearRect(0, 0, overlay.width, overlay.height);
  const line = Math.max(2, Math.round(Math.min(image.width, image.height) / 250));
  const fontPx = Math.max(12, Math.round(Math.min(image.width, image.height) / 32));
  ctx.font = `600 ${fontPx}px system-ui, sans-serif`;
  ctx.textBaseline = 'top';
  // Worst first, so the best boxes and their labels end up on top.
  for (let i = result.boxes.length - 1; i >= 0; i--) {
    const [x1, y1, x2, y2] = result.boxes[i]!;
    const c = color(result.labels[i]!);
    ctx.lineWidth = line;
    ctx.strokeStyle = c;
    ctx.strokeRect(x1, y1, x2 - x1, y2 - y1);
    const text = `${result.names[i]} ${result.scores[i]!.toFixed(2)}`;
    const w = ctx.measureText(text).width + 6;
    const h = fontPx + 4;
    const ty = y1 - h >= 0 ? y1 - h : y1;
    ctx.fillStyle = c;
    ctx.fillRect(x1, ty, w, h);
    ctx.fillStyle = '#fff';
    ctx.fillText(text, x1 + 3, ty + 2);
  }
}

function renderList(result: DetectionResult, { panel }: RenderTarget): void {
  const caption = document.createElement('p');
  caption.className = 'hint';
  caption.textContent = result.boxes.length
    ? `${result.boxes.length} box(es), best first; coordinates in the image's pixels`
    : 'no boxes above the score threshold';
  const table = document.createElement('table');
  table.className = 'boxes';
  table.dataset.testid = 'detect-list';
  const head = table.createTHead().insertRow();
  for (const h of ['', 'label', 'score', 'x1', 'y1', 'x2', 'y2']) head.append(Object.assign(document.createElement('th'), { textContent: h }));
  const body = table.createTBody();
  result.boxes.forEach((box, i) => {
    const row = body.insertRow();
    row.dataset.testid = 'detect-row';
    row.dataset.label = String(result.labels[i]);
    row.dataset.name = result.names[i];
    row.dataset.score = String(result.scores[i]);
    row.dataset.box = JSON.stringify(box);
    const swatch = document.createElement('span');
    swatch.className = 'swatch';
    swatch.style.background = color(result.labels[i]!);
    row.insertCell().append(swatch);
    Object.assign(row.insertCell(), { textContent: result.names[i], title: `label ${result.labels[i]}` });
    Object.assign(row.insertCell(), { textContent: result.scores[i]!.toFixed(3), className: 'num' });
    for (const v of box) Object.assign(row.insertCell(), { textContent: v.toFixed(1), className: 'num' });
  });
  const scroll = document.createElement('div');
  scroll.className = 'result-scroll';
  scroll.append(table);
  panel.replaceChildren(caption, scroll);
}

export const detection: TaskDescriptor<Detector, DetectionResult> = {
  id: 'detection',
  label: 'Detection (COCO)',
  models,
  settings: [
    {
      id: 'scoreThresh',
      label: 'Score threshold',
      kind: 'number',
      stage: 'load',
      min: 0,
      max: 1,
      step: 0.05,
      default: 0.5,
      hint: "boxes below it are dropped (TorchVision's box_score_thresh; the CLI's default is 0.05)",
    },
  ],
  load,
  run: (detector, image: RgbImage) => detector.detect(image),
  render(result, target) {
    drawBoxes(result, target.overlay, target.image);
    renderList(result, target);
  },
  dispose: (detector) => detector.dispose(),
};
