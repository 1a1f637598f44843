// Image classification: every model of CLASSIFICATION_MODELS, through @mnv3/classify; MobileNetV3
// Large and Small also as int8 models, behind the "quantized (int8)" box (Large: TorchVision's;
// Small: our built-in FASHION_MNIST_V1, which ships with the page and works offline).
import { CLASSIFICATION_MODELS, buildClassifier } from '@mnv3/backbone';
import { Classifier, QuantizedImageClassifier, load, type Prediction } from '@mnv3/classify';
import { readCheckpoint, type RgbImage, type StateDict } from '@mnv3/io';
import { loadWeightsInto } from '@mnv3/layers';
import { QUANTIZABLE_ARCHS, QUANTIZED_WEIGHTS, quantizedModelFromStateDict } from '@mnv3/quantize';
import { ImageClassification } from '@mnv3/transforms';
import type { ModelBadge, RegistryWeights, RenderTarget, Settings, TaskDescriptor, TaskModel, WeightsInput } from './types.js';
import { tableWeights } from './weights.js';

const registryWeights = (name: string) => tableWeights(CLASSIFICATION_MODELS.get(name).weights as Record<string, RegistryWeights['entry']>);

const models: TaskModel[] = CLASSIFICATION_MODELS.names().map((name) => ({ name, weights: registryWeights(name) }));

/**
 * The quantized weights by model: TorchVision's `IMAGENET1K_QNNPACK_V1` for Large; our built-in
 * `FASHION_MNIST_V1` for Small (or a file of one's own: a QAT-layout .pth, an int8 .safetensors).
 */
const QUANTIZED: Readonly<Record<string, readonly RegistryWeights[]>> = Object.fromEntries(
  Object.entries(QUANTIZED_WEIGHTS).map(([name, table]) => [name, tableWeights(table as Record<string, RegistryWeights['entry']>)]),
);

/** The models with a quantized build (`load(name, { quantize: true })`). */
const QUANTIZABLE: readonly string[] = QUANTIZABLE_ARCHS;

const quantized = (name: string, settings: Settings) => QUANTIZABLE.includes(name) && settings.quantize === true;

/**
 * The class count a checkpoint was saved with, from its last layer (`classifier.N.weight` for the
 * MobileNets, `fc.weight` for ResNets), so fine-tuned checkpoints with other class counts load too.
 */
function numClassesOf(stateDict: StateDict): number | undefined {
  let best: { index: number; rows: number } | undefined;
  for (const [key, t] of stateDict) {
    if (t.shape.length !== 2) continue;
    if (key === 'fc.weight') return t.shape[0];
    const m = /^classifier\.(\d+)\.weight$/.exec(key);
    if (m && (!best || Number(m[1]) > best.index)) best = { index: Number(m[1]), rows: t.shape[0]! };
  }
  return best?.rows;
}

async function loadClassifier(name: string, weights: WeightsInput, settings: Settings): Promise<Classifier> {
  const int8 = quantized(name, settings);
  if (weights.kind === 'file') {
    // As `mnv3 classify [--quantize] --weights FILE` does: TorchVision's V1 preset, ImageNet labels for
    // 1000 classes. A quantized file (QAT-layout .pth or int8 .safetensors) has its class count in it;
    // `load` refuses a float checkpoint with quantize on and a quantized one with it off.
    const stateDict = readCheckpoint(weights.bytes);
    return int8 ? load(name, { quantize: true, weights: stateDict }) : load(name, { weights: stateDict, numClasses: numClassesOf(stateDict) });
  }
  // Registry weights: bytes from the page's cached download, the entry's own preset and labels.
  const { entry } = weights.weights;
  if (entry.transforms.kind !== 'ImageClassification') throw new Error(`${name}: weights ${weights.weights.name} are not for classification`);
  const preset = ImageClassification(entry.transforms);
  if (int8) {
    // TorchVision's QAT-layout checkpoint, loaded strictly and converted as torch does.
    const model = quantizedModelFromStateDict(name, readCheckpoint(weights.bytes));
    return new Classifier(name, new QuantizedImageClassifier(model), entry.meta.categories, preset, entry);
  }
  const model = buildClassifier(name, { weights: entry });
  try {
    loadWeightsInto(model, readCheckpoint(weights.bytes), name);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return new Classifier(name, model, entry.meta.categories, preset, entry);
}

/** int8 (with the kernels it runs on) or float32. */
function badge(classifier: Classifier): ModelBadge {
  const m = classifier.model;
  if (!(m instanceof QuantizedImageClassifier)) return { text: 'float32', data: { precision: 'float32' } };
  const engine = !m.wasm ? 'host integer engine (no WASM SIMD)' : m.relaxedSimd ? 'WASM SIMD, relaxed-SIMD build' : 'WASM SIMD, plain-SIMD build (no relaxed SIMD here)';
  const seven = m.relaxedLayers().length;
  const dot = m.relaxedSimd ? ` · ${seven} layer${seven === 1 ? '' : 's'} on its 7-bit dot` : '';
  return {
    text: `int8 · ${engine}${dot}`,
    data: { precision: 'int8', engine: m.wasm ? 'wasm' : 'host', relaxed: String(m.relaxedSimd), relaxedLayers: String(seven) },
  };
}

function renderTop(predictions: Prediction[], { panel }: RenderTarget): void {
  const list = document.createElement('ol');
  list.className = 'top';
  list.dataset.testid = 'top5';
  for (const p of predictions) {
    const row = document.createElement('li');
    row.dataset.testid = 'top5-row';
    row.dataset.index = String(p.index);
    row.dataset.score = String(p.score);
    const label = document.createElement('span');
    label.className = 'label';
    label.textContent = p.label;
    label.title = `class ${p.index}`;
    const bar = document.createElement('span');
    bar.className = 'bar';
    const fill = document.createElement('span');
    fill.style.width = `${(p.score * 100).toFixed(2)}%`;
    bar.append(fill);
    const score = document.createElement('span');
    score.className = 'score';
    score.textContent = `${(p.score * 100).toFixed(1)}%`;
    const index = document.createElement('span');
    index.className = 'index';
    index.textContent = `#${p.index}`;
    row.append(label, bar, score, index);
    list.append(row);
  }
  panel.replaceChildren(list);
}

export const classification: TaskDescriptor<Classifier, Prediction[]> = {
  id: 'classification',
  label: 'Classification',
  models,
  settings: [
    {
      id: 'quantize',
      kind: 'checkbox',
      label: 'quantized (int8)',
      stage: 'load',
      default: false,
      models: QUANTIZABLE,
      hint: "int8 MobileNetV3 (QNNPACK arithmetic) on int8 WASM SIMD kernels: TorchVision's IMAGENET1K_QNNPACK_V1 (Large), our built-in FASHION_MNIST_V1 (Small), a QAT-layout .pth or an int8 .safetensors",
    },
  ],
  weightsFor: (name, settings) => (quantized(name, settings) ? (QUANTIZED[name] ?? []) : registryWeights(name)),
  load: loadClassifier,
  run: (classifier, image: RgbImage) => classifier.classify(image, { topk: 5 }),
  render(predictions, target) {
    const ctx = target.overlay.getContext('2d');
    ctx?.clearRect(0, 0, target.overlay.width, target.overlay.height); // nothing to draw on the image
    renderTop(predictions, target);
  },
  badge,
  dispose: (classifier) => classifier.dispose(),
};
