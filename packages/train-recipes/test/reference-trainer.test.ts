// tools/reference/train_fashion_mnist.py trains our Fashion-MNIST recipes in PyTorch itself, the
// yardstick of the README's "PyTorch itself, on the same recipe". Its history must stay readable by
// our charts, and its schedule and resume must stay train.py's.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ORACLE_PYTHON, REPO_ROOT } from '@mnv3/test-utils';
import { comparisonChart, parseHistory } from '../src/index.js';

const SCRIPT = join(REPO_ROOT, 'tools/reference/train_fashion_mnist.py');
const ARGS = ['--epochs', '3', '--limit', '256', '--workers', '0', '--lr-scheduler', 'cosineannealinglr', '--lr-warmup-epochs', '1', '--lr-noise', '1,2', '--model-ema-decay', '0.9998'];

describe('train_fashion_mnist.py (PyTorch 1.13 on the Fashion-MNIST recipe)', () => {
  it("writes an mnv3 history with train.py's warm-up, cosine and timm's noise, test figures for the final, EMA and averaged weights, and resumes", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mnv3-torch-run-'));
    execFileSync(ORACLE_PYTHON, [SCRIPT, ...ARGS, '--output-dir', dir], { encoding: 'utf8' });
    const history = parseHistory(readFileSync(join(dir, 'history.json'), 'utf8'));
    expect(history.epochs.map((e) => e.epoch)).toEqual([0, 1, 2]);
    const lr = history.epochs.map((e) => e.lr);
    // warm-up epoch: lr · 0.01; then cosine over 2 epochs (0.008, 0.004), epoch 1 with timm's noise (seed 42 + 1)
    expect(lr[0]).toBeCloseTo(0.008 * 0.01, 12);
    expect(lr[1]).not.toBeCloseTo(0.008, 6);
    expect(lr[2]).toBeCloseTo(0.004, 12);
    for (const e of history.epochs) expect(e.emaAcc1).toBeGreaterThanOrEqual(0);
    const test = JSON.parse(readFileSync(join(dir, 'test.json'), 'utf8'));
    for (const k of ['test', 'testEma']) expect(test[k].acc1).toBeGreaterThanOrEqual(0);
    // the EMA is a network of its own (AveragedModel's deepcopy must not share the model's blocks)
    expect(test.testEma.loss).not.toBe(test.test.loss);
    expect(test.averaged.epochs.length).toBeGreaterThan(0);

    // Resume from epoch 0's checkpoint: the same schedule, noise included.
    copyFileSync(join(dir, 'model_0.pth'), join(dir, 'checkpoint.pth'));
    execFileSync(ORACLE_PYTHON, [SCRIPT, ...ARGS, '--output-dir', dir, '--resume'], { encoding: 'utf8' });
    const resumed = parseHistory(readFileSync(join(dir, 'history.json'), 'utf8'));
    expect(resumed.epochs.map((e) => e.lr)).toEqual(lr);
    expect(await comparisonChart([{ label: 'PyTorch 1.13', history: resumed }], 't')).toContain('>PyTorch 1.13<');
  }, 180_000);
});
