// `mnv3 classify --quantize` and `mnv3 quantize`, run as users do, against torch's converted qnnpack
// models (tools/reference/suite_quantize.py), and the bad inputs the quantized path refuses.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type HostTensor, type StateDict, readNpy, toFloat32, writeNpy, writeSafetensors } from '@mnv3/io';
import { fixtureDir, fixtureTensor, loadFixture, mnv3 } from '@mnv3/test-utils';

const tmp = () => mkdtempSync(join(tmpdir(), 'mnv3-q-'));
const qat = (arch: string) => join(fixtureDir('quantize'), `qat_${arch}.pth`);

function npyOf(t: HostTensor, dir: string, name: string): string {
  const path = join(dir, name);
  writeFileSync(path, writeNpy({ dtype: 'float32', shape: [...t.shape], data: toFloat32(t) }));
  return path;
}

function argmax(row: Float32Array): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  return best;
}

describe.each(['mobilenet_v3_large', 'mobilenet_v3_small'])('mnv3 classify --quantize --model %s', (arch) => {
  it("--save-raw writes torch's dequantized qnnpack logits exactly, --json its top-1", async () => {
    const f = loadFixture('quantize', `qat_${arch}`);
    const d = tmp();
    const input = npyOf(fixtureTensor(f, 'input_224x224'), d, 'input.npy');
    const raw = join(d, 'raw.npy');
    const { code, stdout, stderr } = await mnv3(['classify', '--model', arch, '--quantize', '--weights', qat(arch), '--topk', '1', '--json', '--save-raw', raw, input]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const ref = toFloat32(fixtureTensor(f, 'output_224x224'));
    const saved = readNpy(readFileSync(raw));
    const n = ref.length / 1000;
    expect(saved.shape).toEqual([n, 1000]);
    expect(Array.from(toFloat32(saved))).toEqual(Array.from(ref));
    const parsed = JSON.parse(stdout) as { model: string; results: { input: string; top: { index: number }[] }[] };
    expect(parsed.model).toBe(arch);
    expect(parsed.results.map((r) => r.top[0]!.index)).toEqual(Array.from({ length: n }, (_, i) => argmax(ref.subarray(i * 1000, (i + 1) * 1000))));
  });
});

describe('mnv3 quantize (post-training quantization) → mnv3 classify --quantize', () => {
  it('writes an int8 file that classify --quantize runs; top-1 as torch’s PTQ model on its calibration data', async () => {
    const f = loadFixture('quantize', 'ptq_mobilenet_v3_small');
    const d = tmp();
    const float = join(d, 'float.safetensors');
    writeFileSync(float, writeSafetensors(f.stateDict));
    const c0 = fixtureTensor(f, 'calibration0');
    const c1 = fixtureTensor(f, 'calibration1');
    const calib = join(d, 'calib.npy');
    const all = new Float32Array([...toFloat32(c0), ...toFloat32(c1)]);
    writeFileSync(calib, writeNpy({ dtype: 'float32', shape: [c0.shape[0]! + c1.shape[0]!, ...c0.shape.slice(1)], data: all }));
    const q = join(d, 'q.safetensors');
    const r = await mnv3(['quantize', '--model', 'mobilenet_v3_small', '--weights', float, '--calib', calib, '--batch-size', String(c0.shape[0]), '--out', q]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`calibrated on ${c0.shape[0]! + c1.shape[0]!} image(s) in 2 batch(es)`);
    // int8: at least 3.5x smaller than the float weights
    expect(readFileSync(float).length / readFileSync(q).length).toBeGreaterThan(3.5);
    const input = npyOf(fixtureTensor(f, 'input_96x96'), d, 'input.npy');
    const raw = join(d, 'raw.npy');
    const c = await mnv3(['classify', '--model', 'mobilenet_v3_small', '--quantize', '--weights', q, '--num-classes', String(toFloat32(fixtureTensor(f, 'output_96x96')).length / fixtureTensor(f, 'output_96x96').shape[0]!), '--save-raw', raw, input]);
    expect(c.stderr).toBe('');
    expect(c.code).toBe(0);
    const ours = toFloat32(readNpy(readFileSync(raw)));
    const ref = toFloat32(fixtureTensor(f, 'output_96x96'));
    const n = fixtureTensor(f, 'output_96x96').shape[0]!;
    const k = ref.length / n;
    let agree = 0;
    for (let i = 0; i < n; i++) if (argmax(ours.subarray(i * k, (i + 1) * k)) === argmax(ref.subarray(i * k, (i + 1) * k))) agree++;
    // our float calibration forward is not torch's bit for bit (README: a few scales differ by ~1e-4)
    expect(agree).toBeGreaterThanOrEqual(n - 1);
  });
});

describe('bad input to the quantized path: exit 1 or 2 with what to pass', () => {
  const f = () => loadFixture('quantize', 'qat_mobilenet_v3_small');
  const input = () => npyOf(fixtureTensor(f(), 'input_96x96'), tmp(), 'x.npy');
  const write = (sd: StateDict): string => {
    const p = join(tmp(), 'ckpt.safetensors');
    writeFileSync(p, writeSafetensors(sd));
    return p;
  };

  it('a float checkpoint with --quantize', async () => {
    const p = fixtureDir('classify') + '/mobilenet_v3_large.pth';
    const r = await mnv3(['classify', '--model', 'mobilenet_v3_large', '--quantize', '--weights', p, input()]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/float checkpoint/);
    expect(r.stderr).toMatch(/quantize: false/);
  });

  it('a QAT checkpoint without --quantize', async () => {
    const r = await mnv3(['classify', '--model', 'mobilenet_v3_small', '--weights', qat('mobilenet_v3_small'), input()]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/quantized checkpoint/);
    expect(r.stderr).toMatch(/--quantize/);
  });

  it('IMAGENET1K_QNNPACK_V1 without --quantize, and --quantize on a model without a quantized build', async () => {
    const a = await mnv3(['classify', '--model', 'mobilenet_v3_large', '--weights', 'IMAGENET1K_QNNPACK_V1', input()]);
    expect(a.code).toBe(1);
    expect(a.stderr).toMatch(/--quantize/);
    const b = await mnv3(['classify', '--model', 'resnet18', '--quantize', '--weights', qat('mobilenet_v3_small'), input()]);
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/mobilenet_v3_large or mobilenet_v3_small/);
  });

  it('a checkpoint whose observers never ran', async () => {
    const sd: StateDict = new Map(f().stateDict);
    for (const [k, t] of sd) {
      if (k.endsWith('.min_val')) sd.set(k, { ...t, data: Float32Array.of(Infinity) });
      if (k.endsWith('.max_val')) sd.set(k, { ...t, data: Float32Array.of(-Infinity) });
      if (/fake_quant\.scale$|activation_post_process\.scale$/.test(k)) sd.set(k, { ...t, data: Float32Array.of(1) });
    }
    const r = await mnv3(['classify', '--model', 'mobilenet_v3_small', '--quantize', '--weights', write(sd), input()]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/never ran/);
  });

  it('a missing scale key, named', async () => {
    const sd: StateDict = new Map(f().stateDict);
    sd.delete('features.3.block.1.0.activation_post_process.scale');
    const r = await mnv3(['classify', '--model', 'mobilenet_v3_small', '--quantize', '--weights', write(sd), input()]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/features\.3\.block\.1\.0\.activation_post_process\.scale/);
  });

  it('a per-channel checkpoint', async () => {
    const sd: StateDict = new Map(f().stateDict);
    sd.set('features.1.block.0.0.weight_fake_quant.scale', { dtype: 'float32', shape: [16], data: new Float32Array(16).fill(0.01) });
    const r = await mnv3(['classify', '--model', 'mobilenet_v3_small', '--quantize', '--weights', write(sd), input()]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/per channel/);
    expect(r.stderr).toMatch(/qnnpack/);
  });
});
