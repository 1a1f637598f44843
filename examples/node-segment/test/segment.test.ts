// The example as a user runs it: its printed classes and shares must be what `mnv3 segment --json`
// prints for the same checkpoint (the oracle's random-weight LR-ASPP, DeepLabV3 with its aux head)
// and the same real photos.
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MNV3_BIN as CLI, fixtureDir, runNode as node } from '@mnv3/test-utils';

const SCRIPT = resolve(import.meta.dirname, '../segment.mjs');
const fixture = (name: string) => join(fixtureDir('segment_pipeline'), name);


describe('examples/node-segment', () => {
  it.each([
    { model: 'lraspp_mobilenet_v3_large', weights: 'lraspp.pth', photo: 'chelsea', aux: false },
    { model: 'lraspp_mobilenet_v3_large', weights: 'lraspp.pth', photo: 'coffee', aux: false },
    { model: 'deeplabv3_mobilenet_v3_large', weights: 'deeplabv3_aux.pth', photo: 'astronaut', aux: true },
  ])("prints the CLI's classes and shares: $model on $photo", async ({ model, weights, photo, aux }) => {
    const image = fixture(`${photo}.png`);
    const flags = aux ? ['--aux-loss'] : [];
    const [ours, cli] = await Promise.all([
      node([SCRIPT, fixture(weights), image, model, ...flags]),
      node([CLI, 'segment', '--model', model, '--weights', fixture(weights), ...flags, '--json', image]),
    ]);
    expect(ours.stderr).toBe('');
    expect(ours.code).toBe(0);
    expect(cli.code).toBe(0);
    const [size, ...lines] = ours.stdout.trim().split('\n');
    const rows = lines.map((line) => {
      const m = /^(\d\.\d{4}) {2} *(\d+) {2}(.+)$/.exec(line);
      if (!m) throw new Error(`unexpected line: ${JSON.stringify(line)}`);
      return { share: Number(m[1]), index: Number(m[2]), label: m[3] };
    });
    const ref = (JSON.parse(cli.stdout) as { results: { width: number; height: number; classes: { index: number; label: string; share: number }[] }[] }).results[0]!;
    expect(size).toBe(`${ref.width}x${ref.height}`);
    expect(rows.map((r) => r.index)).toEqual(ref.classes.map((r) => r.index));
    expect(rows.map((r) => r.label)).toEqual(ref.classes.map((r) => r.label));
    rows.forEach((r, i) => expect(Math.abs(r.share - ref.classes[i]!.share)).toBeLessThan(1e-4));
  });

  it('says how to run it when an argument is missing', async () => {
    const { code, stderr } = await node([SCRIPT]);
    expect(code).toBe(2);
    expect(stderr).toContain('usage: node segment.mjs WEIGHTS IMAGE [MODEL] [--aux-loss]');
  });

  it('fails with the library message for a checkpoint with an aux head loaded without --aux-loss', async () => {
    const { code, stderr } = await node([SCRIPT, fixture('deeplabv3_aux.pth'), fixture('chelsea.png'), 'deeplabv3_mobilenet_v3_large']);
    expect(code).not.toBe(0);
    expect(stderr).toContain('the checkpoint does not fit deeplabv3_mobilenet_v3_large (the checkpoint has an auxiliary head');
  });
});
