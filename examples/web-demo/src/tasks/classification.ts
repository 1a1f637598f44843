// Image classification: every model of CLASSIFICATION_MODELS, through @mnv3/classify.
import { CLASSIFICATION_MODELS, buildClassifier } from '@mnv3/backbone';
import { Classifier, load, type Prediction } from '@mnv3/classify';
import { readCheckpoint, type RgbImage, type StateDict } from '@mnv3/io';
import { loadWeightsInto } from '@mnv3/layers';
import { ImageClassification } from '@mnv3/transforms';
import type { RegistryWeights, RenderTarget, TaskDescriptor, TaskModel, WeightsInput } from './types.js';

function registryWeights(name: string): RegistryWeights[] {
  const table = CLASSIFICATION_MODELS.get(name).weights as Record<string, RegistryWeights['entry']>;
  return Object.entries(table)
    .filter(([key]) => key !== 'DEFAULT')
    .map(([key, entry]) => ({ name: key, isDefault: table.DEFAULT === entry, entry }));
}

const models: TaskModel[] = CLASSIFICATION_MODELS.names().map((name) => ({ name, weights: registryWeights(name) }));

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

async function loadClassifier(name: string, weights: WeightsInput): Promise<Classifier> {
  if (weights.kind === 'file') {
    // As `mnv3 classify --weights FILE` does: TorchVision's V1 preset, ImageNet labels for 1000 classes.
    const stateDict = readCheckpoint(weights.bytes);
    return load(name, { weights: stateDict, numClasses: numClassesOf(stateDict) });
  }
  // Registry weights: bytes from the page's cached download, the entry's own preset and labels.
  const { entry } = weights.weights;
  const model = buildClassifier(name, { weights: entry });
  try {
    loadWeightsInto(model, readCheckpoint(weights.bytes), name);
  } catch (e) {
    model.dispose();
    throw e;
  }
  if (entry.transforms.kind !== 'ImageClassification') throw new Error(`${name}: weights ${weights.weights.name} are not for classification`);
  return new Classifier(name, model, entry.meta.categories, ImageClassification(entry.transforms), entry);
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
  label: 'Classification (ImageNet-1K)',
  models,
  load: loadClassifier,
  run: (classifier, image: RgbImage) => classifier.classify(image, { topk: 5 }),
  render(predictions, target) {
    const ctx = target.overlay.getContext('2d');
    ctx?.clearRect(0, 0, target.overlay.width, target.overlay.height); // nothing to draw on the image
    renderTop(predictions, target);
  },
  dispose: (classifier) => classifier.dispose(),
};
