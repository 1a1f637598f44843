// The `mnv3 classify` contract, tested by running the built CLI as users do.
import { mkdtempSync, readFileSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MNV3_BIN, REPO_ROOT, assertScaledClose, fixtureDir, fixtureTensor, loadFixture, mnv3, runNode } from '@mnv3/test-utils';
import { FASHION_MNIST_CLASSES } from '@mnv3/io';
import { readFashionMnist } from '@mnv3/io/node';
import { readNpy, toFloat32, writeNpy } from '@mnv3/io';

const dir = () => fixtureDir('classify');
const large = () => join(dir(), 'mobilenet_v3_large.pth');

function top5(logits: Float32Array): number[] {
  return Array.from(logits.keys())
    .sort((a, b) => logits[b]! - logits[a]! || a - b)
    .slice(0, 5);
}

describe('mnv3 classify', () => {
  it('--json prints the contract, with TorchVision top-5 per photo', async () => {
    const f = loadFixture('classify', 'pipeline');
    const photos = (f.config.photos as string[]).map((p) => join(dir(), `${p}.png`));
    const { code, stdout, stderr } = await mnv3(['classify', '--model', 'mobilenet_v3_large', '--weights', large(), '--json', ...photos]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const parsed = JSON.parse(stdout) as { model: string; results: { input: string; top: { index: number; label: string; score: number }[] }[] };
    expect(Object.keys(parsed)).toEqual(['model', 'results']);
    expect(parsed.model).toBe('mobilenet_v3_large');
    expect(parsed.results.map((r) => r.input)).toEqual(photos);
    for (const [i, r] of parsed.results.entries()) {
      expect(Object.keys(r)).toEqual(['input', 'top']);
      expect(r.top).toHaveLength(5);
      expect(Object.keys(r.top[0]!)).toEqual(['index', 'label', 'score']);
      const ref = toFloat32(fixtureTensor(f, `logits_${(f.config.photos as string[])[i]}`));
      expect(r.top.map((t) => t.index)).toEqual(top5(ref));
      const sum = r.top.reduce((a, t) => a + t.score, 0);
      expect(sum).toBeGreaterThan(0);
      expect(sum).toBeLessThanOrEqual(1 + 1e-9);
    }
  });

  it('feeds a .npy batch as is and --save-raw writes TorchVision logits [N, numClasses]', async () => {
    const f = loadFixture('classify', 'pipeline');
    const out = join(mkdtempSync(join(tmpdir(), 'mnv3-cli-')), 'logits.npy');
    const { code, stdout } = await mnv3([
      'classify', '--model', 'mobilenet_v3_large', '--weights', large(), '--topk', '3', '--save-raw', out, join(dir(), 'batch.npy'),
    ]);
    expect(code).toBe(0);
    expect(stdout).toContain('batch.npy[0]');
    expect(stdout).toContain('batch.npy[1]');
    const raw = readNpy(readFileSync(out));
    expect(raw.shape).toEqual([2, 1000]);
    assertScaledClose(toFloat32(raw), fixtureTensor(f, 'logits_batch'), 1e-4, { what: 'saved logits' });
  });

  it('reads legacy .pth checkpoints, custom class counts and architecture flags', async () => {
    const f = loadFixture('classify', 'pipeline');
    const out = join(mkdtempSync(join(tmpdir(), 'mnv3-cli-')), 'small.npy');
    const { code } = await mnv3([
      'classify', '--model', 'mobilenet_v3_small', '--weights', join(dir(), 'mobilenet_v3_small_10.pth'),
      '--num-classes', '10', '--save-raw', out, '--json', join(dir(), 'batch.npy'),
    ]);
    expect(code).toBe(0);
    assertScaledClose(toFloat32(readNpy(readFileSync(out))), fixtureTensor(f, 'logits_small_batch'), 1e-4, { what: 'small logits' });
  });

  it('prints a readable table without --json', async () => {
    const { code, stdout } = await mnv3(['classify', '--model', 'mobilenet_v3_large', '--weights', large(), '--topk', '2', join(dir(), 'coffee.png')]);
    expect(code).toBe(0);
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toBe(join(dir(), 'coffee.png'));
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(/^\s+1\. 0\.\d{4}\s+\d+\s+\S/);
  });

  it('classifies a 1x1 image as TorchVision does (resized up to 256, cropped to 224)', async () => {
    const f = loadFixture('classify', 'pipeline');
    const { code, stdout } = await mnv3(['classify', '--model', 'mobilenet_v3_large', '--weights', large(), '--json', join(dir(), 'tiny.png')]);
    expect(code).toBe(0);
    const top = (JSON.parse(stdout) as { results: { top: { index: number }[] }[] }).results[0]!.top.map((t) => t.index);
    expect(top).toEqual(top5(toFloat32(fixtureTensor(f, 'logits_tiny'))));
  });

  describe('bad input gets a clear error and no stack trace', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'mnv3-bad-'));
    const cases: [string, () => string[], number, RegExp][] = [
      ['unknown model', () => ['--model', 'mobilenet_v4', '--weights', large(), 'x.png'], 2, /unknown model "mobilenet_v4"; valid: mobilenet_v3_large, mobilenet_v3_small, mobilenet_v2, resnet18, resnet50/],
      // (no --weights is the DEFAULT download, or the built-in model offline: see the built-in tests)
      ['weights file without a model', () => ['--weights', large(), 'x.png'], 2, /--model is required; valid: mobilenet_v3_large/],
      ['unknown option', () => ['--model', 'mobilenet_v3_large', '--weights', large(), '--bogus', 'x.png'], 2, /Unknown option '--bogus'/],
      ['checkpoint of another model', () => ['--model', 'mobilenet_v3_large', '--weights', join(dir(), 'mobilenet_v3_small_10.pth'), join(dir(), 'coffee.png')], 1, /checkpoint does not fit mobilenet_v3_large/],
      ['wrong --num-classes', () => ['--model', 'mobilenet_v3_large', '--weights', large(), '--num-classes', '10', join(dir(), 'coffee.png')], 1, /only the last layer differs: check numClasses.*classifier\.3\.weight: checkpoint \[1000, 1280\], model \[10, 1280\]/],
      ['unreadable image', () => ['--model', 'mobilenet_v3_large', '--weights', large(), join(tmp, 'missing.png')], 1, /missing\.png/],
      ['a NaN in a .npy input', () => {
        const p = join(tmp, 'nan.npy');
        const data = new Float32Array(2 * 3 * 4 * 5);
        data[1 * 60 + 2 * 20 + 3 * 5 + 4] = NaN; // [1, 2, 3, 4]
        writeFileSync(p, writeNpy({ dtype: 'float32', shape: [2, 3, 4, 5], data }));
        return ['--model', 'mobilenet_v3_large', '--weights', large(), p];
      }, 1, /nan\.npy: the input holds NaN at \[1, 2, 3, 4\] \(element 119\); pass finite values/],
      ['truncated image', () => {
        const p = join(tmp, 'truncated.png');
        writeFileSync(p, readFileSync(join(dir(), 'coffee.png')).subarray(0, 2000));
        return ['--model', 'mobilenet_v3_large', '--weights', large(), p];
      }, 1, /truncated\.png.*(truncated|corrupt|unexpected end)/i],
      ['40000x40000 PNG header', () => {
        const p = join(tmp, 'huge.png');
        writeFileSync(p, hugePngHeader(40000, 40000));
        return ['--model', 'mobilenet_v3_large', '--weights', large(), p];
      }, 1, /40000.*40000|too large/i],
      ['.npy of the wrong rank', () => {
        const p = join(tmp, 'rank2.npy');
        writeFileSync(p, writeNpy({ dtype: 'float32', shape: [3, 224], data: new Float32Array(3 * 224) }));
        return ['--model', 'mobilenet_v3_large', '--weights', large(), p];
      }, 1, /expected float32 \[3,H,W\] or \[N,3,H,W\].*got \[3, 224\]/],
    ];
    it.each(cases)('%s', async (_name, args, exitCode, message) => {
      const { code, stderr } = await mnv3(['classify', ...args()]);
      expect(code).toBe(exitCode);
      expect(stderr).toMatch(message);
      expect(stderr).not.toMatch(/^\s+at /m);
    });

    it('--save-raw leaves no file behind when the run fails', async () => {
      const out = join(tmp, 'never.npy');
      const { code } = await mnv3(['classify', '--model', 'mobilenet_v3_large', '--weights', large(), '--save-raw', out, join(dir(), 'coffee.png'), join(tmp, 'missing.png')]);
      expect(code).toBe(1);
      expect(existsSync(out)).toBe(false);
      expect(readdirSync(tmp).filter((n) => n.includes('never'))).toEqual([]);
    });
  });
});

