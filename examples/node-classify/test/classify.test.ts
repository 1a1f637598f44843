// The example as a user runs it: its printed top-5 must be what `mnv3 classify --json` prints for
// the same checkpoint (the oracle's random-weight MobileNetV3-Large) and the same real photos.
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MNV3_BIN as CLI, fixtureDir, runNode as node } from '@mnv3/test-utils';

const SCRIPT = resolve(import.meta.dirname, '../classify.mjs');
const fixture = (name: string) => join(fixtureDir('classify'), name);


describe('examples/node-classify', () => {
  it.each(['chelsea', 'coffee'])("prints the CLI's top-5 for %s.png", async (photo) => {
    const weights = fixture('mobilenet_v3_large.pth');
    const image = fixture(`${photo}.png`);
    const [ours, cli] = await Promise.all([
      node([SCRIPT, weights, image]),
      node([CLI, 'classify', '--model', 'mobilenet_v3_large', '--weights', weights, '--json', image]),
    ]);
    expect(ours.stderr).toBe('');
    expect(ours.code).toBe(0);
    expect(cli.code).toBe(0);
    const rows = ours.stdout.trim().split('\n').map((line) => {
      const m = /^(\d\.\d{4}) {2} *(\d+) {2}(.+)$/.exec(line);
      if (!m) throw new Error(`unexpected line: ${JSON.stringify(line)}`);
      return { score: Number(m[1]), index: Number(m[2]), label: m[3] };
    });
    const ref = (JSON.parse(cli.stdout) as { results: { top: { index: number; label: string; score: number }[] }[] }).results[0]!.top;
    expect(rows.map((r) => r.index)).toEqual(ref.map((r) => r.index));
    expect(rows.map((r) => r.label)).toEqual(ref.map((r) => r.label));
    rows.forEach((r, i) => expect(Math.abs(r.score - ref[i]!.score)).toBeLessThan(1e-4));
  });

  it('says how to run it when an argument is missing', async () => {
    const { code, stderr } = await node([SCRIPT]);
    expect(code).toBe(2);
    expect(stderr).toContain('usage: node classify.mjs WEIGHTS IMAGE [MODEL]');
  });

  it('fails with the library message for a checkpoint of another model', async () => {
    const { code, stderr } = await node([SCRIPT, fixture('mobilenet_v3_small_10.pth'), fixture('chelsea.png')]);
    expect(code).not.toBe(0);
    expect(stderr).toContain('the checkpoint does not fit mobilenet_v3_large');
  });
});
