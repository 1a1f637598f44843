// The example as a user runs it: its printed boxes must be what `mnv3 detect --json` prints for
// the same checkpoint (the oracle's random-weight Faster R-CNN MobileNetV3-Large 320 FPN) and the
// same real photo.
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MNV3_BIN as CLI, fixtureDir, runNode as node } from '@mnv3/test-utils';

const SCRIPT = resolve(import.meta.dirname, '../detect.mjs');
const MODEL = 'fasterrcnn_mobilenet_v3_large_320_fpn';
const fixture = (name: string) => join(fixtureDir('detection'), name);


interface Boxes {
  boxes: number[][];
  labels: number[];
  scores: number[];
  names: string[];
}

describe('examples/node-detect', () => {
  it.each([
    { args: [], cliArgs: [] },
    { args: [MODEL, '0.065'], cliArgs: ['--score-thresh', '0.065'] },
  ])("prints the CLI's boxes for chelsea.png (extra arguments: $args)", async ({ args, cliArgs }) => {
    const weights = fixture('fasterrcnn_320.pth');
    const image = fixture('chelsea.png');
    const [ours, cli] = await Promise.all([
      node([SCRIPT, weights, image, ...args]),
      node([CLI, 'detect', '--model', MODEL, '--weights', weights, ...cliArgs, '--json', image]),
    ]);
    expect(ours.stderr).toBe('');
    expect(ours.code).toBe(0);
    expect(cli.code).toBe(0);
    const lines = ours.stdout.trim() === '' ? [] : ours.stdout.trim().split('\n');
    const rows = lines.map((line) => {
      const m = /^(\d\.\d{4}) {2} *(\d+) {2}(.+?) {2,}(\S+) (\S+) (\S+) (\S+)$/.exec(line);
      if (!m) throw new Error(`unexpected line: ${JSON.stringify(line)}`);
      return { score: Number(m[1]), label: Number(m[2]), name: m[3], box: m.slice(4, 8).map(Number) };
    });
    const ref = (JSON.parse(cli.stdout) as { results: Boxes[] }).results[0]!;
    expect(ref.boxes.length).toBeGreaterThan(0);
    expect(rows).toHaveLength(ref.boxes.length);
    expect(rows.map((r) => r.label)).toEqual(ref.labels);
    expect(rows.map((r) => r.name)).toEqual(ref.names);
    rows.forEach((r, i) => {
      expect(Math.abs(r.score - ref.scores[i]!)).toBeLessThan(1e-4);
      r.box.forEach((v, k) => expect(Math.abs(v - ref.boxes[i]![k]!)).toBeLessThan(0.5));
    });
  });

  it('says how to run it when an argument is missing', async () => {
    const { code, stderr } = await node([SCRIPT]);
    expect(code).toBe(2);
    expect(stderr).toContain('usage: node detect.mjs WEIGHTS IMAGE [MODEL] [SCORE_THRESH]');
  });

  it('fails with the library message for a checkpoint of another model', async () => {
    const lraspp = join(fixtureDir('segment_pipeline'), 'lraspp.pth');
    const { code, stderr } = await node([SCRIPT, lraspp, fixture('chelsea.png')]);
    expect(code).not.toBe(0);
    expect(stderr).toContain(`the checkpoint does not fit ${MODEL}`);
  });
});
