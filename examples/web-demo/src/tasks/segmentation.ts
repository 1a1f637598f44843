// Semantic segmentation: LR-ASPP (@mnv3/segment-lraspp), DeepLabV3 and FCN (@mnv3/segment-deeplab)
// on the dilated MobileNetV3-Large, VOC's 21 classes.
import { readCheckpoint, type RgbImage, type StateDict } from '@mnv3/io';
import { VOC_PALETTE, colorizeMask } from '@mnv3/transforms';
import { SEGMENTATION_MODELS, load as loadSegmenter, type SegmentationModelEntry, type Segmenter, type SegmentationResult } from '@mnv3/segmentation';
import '@mnv3/segment-lraspp'; // registers LR-ASPP (first, as the model list shows it)
import '@mnv3/segment-deeplab'; // registers DeepLabV3 and FCN
import type { RegistryWeights, RenderTarget, TaskDescriptor, TaskModel, WeightsInput } from './types.js';
import { tableWeights } from './weights.js';

const registryWeights = (entry: SegmentationModelEntry): RegistryWeights[] => tableWeights(entry.weights as Record<string, RegistryWeights['entry']> | null);

const models: TaskModel[] = SEGMENTATION_MODELS.names().map((name) => ({ name, weights: registryWeights(SEGMENTATION_MODELS.get(name)) }));

/** The models that can carry TorchVision's auxiliary FCN head (DeepLabV3, FCN; never LR-ASPP). */
const AUX_MODELS = SEGMENTATION_MODELS.names().filter((name) => SEGMENTATION_MODELS.get(name).auxLoss);

/**
 * The class count a checkpoint was saved with, from its last layer (`classifier.4` for DeepLabV3
 * and FCN, `classifier.low_classifier` for LR-ASPP), so fine-tuned checkpoints load too.
 */
function numClassesOf(stateDict: StateDict): number | undefined {
  const t = stateDict.get('classifier.4.weight') ?? stateDict.get('classifier.low_classifier.weight');
  return t?.shape[0];
}

async function load(name: string, weights: WeightsInput, settings: Readonly<Record<string, unknown>>): Promise<Segmenter> {
  const resizeSize = Number(settings.resize);
  if (weights.kind === 'file') {
    // As `mnv3 segment --weights FILE [--aux-loss] [--resize N]`; the class count from the last layer.
    const stateDict = readCheckpoint(weights.bytes);
    return loadSegmenter(name, { weights: stateDict, numClasses: numClassesOf(stateDict), auxLoss: AUX_MODELS.includes(name) && settings.aux === true, resizeSize });
  }
  // TorchVision's published weights were trained with the aux head and carry it (aux_loss=True).
  const { entry } = weights.weights;
  return loadSegmenter(name, { weights: weights.bytes, numClasses: entry.meta.categories.length, auxLoss: AUX_MODELS.includes(name), resizeSize });
}

function rgb(index: number): string {
  return `rgb(${VOC_PALETTE[index * 3]}, ${VOC_PALETTE[index * 3 + 1]}, ${VOC_PALETTE[index * 3 + 2]})`;
}

function render(result: SegmentationResult, { panel, overlay }: RenderTarget): void {
  // The mask in VOC's palette, half transparent, the background left clear.
  const mask = colorizeMask(result.classMap, { format: 'rgba', alpha: 150, transparent: [0] });
  overlay.width = result.width;
  overlay.height = result.height;
  overlay.getContext('2d')!.putImageData(new ImageData(Uint8ClampedArray.from(mask.data), result.width, result.height), 0, 0);

  const list = document.createElement('ul');
  list.className = 'legend';
  list.dataset.testid = 'segment-legend';
  for (const c of result.classes) {
    const row = document.createElement('li');
    row.dataset.testid = 'segment-row';
    row.dataset.index = String(c.index);
    row.dataset.share = String(c.share);
    const swatch = document.createElement('span');
    swatch.className = 'swatch';
    swatch.style.background = c.index === 0 ? 'transparent' : rgb(c.index);
    const label = document.createElement('span');
    label.className = 'label';
    label.textContent = c.label;
    label.title = `class ${c.index}`;
    const bar = document.createElement('span');
    bar.className = 'bar';
    const fill = document.createElement('span');
    fill.style.width = `${(c.share * 100).toFixed(2)}%`;
    bar.append(fill);
    const share = document.createElement('span');
    share.className = 'score';
    share.textContent = `${(c.share * 100).toFixed(1)}%`;
    row.append(swatch, label, bar, share);
    list.append(row);
  }
  const caption = document.createElement('p');
  caption.className = 'hint';
  caption.textContent = `${result.classes.length} class(es) present in ${result.width}×${result.height} pixels (share of the pixels)`;
  panel.replaceChildren(caption, list);
}

export const segmentation: TaskDescriptor<Segmenter, SegmentationResult> = {
  id: 'segmentation',
  label: 'Segmentation (VOC classes)',
  models,
  settings: [
    {
      id: 'resize',
      label: 'Resize (shorter side)',
      kind: 'select',
      stage: 'load',
      choices: [
        { value: '520', label: "520 (TorchVision's preset)" },
        { value: '320', label: '320 (faster)' },
      ],
      default: '520',
    },
    {
      id: 'aux',
      label: 'aux head',
      kind: 'checkbox',
      stage: 'load',
      models: AUX_MODELS,
      default: false,
      hint: 'tick for a checkpoint file that carries aux_classifier.* (saved with aux_loss=True)',
    },
  ],
  load,
  run: (segmenter, image: RgbImage) => segmenter.segment(image),
  render,
  dispose: (segmenter) => segmenter.dispose(),
};
