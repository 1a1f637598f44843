// TorchVision's detection ops against ours on random inputs (tools/reference/suite_detection.py, `ops`).
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { assertClose, assertScaledClose, f32, fixtureTensor, hwcImage, ints, loadFixture, maxAbsDiff, nchwToNhwc, nhwcMap, nhwcTensorToNchw } from '@mnv3/test-utils';
import { toFloat32 } from '@mnv3/io';
import { bilinearGather, bilinearGatherHost, setKernelMode } from '@mnv3/layers';
import { AnchorGenerator, BoxCoder, FeaturePyramidNetwork, GeneralizedRCNNTransform, LastLevelMaxPool, MultiScaleRoIAlign, batchedNms, boxIou, clipBoxesToImage, nms, removeSmallBoxes, roiAlign, roiAlignSamples } from '../src/index.js';

const F = loadFixture('detection', 'ops');

describe('box ops match torchvision.ops', () => {
  it('box_iou', () => {
    const out = boxIou(f32(F, 'iou_a'), f32(F, 'iou_b'));
    assertClose(out, f32(F, 'iou_out'), { atol: 1e-6, rtol: 0, what: 'box_iou' });
  });

  it.each([3, 5, 7])('nms at IoU 0.%i keeps the same indices in the same order (score ties included)', (t) => {
    const scores = f32(F, 'nms_scores');
    expect(new Set(scores).size).toBeLessThan(10); // heavy ties
    expect(Array.from(nms(f32(F, 'nms_boxes'), scores, t / 10))).toEqual(ints(F, `nms_keep_${t}`));
  });

  it('batched_nms, coordinate-trick path (<= 1000 boxes, with ties)', () => {
    const keep = batchedNms(f32(F, 'nms_boxes'), f32(F, 'nms_scores'), ints(F, 'bnms_idxs'), 0.5);
    expect(Array.from(keep)).toEqual(ints(F, 'bnms_keep_trick'));
  });

  it('batched_nms, per-class path (> 1000 boxes)', () => {
    const keep = batchedNms(f32(F, 'bnms_v_boxes'), f32(F, 'bnms_v_scores'), ints(F, 'bnms_v_idxs'), 0.6);
    expect(Array.from(keep)).toEqual(ints(F, 'bnms_keep_vanilla'));
  });

  it('remove_small_boxes and clip_boxes_to_image', () => {
    expect(Array.from(removeSmallBoxes(f32(F, 'small_boxes'), 1.0))).toEqual(ints(F, 'small_keep'));
    expect(Array.from(clipBoxesToImage(f32(F, 'clip_in'), [217, 333]))).toEqual(Array.from(f32(F, 'clip_out')));
  });

  it('BoxCoder encode / decode (weights 10,10,5,5 and 1,1,1,1; clamp at log(1000/16))', () => {
    const coder = new BoxCoder([10, 10, 5, 5]);
    assertClose(coder.encode(f32(F, 'coder_ref'), f32(F, 'coder_prop')), f32(F, 'coder_encoded'), { atol: 1e-5, rtol: 1e-6, what: 'encode' });
    const dec = coder.decode(f32(F, 'coder_codes'), f32(F, 'coder_prop'));
    assertClose(dec, f32(F, 'coder_decoded'), { atol: 1e-4, rtol: 1e-6, what: 'decode' });
    const codes = f32(F, 'coder_codes');
    const codes4 = new Float32Array(200);
    for (let i = 0; i < 50; i++) codes4.set(codes.subarray(8 * i, 8 * i + 4), 4 * i);
    assertClose(new BoxCoder([1, 1, 1, 1]).decode(codes4, f32(F, 'coder_prop')), f32(F, 'coder1_decoded'), { atol: 1e-4, rtol: 1e-6 });
  });

  it('AnchorGenerator: exact anchors, in TorchVision order', () => {
    const ag = new AnchorGenerator([[32, 64, 128, 256, 512], [32, 64, 128, 256, 512], [32, 64, 128, 256, 512]], [[0.5, 1, 2], [0.5, 1, 2], [0.5, 1, 2]]);
    expect(ag.numAnchorsPerLocation()).toEqual([15, 15, 15]);
    const a = ag.forward([800, 1088], [[25, 34], [25, 34], [13, 17]]);
    expect(Array.from(a)).toEqual(Array.from(f32(F, 'anchors_model')));
    const ag2 = new AnchorGenerator([[16, 40], [100]], [[0.25, 1, 3], [0.7]]);
    expect(Array.from(ag2.forward([96, 160], [[12, 20], [5, 9]]))).toEqual(Array.from(f32(F, 'anchors_mixed')));
  });
});

