// RetinaNet ResNet-50 FPN against TorchVision 0.14, stage by stage and end to end, on seeded random
// weights whose class logits are sharpened until hundreds of detections pass the 0.05 threshold
// (tools/reference/suite_retinanet.py): without that, random logits sit at the 0.01 prior and no
// detection would be compared.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { assertScaledClose, f32, fixtureDir, fixtureTensor, hwcImage, ints, loadFixture, matchDetections, nchwToNhwc, nhwcMap, nhwcTensorToNchw, type Fixture } from '@mnv3/test-utils';
import { readCheckpoint, toFloat32 } from '@mnv3/io';
import { frozenBatchNorm2d } from '@mnv3/layers';
import { DETECTION_MODELS, load, type Detections } from '@mnv3/detection';
import { RetinaNet_ResNet50_FPN_Weights, retinanetResnet50Fpn, type RetinaNet } from '../src/index.js';

const NAME = 'retinanet_resnet50_fpn';

interface Config {
  numParams: number;
  originalSizes: [number, number][];
  imageSizes: [number, number][];
  featureNames: string[];
  detections: number[];
  buildOptions: { minSize: number; maxSize: number };
  pre013Renames: number;
}

function setup(): { f: Fixture; c: Config; model: RetinaNet; images: ReturnType<typeof hwcImage>[] } {
  const f = loadFixture('retinanet', NAME);
  const c = f.config as unknown as Config;
  // The fixture is built as TorchVision builds it for COCO_V1: FrozenBatchNorm2d at eps 0.
  const model = retinanetResnet50Fpn({ weights: RetinaNet_ResNet50_FPN_Weights.COCO_V1, ...c.buildOptions });
  model.loadStateDict(f.stateDict);
  const images = c.originalSizes.map((_, i) => hwcImage(f, `image_${i}`));
  return { f, c, model, images };
}

function tvDetections(f: Fixture, i: number, prefix = '') {
  return { boxes: f32(f, `${prefix}boxes_${i}`), labels: ints(f, `${prefix}labels_${i}`), scores: f32(f, `${prefix}scores_${i}`) };
}

/** Checks detections against TorchVision's; returns matched/total and the p99 coordinate difference. */
function compare(dets: Detections[], f: Fixture, prefix: string, bars: { score: number; p99px: number }, what: string) {
  let total = 0;
  let matchedCount = 0;
  const coordDiffs: number[] = [];
  let worstScore = 0;
  dets.forEach((d, i) => {
    for (let k = 1; k < d.scores.length; k++) expect(d.scores[k]!).toBeLessThanOrEqual(d.scores[k - 1]!);
    const { matched, n, m } = matchDetections(d, tvDetections(f, i, prefix));
    total += Math.max(n, m);
    matchedCount += matched.length;
    for (const p of matched) {
      expect(p.scoreDiff, `${what}: score of TorchVision's detection ${p.j} in image ${i}`).toBeLessThan(bars.score);
      coordDiffs.push(p.coordDiff);
      worstScore = Math.max(worstScore, p.scoreDiff);
    }
  });
  coordDiffs.sort((a, b) => a - b);
  const p99 = coordDiffs[Math.floor(coordDiffs.length * 0.99)] ?? 0;
  console.log(`${what}: matched ${matchedCount}/${total}, scores max ${worstScore}, coords max ${coordDiffs[coordDiffs.length - 1]} px, p99 ${p99} px`);
  expect(total).toBeGreaterThanOrEqual(150);
  expect(matchedCount / total).toBeGreaterThanOrEqual(0.97);
  expect(p99).toBeLessThan(bars.p99px);
}

