// Loading: TorchVision's checkpoint layout from a torch.save file, our int8 file, and the bad inputs
// that must fail with an error naming the problem and what to pass instead.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type HostTensor, type StateDict, readCheckpoint } from '@mnv3/io';
import { fixtureDir, loadFixture } from '@mnv3/test-utils';
import { MobileNet_V3_Large_QuantizedWeights, QuantizationError, convert, loadQuantized, mobilenetV3Large, mobilenetV3Small, saveQuantized } from '../src/index.js';
import { MobileNet_V3_Large_Weights } from '@mnv3/backbone';
import { compareQuanta, nhwcInput, qtensor } from './helpers.js';

const f = loadFixture('quantize', 'qat_mobilenet_v3_small');

function expectQuantizationError(fn: () => unknown, code: string, ...phrases: RegExp[]): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(QuantizationError);
    expect((e as QuantizationError).code).toBe(code);
    for (const p of phrases) expect((e as Error).message).toMatch(p);
    return;
  }
  throw new Error(`expected a QuantizationError (${code})`);
}

describe('QAT checkpoints', () => {
  it("loads torch.save's .pth of the QAT-prepared state_dict and gives torch's outputs", () => {
    const sd = readCheckpoint(readFileSync(join(fixtureDir('quantize'), 'qat_mobilenet_v3_small.pth')));
    const qat = mobilenetV3Small({ quantize: true });
    qat.loadStateDict(sd);
    const model = convert(qat);
    const input = nhwcInput(f, '96x96');
    const r = compareQuanta(model.forward(input.data, input.shape).quantized, qtensor(f, 'classifier.3', '96x96'));
    expect(r.exact).toBe(r.total);
  });

  it('refuses a float checkpoint, naming quantize: false and PTQ', () => {
    // TorchVision's float layout (features.0.0.weight, features.0.1.running_mean, …), zeros.
    const entries = [...mobilenetV3Small().namedStateEntries()];
    const sd: StateDict = new Map(entries.map(([k, p]) => [k, { dtype: 'float32', shape: [...p.shape], data: new Float32Array(p.shape.reduce((a, b) => a * b, 1)) } as HostTensor]));
    expectQuantizationError(() => mobilenetV3Small({ quantize: true }).loadStateDict(sd), 'float-checkpoint', /float checkpoint/, /quantize: false/, /prepare\(\)/);
  });

  it('refuses float weights given with quantize: true, and quantized ones with quantize: false', () => {
    expectQuantizationError(() => mobilenetV3Large({ weights: MobileNet_V3_Large_Weights.IMAGENET1K_V1, quantize: true }), 'invalid-option', /quantize: false/);
    expectQuantizationError(() => mobilenetV3Large({ weights: MobileNet_V3_Large_QuantizedWeights.IMAGENET1K_QNNPACK_V1 }), 'invalid-option', /quantize: true/);
    expect(mobilenetV3Large({ weights: MobileNet_V3_Large_QuantizedWeights.DEFAULT, quantize: true }).config.numClasses).toBe(1000);
  });

  it('refuses a checkpoint whose observers never ran (scale 1, zero point 0)', () => {
    const sd: StateDict = new Map(f.stateDict);
    for (const [k, t] of sd) {
      if (k.endsWith('.min_val')) sd.set(k, { ...t, data: Float32Array.of(Infinity) });
      if (k.endsWith('.max_val')) sd.set(k, { ...t, data: Float32Array.of(-Infinity) });
      if (/fake_quant\.scale$|activation_post_process\.scale$/.test(k)) sd.set(k, { ...t, data: Float32Array.of(1) });
    }
    const qat = mobilenetV3Small({ quantize: true });
    qat.loadStateDict(sd);
    expectQuantizationError(() => convert(qat), 'unobserved', /never ran/, /scale 1, zero point 0/, /IMAGENET1K_QNNPACK_V1/);
  });

  it('refuses a checkpoint missing a scale key, naming it', () => {
    const sd: StateDict = new Map(f.stateDict);
    sd.delete('features.3.block.1.0.activation_post_process.scale');
    expectQuantizationError(() => mobilenetV3Small({ quantize: true }).loadStateDict(sd), 'missing-qparams', /features\.3\.block\.1\.0\.activation_post_process\.scale/, /state_dict of a QAT-prepared model/);
  });

  it('refuses a per-channel checkpoint, naming the qnnpack qconfig', () => {
    const sd: StateDict = new Map(f.stateDict);
    const k = 'features.1.block.0.0.weight_fake_quant.scale';
    sd.set(k, { dtype: 'float32', shape: [16], data: new Float32Array(16).fill(0.01) });
    expectQuantizationError(() => mobilenetV3Small({ quantize: true }).loadStateDict(sd), 'per-channel', /per channel/, /get_default_qat_qconfig\('qnnpack'\)/);
  });

  it("fills TorchVision's defaults for SE checkpoints saved before scale_activation had a fake quant", () => {
    const sd: StateDict = new Map([...f.stateDict].filter(([k]) => !k.includes('scale_activation')));
    const qat = mobilenetV3Small({ quantize: true });
    qat.loadStateDict(sd);
    const input = nhwcInput(f, '96x96');
    const r = compareQuanta(convert(qat).forward(input.data, input.shape).quantized, qtensor(f, 'classifier.3', '96x96'));
    expect(r.exact).toBe(r.total);
  });
});

describe('our int8 file', () => {
  const fl = loadFixture('quantize', 'qat_mobilenet_v3_large');
  const qat = mobilenetV3Large({ quantize: true });
  qat.loadStateDict(fl.stateDict);
  const model = convert(qat);

  it('round-trips to the same outputs and is ≥ 3.5× smaller than the float weights', () => {
    const bytes = saveQuantized(model, qat.config);
    const { model: back } = loadQuantized(bytes);
    const input = nhwcInput(fl, '96x96');
    const a = model.forward(input.data, input.shape).quantized;
    const b = back.forward(input.data, input.shape).quantized;
    expect(compareQuanta(b, a).exact).toBe(a.data.length);
    const floatBytes = 5483032 * 4;
    console.log(`int8 file ${bytes.length} bytes, float32 weights ${floatBytes} bytes: ${(floatBytes / bytes.length).toFixed(2)}x smaller`);
    expect(floatBytes / bytes.length).toBeGreaterThanOrEqual(3.5);
  });

  it('refuses a file that is not ours', () => {
    expectQuantizationError(() => loadQuantized(readFileSync(join(fixtureDir('quantize'), 'observers.safetensors'))), 'invalid-file', /saveQuantized/);
  });
});
