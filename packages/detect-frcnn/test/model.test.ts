// Faster R-CNN (MobileNetV3-Large FPN and ResNet-50 FPN) against TorchVision 0.14, stage by stage and
// end to end, on seeded random weights with a sharpened box classifier
// (tools/reference/suite_detection.py).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { assertScaledClose, f32, fixtureDir, fixtureTensor, hwcImage, ints, loadFixture, matchDetections, nchwToNhwc, nhwcMap, nhwcTensorToNchw, type Fixture } from '@mnv3/test-utils';
import { readCheckpoint, toFloat32 } from '@mnv3/io';
import { DETECTION_MODELS, GeneralizedRCNNTransform, load, type HostFeatureMap } from '@mnv3/detection';
import '../src/index.js'; // registers the Faster R-CNN builders
import type { FasterRCNN } from '../src/index.js';

interface Config {
  builder: string;
  frozen: boolean;
  numParams: number;
  originalSizes: [number, number][];
  imageSizes: [number, number][];
  detections: number[];
  proposals: number[];
  /** The FPN maps' names, in order. */
  featureNames: string[];
  /** Builder options the oracle's model was built with (the ResNet-50 case's smaller transform). */
  buildOptions: Record<string, unknown>;
}

/**
 * End-to-end tolerances. Through the whole backbone our FPN maps differ from TorchVision's by
 * ~2.5e-5 relative (float32 summation order, XNNPACK vs oneDNN); at 800 px on the astronaut photo
 * (FPN values up to 40) that is 1e-3 absolute, which the random, sharpened box head turns into
 * score differences up to ~5e-4 and box differences up to ~0.05 px. From TorchVision's own
 * features the same head agrees to 3e-6 (previous test), so this is upstream float noise.
 */
const TOLERANCES: Record<string, { score: number; p99px: number }> = {
  fasterrcnn_mobilenet_v3_large_fpn: { score: 1e-3, p99px: 0.05 },
  fasterrcnn_mobilenet_v3_large_320_fpn: { score: 1e-4, p99px: 1e-2 },
  fasterrcnn_mobilenet_v3_large_320_fpn_bn: { score: 1e-4, p99px: 1e-2 },
  // ResNet-50's FPN maps carry the same relative float noise from a deeper body (four maps, 2048
  // channels into the FPN): measured score 1.7e-4, p99 0.061 px end to end, while every stage from
  // TorchVision's own inputs holds the 1e-4 / 1e-2 px bars (tests above).
  fasterrcnn_resnet50_fpn: { score: 1e-3, p99px: 0.1 },
};

/**
 * Per case: the parameter count (FrozenBatchNorm2d holds buffers only; BatchNorm2d's weight and
 * bias are parameters) and where the box head pools from. MobileNetV3's two FPN inputs are both at
 * stride 32 (features.13 after its stride-2 conv, and the last stage), so k_min = k_max = 5 and
 * every box is pooled from '0'; ResNet-50's four are at strides 4–32.
 */
const EXPECTED: Record<string, { numParams: number; scales: number[]; levels: [number, number] }> = {
  fasterrcnn_mobilenet_v3_large_fpn: { numParams: 19_386_354, scales: [1 / 32, 1 / 32], levels: [5, 5] },
  fasterrcnn_mobilenet_v3_large_320_fpn: { numParams: 19_386_354, scales: [1 / 32, 1 / 32], levels: [5, 5] },
  fasterrcnn_mobilenet_v3_large_320_fpn_bn: { numParams: 19_410_754, scales: [1 / 32, 1 / 32], levels: [5, 5] },
  fasterrcnn_resnet50_fpn: { numParams: 41_755_286, scales: [1 / 4, 1 / 8, 1 / 16, 1 / 32], levels: [2, 5] },
};

const CASES = Object.keys(EXPECTED);

function setup(name: string): { f: Fixture; c: Config; model: FasterRCNN; images: ReturnType<typeof hwcImage>[] } {
  const f = loadFixture('detection', name);
  const c = f.config as unknown as Config;
  // Frozen fixtures carry the COCO checkpoints' key set: TorchVision builds that when weights are named.
  const entry = DETECTION_MODELS.get(c.builder);
  const model = entry.build({ ...(c.frozen ? { weights: entry.weights!.COCO_V1 } : {}), ...c.buildOptions }) as FasterRCNN;
  model.loadStateDict(f.stateDict);
  const images = c.originalSizes.map((_, i) => hwcImage(f, `image_${i}`));
  return { f, c, model, images };
}

