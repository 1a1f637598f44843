// The `mnv3 segment` contract against TorchVision (tools/reference/suite_segment_pipeline.py).
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { assertScaledClose, fixtureDir, fixtureTensor, loadFixture, mnv3 } from '@mnv3/test-utils';
import { decodeImage, decodeMaskPng, readNpy, toFloat32, writeNpy } from '@mnv3/io';
import { VOC_PALETTE } from '@mnv3/transforms';
import { VOC_CATEGORIES } from '@mnv3/segmentation';

const dir = () => fixtureDir('segment_pipeline');
const lraspp = () => join(dir(), 'lraspp.pth');

interface SegmentJson {
  model: string;
  results: { input: string; width: number; height: number; classes: { index: number; label: string; share: number }[] }[];
}

function shares(classes: Uint8Array): Map<number, number> {
  const m = new Map<number, number>();
  for (const c of classes) m.set(c, (m.get(c) ?? 0) + 1 / classes.length);
  return m;
}

const FOLDER_NPY = join(mkdtempSync(join(tmpdir(), 'mnv3-seg-')), 'raw.npy');
mkdirSync(FOLDER_NPY);

describe('mnv3 segment', () => {
  it('--json gives each photo its size and the class shares TorchVision gets; --mask and --overlay write PNGs', async () => {
    const f = loadFixture('segment_pipeline', 'pipeline');
    const photos = (f.config.photos as string[]).map((p) => join(dir(), `${p}.png`));
    const tmp = mkdtempSync(join(tmpdir(), 'mnv3-seg-'));
    const { code, stdout, stderr } = await mnv3([
      'segment', '--model', 'lraspp_mobilenet_v3_large', '--weights', lraspp(), '--resize', '320', '--json',
      '--mask', join(tmp, 'mask.png'), '--overlay', join(tmp, 'overlay.png'), ...photos,
    ]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const parsed = JSON.parse(stdout) as SegmentJson;
    expect(parsed.model).toBe('lraspp_mobilenet_v3_large');
    for (const [i, r] of parsed.results.entries()) {
      const name = (f.config.photos as string[])[i]!;
      const ref = fixtureTensor(f, `classes320_lraspp_${name}`);
      expect([r.height, r.width]).toEqual(ref.shape);
      const refShares = shares(ref.data as Uint8Array);
      for (const c of r.classes) expect(Math.abs(c.share - (refShares.get(c.index) ?? 0))).toBeLessThan(1e-3);
      expect(r.classes[0]!.label).toBe(VOC_CATEGORIES[r.classes[0]!.index]);
      const mask = decodeMaskPng(readFileSync(join(tmp, `mask-${i}.png`)));
      let same = 0;
      for (let p = 0; p < mask.data.length; p++) if (mask.data[p] === (ref.data as Uint8Array)[p]) same++;
      expect(same / mask.data.length).toBeGreaterThan(0.999);
      expect(mask.palette!.subarray(0, 63)).toEqual(VOC_PALETTE.subarray(0, 63));
      const overlay = decodeImage(readFileSync(join(tmp, `overlay-${i}.png`)));
      expect([overlay.height, overlay.width]).toEqual(ref.shape);
      // Background pixels keep the photo; every other pixel is tinted by its class colour.
      const photo = decodeImage(readFileSync(photos[i]!));
      let kept = 0;
      let tinted = 0;
      for (let p = 0; p < mask.data.length; p++) {
        const same = overlay.data[3 * p] === photo.data[3 * p] && overlay.data[3 * p + 1] === photo.data[3 * p + 1] && overlay.data[3 * p + 2] === photo.data[3 * p + 2];
        if (mask.data[p] === 0) kept += same ? 1 : 0;
        else tinted += same ? 0 : 1;
      }
      const background = mask.data.filter((c) => c === 0).length;
      expect(kept).toBe(background);
      expect(tinted / (mask.data.length - background)).toBeGreaterThan(0.9);
    }
  });

  it('feeds a .npy as is and --save-raw writes TorchVision\'s out logits [N,C,H,W]', async () => {
    const f = loadFixture('segment_pipeline', 'pipeline');
    const x = fixtureTensor(f, 'preset320_chelsea');
    const tmp = mkdtempSync(join(tmpdir(), 'mnv3-seg-'));
    writeFileSync(join(tmp, 'x.npy'), writeNpy({ dtype: 'float32', shape: [1, ...x.shape], data: toFloat32(x) }));
    const { code, stdout } = await mnv3(['segment', '--model', 'lraspp_mobilenet_v3_large', '--weights', lraspp(), '--save-raw', join(tmp, 'out.npy'), join(tmp, 'x.npy')]);
    expect(code).toBe(0);
    expect(stdout).toContain(`x.npy (${x.shape[2]}x${x.shape[1]})`);
    const raw = readNpy(readFileSync(join(tmp, 'out.npy')));
    expect(raw.shape).toEqual([1, 21, x.shape[1], x.shape[2]]);
    assertScaledClose(toFloat32(raw), fixtureTensor(f, 'out320_lraspp_chelsea'), 1e-4, { what: 'out logits' });
  });

  it('loads DeepLabV3 checkpoints with their aux head only with --aux-loss', async () => {
    const photo = join(dir(), 'coffee.png');
    const without = await mnv3(['segment', '--model', 'deeplabv3_mobilenet_v3_large', '--weights', join(dir(), 'deeplabv3_aux.pth'), photo]);
    expect(without.code).toBe(1);
    expect(without.stderr).toMatch(/auxiliary head: build with auxLoss \/ --aux-loss/);
    const withAux = await mnv3(['segment', '--model', 'deeplabv3_mobilenet_v3_large', '--weights', join(dir(), 'deeplabv3_aux.pth'), '--aux-loss', '--json', photo]);
    expect(withAux.code).toBe(0);
    const r = (JSON.parse(withAux.stdout) as SegmentJson).results[0]!;
    const ref = shares(fixtureTensor(loadFixture('segment_pipeline', 'pipeline'), 'classes520_deeplabv3_aux_coffee').data as Uint8Array);
    for (const c of r.classes) expect(Math.abs(c.share - (ref.get(c.index) ?? 0))).toBeLessThan(1e-3);
  });

  it.each([
    ['unknown model', ['--model', 'segformer', '--weights', 'x.pth', 'a.png'], 2, /valid: lraspp_mobilenet_v3_large, deeplabv3_mobilenet_v3_large, fcn_mobilenet_v3_large/],
    ['bad resize', ['--model', 'lraspp_mobilenet_v3_large', '--weights', 'x.pth', '--resize', '400', 'a.png'], 2, /--resize 400 is not supported; valid: 520, 320/],
    ['overlay of a .npy', ['--model', 'lraspp_mobilenet_v3_large', '--weights', 'x.pth', '--overlay', 'o.png', 'a.npy'], 2, /--overlay needs image inputs/],
    ['FCN registry weights', ['--model', 'fcn_mobilenet_v3_large', '--weights', 'DEFAULT', 'a.png'], 1, /has no published weights/],
    ['wrong classes', ['--model', 'lraspp_mobilenet_v3_large', '--weights', 'COCO_WITH_VOC_LABELS_V1', '--num-classes', '3', 'a.png'], 1, /expected value 21 but got 3/],
    ['mask in a missing folder, refused before the model runs', ['--model', 'lraspp_mobilenet_v3_large', '--weights', 'COCO_WITH_VOC_LABELS_V1', '--mask', '/nonexistent-dir/m.png', 'a.png'], 2, /--mask \/nonexistent-dir\/m.png: the folder \/nonexistent-dir does not exist/],
    ['save-raw naming a folder', ['--model', 'lraspp_mobilenet_v3_large', '--weights', 'x.pth', '--save-raw', FOLDER_NPY, 'a.png'], 2, /--save-raw .*raw\.npy is a folder: give a file name/],
  ])('%s', async (_name, args, exitCode, message) => {
    const { code, stderr } = await mnv3(['segment', ...(args as string[])]);
    expect(code).toBe(exitCode);
    expect(stderr).toMatch(message as RegExp);
    expect(stderr).not.toMatch(/^\s+at /m);
  });
});