describe('retinanet_resnet50_fpn matches TorchVision 0.14', () => {
  it('parameter count, strict state dict, transform, backbone + FPN (P3–P7), anchors', async () => {
    const { f, c, model, images } = setup();
    expect(model.numParams()).toBe(c.numParams);
    const before = tf.memory().numTensors;
    const il = await model.transform.forward(images);
    expect(il.imageSizes).toEqual(c.imageSizes);
    const transformed = fixtureTensor(f, 'transformed');
    assertScaledClose(await nhwcTensorToNchw(il.tensors), transformed, 1e-5, { what: 'transformed batch' });
    il.tensors.dispose();
    const { data, shape } = nchwToNhwc(toFloat32(transformed), transformed.shape);
    const x = tf.tensor4d(data, shape);
    const feats = model.backbone.forward(x);
    expect([...feats.keys()]).toEqual(['0', '1', '2', 'p6', 'p7']);
    expect([...feats.keys()]).toEqual(c.featureNames);
    for (const [k, v] of feats) {
      const r = assertScaledClose(await nhwcTensorToNchw(v), fixtureTensor(f, `features_${k}`), 1e-4, { what: `features ${k}` });
      expect(r.maxAbsExpected).toBeGreaterThan(0.1);
    }
    const grid = [...feats.values()].map((t) => [t.shape[1], t.shape[2]] as [number, number]);
    expect(Array.from(model.anchorGenerator.forward([shape[1], shape[2]], grid))).toEqual(Array.from(f32(f, 'anchors')));
    tf.dispose([x, ...feats.values()]);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('head outputs and detections from TorchVision\'s FPN maps', async () => {
    const { f, c, model } = setup();
    const maps = c.featureNames.map((k) => nhwcMap(f, `features_${k}`));
    const tensors = maps.map((m) => tf.tensor4d(m.data, m.shape));
    const head = await model.head.forward(tensors);
    tf.dispose(tensors);
    // Image 0's rows of every level, concatenated: TorchVision's [sum(H·W·A), K] layout.
    const image0 = (levels: Float32Array[]) => {
      const parts = levels.map((l) => l.subarray(0, l.length / c.imageSizes.length));
      const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
      let o = 0;
      for (const p of parts) {
        out.set(p, o);
        o += p.length;
      }
      return out;
    };
    assertScaledClose(image0(head.clsLogits), fixtureTensor(f, 'cls_logits_0'), 1e-4, { what: 'class logits' });
    assertScaledClose(image0(head.bboxRegression), fixtureTensor(f, 'bbox_regression_0'), 1e-4, { what: 'box regression' });
    const batch = fixtureTensor(f, 'transformed').shape;
    const grid = maps.map((m) => [m.shape[1], m.shape[2]] as [number, number]);
    const dets = model.postprocessDetections(head.clsLogits, head.bboxRegression, [batch[2]!, batch[3]!], grid, c.imageSizes);
    // The cap of 300 detections per image is reached on the first image.
    expect(dets.map((d) => d.labels.length)).toEqual(c.imageSizes.map((_, i) => ints(f, `resized_labels_${i}`).length));
    expect(dets[0]!.labels.length).toBe(300);
    compare(dets, f, 'resized_', { score: 1e-4, p99px: 1e-2 }, 'from TorchVision features');
    model.dispose();
  });

  it('end to end: detections matched by label and IoU > 0.99', async () => {
    const { f, c, model, images } = setup();
    const before = tf.memory().numTensors;
    const dets = await model.forward(images);
    expect(tf.memory().numTensors).toBe(before);
    expect(c.detections).toEqual(dets.map((d) => d.labels.length));
    compare(dets, f, '', { score: 1e-4, p99px: 1e-2 }, 'end to end');
    const trace = await model.trace(images);
    expect(trace.detections).toEqual(dets);
    expect([...trace.features.keys()]).toEqual(c.featureNames);
    model.dispose();
  });

  it('loads a torchvision < 0.13 checkpoint (the layout of the published COCO_V1 file) as TorchVision does', async () => {
    const { f, c } = setup();
    const old = readCheckpoint(readFileSync(join(fixtureDir('retinanet'), `${NAME}_pre013.pth`)));
    // FPN inner/layer blocks, and both subnets' Sequential(conv, relu, …) keys.
    expect(c.pre013Renames).toBe(2 * 3 * 2 + 2 * 4 * 2); // 3 inner and 3 layer blocks, 2 × 4 subnet convs; weight and bias each
    expect(old.has('head.classification_head.conv.6.weight')).toBe(true);
    expect(old.has('backbone.fpn.inner_blocks.0.weight')).toBe(true);
    const model = retinanetResnet50Fpn({ weights: RetinaNet_ResNet50_FPN_Weights.COCO_V1, ...c.buildOptions });
    model.loadStateDict(old); // strict
    // The caller's map keeps its keys.
    expect(old.has('head.classification_head.conv.6.weight')).toBe(true);
    for (const [k, v] of model.namedStateEntries()) expect(v.shape, k).toEqual(f.stateDict.get(k)!.shape);
    const images = c.originalSizes.map((_, i) => hwcImage(f, `image_${i}`));
    const fresh = setup().model;
    expect(await model.forward(images)).toEqual(await fresh.forward(images));
    model.dispose();
    fresh.dispose();
  });
});

describe('the registry and the pipeline', () => {
  it('load() builds it by name from a checkpoint file with builder options; detect() gives the model\'s detections', async () => {
    const { f, c, images } = setup();
    expect(DETECTION_MODELS.names()).toContain(NAME);
    const detector = await load(NAME, { weights: join(fixtureDir('retinanet'), `${NAME}_pre013.pth`), ...c.buildOptions });
    // A file is not the COCO_V1 entry: as TorchVision's builder without weights plus load_state_dict,
    // FrozenBatchNorm2d keeps eps 1e-5 (only the COCO_V1 entry sets 0).
    const model = retinanetResnet50Fpn({ normLayer: frozenBatchNorm2d(), ...c.buildOptions });
    model.loadStateDict(f.stateDict);
    const [ours] = await model.forward([images[0]!]);
    const result = await detector.detectFloat(images[0]!);
    expect(result.labels).toEqual(Array.from(ours!.labels));
    expect(result.scores).toEqual(Array.from(ours!.scores));
    expect(result.names[0]).toBe(detector.categories![result.labels[0]!]);
    detector.dispose();
    model.dispose();
    // scoreThresh is RetinaNet's own option: fewer detections, all above it.
    const strict = await load(NAME, { weights: f.stateDict, scoreThresh: 0.3, ...c.buildOptions });
    expect((strict.model as RetinaNet).options.scoreThresh).toBe(0.3);
    const few = await strict.detectFloat(images[0]!);
    expect(few.scores.length).toBeLessThan(result.scores.length);
    expect(Math.min(...few.scores)).toBeGreaterThan(0.3);
    strict.dispose();
  });
});
