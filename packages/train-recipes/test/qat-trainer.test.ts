// The QAT recipe end to end on a small Fashion-MNIST subset at 32×32: a float model trained for two
// short epochs, then train_quantization.py's loop from its checkpoint: finite, falling losses,
// observers disabled and BatchNorm frozen on schedule, the files (checkpoints, history with the
// int8 evaluation, quantized.safetensors, test.json), and the int8 model agreeing with the QAT model.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import '@mnv3/layers/train';
import { findStateDict, loadTorchCheckpoint, toFloat32 } from '@mnv3/io';
import { writeTorchCheckpoint } from '@mnv3/io/node';
import { seededRng } from '@mnv3/layers';
import { CLASSIFICATION_MODELS } from '@mnv3/backbone';
import { loadQuantized } from '@mnv3/quantize';
import { RecipeError, getQatRecipe, getRecipe, parseHistory } from '../src/index.js';
import { TrainError, loadRecipeData, train, trainQat, type TrainData, type TrainQatResult } from '../src/node.js';

const SMALL = { batchSize: 32, trainCropSize: 32, valResizeSize: 32, valCropSize: 32 } as const;
const floatRecipe = getRecipe('mobilenet_v3_small-fashion-mnist', { ...SMALL, epochs: 2, lr: 0.01 });
const qatRecipe = getQatRecipe('mobilenet_v3_small-fashion-mnist-qat', { epochs: 2, batchSize: 32, evalBatchSize: 64, lr: 0.002, numObserverUpdateEpochs: 1, numBatchNormUpdateEpochs: 0 }, SMALL);
let data: TrainData;
let dir: string;
let result: TrainQatResult;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mnv3-qat-'));
  data = await loadRecipeData(floatRecipe, { limit: { train: 320, val: 64, test: 128 } });
  await train(floatRecipe, { data, outputDir: join(dir, 'float'), workers: 2, seed: 3, evaluateTest: false });
  result = await trainQat(qatRecipe, { weights: join(dir, 'float', 'checkpoint.pth'), data, outputDir: join(dir, 'qat'), workers: 2, seed: 3 });
}, 600_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('trainQat()', () => {
  it('trains: finite losses that fall, the int8 evaluation every epoch, the files', () => {
    const e0 = result.stepLosses.get(0)!;
    const e1 = result.stepLosses.get(1)!;
    expect(e0).toHaveLength(10);
    for (const l of [...e0, ...e1]) expect(Number.isFinite(l)).toBe(true);
    const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
    console.log(`QAT step losses: epoch 0 ${e0.map((l) => l.toFixed(3)).join(' ')}; epoch 1 ${e1.map((l) => l.toFixed(3)).join(' ')}`);
    expect(mean(e1)).toBeLessThan(mean(e0));
    for (const f of ['checkpoint.pth', 'model_0.pth', 'model_1.pth', 'history.json', 'log.txt', 'training.svg', 'quantized.safetensors', 'test.json']) expect(existsSync(join(dir, 'qat', f)), f).toBe(true);
    const h = parseHistory(readFileSync(join(dir, 'qat', 'history.json'), 'utf8'));
    expect(h.recipe).toBe('mobilenet_v3_small-fashion-mnist-qat');
    expect(h.epochs.map((e) => e.int8Acc1 !== undefined)).toEqual([true, true]);
    expect(readFileSync(join(dir, 'qat', 'log.txt'), 'utf8')).toMatch(/Test: int8 Acc@1 \d+\.\d{3}/);
    const t = JSON.parse(readFileSync(join(dir, 'qat', 'test.json'), 'utf8')) as { test: { images: number; acc1: number }; qat: { acc1: number } };
    expect(t.test.images).toBe(128);
    console.log(`test: int8 acc@1 ${t.test.acc1.toFixed(2)}, QAT acc@1 ${t.qat.acc1.toFixed(2)}, int8 top-1 = QAT top-1 on ${(100 * result.agreement!).toFixed(1)}%`);
  });

  it("the int8 model's predictions match the QAT model's on most test images; quantized.safetensors is that model", () => {
    expect(result.agreement!).toBeGreaterThanOrEqual(0.9);
    const { model } = loadQuantized(new Uint8Array(readFileSync(join(dir, 'qat', 'quantized.safetensors'))));
    const x = new Float32Array(2 * 32 * 32 * 3).map((_, i) => Math.sin(i));
    expect(Array.from(model.forward(x, [2, 32, 32, 3]).logits)).toEqual(Array.from(result.int8.forward(x, [2, 32, 32, 3]).logits));
  });

  it('observers are disabled after epoch 1 and BatchNorm frozen after epoch 0, as train_quantization.py does', () => {
    const ckpt = loadTorchCheckpoint(new Uint8Array(readFileSync(join(dir, 'qat', 'checkpoint.pth')))) as Map<string, unknown>;
    expect([...ckpt.keys()]).toEqual(['model', 'optimizer', 'lr_scheduler', 'epoch', 'args']);
    const sd = findStateDict(ckpt);
    expect(toFloat32(sd.get('features.0.0.weight_fake_quant.observer_enabled')!)[0]).toBe(0);
    const first = findStateDict(loadTorchCheckpoint(new Uint8Array(readFileSync(join(dir, 'qat', 'model_0.pth')))));
    expect(toFloat32(first.get('features.0.0.weight_fake_quant.observer_enabled')!)[0]).toBe(1);
    // Frozen after epoch 0: epoch 1 did not count batches (10 steps in epoch 0 on top of the float run's).
    const tracked = (m: typeof sd) => Number((m.get('features.1.block.0.0.bn.num_batches_tracked')!.data as BigInt64Array)[0]);
    expect(tracked(sd)).toBe(tracked(first));
  });

  it('refuses a float checkpoint of another architecture and observer / BatchNorm epochs past the last epoch', async () => {
    const large = CLASSIFICATION_MODELS.get('mobilenet_v3_large').build({ numClasses: 10 });
    large.initWeights(seededRng(1));
    const file = join(dir, 'large.pth');
    await writeTorchCheckpoint(file, large.stateDict());
    large.dispose();
    await expect(trainQat(qatRecipe, { weights: file, data, outputDir: join(dir, 'bad') })).rejects.toThrow(TrainError);
    await expect(trainQat(qatRecipe, { weights: file, data, outputDir: join(dir, 'bad') })).rejects.toThrow(/17 feature blocks, so it is a mobilenet_v3_large, not a mobilenet_v3_small/);
    expect(() => getQatRecipe('mobilenet_v3_small-fashion-mnist-qat', { epochs: 3, numObserverUpdateEpochs: 3 })).toThrow(RecipeError);
    expect(() => getQatRecipe('mobilenet_v3_small-fashion-mnist-qat', { epochs: 3, numBatchNormUpdateEpochs: 5 })).toThrow(/--num-batch-norm-update-epochs 5: BatchNorm statistics are frozen after epoch 5 .* last epoch is 2/);
  });
});
