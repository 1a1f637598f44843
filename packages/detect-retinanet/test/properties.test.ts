// retinanet_resnet50_fpn's TorchVision facts (weights table, defaults, keys) and its errors.
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { COCO_CATEGORIES, DETECTION_MODELS } from '@mnv3/detection';
import { ResNet50_Weights } from '@mnv3/backbone';
import { FrozenBatchNorm2d, type Module } from '@mnv3/layers';
import { RetinaNet_ResNet50_FPN_Weights, defaultAnchorSizes, retinanetResnet50Fpn } from '../src/index.js';

/** The eps of every FrozenBatchNorm2d in the model. */
function frozenEps(m: Module): number[] {
  const own = m instanceof FrozenBatchNorm2d ? [m.eps] : [];
  return [...own, ...m.namedChildren().flatMap(([, c]) => frozenEps(c))];
}

describe('TorchVision facts', () => {
  it('weights table, parameter count, defaults, registry', () => {
    const w = RetinaNet_ResNet50_FPN_Weights.COCO_V1;
    expect(RetinaNet_ResNet50_FPN_Weights.DEFAULT).toBe(w);
    expect(w.url).toBe('https://download.pytorch.org/models/retinanet_resnet50_fpn_coco-eeacb38b.pth');
    expect(w.sha256Prefix).toBe('eeacb38b');
    expect(w.meta).toMatchObject({ numParams: 34_014_999, metrics: { 'COCO-val2017': { box_map: 36.4 } }, categories: COCO_CATEGORIES });
    const model = retinanetResnet50Fpn({ weights: w });
    expect(model.numParams()).toBe(34_014_999);
    expect([model.transform.minSize, model.transform.maxSize]).toEqual([800, 1333]);
    expect(model.options).toEqual({ scoreThresh: 0.05, nmsThresh: 0.5, detectionsPerImg: 300, topkCandidates: 1000 });
    expect(model.anchorGenerator.numAnchorsPerLocation()).toEqual([9, 9, 9, 9, 9]);
    expect(defaultAnchorSizes()).toEqual([
      [32, 40, 50],
      [64, 80, 101],
      [128, 161, 203],
      [256, 322, 406],
      [512, 645, 812],
    ]);
    // COCO_V1 was trained with FrozenBatchNorm2d at eps 0 (TorchVision's overwrite_eps after loading).
    expect(frozenEps(model)).toHaveLength(53);
    expect(new Set(frozenEps(model))).toEqual(new Set([0]));
    const withBackbone = retinanetResnet50Fpn({ weightsBackbone: ResNet50_Weights.IMAGENET1K_V1 });
    expect(new Set(frozenEps(withBackbone))).toEqual(new Set([1e-5]));
    const keys = [...model.namedStateEntries()].map(([k]) => k);
    expect(keys).toEqual(
      expect.arrayContaining([
        'backbone.body.layer4.2.bn3.running_var',
        'backbone.fpn.inner_blocks.0.0.weight',
        'backbone.fpn.layer_blocks.2.0.bias',
        'backbone.fpn.extra_blocks.p6.weight',
        'backbone.fpn.extra_blocks.p7.bias',
        'head.classification_head.conv.3.0.weight',
        'head.classification_head.cls_logits.weight',
        'head.regression_head.bbox_reg.bias',
      ]),
    );
    // layer1 is not returned to the FPN: 3 inner blocks.
    expect(keys.some((k) => k.startsWith('backbone.fpn.inner_blocks.3'))).toBe(false);
    expect(keys.some((k) => k.endsWith('num_batches_tracked') || k.startsWith('backbone.body.fc'))).toBe(false);
    expect(DETECTION_MODELS.get('retinanet_resnet50_fpn').weights).toBe(RetinaNet_ResNet50_FPN_Weights);
    // Without weights: BatchNorm2d, whose weight and bias count as parameters, as TorchVision's.
    expect(retinanetResnet50Fpn().numParams()).toBe(34_014_999 + 2 * 26_560);
    model.dispose();
    withBackbone.dispose();
  });

  it('every keyword overridable', () => {
    const m = retinanetResnet50Fpn({ minSize: 320, maxSize: 512, numClasses: 3, scoreThresh: 0.2, nmsThresh: 0.4, detectionsPerImg: 7, topkCandidates: 50 });
    expect([m.transform.minSize, m.transform.maxSize]).toEqual([320, 512]);
    expect(m.options).toEqual({ scoreThresh: 0.2, nmsThresh: 0.4, detectionsPerImg: 7, topkCandidates: 50 });
    expect(m.head.classificationHead.numClasses).toBe(3);
    expect(m.categories).toBeNull();
    const a = retinanetResnet50Fpn({ anchorSizes: [[32], [64], [128], [256], [512]], aspectRatios: [[1], [1], [1], [1], [1]] });
    expect(a.anchorGenerator.numAnchorsPerLocation()).toEqual([1, 1, 1, 1, 1]);
    expect(a.head.classificationHead.clsLogits.geometry.outChannels).toBe(91);
  });
});

describe('errors name the problem and the valid choices', () => {
  it('bad options', () => {
    const w = RetinaNet_ResNet50_FPN_Weights.COCO_V1;
    expect(() => retinanetResnet50Fpn({ weights: w, numClasses: 10 })).toThrow(/'num_classes' expected value 91 but got 10/);
    expect(() => retinanetResnet50Fpn({ weights: ResNet50_Weights.IMAGENET1K_V1 })).toThrow(/are not weights of retinanet_resnet50_fpn; valid: COCO_V1/);
    expect(() => retinanetResnet50Fpn({ weights: w, trainableBackboneLayers: 6 })).toThrow('trainableBackboneLayers must be an integer in [0, 5], got 6');
    expect(() => retinanetResnet50Fpn({ scoreThresh: 2 })).toThrow(/scoreThresh must be a number in \[0, 1\], got 2/);
    expect(() => retinanetResnet50Fpn({ topkCandidates: 1.5 })).toThrow(/topkCandidates must be an integer/);
    expect(() => retinanetResnet50Fpn({ anchorSizes: [[32], [64]], aspectRatios: [[1], [1]] })).toThrow(/5 maps \(P3–P7\): give anchor sizes for 5, got 2/);
    expect(() => retinanetResnet50Fpn({ anchorSizes: [[32], [64], [128], [256], [512, 600]], aspectRatios: [[1], [1], [1], [1], [1]] })).toThrow(/same number of anchors per location/);
  });

  it('bad images, without leaking tensors', async () => {
    const model = retinanetResnet50Fpn({ minSize: 64, maxSize: 64 });
    const before = tf.memory().numTensors;
    await expect(model.forward([])).rejects.toThrow(/images list should not be empty/);
    const chw = tf.zeros([3, 32, 32]) as tf.Tensor3D;
    await expect(model.forward([chw])).rejects.toThrow(/\[H, W, 3\] \(HWC\), got \[3, 32, 32\]/);
    await expect(model.forward([{ data: new Float32Array(12), shape: [2, 2, 3] }])).rejects.toThrow(/has no weights: call loadStateDict\(\) or initWeights\(\) first/);
    tf.dispose(chw);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });
});
