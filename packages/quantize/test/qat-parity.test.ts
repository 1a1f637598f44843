// TorchVision's quantized MobileNetV3 (QAT checkpoint layout → convert → qnnpack engine) against our
// integer engine: the converted weights bit for bit, every block and the whole model per value.
import { describe, expect, it } from 'vitest';
import { type HostTensor, toFloat32 } from '@mnv3/io';
import { fixtureTensor, loadFixture } from '@mnv3/test-utils';
import { QuantizedInvertedResidual, convert, mobilenetV3Large, mobilenetV3Small } from '../src/index.js';
import { argmaxRows, compareQuanta, nhwcInput, qtensor, scalar } from './helpers.js';

const ARCHS = ['mobilenet_v3_large', 'mobilenet_v3_small'] as const;

function equalArrays(a: ArrayLike<number>, b: ArrayLike<number>): { mismatches: number; first: number } {
  let mismatches = 0;
  let first = -1;
  if (a.length !== b.length) return { mismatches: Math.max(a.length, b.length), first: 0 };
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) {
      mismatches++;
      if (first < 0) first = i;
    }
  }
  return { mismatches, first };
}

function numbers(t: HostTensor): number[] {
  return Array.from(t.data as ArrayLike<number | bigint>, Number);
}

describe.each(ARCHS)('%s: QAT checkpoint → convert on the qnnpack engine', (arch) => {
  const f = loadFixture('quantize', `qat_${arch}`);
  const qat = (arch === 'mobilenet_v3_large' ? mobilenetV3Large : mobilenetV3Small)({ quantize: true });
  qat.loadStateDict(f.stateDict);
  const model = convert(qat);
  const sizes = (f.config.sizes as [number, number, number][]).map(([h, w]) => `${h}x${w}`);

  it('gives torch int_repr weights, weight scales, float and int32 biases and output qparams exactly', () => {
    let n = 0;
    for (const [name, m] of model.namedWeighted()) {
      n++;
      const w = fixtureTensor(f, `q.${name}.weight`);
      expect(w.shape, name).toEqual(m.q.weightShape);
      expect(equalArrays(m.q.weight, w.data as Int8Array), `${name}.weight`).toEqual({ mismatches: 0, first: -1 });
      expect(m.q.weightScale, `${name} weight scale`).toBe(scalar(f, `q.${name}.weight_scale`));
      expect(equalArrays(m.q.bias, toFloat32(fixtureTensor(f, `q.${name}.bias`))), `${name}.bias`).toEqual({ mismatches: 0, first: -1 });
      expect(m.q.scale, `${name} scale`).toBe(scalar(f, `q.${name}.scale`));
      expect(m.q.zeroPoint, `${name} zero point`).toBe(scalar(f, `q.${name}.zero_point`));
      const bias32 = m.int32Bias(scalar(f, `q.${name}.input_scale`));
      expect(equalArrays(bias32, numbers(fixtureTensor(f, `q.${name}.bias_int32`))), `${name} int32 bias`).toEqual({ mismatches: 0, first: -1 });
    }
    expect(n).toBe(arch === 'mobilenet_v3_large' ? 64 : 54);
  });

  it.each(sizes)('every block at %s: ≥ 99%% of values within one quantum of torch (measured: all equal)', (size) => {
    const input = nhwcInput(f, size);
    const q = model.quantize(input.data, input.shape);
    expect(compareQuanta(q, qtensor(f, 'quant', size)).exact).toBe(q.data.length);
    const lines: string[] = [];
    for (let i = 0; i < model.features.length; i++) {
      const x = qtensor(f, i === 0 ? 'quant' : `features.${i - 1}`, size);
      const y = model.features[i]!.forward(x);
      const r = compareQuanta(y, qtensor(f, `features.${i}`, size));
      lines.push(`features.${i}${model.features[i] instanceof QuantizedInvertedResidual ? '' : ' (conv)'}: exact ${((100 * r.exact) / r.total).toFixed(3)}%, max ±${r.maxDiff}`);
      expect(r.withinOne / r.total, `features.${i} at ${size}`).toBeGreaterThanOrEqual(0.99);
      // The reference engine is exact: anything short of torch's bytes is a regression.
      expect(r.exact, `features.${i} at ${size}: values equal to torch's`).toBe(r.total);
    }
    const last = qtensor(f, `features.${model.features.length - 1}`, size);
    const head = compareQuanta(model.forwardHead(last), qtensor(f, 'classifier.3', size));
    lines.push(`head: exact ${((100 * head.exact) / head.total).toFixed(3)}%, max ±${head.maxDiff}`);
    console.log(`${arch} ${size}\n  ${lines.join('\n  ')}`);
    expect(head.withinOne / head.total).toBeGreaterThanOrEqual(0.99);
    expect(head.exact).toBe(head.total);
  });

  it.each(sizes)('the whole model at %s: logits within one quantum, same top-1', (size) => {
    const input = nhwcInput(f, size);
    const { quantized, logits } = model.forward(input.data, input.shape);
    const ref = qtensor(f, 'classifier.3', size);
    const r = compareQuanta(quantized, ref);
    const n = input.shape[0];
    const refLogits = toFloat32(fixtureTensor(f, `output_${size}`));
    const ours = argmaxRows(logits, n);
    const theirs = argmaxRows(refLogits, n);
    const agree = ours.filter((v, i) => v === theirs[i]).length;
    let maxAbs = 0;
    for (let i = 0; i < logits.length; i++) maxAbs = Math.max(maxAbs, Math.abs(logits[i]! - refLogits[i]!));
    console.log(`${arch} ${size} whole model: exact ${((100 * r.exact) / r.total).toFixed(3)}%, within one ${((100 * r.withinOne) / r.total).toFixed(3)}%, max ±${r.maxDiff}; top-1 ${agree}/${n}; max |logit diff| ${maxAbs}`);
    expect(r.withinOne / r.total).toBeGreaterThanOrEqual(0.99);
    expect(agree / n).toBeGreaterThanOrEqual(0.995);
    expect(r.exact).toBe(r.total);
    expect(maxAbs).toBe(0);
  });
});
