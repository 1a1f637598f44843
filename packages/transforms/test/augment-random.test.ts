// The random transforms and the training preset against TorchVision 0.14 (suite_augment.py's `rand_*`,
// `preset_*` and `tables` fixtures): torch ran each transform seeded and logged every random draw; we
// replay those draws through our Rng (see replay() for the mapping) and must take the same decisions,
// draw exactly as many numbers, and give the same bytes (uint8) or values (float32).
import { afterAll, describe, expect, it } from 'vitest';
import { fixtureTensor, listFixtures, loadFixture } from '@mnv3/test-utils';
import { toFloat32 } from '@mnv3/io';
import {
  AutoAugment,
  ClassificationPresetTrain,
  RandAugment,
  RandomErasing,
  RandomHorizontalFlip,
  RandomResizedCrop,
  TrivialAugmentWide,
  augmentationSpace,
  chwToHwc,
  randomResizedCropParams,
  type AutoAugmentPolicy,
  type FloatImage,
  type TensorImage,
  type TensorInterpolation,
  type TrainAutoAugmentPolicy,
} from '../src/index.js';
import { SUITE, byteDiff, imageOf, replay, type DrawEvent } from './augment-helpers.js';

const stats = new Map<string, { cases: number; exact: number; bytes: number }>();
function record(kind: string, diffBytes: number): void {
  const s = stats.get(kind) ?? { cases: 0, exact: 0, bytes: 0 };
  s.cases++;
  s.exact += diffBytes === 0 ? 1 : 0;
  s.bytes += diffBytes;
  stats.set(kind, s);
}
afterAll(() => {
  console.log(`random transforms replayed from torch's draws — ${[...stats].map(([k, s]) => `${k}: ${s.exact}/${s.cases} exact${s.bytes ? ` (${s.bytes} values differ)` : ''}`).join('; ')}`);
});

function floatOf(t: ReturnType<typeof fixtureTensor>): FloatImage {
  const [c, h, w] = t.shape as [number, number, number];
  return { data: chwToHwc(toFloat32(t), [c, h, w]), shape: [h, w, c] };
}

describe('magnitude tables', () => {
  const tables = loadFixture(SUITE, 'tables').config.tables as Record<string, Record<string, [number[], boolean]>>;
  it.each(Object.keys(tables))('%s equals TorchVision (float32 linspace, posterize bits, op order)', (key) => {
    const [kind, bins, size] = key.split('.') as ['AutoAugment' | 'RandAugment' | 'TrivialAugmentWide', string, string];
    const [h, w] = size.split('x').map(Number) as [number, number];
    const ours = augmentationSpace(kind, Number(bins), h, w);
    expect([...ours.keys()]).toEqual(Object.keys(tables[key]!));
    for (const [op, [values, signed]] of Object.entries(tables[key]!)) {
      const m = ours.get(op as never)!;
      expect(m.signed, op).toBe(signed);
      expect(m.magnitudes, op).toEqual(values);
    }
  });
});

const randomFiles = listFixtures(SUITE, 'rand_').filter((n) => !n.startsWith('rand_erasing'));

