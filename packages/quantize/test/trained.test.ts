// Quantization of a *trained* model (tools/reference/suite_quantize_trained.py): a MobileNetV3-Small
// trained on Fashion-MNIST, whose predictions follow the pixels, quantized by torch on the qnnpack
// engine as TorchVision's QAT checkpoint layout and by TorchVision's PTQ recipe. Random-weight
// models cannot show an accuracy difference; this one can.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readCheckpoint, toFloat32 } from '@mnv3/io';
import { fixtureDir, fixtureTensor, ints, loadFixture, nchwToNhwc } from '@mnv3/test-utils';
import { WasmQuantizedMobileNetV3, convert, mobilenetV3Small, prepare, type QuantizedMobileNetV3 } from '../src/index.js';
import { argmaxRows } from './helpers.js';

interface Config {
  calibrationImages: number;
  testImages: number;
  floatAccuracy: number;
  qatAccuracy: number;
  ptqAccuracy: number;
}

const f = loadFixture('quantize_trained', 'fashion');
const c = f.config as unknown as Config;
const labels = ints(f, 'labels');

/** `[N, 3, 64, 64]` fixture batch → NHWC, in slices of `size` images. */
function* slices(name: string, size: number): Generator<{ data: Float32Array; shape: [number, number, number, number] }> {
  const t = fixtureTensor(f, name);
  const all = toFloat32(t);
  const [n, ch, h, w] = t.shape as [number, number, number, number];
  const per = ch * h * w;
  for (let i = 0; i < n; i += size) {
    const m = Math.min(size, n - i);
    const { data, shape } = nchwToNhwc(all.subarray(i * per, (i + m) * per), [m, ch, h, w]);
    yield { data, shape: shape as [number, number, number, number] };
  }
}

const engines: WasmQuantizedMobileNetV3[] = [];
afterAll(() => engines.forEach((e) => e.dispose()));

function predictions(model: QuantizedMobileNetV3): number[] {
  const engine = WasmQuantizedMobileNetV3.create(model);
  if (!engine) throw new Error('the int8 WASM engine did not start on the wasm backend');
  engines.push(engine);
  const out: number[] = [];
  for (const x of slices('test', 100)) out.push(...argmaxRows(engine.forward(x.data, x.shape).logits, x.shape[0]));
  return out;
}

const accuracy = (p: number[]) => p.filter((v, i) => v === labels[i]).length / p.length;

describe('a MobileNetV3-Small trained on Fashion-MNIST, quantized', () => {
  it('the model is really trained: its float accuracy is far above chance', () => {
    expect(labels).toHaveLength(c.testImages);
    expect(c.floatAccuracy).toBeGreaterThan(0.75);
  });

  it("TorchVision's QAT checkpoint layout → our int8 engine: every test prediction equals torch's", () => {
    const qat = mobilenetV3Small({ quantize: true, numClasses: 10 });
    qat.loadStateDict(readCheckpoint(readFileSync(join(fixtureDir('quantize_trained'), 'qat_fashion.pth'))));
    const ours = predictions(convert(qat));
    const torch = ints(f, 'qat_predictions');
    const differ = ours.filter((v, i) => v !== torch[i]).length;
    console.log(`QAT layout: ${differ} of ${ours.length} predictions differ from torch's; accuracy ours ${accuracy(ours)}, torch ${c.qatAccuracy}, float ${c.floatAccuracy}`);
    expect(differ).toBe(0);
    expect(accuracy(ours)).toBeCloseTo(c.qatAccuracy, 6); // torch computed it in float32
  });

  it("our PTQ (HistogramObserver on the same calibration images): accuracy within 0.2 points of torch's PTQ", () => {
    const float = mobilenetV3Small({ numClasses: 10 });
    float.loadStateDict(f.stateDict);
    const observed = prepare(float);
    float.dispose();
    for (const x of slices('calibration', 64)) observed.observe(x.data, x.shape);
    const ours = predictions(convert(observed));
    const torch = ints(f, 'ptq_predictions');
    const agree = ours.filter((v, i) => v === torch[i]).length;
    console.log(`PTQ: accuracy ours ${accuracy(ours)}, torch ${c.ptqAccuracy} (float ${c.floatAccuracy}); ${agree} of ${ours.length} predictions agree`);
    expect(Math.abs(accuracy(ours) - c.ptqAccuracy)).toBeLessThanOrEqual(0.002);
  });
});
