// Post-training quantization as TorchVision's reference script runs it (fuse_model, qnnpack's
// default qconfig, prepare, calibration, convert) against ours from the same float weights and
// calibration images. Our float forward is not torch's bit for bit, so observers see values a few
// ulps apart: the bars are stated on what that allows.
import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { toFloat32 } from '@mnv3/io';
import { fixtureTensor, loadFixture, nchwToNhwc } from '@mnv3/test-utils';
import { assembleQuantized, convert, mobilenetV3Large, mobilenetV3Small, prepare, type QuantizedWeights } from '../src/index.js';
import { argmaxRows, compareQuanta, nhwcInput, qtensor, scalar } from './helpers.js';

describe.each(['mobilenet_v3_small', 'mobilenet_v3_large'] as const)('%s: post-training quantization', (arch) => {
  const f = loadFixture('quantize', `ptq_${arch}`);
  const before = tf.memory().numTensors;
  const float = (arch === 'mobilenet_v3_large' ? mobilenetV3Large : mobilenetV3Small)();
  float.loadStateDict(f.stateDict);
  const observed = prepare(float);
  float.dispose();
  for (const i of [0, 1]) {
    const t = fixtureTensor(f, `calibration${i}`);
    const { data, shape } = nchwToNhwc(toFloat32(t), t.shape);
    observed.observe(data, shape as [number, number, number, number]);
  }
  const model = convert(observed);

  it('leaves no tfjs tensor behind', () => {
    expect(tf.memory().numTensors).toBe(before);
  });

  it("observer scales are torch's (HistogramObserver on the calibration batches)", () => {
    let worst = 0;
    let worstName = '';
    let zpDiff = 0;
    for (const [name, obs] of observed.observers) {
      const q = obs.calculateQParams();
      const ref = scalar(f, `obs.${name}.scale`);
      const r = Math.abs(q.scale - ref) / ref;
      if (r > worst) [worst, worstName] = [r, name];
      zpDiff = Math.max(zpDiff, Math.abs(q.zeroPoint - scalar(f, `obs.${name}.zero_point`)));
    }
    let close = 0;
    for (const [name, obs] of observed.observers) if (Math.abs(obs.calculateQParams().scale - scalar(f, `obs.${name}.scale`)) <= 1e-6 * scalar(f, `obs.${name}.scale`)) close++;
    console.log(`${arch} PTQ: ${close} of ${observed.observers.size} observer scales within 1e-6 of torch's, worst rel. diff ${worst.toExponential(2)} (${worstName}), worst zero point diff ${zpDiff}`);
    // Our float forward sums in another order than torch's CPU convolutions: the observers see values
    // a few ulps apart (given the same values they agree exactly: observers.test.ts).
    expect(close / observed.observers.size).toBeGreaterThanOrEqual(0.8); // measured: 86 of 89 (Small), 89 of 104 (Large)
    expect(worst).toBeLessThanOrEqual(1e-3);
    expect(zpDiff).toBeLessThanOrEqual(1);
  });

  it('int8 weights equal torch (per-tensor symmetric MinMax on the fused weights)', () => {
    let bad = 0;
    let total = 0;
    for (const [name, m] of model.namedWeighted()) {
      const ref = fixtureTensor(f, `q.${name}.weight`).data as Int8Array;
      for (let i = 0; i < ref.length; i++) if (ref[i] !== m.q.weight[i]) bad++;
      total += ref.length;
    }
    console.log(`${arch} PTQ weights: ${bad} of ${total} int8 values differ`);
    expect(bad).toBe(0);
  });

  it("with torch's activation qparams, the converted model gives torch's outputs exactly", () => {
    const weights = new Map<string, QuantizedWeights>([...model.namedWeighted()].map(([n, m]) => [n, m.q] as const));
    const qp = (p: string) => ({ scale: scalar(f, `obs.${p}.scale`), zeroPoint: scalar(f, `obs.${p}.zero_point`) });
    const torchQ = assembleQuantized(observed.config, { weights: (p) => ({ ...weights.get(p)!, ...qp(p) }), qparams: qp });
    for (const size of ['96x96', '64x80']) {
      const input = nhwcInput(f, size);
      const r = compareQuanta(torchQ.forward(input.data, input.shape).quantized, qtensor(f, 'classifier.3', size));
      expect(r.exact, size).toBe(r.total);
    }
  });

  it.each(['96x96', '64x80'])('outputs at %s: top-1 agreement with torch', (size) => {
    const input = nhwcInput(f, size);
    const { logits } = model.forward(input.data, input.shape);
    const n = input.shape[0];
    const ref = toFloat32(fixtureTensor(f, `output_${size}`));
    const ours = argmaxRows(logits, n);
    const theirs = argmaxRows(ref, n);
    const agree = ours.filter((v, i) => v === theirs[i]).length;
    const refQ = qtensor(f, 'classifier.3', size);
    let within = 0;
    const q = model.forward(input.data, input.shape).quantized;
    const dq = refQ.scale;
    for (let i = 0; i < logits.length; i++) if (Math.abs(logits[i]! - ref[i]!) <= dq * 1.0001) within++;
    console.log(`${arch} PTQ ${size}: top-1 ${agree}/${n}; ${((100 * within) / logits.length).toFixed(2)}% of logits within one output quantum; scales ours ${q.scale} torch ${refQ.scale}`);
    expect(agree / n).toBeGreaterThanOrEqual(0.5);
  });
});