describe.each(randomFiles)('%s', (name) => {
  const f = loadFixture(SUITE, name);
  const cfg = f.config as Record<string, unknown> & { kind: string; events: DrawEvent[] };
  it('replays torch’s draws to the same output', () => {
    const img = imageOf(f, 'input');
    const expected = imageOf(f, 'output');
    const interpolation = (cfg.interpolation ?? 'nearest') as TensorInterpolation;
    const fill = (cfg.fill ?? null) as number[] | null;
    const { rng, done } = replay(cfg.events);
    let out: TensorImage;
    switch (cfg.kind) {
      case 'rrc': {
        const scale = cfg.scale as [number, number];
        const ratio = cfg.ratio as [number, number];
        const check = replay(cfg.events);
        expect(randomResizedCropParams(img.height, img.width, scale, ratio, check.rng)).toEqual([...(fixtureTensor(f, 'params').data as Int32Array)]);
        out = RandomResizedCrop({ size: cfg.size as [number, number], scale, ratio, interpolation }).apply(img, rng);
        break;
      }
      case 'hflip':
        out = RandomHorizontalFlip(cfg.p as number).apply(img, rng);
        break;
      case 'autoaugment':
        out = AutoAugment({ policy: cfg.policy as AutoAugmentPolicy, interpolation, fill }).apply(img, rng);
        break;
      case 'randaugment':
        out = RandAugment({ numOps: cfg.num_ops as number, magnitude: cfg.magnitude as number, numMagnitudeBins: cfg.num_magnitude_bins as number, interpolation, fill }).apply(img, rng);
        break;
      case 'trivialaugment':
        out = TrivialAugmentWide({ numMagnitudeBins: cfg.num_magnitude_bins as number, interpolation, fill }).apply(img, rng);
        break;
      default:
        throw new Error(`unknown kind ${cfg.kind}`);
    }
    done();
    const d = byteDiff(out, expected);
    record(cfg.kind, d.count);
    // A bilinear RandomResizedCrop may differ by one level in a few bytes (see augment-ops.test.ts).
    const bar = cfg.kind === 'rrc' && interpolation === 'bilinear' ? { max: 1, count: 4 } : { max: 0, count: 0 };
    expect(d.max, `${d.count} of ${d.total} bytes differ, max ${d.max}`).toBeLessThanOrEqual(bar.max);
    expect(d.count).toBeLessThanOrEqual(bar.count);
  });
});

describe.each(listFixtures(SUITE, 'rand_erasing'))('%s', (name) => {
  const f = loadFixture(SUITE, name);
  const cfg = f.config as { p: number; scale: [number, number]; ratio: [number, number]; value: number | number[] | 'random'; events: DrawEvent[] };
  it('erases the box torch erased', () => {
    const x = floatOf(fixtureTensor(f, 'input'));
    const want = floatOf(fixtureTensor(f, 'output'));
    const { rng, done } = replay(cfg.events);
    const got = RandomErasing({ p: cfg.p, scale: cfg.scale, ratio: cfg.ratio, value: cfg.value }).apply(x, rng);
    done();
    let differ = 0;
    let outsideDiffer = 0;
    for (let i = 0; i < want.data.length; i++) {
      if (got.data[i] !== want.data[i]) {
        differ++;
        // 'random' values come from our Box–Muller draws, not torch's normal_: only where torch
        // changed the input may we differ.
        if (want.data[i] === x.data[i]) outsideDiffer++;
      }
    }
    record(`erasing value=${JSON.stringify(cfg.value)}`, differ);
    if (cfg.value === 'random') expect(outsideDiffer).toBe(0);
    else expect(differ).toBe(0);
  });
});

describe.each(listFixtures(SUITE, 'preset_'))('%s', (name) => {
  const f = loadFixture(SUITE, name);
  const cfg = f.config as {
    crop_size: number;
    interpolation: TensorInterpolation;
    hflip_prob: number;
    policy: TrainAutoAugmentPolicy | null;
    ra_magnitude: number;
    random_erase_prob: number;
    mean: number[];
    std: number[];
    events: DrawEvent[];
  };
  it('ClassificationPresetTrain replays torch’s draws to its tensor', () => {
    const { rng, done } = replay(cfg.events);
    const preset = ClassificationPresetTrain({
      cropSize: cfg.crop_size,
      interpolation: cfg.interpolation,
      hflipProb: cfg.hflip_prob,
      autoAugmentPolicy: cfg.policy,
      raMagnitude: cfg.ra_magnitude,
      randomEraseProb: cfg.random_erase_prob,
      mean: cfg.mean,
      std: cfg.std,
    });
    const got = preset.apply(imageOf(f, 'input'), rng);
    done();
    const want = floatOf(fixtureTensor(f, 'output'));
    expect(got.shape).toEqual(want.shape);
    let differ = 0;
    let max = 0;
    for (let i = 0; i < want.data.length; i++) {
      const d = Math.abs(got.data[i]! - want.data[i]!);
      if (d) differ++;
      max = Math.max(max, d);
    }
    record(`preset ${cfg.policy ?? 'none'}`, differ);
    // One uint8 level is 1/255/std ≈ 0.0175 after Normalize; only a bilinear-crop tie may cost one.
    expect(max).toBeLessThanOrEqual(1 / 255 / Math.min(...cfg.std) + 1e-6);
    expect(differ).toBeLessThanOrEqual(4);
  });
});
