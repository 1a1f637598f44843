// ConfusionMatrix (@mnv3/segmentation/eval, copied verbatim from references/segmentation/utils.py
// into the oracle) and interpolateBilinear (@mnv3/layers, F.interpolate bilinear) against TorchVision.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { assertScaledClose, fixtureDir, fixtureTensor, loadFixture, nchwToNhwc, nhwcTensorToNchw } from '@mnv3/test-utils';
import { readSafetensors, toFloat32, type HostTensor } from '@mnv3/io';
import { interpolateBilinear } from '@mnv3/layers';
import { ConfusionMatrix } from '@mnv3/segmentation/eval';

function numbers(t: HostTensor): number[] {
  return Array.from(t.data as ArrayLike<number | bigint>, (v) => Number(v));
}

describe.each(['metrics_full', 'metrics_absent', 'metrics_small'])('ConfusionMatrix equals TorchVision\'s on %s', (name) => {
  const f = loadFixture('segmentation', name);
  const n = f.config.numClasses as number;
  const cm = new ConfusionMatrix(n);
  for (let step = 0; step < 3; step++) cm.update(fixtureTensor(f, `target_${step}`).data as Uint8Array, fixtureTensor(f, `pred_${step}`).data as Int32Array);
  const m = cm.compute();

  it('counts, ignoring label 255', () => {
    expect(Array.from(cm.mat)).toEqual(numbers(fixtureTensor(f, 'mat')));
    let targets255 = 0;
    for (let step = 0; step < 3; step++) for (const v of fixtureTensor(f, `target_${step}`).data as Uint8Array) if (v === 255) targets255++;
    expect(targets255).toBeGreaterThan(0);
  });

  it('acc_global, acc and IoU exactly in float64, and exactly TorchVision\'s float32 values once rounded', () => {
    expect(m.accGlobal).toBe(numbers(fixtureTensor(f, 'acc_global_f64'))[0]);
    expect(Array.from(m.acc)).toEqual(numbers(fixtureTensor(f, 'acc_f64')));
    expect(Array.from(m.iu)).toEqual(numbers(fixtureTensor(f, 'iu_f64')));
    expect(Math.fround(m.accGlobal)).toBe(numbers(fixtureTensor(f, 'acc_global'))[0]);
    expect(Array.from(m.acc, Math.fround)).toEqual(numbers(fixtureTensor(f, 'acc')));
    expect(Array.from(m.iu, Math.fround)).toEqual(numbers(fixtureTensor(f, 'iu')));
    const miou = numbers(fixtureTensor(f, 'miou'))[0]! * 100;
    if (Number.isNaN(miou)) expect(m.meanIoU).toBeNaN();
    else expect(Math.abs(m.meanIoU - miou)).toBeLessThan(1e-4);
  });

  it('prints TorchVision\'s report character for character', () => {
    const { metadata } = readSafetensors(readFileSync(join(fixtureDir('segmentation'), `${name}.safetensors`)));
    expect(cm.toString()).toBe(metadata.text);
  });
});

describe('ConfusionMatrix behaviour', () => {
  it('ignores targets outside [0, n), refuses predictions outside it, merges and resets', () => {
    const cm = new ConfusionMatrix(3);
    cm.update([0, 1, 2, 255, -1, 3], [0, 2, 2, 7, 9, 1]);
    expect(Array.from(cm.mat)).toEqual([1, 0, 0, 0, 0, 1, 0, 0, 1]);
    expect(() => cm.update([1], [3])).toThrow(/prediction 3 at pixel 0 is not a class index \(valid: integers 0\.\.2\)/);
    expect(Array.from(cm.mat)).toEqual([1, 0, 0, 0, 0, 1, 0, 0, 1]);
    expect(() => cm.update([1, 2], [1])).toThrow(/differ in size: 2 vs 1/);
    const m = cm.compute();
    expect(m.accGlobal).toBeCloseTo(2 / 3, 15);
    expect(Array.from(m.iu)).toEqual([1, 0, 0.5]);
    expect(m.meanIoU).toBeCloseTo(50, 12);
    cm.merge(new ConfusionMatrix(3).update([1], [1]));
    expect(cm.mat[4]).toBe(1);
    expect(() => cm.merge(new ConfusionMatrix(4))).toThrow(/cannot merge a 4-class confusion matrix into a 3-class one/);
    cm.reset();
    expect(cm.mat.every((v) => v === 0)).toBe(true);
    expect(() => new ConfusionMatrix(0)).toThrow(/numClasses must be a positive integer/);
  });
});

describe('interpolateBilinear equals F.interpolate(mode="bilinear", align_corners=False) on WASM', () => {
  const f = loadFixture('segmentation', 'interpolate');
  it.each([0, 1, 2, 3, 4])('case %i', async (i) => {
    const xh = fixtureTensor(f, `x_${i}`);
    const yh = fixtureTensor(f, `y_${i}`);
    const { data, shape } = nchwToNhwc(toFloat32(xh), xh.shape);
    const before = tf.memory().numTensors;
    const x = tf.tensor4d(data, shape);
    const y = interpolateBilinear(x, [yh.shape[2]!, yh.shape[3]!]);
    const report = assertScaledClose(await nhwcTensorToNchw(y), yh, 1e-5, { what: `interpolate case ${i}` });
    console.info(`interpolate ${xh.shape.join('x')} → ${yh.shape.join('x')}: max |diff| ${report.maxAbsDiff.toExponential(2)}`);
    tf.dispose([x, y]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('refuses a bad size', () => {
    const x = tf.zeros([1, 2, 2, 1]) as tf.Tensor4D;
    expect(() => interpolateBilinear(x, [0, 3])).toThrow(/two positive integers, got \[0, 3\]/);
    x.dispose();
  });
});
