// The int8 WASM SIMD engine on torch's own converted qnnpack models (TorchVision's QAT checkpoint
// layout → convert): every block and the whole model, Large and Small, every fixture size, equal to
// torch's bytes. Also runs in the `quantize-relaxed` project (relaxed-SIMD build).
import { afterAll, describe, expect, it } from 'vitest';
import { toFloat32 } from '@mnv3/io';
import { fixtureTensor, loadFixture } from '@mnv3/test-utils';
import { WasmQuantizedMobileNetV3, convert, mobilenetV3Large, mobilenetV3Small } from '../src/index.js';
import { compareQuanta, nhwcInput, qtensor } from './helpers.js';

const ARCHS = ['mobilenet_v3_large', 'mobilenet_v3_small'] as const;

describe.each(ARCHS)('%s on the int8 WASM kernels against torch (qnnpack)', (arch) => {
  const f = loadFixture('quantize', `qat_${arch}`);
  const qat = (arch === 'mobilenet_v3_large' ? mobilenetV3Large : mobilenetV3Small)({ quantize: true });
  qat.loadStateDict(f.stateDict);
  const model = convert(qat);
  const engine = WasmQuantizedMobileNetV3.create(model);
  afterAll(() => engine?.dispose());
  const sizes = (f.config.sizes as [number, number, number][]).map(([h, w]) => `${h}x${w}`);

  it('runs on the wasm backend', () => {
    expect(engine).not.toBeNull();
  });

  it.each(sizes)('every block at %s: all values equal to torch', (size) => {
    const e = engine!;
    const input = nhwcInput(f, size);
    expect(compareQuanta(e.quantizeInput(input.data, input.shape), qtensor(f, 'quant', size)).exact).toBe(input.data.length);
    for (let i = 0; i < model.features.length; i++) {
      const x = qtensor(f, i === 0 ? 'quant' : `features.${i - 1}`, size);
      const r = compareQuanta(e.forwardFeatures(x, i, i + 1), qtensor(f, `features.${i}`, size));
      expect(r.exact, `features.${i} at ${size}: values equal to torch's`).toBe(r.total);
    }
    const last = qtensor(f, `features.${model.features.length - 1}`, size);
    const head = compareQuanta(e.forwardHead(last), qtensor(f, 'classifier.3', size));
    expect(head.exact).toBe(head.total);
  });

  it.each(sizes)('the whole model at %s: logits equal to torch', (size) => {
    const input = nhwcInput(f, size);
    const { quantized, logits } = engine!.forward(input.data, input.shape);
    const r = compareQuanta(quantized, qtensor(f, 'classifier.3', size));
    expect(r.exact).toBe(r.total);
    const ref = toFloat32(fixtureTensor(f, `output_${size}`));
    let maxAbs = 0;
    for (let i = 0; i < logits.length; i++) maxAbs = Math.max(maxAbs, Math.abs(logits[i]! - ref[i]!));
    expect(maxAbs).toBe(0);
  });
});