describe('roi_align matches torchvision.ops.roi_align (CPU kernel)', () => {
  const x = nhwcMap(F, 'ra_x');
  const rois = f32(F, 'ra_rois');
  it.each([
    ['ra_out', { outputSize: 7, spatialScale: 0.25, samplingRatio: 2 }],
    ['ra_out_adaptive', { outputSize: [5, 4] as const, spatialScale: 0.25, samplingRatio: -1 }],
    ['ra_out_aligned', { outputSize: 7, spatialScale: 0.25, samplingRatio: 2, aligned: true }],
  ] as const)('%s (boxes crossing the border, degenerate and outside boxes)', (name, opts) => {
    const out = roiAlign(x, rois, opts);
    assertClose(out, f32(F, name), { atol: 1e-5, rtol: 0, shape: fixtureTensor(F, name).shape, what: name });
  });

  it('MultiScaleRoIAlign with LevelMapper over two levels (and ignores maps it was not asked for)', async () => {
    const pool = new MultiScaleRoIAlign(['0', '1', '2', '3'], 7, 2);
    const feats = new Map([
      ['0', nhwcMap(F, 'msra_x_0')],
      ['1', nhwcMap(F, 'msra_x_1')],
      ['pool', nhwcMap(F, 'msra_x_pool')],
    ]);
    const boxes = [f32(F, 'msra_boxes_0'), f32(F, 'msra_boxes_1')];
    const run = async (mode: 'fast' | 'plain') => {
      setKernelMode(mode);
      try {
        const t = await pool.forward(feats, boxes, [[128, 160], [120, 150]]);
        const out = t.dataSync() as Float32Array;
        t.dispose();
        return out;
      } finally {
        setKernelMode('fast');
      }
    };
    const fast = await run('fast');
    expect(pool.scales).toEqual(Array.from(f32(F, 'msra_scales')));
    assertClose(fast, f32(F, 'msra_out'), { atol: 1e-5, rtol: 0, what: 'MultiScaleRoIAlign' });
    // Our WASM kernel and the host loop do the same f32 operations in the same order.
    assertClose(fast, await run('plain'), { atol: 0, rtol: 0, what: 'fast vs plain' });
  });

  it('the WASM gather gives the host loop\'s bits, channel counts not a multiple of 4 included', async () => {
    for (const [name, opts] of [
      ['ra_out', { outputSize: 7, spatialScale: 0.25, samplingRatio: 2 }],
      ['ra_out_adaptive', { outputSize: [5, 4] as const, spatialScale: 0.25, samplingRatio: -1 }],
      ['ra_out_aligned', { outputSize: 7, spatialScale: 0.25, samplingRatio: 2, aligned: true }],
    ] as const) {
      for (const channels of [x.shape[3], 3, 6]) {
        // The first `channels` channels of the fixture's map.
        const [n, h, w, c] = x.shape;
        const data = new Float32Array(n * h * w * channels);
        for (let p = 0; p < n * h * w; p++) data.set(x.data.subarray(p * c, p * c + channels), p * channels);
        const shape = [n, h, w, channels] as const;
        const K = rois.length / 5;
        const samples = roiAlignSamples([shape], rois, new Int32Array(K), opts);
        const cells = samples.cells;
        expect(cells).toBe(K * (typeof opts.outputSize === 'number' ? opts.outputSize ** 2 : opts.outputSize[0] * opts.outputSize[1]));
        const length = cells * channels;
        const map = tf.tensor4d(data, [...shape]);
        const fastT = await bilinearGather([map], samples, length, cells / K);
        const fast = fastT.dataSync() as Float32Array;
        tf.dispose([map, fastT]);
        assertClose(fast, bilinearGatherHost([data], channels, samples, length, cells / K), { atol: 0, rtol: 0, what: `${name}, ${channels} channels` });
      }
    }
  });
});

describe('FeaturePyramidNetwork and resize', () => {
  it('FPN + LastLevelMaxPool on odd sizes (nearest upsampling 8x11 -> 15x21)', async () => {
    const fpn = new FeaturePyramidNetwork([16, 32], 24, { extraBlocks: new LastLevelMaxPool() });
    fpn.loadStateDict(F.stateDict);
    const toT = (name: string) => {
      const t = fixtureTensor(F, name);
      const { data, shape } = nchwToNhwc(toFloat32(t), t.shape);
      return tf.tensor4d(data, shape);
    };
    const before = tf.memory().numTensors;
    const inputs = new Map([
      ['0', toT('fpn_in_0')],
      ['1', toT('fpn_in_1')],
    ]);
    const out = fpn.forward(inputs);
    expect([...out.keys()]).toEqual(['0', '1', 'pool']);
    for (const [k, v] of out) assertScaledClose(await nhwcTensorToNchw(v), fixtureTensor(F, `fpn_out_${k}`), 1e-5, { what: `fpn ${k}` });
    tf.dispose([...inputs.values(), ...out.values()]);
    expect(tf.memory().numTensors).toBe(before);
    fpn.dispose();
  });

  it.each([0, 1, 2, 3])('bilinear resize %i as GeneralizedRCNNTransform (size and values)', (i) => {
    const sizes = [[800, 1333], [320, 640], [800, 1333], [800, 1333]] as const;
    const [mn, mx] = sizes[i]!;
    const t = new GeneralizedRCNNTransform({ minSize: mn, maxSize: mx, imageMean: [0, 0, 0], imageStd: [1, 1, 1] });
    const out = t.resize(hwcImage(F, `resize_in_${i}`));
    const expected = hwcImage(F, `resize_out_${i}`);
    expect(out.shape).toEqual(expected.shape);
    expect(maxAbsDiff(out.data, expected.data)).toBeLessThanOrEqual(2.5e-7); // 1 ulp below 2: torch fuses some multiply-adds
  });
});