function tvFeatures(f: Fixture): Map<string, HostFeatureMap> {
  return new Map((f.config as unknown as Config).featureNames.map((k) => [k, nhwcMap(f, `features_${k}`)]));
}

describe.each(CASES)('%s matches TorchVision 0.14', (name) => {
  it('parameter count, strict state dict, transform, anchors, backbone + FPN', async () => {
    const { f, c, model, images } = setup(name);
    expect(model.numParams()).toBe(c.numParams);
    expect(c.numParams).toBe(EXPECTED[name]!.numParams);
    const before = tf.memory().numTensors;
    // transform: normalised, resized, padded batch and image sizes
    const il = await model.transform.forward(images);
    expect(il.imageSizes).toEqual(c.imageSizes);
    expect(il.imageSizes).toEqual(ints(f, 'image_sizes').reduce<number[][]>((a, v, i) => (i % 2 ? a[a.length - 1]!.push(v) : a.push([v]), a), []));
    const transformed = fixtureTensor(f, 'transformed');
    expect([il.tensors.shape[0], il.tensors.shape[3], il.tensors.shape[1], il.tensors.shape[2]]).toEqual(transformed.shape);
    assertScaledClose(await nhwcTensorToNchw(il.tensors), transformed, 1e-5, { what: 'transformed batch' });
    il.tensors.dispose();
    // backbone + FPN on TorchVision's batch
    const { data, shape } = nchwToNhwc(toFloat32(transformed), transformed.shape);
    const x = tf.tensor4d(data, shape);
    const feats = model.backbone.forward(x);
    expect([...feats.keys()]).toEqual(c.featureNames);
    for (const [k, v] of feats) {
      const r = assertScaledClose(await nhwcTensorToNchw(v), fixtureTensor(f, `features_${k}`), 1e-4, { what: `features ${k}` });
      expect(r.maxAbsExpected).toBeGreaterThan(0.1);
    }
    // anchors
    const grid = [...feats.values()].map((t) => [t.shape[1], t.shape[2]] as [number, number]);
    expect(Array.from(model.rpn.anchorGenerator.forward([shape[1], shape[2]], grid))).toEqual(Array.from(f32(f, 'anchors')));
    tf.dispose([x, ...feats.values()]);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('RPN proposals from TorchVision features', async () => {
    const { f, c, model } = setup(name);
    const feats = tvFeatures(f);
    const tensors = [...feats.values()].map((m) => tf.tensor4d(m.data, m.shape as [number, number, number, number]));
    const batch = fixtureTensor(f, 'transformed').shape;
    const proposals = await model.rpn.forward([batch[2]!, batch[3]!], c.imageSizes, tensors);
    tf.dispose(tensors);
    proposals.forEach((p, i) => {
      const expected = f32(f, `proposals_${i}`);
      expect(p.boxes.length).toBe(expected.length);
      // The same boxes; the order of exactly tied probabilities may differ (TorchVision sorts the
      // per-level NMS results with an unstable sort), so match as sets, and count rows in place.
      const n = expected.length / 4;
      let inPlace = 0;
      let matched = 0;
      const used = new Uint8Array(n);
      for (let j = 0; j < n; j++) {
        const close = (k: number) => [0, 1, 2, 3].every((c) => Math.abs(p.boxes[4 * k + c]! - expected[4 * j + c]!) < 1e-2);
        if (close(j)) {
          inPlace++;
          if (!used[j]) {
            used[j] = 1;
            matched++;
            continue;
          }
        }
        for (let k = 0; k < n; k++) {
          if (!used[k] && close(k)) {
            used[k] = 1;
            matched++;
            break;
          }
        }
      }
      console.log(`${name} image ${i}: ${matched}/${n} proposals matched, ${inPlace} in place`);
      expect(matched / n).toBeGreaterThanOrEqual(0.99);
    });
    model.dispose();
  });

  it('RoIAlign box features and box head from TorchVision proposals', async () => {
    const { f, c, model } = setup(name);
    const feats = tvFeatures(f);
    const proposals = c.proposals.map((_, i) => f32(f, `proposals_${i}`));
    const pooledTensor = await model.roiHeads.boxRoiPool.forward(feats, proposals, c.imageSizes);
    const pooled = (await pooledTensor.data()) as Float32Array;
    pooledTensor.dispose();
    expect(model.roiHeads.boxRoiPool.scales).toEqual(Array.from(f32(f, 'box_roi_pool_scales')));
    // TorchVision's default featmap_names ['0', '1', '2', '3'] leave out 'pool'.
    expect(model.roiHeads.boxRoiPool.scales).toEqual(EXPECTED[name]!.scales);
    expect([model.roiHeads.boxRoiPool.mapLevels!.kMin, model.roiHeads.boxRoiPool.mapLevels!.kMax]).toEqual(EXPECTED[name]!.levels);
    const per = 256 * 49;
    assertScaledClose(pooled.subarray(0, 64 * per), fixtureTensor(f, 'box_features_0_head'), 1e-5, { what: 'box features image 0' });
    const n0 = proposals[0]!.length / 4;
    assertScaledClose(pooled.subarray(n0 * per, (n0 + 64) * per), fixtureTensor(f, 'box_features_1_head'), 1e-5, { what: 'box features image 1' });
    const head = tf.tensor2d(pooled.subarray(0, 64 * per), [64, per]);
    const { classLogits, boxRegression } = await model.roiHeads.predict(head);
    head.dispose();
    assertScaledClose(classLogits, fixtureTensor(f, 'class_logits_0_head'), 1e-4, { what: 'class logits' });
    assertScaledClose(boxRegression, fixtureTensor(f, 'box_regression_0_head'), 1e-4, { what: 'box regression' });
    model.dispose();
  });

  it('detections from TorchVision features and proposals: labels, boxes, scores and order (up to near-ties)', async () => {
    const { f, c, model } = setup(name);
    const proposals = c.proposals.map((_, i) => f32(f, `proposals_${i}`));
    const dets = await model.roiHeads.forward(tvFeatures(f), proposals, c.imageSizes);
    dets.forEach((d, i) => {
      const boxes = GeneralizedRCNNTransform.resizeBoxes(d.boxes, c.imageSizes[i]!, c.originalSizes[i]!);
      const tv = { boxes: f32(f, `boxes_${i}`), labels: ints(f, `labels_${i}`), scores: f32(f, `scores_${i}`) };
      const { matched, n, m } = matchDetections({ ...d, boxes }, tv);
      expect(n).toBe(m);
      expect(matched.length, `matched detections of image ${i}`).toBe(m);
      for (const p of matched) {
        expect(p.scoreDiff).toBeLessThan(1e-4);
        expect(p.coordDiff).toBeLessThan(1e-2);
        // Same position, except swaps of near-tied scores (e.g. 0.05167084 vs 0.05167078).
        if (p.i !== p.j) expect(Math.abs(tv.scores[p.i]! - tv.scores[p.j]!), `order at ${p.j} of image ${i}`).toBeLessThan(1e-6);
      }
    });
    model.dispose();
  });

  it('trace keeps the FPN maps (TorchVision\'s) and gives forward\'s detections', async () => {
    const { f, model, images } = setup(name);
    const trace = await model.trace(images);
    expect([...trace.features.keys()]).toEqual((f.config as unknown as Config).featureNames);
    for (const [k, map] of trace.features) {
      const tv = nhwcMap(f, `features_${k}`);
      expect(map.shape).toEqual(tv.shape);
      assertScaledClose(map.data, tv.data, 1e-4, { what: `FPN map ${k}` });
    }
    expect(await model.forward(images)).toEqual(trace.detections);
    model.dispose();
  });

  it('end to end: detections matched by label and IoU > 0.99', async () => {
    const { f, c, model, images } = setup(name);
    const tol = TOLERANCES[name]!;
    const before = tf.memory().numTensors;
    const dets = await model.forward(images);
    expect(tf.memory().numTensors).toBe(before);
    let total = 0;
    let matchedCount = 0;
    const coordDiffs: number[] = [];
    dets.forEach((d, i) => {
      expect(d.boxes.length).toBe(d.labels.length * 4);
      for (let k = 1; k < d.scores.length; k++) expect(d.scores[k]!).toBeLessThanOrEqual(d.scores[k - 1]!);
      const tv = { boxes: f32(f, `boxes_${i}`), labels: ints(f, `labels_${i}`), scores: f32(f, `scores_${i}`) };
      expect(tv.labels.length).toBe(c.detections[i]);
      const { matched, n, m } = matchDetections(d, tv);
      total += Math.max(n, m);
      matchedCount += matched.length;
      for (const p of matched) {
        expect(p.scoreDiff, `score of TorchVision's detection ${p.j} in image ${i}`).toBeLessThan(tol.score);
        coordDiffs.push(p.coordDiff);
      }
    });
    coordDiffs.sort((a, b) => a - b);
    const p99 = coordDiffs[Math.floor(coordDiffs.length * 0.99)] ?? 0;
    console.log(`${name}: matched ${matchedCount}/${total}, coords max ${coordDiffs[coordDiffs.length - 1]} px, p99 ${p99} px`);
    expect(total).toBeGreaterThanOrEqual(20);
    expect(matchedCount / total).toBeGreaterThanOrEqual(0.97);
    expect(p99).toBeLessThan(tol.p99px);
    model.dispose();
  });
});

describe('inputs', () => {
  it('tf.Tensor3D images give the same detections as host images (and stay undisposed)', async () => {
    const { model, images } = setup('fasterrcnn_mobilenet_v3_large_320_fpn_bn');
    const fromHost = await model.forward(images);
    const tensors = images.map((im) => tf.tensor3d(im.data, im.shape));
    const fromTensors = await model.forward(tensors);
    expect(fromTensors).toEqual(fromHost);
    expect(tensors.every((t) => !t.isDisposed)).toBe(true);
    tf.dispose(tensors);
    model.dispose();
  });
});

describe('checkpoints saved before torchvision 0.13 (the layout of the published COCO_V1 files)', () => {
  it('load strictly, FPN blocks and the RPN head upgraded as TorchVision upgrades them, and give the same detections', async () => {
    const dir = fixtureDir('detection');
    const old = readCheckpoint(readFileSync(join(dir, 'fasterrcnn_320_pre013.pth')));
    const current = readCheckpoint(readFileSync(join(dir, 'fasterrcnn_320.pth')));
    for (const k of ['backbone.fpn.inner_blocks.0.weight', 'backbone.fpn.layer_blocks.1.bias', 'rpn.head.conv.weight']) expect(old.has(k), k).toBe(true);
    expect(old.has('rpn.head.conv.0.0.weight')).toBe(false);
    const entry = DETECTION_MODELS.get('fasterrcnn_mobilenet_v3_large_320_fpn');
    const fromOld = entry.build({ weights: entry.weights!.COCO_V1 }) as FasterRCNN;
    fromOld.loadStateDict(old); // strict: a key left un-upgraded fails
    expect(old.has('rpn.head.conv.weight')).toBe(true); // the caller's map is not renamed
    const fromCurrent = entry.build({ weights: entry.weights!.COCO_V1 }) as FasterRCNN;
    fromCurrent.loadStateDict(current);
    // Bytes, not element lists: a deep toEqual over 19M numbers took minutes under CI's load.
    const oldState = fromOld.stateDict();
    for (const [k, v] of fromCurrent.stateDict()) {
      const a = oldState.get(k)!.data, b = v.data;
      expect(Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength)), k).toBe(true);
    }
    fromOld.dispose();
    fromCurrent.dispose();
  });
});

describe("load()'s scoreThresh", () => {
  it("sets Faster R-CNN's boxScoreThresh, and refuses both at once", async () => {
    const weights = join(fixtureDir('detection'), 'fasterrcnn_320.pth');
    const detector = await load('fasterrcnn_mobilenet_v3_large_320_fpn', { weights, scoreThresh: 0.3 });
    expect((detector.model as FasterRCNN).roiHeads.options.scoreThresh).toBe(0.3);
    detector.dispose();
    await expect(load('fasterrcnn_mobilenet_v3_large_320_fpn', { weights, scoreThresh: 0.3, boxScoreThresh: 0.2 })).rejects.toThrow(
      "give fasterrcnn_mobilenet_v3_large_320_fpn's score threshold once: scoreThresh or boxScoreThresh, not both",
    );
  });
});
