import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ORACLE_PYTHON } from '@mnv3/test-utils';
import { appendEpoch, formatEpochLog, formatLog, newHistory, parseHistory, pyFixed, pyFloatRepr, serializeHistory, trainingChart, truncateHistory, ablationChart, comparisonChart, type EpochRecord } from '../src/index.js';

const rec = (epoch: number, extra: Partial<EpochRecord> = {}): EpochRecord => ({
  epoch,
  lr: 0.008 * 0.7606 ** epoch,
  trainLoss: 1.2 / (epoch + 1),
  trainAcc1: 60 + epoch * 5,
  trainAcc5: 95 + epoch,
  imgPerSec: 512.25,
  valLoss: 1.1 / (epoch + 1),
  valAcc1: 62.125 + epoch * 4,
  valAcc5: 96.5 + epoch,
  seconds: 61.25,
  ...extra,
});

// Values whose formatting is easy to get wrong: exact ties (0.125, 2.5), exponents either side of
// Python's thresholds, the shortest round-trip digits, negative zero.
const VALUES = [0.008, 0.0316, 1e-5, 0.0001, 0.00012345, 1e16, 1e15, 123456789012345.6, 0.1 + 0.2, 1, -0, 2.5, 0.125, 0.375, 1.0005, 99.9995, 84.32, 5e-324, 1.7976931348623157e308, 0.0060848];

describe('log.txt number formatting', () => {
  it("equals Python's repr(float) and format(x, '.Nf') (oracle: /usr/bin/python3)", () => {
    const py = JSON.parse(
      execFileSync(ORACLE_PYTHON, ['-c', 'import json,sys; v=[float(x) for x in json.loads(sys.argv[1])]; v[10]=-0.0; print(json.dumps([[repr(x), format(x, ".1f"), format(x, ".3f"), format(x, ".4f")] for x in v]))', JSON.stringify(VALUES)], { encoding: 'utf8' }),
    ) as string[][];
    VALUES.forEach((x, i) => {
      expect([pyFloatRepr(x), pyFixed(x, 1), pyFixed(x, 3), pyFixed(x, 4)], `value ${x}`).toEqual(py[i]);
    });
  });
});

describe('history.json and log.txt', () => {
  it("formats an epoch as train.py's MetricLogger and evaluate print it", () => {
    expect(formatEpochLog(rec(0))).toBe('Epoch: [0]  lr: 0.008  img/s: 512.2  loss: 1.2000  acc1: 60.0000  acc5: 95.0000  time: 61.2\nTest:  Acc@1 62.125 Acc@5 96.500');
    expect(formatEpochLog(rec(2, { lr: 1e-5, emaAcc1: 70.0625, emaAcc5: 98.25 }))).toBe(
      'Epoch: [2]  lr: 1e-05  img/s: 512.2  loss: 0.4000  acc1: 70.0000  acc5: 97.0000  time: 61.2\nTest:  Acc@1 70.125 Acc@5 98.500\nTest: EMA Acc@1 70.062 Acc@5 98.250',
    );
  });

  it('round-trips through JSON, appends in order, truncates for a resume', () => {
    let h = newHistory('mobilenet_v3_small-fashion-mnist');
    for (let e = 0; e < 3; e++) h = appendEpoch(h, rec(e));
    const text = serializeHistory(h);
    expect(parseHistory(text)).toEqual(h);
    expect(truncateHistory(h, 2).epochs.map((e) => e.epoch)).toEqual([0, 1]);
    expect(formatLog(h).split('\n').filter((l) => l.startsWith('Epoch:'))).toHaveLength(3);
    expect(() => appendEpoch(h, rec(5, { valAcc5: 99 }))).toThrow(/epoch 5 does not follow epoch 2/);
  });

  it('refuses bad records and files, saying where', () => {
    const h = newHistory('r');
    expect(() => appendEpoch(h, rec(0, { trainLoss: Number.NaN }))).toThrow(/trainLoss must be a finite number/);
    expect(() => appendEpoch(h, rec(0, { valAcc1: 101 }))).toThrow(/valAcc1 is a percentage in \[0, 100\]/);
    expect(() => appendEpoch(h, rec(0, { emaAcc1: 50 }))).toThrow(/emaAcc1 and emaAcc5 come together/);
    expect(() => appendEpoch(h, rec(0, { int8Acc5: 50 }))).toThrow(/int8Acc1 and int8Acc5 come together/);
    expect(() => appendEpoch(h, rec(0, { int8Acc1: -1, int8Acc5: 50 }))).toThrow(/int8Acc1 is a percentage/);
    expect(() => appendEpoch(h, { ...rec(0), acc: 1 } as never)).toThrow(/unknown field "acc"/);
    expect(() => parseHistory('{')).toThrow(/not JSON/);
    expect(() => parseHistory('{"format":"other"}')).toThrow(/format must be "mnv3-train-history"/);
    expect(() => parseHistory(JSON.stringify({ format: 'mnv3-train-history', version: 1, recipe: 'r', epochs: [rec(0), { ...rec(1), lr: 'x' }] }))).toThrow(/epochs\[1\]: lr must be a finite number/);
  });
});

describe('QAT records', () => {
  it("keep the int8 model's evaluation (train_quantization.py's \"Evaluate Quantized model\") in history, log and chart", async () => {
    let h = newHistory('mobilenet_v3_small-fashion-mnist-qat');
    h = appendEpoch(h, rec(0, { int8Acc1: 88.25, int8Acc5: 99.5 }));
    expect(parseHistory(serializeHistory(h))).toEqual(h);
    expect(formatLog(h)).toContain('Test: int8 Acc@1 88.250 Acc@5 99.500\n');
    expect(await trainingChart(h)).toContain('>val (int8)<');
  });
});