describe('mnv3 classify: the built-in model (FASHION_MNIST_V1, works offline)', () => {
  const samples = () => readdirSync(join(REPO_ROOT, 'examples/images/fashion-mnist')).filter((f) => f.endsWith('.png')).map((f) => join(REPO_ROOT, 'examples/images/fashion-mnist', f));
  /** The true labels of the samples (their names are their index in Fashion-MNIST's test split). */
  const truth = async (files: string[]) => {
    const { labels } = await readFashionMnist({ train: false });
    return files.map((f) => FASHION_MNIST_CLASSES[labels[Number(/t10k-(\d+)\.png$/.exec(f)![1])]!]);
  };

  it("the README's first command: no --model, no --weights, the samples' labels (int8)", async () => {
    const files = samples();
    expect(files.length).toBe(10);
    const { code, stdout, stderr } = await mnv3(['classify', '--json', '--topk', '1', ...files]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const parsed = JSON.parse(stdout) as { model: string; results: { input: string; top: { label: string }[] }[] };
    expect(parsed.model).toBe('mobilenet_v3_small');
    const got = parsed.results.map((r) => r.top[0]!.label);
    // The card's model, not a random one: its top-1 follows the pixels (≥ 8 of these 10 right).
    const want = await truth(files);
    expect(got.filter((l, i) => l === want[i]).length).toBeGreaterThanOrEqual(8);
    // The same as the library's int8 model on the same files.
    const lib = await mnv3(['classify', '--model', 'mobilenet_v3_small', '--quantize', '--weights', 'FASHION_MNIST_V1', '--json', '--topk', '1', ...files]);
    expect(JSON.parse(lib.stdout)).toEqual(parsed);
  });

  it('falls back to it, saying so, when the DEFAULT weights cannot be downloaded', async () => {
    // fetch fails as it does with no network (DNS), and the cache is empty.
    const home = mkdtempSync(join(tmpdir(), 'mnv3-home-'));
    const stub = join(home, 'offline.mjs');
    writeFileSync(stub, "globalThis.fetch = async () => { throw Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('getaddrinfo ENOTFOUND download.pytorch.org'), { code: 'ENOTFOUND' }) }); };\n");
    const before = process.env.MNV3_HOME;
    process.env.MNV3_HOME = home;
    try {
      const file = samples()[0]!;
      const { code, stdout, stderr } = await runNode(['--import', stub, MNV3_BIN, 'classify', '--model', 'mobilenet_v3_large', '--json', '--topk', '1', file]);
      expect(stderr).toMatch(/mobilenet_v3_large's DEFAULT weights cannot be downloaded \(could not download https:\/\/download\.pytorch\.org\/.*\); using the built-in model instead: mobilenet_v3_small FASHION_MNIST_V1/);
      expect(code).toBe(0);
      const parsed = JSON.parse(stdout) as { results: { top: { label: string }[] }[] };
      expect(FASHION_MNIST_CLASSES).toContain(parsed.results[0]!.top[0]!.label);
      // A named weights file that cannot be downloaded is still an error: no silent substitute.
      const named = await runNode(['--import', stub, MNV3_BIN, 'classify', '--model', 'mobilenet_v3_large', '--weights', 'IMAGENET1K_V1', file]);
      expect(named.code).not.toBe(0);
      expect(named.stderr).toMatch(/could not download/);
      expect(named.stderr).not.toMatch(/built-in/);
    } finally {
      if (before === undefined) delete process.env.MNV3_HOME;
      else process.env.MNV3_HOME = before;
    }
  });
});

/** A valid PNG signature and IHDR chunk claiming the given size, with no image data. */
function hugePngHeader(width: number, height: number): Uint8Array {
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, width);
  v.setUint32(4, height);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const chunk = new Uint8Array(12 + 13);
  const cv = new DataView(chunk.buffer);
  cv.setUint32(0, 13);
  chunk.set([0x49, 0x48, 0x44, 0x52], 4);
  chunk.set(ihdr, 8);
  cv.setUint32(21, crc32(chunk.subarray(4, 21)));
  const sig = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  return new Uint8Array([...sig, ...chunk]);
}

function crc32(bytes: Uint8Array): number {
  let c = ~0;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return ~c >>> 0;
}