describe('training chart', () => {
  it('draws loss, acc@1, acc@5 and lr per epoch as SVG with the series and axis titles', async () => {
    let h = newHistory('mobilenet_v3_small-fashion-mnist-full');
    for (let e = 0; e < 4; e++) h = appendEpoch(h, rec(e, { emaAcc1: 61 + e * 4, emaAcc5: 96 + e }));
    const svg = await trainingChart(h);
    expect(svg.startsWith('<svg')).toBe(true);
    for (const text of ['mobilenet_v3_small-fashion-mnist-full', 'Loss', 'Learning rate', 'Acc@1', 'Acc@5', 'cross-entropy loss', 'acc@1 (%)', 'acc@5 (%)', 'learning rate', 'epoch', '>train<', '>val<', '>val (EMA)<']) {
      expect(svg, text).toContain(text);
    }
    // one line per series and panel: loss 2, lr 1, acc@1 3, acc@5 3
    expect(svg.match(/aria-roledescription="line mark"/g)).toHaveLength(9);
  });

  it('refuses an empty history', async () => {
    await expect(trainingChart(newHistory('r'))).rejects.toThrow(/no epochs to draw/);
  });
});

describe('comparison chart', () => {
  it("draws each run's train loss, val acc@1 and EMA val acc@1 as one line per run and panel", async () => {
    let a = newHistory('mobilenet_v3_small-fashion-mnist-full (PyTorch 1.13)');
    let b = newHistory('mobilenet_v3_small-fashion-mnist-full');
    for (let e = 0; e < 3; e++) {
      a = appendEpoch(a, rec(e, { emaAcc1: 70 + e, emaAcc5: 99 }));
      b = appendEpoch(b, rec(e, { emaAcc1: 71 + e, emaAcc5: 99 }));
    }
    const svg = await comparisonChart([{ label: 'PyTorch 1.13', history: a }, { label: 'mnv3, seed 0', history: b }], 'Fashion-MNIST, 3 epochs');
    expect(svg.startsWith('<svg')).toBe(true);
    for (const text of ['Fashion-MNIST, 3 epochs', 'Train loss', 'Val acc@1', 'Val acc@1 (EMA)', '>PyTorch 1.13<', '>mnv3, seed 0<']) expect(svg, text).toContain(text);
    expect(svg.match(/aria-roledescription="line mark"/g)).toHaveLength(6);
    // without an EMA there is no EMA panel
    let c = newHistory('r');
    c = appendEpoch(c, rec(0));
    const plain = await comparisonChart([{ label: 'plain', history: c }], 't');
    expect(plain).not.toContain('Val acc@1 (EMA)');
    expect(plain.match(/aria-roledescription="line mark"/g)).toHaveLength(2);
    // fromEpoch drops the early epochs: epoch 2's train loss (0.4) is drawn, epoch 0's (1.2) is not
    const late = await comparisonChart([{ label: 'PyTorch 1.13', history: a }], 't', { fromEpoch: 2 });
    expect(late).toContain('aria-label="epoch: 2; cross-entropy loss: 0.4;');
    expect(late).not.toMatch(/aria-label="epoch: 0;/);
  });

  it('refuses no runs, a run without epochs and two runs with one label', async () => {
    const h = appendEpoch(newHistory('r'), rec(0));
    await expect(comparisonChart([], 't')).rejects.toThrow(/no runs/);
    await expect(comparisonChart([{ label: 'x', history: newHistory('r') }], 't')).rejects.toThrow(/run "x" has no epochs/);
    await expect(comparisonChart([{ label: 'x', history: h }, { label: 'x', history: h }], 't')).rejects.toThrow(/two runs are labelled "x"/);
    await expect(comparisonChart([{ label: 'x', history: h }], 't', { fromEpoch: 1 })).rejects.toThrow(/run "x" has no epochs to draw from epoch 1 on/);
    await expect(comparisonChart([{ label: 'x', history: h }], 't', { fromEpoch: -1 })).rejects.toThrow(/fromEpoch must be an integer ≥ 0, got -1/);
  });
});

describe('ablation chart', () => {
  it('draws one labelled bar per recipe step, in order, with its value', async () => {
    const rows = [
      { label: 'SGD baseline', acc1: 88.1 },
      { label: 'RMSprop, default eps', acc1: 45.25 },
      { label: '+ adjusted eps and LR scheme', acc1: 90.5 },
    ];
    const svg = await ablationChart(rows, 'Fashion-MNIST, 3 epochs per row');
    expect(svg.startsWith('<svg')).toBe(true);
    for (const text of ['Fashion-MNIST, 3 epochs per row', 'test acc@1 (%)', '>SGD baseline<', '>RMSprop, default eps<', '>88.10<', '>45.25<', '>90.50<']) expect(svg, text).toContain(text);
    expect(svg.match(/aria-roledescription="bar"/g)).toHaveLength(3);
    // top to bottom in the given order
    const at = (t: string) => svg.indexOf(`>${t}<`);
    expect(at('SGD baseline')).toBeLessThan(at('RMSprop, default eps'));
    await expect(ablationChart([], 't')).rejects.toThrow(/no rows/);
  });
});
