// End to end, as a person uses the demo: build it with Vite, serve dist with `vite preview` (the
// COOP/COEP headers come from vite.config.ts), open it in Debian's Chromium through
// playwright-core, give it the oracle's random-weight checkpoint and real photos, and require the
// page's top-5 to be what `mnv3 classify --json` prints for the same files.
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { extname, join, normalize, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { preview, type PreviewServer } from 'vite';
import { REPO_ROOT, fixtureDir, freePort, mnv3 } from '@mnv3/test-utils';
import { mobilenetV3Conf } from '@mnv3/backbone';
import { FASHION_MNIST_CLASSES, readCheckpoint } from '@mnv3/io';
import { quantizedModelFromStateDict, saveQuantized } from '@mnv3/quantize';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '..');
/** Screenshots land here (gitignored). */
const ARTIFACTS = join(ROOT, '.artifacts');
const CHROMIUM = process.env.MNV3_CHROMIUM ?? '/usr/bin/chromium';
const PHOTOS = ['chelsea', 'coffee', 'astronaut', 'camera'] as const;

const fixture = (name: string) => join(fixtureDir('classify'), name);
const segFixture = (name: string) => join(fixtureDir('segment_pipeline'), name);
const detFixture = (name: string) => join(fixtureDir('detection'), name);
// TorchVision's URLs (from @mnv3/backbone's weights table). No test reaches the network: every
// request to them is answered by page.route or refused by an offline context.
const LARGE_V1_URL = 'https://download.pytorch.org/models/mobilenet_v3_large-8738ca79.pth';
const LARGE_V2_URL = 'https://download.pytorch.org/models/mobilenet_v3_large-5c1a4163.pth';
const LARGE = () => fixture('mobilenet_v3_large.pth');
const SMALL_10 = () => fixture('mobilenet_v3_small_10.pth');

interface Top {
  index: number;
  label: string;
  score: number;
}

/** What the CLI prints for the same checkpoint and photos: the reference for the page. */
async function cliTop5(weights: string, photos: string[]): Promise<Map<string, Top[]>> {
  const { code, stdout, stderr } = await mnv3(['classify', '--model', 'mobilenet_v3_large', '--weights', weights, '--json', ...photos]);
  expect(code, stderr).toBe(0);
  const parsed = JSON.parse(stdout) as { results: { input: string; top: Top[] }[] };
  return new Map(parsed.results.map((r) => [r.input, r.top]));
}

async function pageTop5(page: Page): Promise<Top[]> {
  return page.$$eval('[data-testid="top5-row"]', (rows) =>
    rows.map((r) => {
      const el = r as HTMLElement;
      return { index: Number(el.dataset.index), label: el.querySelector('.label')!.textContent!, score: Number(el.dataset.score) };
    }),
  );
}

/** Waits until the page has finished at least `runs` runs and says "ready". */
async function waitForRuns(page: Page, runs: number): Promise<void> {
  await page.waitForFunction(
    (n) => {
      const status = document.querySelector<HTMLElement>('[data-testid="status"]')!;
      if (status.dataset.state === 'error') throw new Error(`the page shows an error: ${document.querySelector('[data-testid="error"]')!.textContent}`);
      return status.dataset.state === 'ready' && Number(document.querySelector<HTMLElement>('[data-testid="result"]')!.dataset.runs) >= n;
    },
    runs,
    { timeout: Number(process.env.MNV3_E2E_WAIT ?? 240_000), polling: 100 },
  );
}

async function waitForError(page: Page): Promise<string> {
  await page.waitForSelector('[data-testid="status"][data-state="error"]', { timeout: 240_000 });
  return (await page.textContent('[data-testid="error"]')) ?? '';
}

/** `dist` served by plain node:http with no COOP/COEP: the page is not cross-origin isolated. */
async function serveWithoutIsolation(): Promise<{ server: Server; url: string }> {
  const types: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm' };
  const dist = join(ROOT, 'dist');
  const server = createHttpServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)).replace(/^(\.\.[/\\])+/, '');
    const file = path === '/' ? '/index.html' : path;
    try {
      const body = readFileSync(join(dist, file));
      res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return { server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}/` };
}

let server: PreviewServer;
let browser: Browser;
let url: string;
let reference: Map<string, Top[]>;
const pageErrors: string[] = [];

async function openPage(at = url): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1100, height: 720 } });
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(at);
  await page.waitForSelector('[data-testid="backend"][data-state="ready"]', { timeout: 60_000 });
  return page;
}

/** Drops MobileNetV3-Large's checkpoint on the page and waits until the model is loaded. */
async function loadLarge(page: Page): Promise<void> {
  await page.setInputFiles('[data-testid="weights-file"]', LARGE());
  await page.waitForSelector('[data-testid="status"]:text("model loaded")', { timeout: 240_000 });
}

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const photos = PHOTOS.map((p) => fixture(`${p}.png`));
  // The build, and the CLI's answers (its own process, WASM backend in Node), side by side.
  const [, ref] = await Promise.all([run(process.execPath, [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--logLevel', 'warn'], { cwd: ROOT }), cliTop5(LARGE(), photos)]);
  reference = ref;
  server = await preview({ root: ROOT, logLevel: 'warn', preview: { host: '127.0.0.1', port: await freePort(), strictPort: true, open: false } });
  url = server.resolvedUrls!.local[0]!;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync',
      // A synthetic camera, granted without a prompt, for the webcam test.
      '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
    ],
  });
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('web demo in Chromium', () => {
  it('is served cross-origin isolated and runs WASM with SIMD and threads', async () => {
    const res = await fetch(url);
    expect(res.headers.get('cross-origin-opener-policy')).toBe('same-origin');
    expect(res.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
    const page = await openPage();
    const badge = await page.$eval('[data-testid="backend"]', (el) => ({ ...(el as HTMLElement).dataset, text: el.textContent }));
    expect(badge).toMatchObject({ backend: 'wasm', simd: 'true', threads: 'true', isolated: 'true' });
    expect(badge.text).toMatch(/^WASM · SIMD on · threads on \(\d+\)$/);
    // Every task is offered, none is listed as coming; every classification model is offered.
    expect(await page.$$eval('[data-testid="task"] option', (o) => o.map((x) => (x as HTMLOptionElement).value))).toEqual(['classification', 'detection', 'segmentation']);
    expect(await page.$$eval('[data-testid="model"] option', (o) => o.map((x) => (x as HTMLOptionElement).value))).toEqual([
      'mobilenet_v3_large',
      'mobilenet_v3_small',
      'mobilenet_v2',
      'resnet18',
      'resnet50',
    ]);
    expect(await page.$$('[data-testid="task"] option:disabled')).toHaveLength(0);
    await page.close();
  });

  it("shows the CLI's top-5 for the oracle's checkpoint and real photos (file picker, then drag and drop)", async () => {
    const page = await openPage();
    await loadLarge(page);

    for (const [i, photo] of ['chelsea', 'coffee'].entries()) {
      await page.setInputFiles('[data-testid="image-file"]', fixture(`${photo}.png`));
      await waitForRuns(page, i + 1);
      const top = await pageTop5(page);
      const ref = reference.get(fixture(`${photo}.png`))!;
      expect(top.map((t) => t.index), photo).toEqual(ref.map((t) => t.index));
      expect(top.map((t) => t.label), photo).toEqual(ref.map((t) => t.label));
      for (const [j, t] of top.entries()) expect(Math.abs(t.score - ref[j]!.score), `${photo} score ${j}`).toBeLessThan(1e-4);
      expect(await page.textContent('[data-testid="status"]')).toMatch(/^ready/);
      expect(Number(await page.getAttribute('[data-testid="latency"]', 'data-ms'))).toBeGreaterThan(0);
    }
    await page.screenshot({ path: join(ARTIFACTS, 'classification.png'), clip: { x: 0, y: 0, width: 1100, height: 540 } });

    // Drag and drop: a File dropped on the page is routed by its name (an image here).
    const bytes = readFileSync(fixture('astronaut.png')).toString('base64');
    const dataTransfer = await page.evaluateHandle((b64) => {
      const dt = new DataTransfer();
      const raw = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      dt.items.add(new File([raw], 'astronaut.png', { type: 'image/png' }));
      return dt;
    }, bytes);
    await page.dispatchEvent('body', 'drop', { dataTransfer });
    await waitForRuns(page, 3);
    expect((await pageTop5(page)).map((t) => t.index)).toEqual(reference.get(fixture('astronaut.png'))!.map((t) => t.index));

    // Paste: a grayscale PNG from the clipboard.
    await page.evaluate((b64) => {
      const dt = new DataTransfer();
      dt.items.add(new File([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], 'camera.png', { type: 'image/png' }));
      document.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
    }, readFileSync(fixture('camera.png')).toString('base64'));
    await waitForRuns(page, 4);
    expect((await pageTop5(page)).map((t) => t.index)).toEqual(reference.get(fixture('camera.png'))!.map((t) => t.index));
    await page.close();
    expect(pageErrors).toEqual([]);
  });

  it('says so in the page when the checkpoint is for another model', async () => {
    const page = await openPage();
    await page.setInputFiles('[data-testid="weights-file"]', SMALL_10());
    const text = await waitForError(page);
    expect(text).toContain('These weights are not for mobilenet_v3_large');
    expect(text).toContain('the checkpoint does not fit mobilenet_v3_large');
    expect(await page.$$('[data-testid="top5-row"]')).toHaveLength(0);
    await page.screenshot({ path: join(ARTIFACTS, 'classification-wrong-checkpoint.png') });
    await page.close();
  });

  it('says so in the page when the image cannot be read', async () => {
    const page = await openPage();
    await loadLarge(page);
    const bogus = join(ARTIFACTS, 'not-an-image.png');
    writeFileSync(bogus, 'this is text, not a PNG');
    await page.setInputFiles('[data-testid="image-file"]', bogus);
    expect(await waitForError(page)).toContain('Could not read the image');
    await page.screenshot({ path: join(ARTIFACTS, 'classification-bad-image.png') });
    await page.close();
  });

  it('works single-threaded, with the same answers, when the page is not cross-origin isolated', async () => {
    const plain = await serveWithoutIsolation();
    try {
      const page = await openPage(plain.url);
      const badge = await page.$eval('[data-testid="backend"]', (el) => ({ ...(el as HTMLElement).dataset, text: el.textContent }));
      expect(badge).toMatchObject({ backend: 'wasm', simd: 'true', threads: 'false', isolated: 'false' });
      expect(badge.text).toContain('threads off (page not cross-origin isolated');
      await page.setInputFiles('[data-testid="weights-file"]', LARGE());
      await page.setInputFiles('[data-testid="image-file"]', fixture('chelsea.png'));
      await waitForRuns(page, 1);
      expect((await pageTop5(page)).map((t) => t.index)).toEqual(reference.get(fixture('chelsea.png'))!.map((t) => t.index));
      await page.screenshot({ path: join(ARTIFACTS, 'classification-single-thread.png') });
      await page.close();
    } finally {
      await new Promise((ok) => plain.server.close(ok));
    }
  });

  it('pretrained weights come through @mnv3/io/hub-browser and Cache Storage', async () => {
    const page = await openPage();
    // Stand-in for TorchVision's server (CORS like the real one), used only to fill the cache:
    // the oracle's file does not carry the published hash, so it can only arrive as a cache hit.
    const body = readFileSync(LARGE());
    let requests = 0;
    await page.route('https://download.pytorch.org/**', (route) => {
      requests++;
      return route.fulfill({ status: 200, body, headers: { 'access-control-allow-origin': '*', 'content-type': 'application/octet-stream' } });
    });
    await page.evaluate(async (u) => (await caches.open('mnv3-checkpoints')).put(u, await fetch(u)), LARGE_V1_URL);
    expect(requests).toBe(1);
    await page.selectOption('[data-testid="weights"]', 'IMAGENET1K_V1');
    await page.waitForSelector('[data-testid="status"]:text("model loaded")', { timeout: 240_000 });
    expect(requests).toBe(1); // served from Cache Storage, no download
    expect(await page.textContent('[data-testid="weights-info"]')).toContain(`IMAGENET1K_V1 from ${LARGE_V1_URL}`);
    await page.setInputFiles('[data-testid="image-file"]', fixture('chelsea.png'));
    await waitForRuns(page, 1);
    // IMAGENET1K_V1's preset and labels are what the CLI uses for a weight file: same answers.
    const top = await pageTop5(page);
    const ref = reference.get(fixture('chelsea.png'))!;
    expect(top.map((t) => t.index)).toEqual(ref.map((t) => t.index));
    expect(top.map((t) => t.label)).toEqual(ref.map((t) => t.label));
    await page.screenshot({ path: join(ARTIFACTS, 'classification-pretrained-cached.png') });

    // A download whose SHA-256 does not start with the prefix in the file name is refused, uncached.
    await page.selectOption('[data-testid="weights"]', 'IMAGENET1K_V2');
    expect(await waitForError(page)).toContain('is not the expected one');
    expect(requests).toBe(2);
    expect(await page.evaluate(async (u) => !!(await (await caches.open('mnv3-checkpoints')).match(u)), LARGE_V2_URL)).toBe(false);
    expect(await page.inputValue('[data-testid="weights"]')).toBe('IMAGENET1K_V1'); // still in use
    await page.close();
  });

  it('says so in the page when pretrained weights cannot be downloaded (offline)', async () => {
    const page = await openPage();
    await page.context().setOffline(true);
    await page.selectOption('[data-testid="weights"]', 'IMAGENET1K_V2');
    const text = await waitForError(page);
    expect(text).toContain('Could not download the weights: you seem to be offline');
    expect(text).toContain('load it from disk instead');
    await page.screenshot({ path: join(ARTIFACTS, 'classification-offline.png') });
    await page.close();
  });

  it('classifies webcam frames (Chromium\'s synthetic camera), once and live', async () => {
    const page = await openPage();
    await loadLarge(page);
    await page.click('[data-testid="webcam"]');
    await page.waitForSelector('[data-testid="capture"]:visible');
    await page.click('[data-testid="capture"]');
    await waitForRuns(page, 1);
    expect(await page.$$('[data-testid="top5-row"]')).toHaveLength(5);
    await page.check('#live');
    await waitForRuns(page, 3); // live mode keeps classifying new frames
    await page.click('[data-testid="webcam"]'); // stop
    expect(await page.isChecked('#live')).toBe(false);
    await page.screenshot({ path: join(ARTIFACTS, 'classification-webcam.png') });
    await page.close();
  });
});

// ---------------------------------------------------------------------------------------------
// Segmentation and detection: the page against `mnv3 segment --json` / `mnv3 detect --json`.

interface Share {
  index: number;
  label: string;
  share: number;
}

interface Boxes {
  boxes: [number, number, number, number][];
  labels: number[];
  scores: number[];
  names: string[];
}

async function cliJson<T>(args: string[]): Promise<T> {
  const { code, stdout, stderr } = await mnv3([...args, '--json']);
  expect(code, stderr).toBe(0);
  return (JSON.parse(stdout) as { results: T[] }).results[0]!;
}

const cliSegment = (model: string, weights: string, photo: string, extra: string[] = []) =>
  cliJson<{ width: number; height: number; classes: Share[] }>(['segment', '--model', model, '--weights', weights, ...extra, photo]);

const cliDetect = (weights: string, photo: string, extra: string[] = []) =>
  cliJson<Boxes>(['detect', '--model', 'fasterrcnn_mobilenet_v3_large_320_fpn', '--weights', weights, ...extra, photo]);

async function pageShares(page: Page): Promise<Share[]> {
  return page.$$eval('[data-testid="segment-row"]', (rows) =>
    rows.map((r) => {
      const el = r as HTMLElement;
      return { index: Number(el.dataset.index), label: el.querySelector('.label')!.textContent!, share: Number(el.dataset.share) };
    }),
  );
}

function expectShares(page: Share[], cli: Share[], what: string): void {
  expect(page.map((c) => c.index), what).toEqual(cli.map((c) => c.index));
  expect(page.map((c) => c.label), what).toEqual(cli.map((c) => c.label));
  page.forEach((c, i) => expect(Math.abs(c.share - cli[i]!.share), `${what}: share of class ${c.index}`).toBeLessThan(1e-3));
}

async function pageBoxes(page: Page): Promise<Boxes> {
  const rows = await page.$$eval('[data-testid="detect-row"]', (rs) =>
    rs.map((r) => {
      const el = r as HTMLElement;
      return { box: JSON.parse(el.dataset.box!) as [number, number, number, number], label: Number(el.dataset.label), score: Number(el.dataset.score), name: el.dataset.name! };
    }),
  );
  return { boxes: rows.map((r) => r.box), labels: rows.map((r) => r.label), scores: rows.map((r) => r.score), names: rows.map((r) => r.name) };
}

function expectBoxes(page: Boxes, cli: Boxes, what: string): void {
  expect(page.boxes.length, `${what}: box count`).toBe(cli.boxes.length);
  expect(page.labels, what).toEqual(cli.labels);
  expect(page.names, what).toEqual(cli.names);
  page.boxes.forEach((b, i) => b.forEach((v, k) => expect(Math.abs(v - cli.boxes[i]![k]!), `${what}: box ${i} coordinate ${k}`).toBeLessThan(0.5)));
  page.scores.forEach((s, i) => expect(Math.abs(s - cli.scores[i]!), `${what}: score ${i}`).toBeLessThan(1e-3));
}

/** Sets a number control and commits it, as a person does by typing and leaving the field. */
async function setNumber(page: Page, selector: string, value: number): Promise<void> {
  await page.fill(selector, String(value));
  await page.dispatchEvent(selector, 'change');
}

describe('segmentation in the web demo', () => {
  it("shows the CLI's class shares for the oracle's LR-ASPP and DeepLabV3 checkpoints and real photos", async () => {
    const LRASPP = segFixture('lraspp.pth');
    const DEEPLAB = segFixture('deeplabv3_aux.pth');
    const [lrChelsea, lrCoffee, lrChelsea320, dlAstronaut] = await Promise.all([
      cliSegment('lraspp_mobilenet_v3_large', LRASPP, segFixture('chelsea.png')),
      cliSegment('lraspp_mobilenet_v3_large', LRASPP, segFixture('coffee.png')),
      cliSegment('lraspp_mobilenet_v3_large', LRASPP, segFixture('chelsea.png'), ['--resize', '320']),
      cliSegment('deeplabv3_mobilenet_v3_large', DEEPLAB, segFixture('astronaut.png'), ['--aux-loss']),
    ]);
    const page = await openPage();
    await page.selectOption('[data-testid="task"]', 'segmentation');
    expect(await page.$$eval('[data-testid="model"] option', (o) => o.map((x) => (x as HTMLOptionElement).value))).toEqual([
      'lraspp_mobilenet_v3_large',
      'deeplabv3_mobilenet_v3_large',
      'fcn_mobilenet_v3_large',
      'deeplabv3_resnet50',
      'fcn_resnet50',
    ]);
    // LR-ASPP has no aux head: the checkbox is offered only for DeepLabV3 and FCN.
    expect(await page.$$('[data-testid="setting-aux"]')).toHaveLength(0);
    await page.setInputFiles('[data-testid="weights-file"]', LRASPP);
    await page.waitForSelector('[data-testid="status"]:text("model loaded")', { timeout: 240_000 });

    await page.setInputFiles('[data-testid="image-file"]', segFixture('chelsea.png'));
    await waitForRuns(page, 1);
    expectShares(await pageShares(page), lrChelsea.classes, 'lraspp chelsea 520');
    expect(Number(await page.getAttribute('[data-testid="latency"]', 'data-ms'))).toBeGreaterThan(0);
    // The mask is painted on the overlay, at the image's size, in VOC's palette.
    const overlay = await page.$eval('#overlay', (c) => {
      const canvas = c as HTMLCanvasElement;
      const px = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
      let painted = 0;
      for (let i = 3; i < px.length; i += 4) if (px[i]! > 0) painted++;
      return { width: canvas.width, height: canvas.height, painted };
    });
    expect(overlay.width).toBe(lrChelsea.width);
    expect(overlay.height).toBe(lrChelsea.height);
    const background = lrChelsea.classes.find((c) => c.index === 0)?.share ?? 0;
    expect(Math.abs(overlay.painted / (overlay.width * overlay.height) - (1 - background))).toBeLessThan(1e-3);
    await page.screenshot({ path: join(ARTIFACTS, 'segmentation.png'), clip: { x: 0, y: 0, width: 1100, height: 560 } });

    await page.setInputFiles('[data-testid="image-file"]', segFixture('coffee.png'));
    await waitForRuns(page, 2);
    expectShares(await pageShares(page), lrCoffee.classes, 'lraspp coffee 520');

    // Resize 320 rebuilds the preset: the CLI's --resize 320.
    await page.setInputFiles('[data-testid="image-file"]', segFixture('chelsea.png'));
    await waitForRuns(page, 3);
    await page.selectOption('[data-testid="setting-resize"]', '320');
    await waitForRuns(page, 4);
    expectShares(await pageShares(page), lrChelsea320.classes, 'lraspp chelsea 320');
    await page.selectOption('[data-testid="setting-resize"]', '520');
    await waitForRuns(page, 5);

    // DeepLabV3 with the LR-ASPP file still in use: the library's message, in the page.
    await page.selectOption('[data-testid="model"]', 'deeplabv3_mobilenet_v3_large');
    let text = await waitForError(page);
    expect(text).toContain('These weights are not for deeplabv3_mobilenet_v3_large');
    expect(text).toContain('the checkpoint does not fit deeplabv3_mobilenet_v3_large');
    await page.screenshot({ path: join(ARTIFACTS, 'segmentation-wrong-checkpoint.png') });

    // A checkpoint with an aux head, without the box ticked: the page says to tick it. (The previous
    // error is still shown until the new file is read, so wait for the new message.)
    await page.setInputFiles('[data-testid="weights-file"]', DEEPLAB);
    await page.waitForFunction(() => /auxiliary head/.test(document.querySelector('[data-testid="error"]')!.textContent ?? ''), undefined, { timeout: 240_000 });
    text = await waitForError(page);
    expect(text).toContain('tick "aux head"');
    expect(text).toContain('the checkpoint has an auxiliary head');
    await page.check('[data-testid="setting-aux"]');
    await waitForRuns(page, 6); // loads, and segments the photo already given
    await page.setInputFiles('[data-testid="image-file"]', segFixture('astronaut.png'));
    await waitForRuns(page, 7);
    expectShares(await pageShares(page), dlAstronaut.classes, 'deeplabv3 (aux) astronaut 520');
    await page.screenshot({ path: join(ARTIFACTS, 'segmentation-deeplabv3.png'), clip: { x: 0, y: 0, width: 1100, height: 620 } });
    await page.close();
    expect(pageErrors).toEqual([]);
  });
});

describe('detection in the web demo', () => {
  it("shows the CLI's boxes for the oracle's Faster R-CNN 320 checkpoint and a real photo", async () => {
    const FRCNN = detFixture('fasterrcnn_320.pth');
    const PHOTO = detFixture('chelsea.png');
    const [cliDefault, cliHigher] = await Promise.all([cliDetect(FRCNN, PHOTO), cliDetect(FRCNN, PHOTO, ['--score-thresh', '0.065'])]);
    // The random-weight checkpoint scores everything low: at the CLI's 0.05 there are boxes, at 0.065 a few.
    expect(cliDefault.boxes.length).toBeGreaterThan(cliHigher.boxes.length);
    expect(cliHigher.boxes.length).toBeGreaterThan(0);

    const page = await openPage();
    await page.selectOption('[data-testid="task"]', 'detection');
    expect(await page.$$eval('[data-testid="model"] option', (o) => o.map((x) => (x as HTMLOptionElement).value))).toEqual([
      'fasterrcnn_mobilenet_v3_large_fpn',
      'fasterrcnn_mobilenet_v3_large_320_fpn',
      'fasterrcnn_resnet50_fpn',
      'retinanet_resnet50_fpn',
    ]);
    await page.selectOption('[data-testid="model"]', 'fasterrcnn_mobilenet_v3_large_320_fpn');
    expect(Number(await page.inputValue('[data-testid="setting-scoreThresh"]'))).toBe(0.5);
    await setNumber(page, '[data-testid="setting-scoreThresh"]', 0.05);

    // A checkpoint of another task: the library's message, in the page.
    await page.setInputFiles('[data-testid="weights-file"]', segFixture('lraspp.pth'));
    const text = await waitForError(page);
    expect(text).toContain('These weights are not for fasterrcnn_mobilenet_v3_large_320_fpn');
    expect(text).toContain('the checkpoint does not fit fasterrcnn_mobilenet_v3_large_320_fpn');

    await page.setInputFiles('[data-testid="weights-file"]', FRCNN);
    await page.setInputFiles('[data-testid="image-file"]', PHOTO);
    await waitForRuns(page, 1);
    expectBoxes(await pageBoxes(page), cliDefault, 'threshold 0.05');
    expect(Number(await page.getAttribute('[data-testid="latency"]', 'data-ms'))).toBeGreaterThan(0);
    // Something is drawn on the overlay, at the image's size.
    const overlay = await page.$eval('#overlay', (c) => {
      const canvas = c as HTMLCanvasElement;
      const px = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
      let painted = 0;
      for (let i = 3; i < px.length; i += 4) if (px[i]! > 0) painted++;
      return { width: canvas.width, height: canvas.height, painted };
    });
    expect(overlay).toMatchObject({ width: 451, height: 300 });
    expect(overlay.painted).toBeGreaterThan(0);

    await setNumber(page, '[data-testid="setting-scoreThresh"]', 0.065);
    await waitForRuns(page, 2);
    expectBoxes(await pageBoxes(page), cliHigher, 'threshold 0.065');
    await page.screenshot({ path: join(ARTIFACTS, 'detection.png'), clip: { x: 0, y: 0, width: 1100, height: 560 } });
    await page.close();
    expect(pageErrors).toEqual([]);
  });
});

describe('pretrained weights for segmentation and detection in the web demo', () => {
  // As for classification: the oracle's files stand in for TorchVision's downloads, put in Cache
  // Storage under the published URLs (they do not carry the published hashes, so they can only
  // arrive as cache hits). Checks the registry path: class count from the entry, DeepLabV3's aux
  // head built because the published weights carry one.
  const CASES = [
    {
      task: 'segmentation',
      model: 'lraspp_mobilenet_v3_large',
      weights: 'COCO_WITH_VOC_LABELS_V1',
      url: 'https://download.pytorch.org/models/lraspp_mobilenet_v3_large-d234d4ea.pth',
      file: () => segFixture('lraspp.pth'),
    },
    {
      task: 'segmentation',
      model: 'deeplabv3_mobilenet_v3_large',
      weights: 'COCO_WITH_VOC_LABELS_V1',
      url: 'https://download.pytorch.org/models/deeplabv3_mobilenet_v3_large-fc3c493d.pth',
      file: () => segFixture('deeplabv3_aux.pth'),
    },
    {
      task: 'detection',
      model: 'fasterrcnn_mobilenet_v3_large_320_fpn',
      weights: 'COCO_V1',
      url: 'https://download.pytorch.org/models/fasterrcnn_mobilenet_v3_large_320_fpn-907ea3f9.pth',
      file: () => detFixture('fasterrcnn_320.pth'),
    },
  ] as const;

  it.each(CASES)('$model: $weights from Cache Storage gives the CLI\'s answer', async ({ task, model, weights, url: weightsUrl, file }) => {
    const page = await openPage();
    const body = readFileSync(file());
    await page.route('https://download.pytorch.org/**', (route) =>
      route.fulfill({ status: 200, body, headers: { 'access-control-allow-origin': '*', 'content-type': 'application/octet-stream' } }),
    );
    await page.evaluate(async (u) => (await caches.open('mnv3-checkpoints')).put(u, await fetch(u)), weightsUrl);
    await page.selectOption('[data-testid="task"]', task);
    await page.selectOption('[data-testid="model"]', model);
    if (task === 'detection') await setNumber(page, '[data-testid="setting-scoreThresh"]', 0.05);
    await page.selectOption('[data-testid="weights"]', weights);
    await page.waitForSelector('[data-testid="status"]:text("model loaded")', { timeout: 240_000 });
    expect(await page.textContent('[data-testid="weights-info"]')).toContain(`${weights} from ${weightsUrl}`);
    if (task === 'segmentation') {
      const photo = segFixture('chelsea.png');
      const [ref] = await Promise.all([
        cliSegment(model, file(), photo, model.startsWith('deeplab') ? ['--aux-loss'] : []),
        page.setInputFiles('[data-testid="image-file"]', photo),
      ]);
      await waitForRuns(page, 1);
      expectShares(await pageShares(page), ref.classes, `${model} ${weights}`);
    } else {
      const photo = detFixture('chelsea.png');
      const [ref] = await Promise.all([cliDetect(file(), photo), page.setInputFiles('[data-testid="image-file"]', photo)]);
      await waitForRuns(page, 1);
      expectBoxes(await pageBoxes(page), ref, `${model} ${weights}`);
    }
    await page.close();
  });
});

// ---------------------------------------------------------------------------------------------
// The quantized (int8) classifier: the page against `mnv3 classify --quantize --json`, which
// packages/cli/test/quantize.test.ts holds to torch's qnnpack logits exactly (--save-raw) on the
// same oracle checkpoints (tools/reference/suite_quantize.py: seeded random weights, observers
// calibrated, QAT layout as TorchVision's IMAGENET1K_QNNPACK_V1).

const qat = (arch: string) => join(fixtureDir('quantize'), `qat_${arch}.pth`);
const QNNPACK_V1_URL = 'https://download.pytorch.org/models/quantized/mobilenet_v3_large_qnnpack-5bcacf28.pth';

async function cliTop5Quantized(model: string, weights: string, photos: string[]): Promise<Map<string, Top[]>> {
  const { code, stdout, stderr } = await mnv3(['classify', '--model', model, '--quantize', '--weights', weights, '--json', ...photos]);
  expect(code, stderr).toBe(0);
  const parsed = JSON.parse(stdout) as { results: { input: string; top: Top[] }[] };
  return new Map(parsed.results.map((r) => [r.input, r.top]));
}

/** Same classes in the same order, same labels, and scores equal (both run the same integer arithmetic). */
function expectSameTop(page: Top[], cli: Top[], what: string): void {
  expect(page).toHaveLength(5);
  expect(page.map((t) => t.index), what).toEqual(cli.map((t) => t.index));
  expect(page.map((t) => t.label), what).toEqual(cli.map((t) => t.label));
  for (const [j, t] of page.entries()) expect(Math.abs(t.score - cli[j]!.score), `${what} score ${j}`).toBeLessThan(1e-6);
}

async function badgeOf(page: Page): Promise<Record<string, string | undefined>> {
  return page.$eval('[data-testid="model-badge"]', (el) => ({ ...(el as HTMLElement).dataset, text: el.textContent ?? '', hidden: String((el as HTMLElement).hidden) }));
}

const optionValues = (page: Page, select: string) => page.$$eval(`${select} option`, (o) => o.map((x) => (x as HTMLOptionElement).value));

describe('quantized (int8) classification in the web demo', () => {
  it("shows the CLI's top-5 for the QAT-layout .pth of Large and the int8 .safetensors of Small, with the int8 badge", async () => {
    const photos = ['chelsea', 'coffee', 'astronaut'].map((p) => fixture(`${p}.png`));
    // Our int8 file, written from the oracle's Small QAT checkpoint as `saveQuantized` writes it.
    const int8Small = join(ARTIFACTS, 'mobilenet_v3_small.int8.safetensors');
    const { settings, lastChannel } = mobilenetV3Conf('mobilenet_v3_small');
    const small = quantizedModelFromStateDict('mobilenet_v3_small', readCheckpoint(readFileSync(qat('mobilenet_v3_small'))));
    writeFileSync(int8Small, saveQuantized(small, { settings, lastChannel, numClasses: small.numClasses }));
    const [large, smallSt, smallPth] = await Promise.all([
      cliTop5Quantized('mobilenet_v3_large', qat('mobilenet_v3_large'), photos.slice(0, 2)),
      cliTop5Quantized('mobilenet_v3_small', int8Small, [photos[2]!]),
      cliTop5Quantized('mobilenet_v3_small', qat('mobilenet_v3_small'), [photos[2]!]),
    ]);
    // The int8 file is the same model as the checkpoint it was converted from.
    expect(smallSt.get(photos[2]!)).toEqual(smallPth.get(photos[2]!));

    const page = await openPage();
    // The box is offered for MobileNetV3 Large and Small only.
    expect(await page.$$('[data-testid="setting-quantize"]')).toHaveLength(1);
    await page.selectOption('[data-testid="model"]', 'mobilenet_v2');
    expect(await page.$$('[data-testid="setting-quantize"]')).toHaveLength(0);
    await page.selectOption('[data-testid="model"]', 'mobilenet_v3_large');
    expect(await page.isChecked('[data-testid="setting-quantize"]')).toBe(false);
    expect(await optionValues(page, '[data-testid="weights"]')).toEqual(['', 'IMAGENET1K_V1', 'IMAGENET1K_V2']);
    // Ticked: TorchVision's quantized weights are offered instead of the float ones.
    await page.check('[data-testid="setting-quantize"]');
    expect(await optionValues(page, '[data-testid="weights"]')).toEqual(['', 'IMAGENET1K_QNNPACK_V1']);

    await page.setInputFiles('[data-testid="weights-file"]', qat('mobilenet_v3_large'));
    await page.waitForSelector('[data-testid="status"]:text("model loaded")', { timeout: 240_000 });
    // int8 on our WASM SIMD kernels, their relaxed-SIMD build (Chromium has relaxed SIMD on).
    const badge = await badgeOf(page);
    expect(badge).toMatchObject({ precision: 'int8', engine: 'wasm', relaxed: 'true', hidden: 'false' });
    expect(badge.text).toMatch(/^int8 · WASM SIMD, relaxed-SIMD build · \d+ layers? on its 7-bit dot$/);
    for (const [i, photo] of photos.slice(0, 2).entries()) {
      await page.setInputFiles('[data-testid="image-file"]', photo);
      await waitForRuns(page, i + 1);
      expectSameTop(await pageTop5(page), large.get(photo)!, `large int8 ${photo}`);
      expect(Number(await page.getAttribute('[data-testid="latency"]', 'data-ms'))).toBeGreaterThan(0);
      expect(await page.textContent('[data-testid="latency"]')).toMatch(/^last run \d+\.\d ms/);
    }
    await page.screenshot({ path: join(ARTIFACTS, 'classification-int8.png'), clip: { x: 0, y: 0, width: 1100, height: 600 } });

    // Small: the box stays ticked (a setting of the task), the Large file is kept and refused.
    await page.selectOption('[data-testid="model"]', 'mobilenet_v3_small');
    expect(await page.isChecked('[data-testid="setting-quantize"]')).toBe(true);
    const mismatch = await waitForError(page);
    expect(mismatch).toContain('This quantized checkpoint lacks keys that mobilenet_v3_small needs: is it for another model?');
    expect(mismatch).toContain('the quantized checkpoint lacks');
    expect(await optionValues(page, '[data-testid="weights"]')).toEqual(['', 'FASHION_MNIST_V1']); // ours: TorchVision publishes no quantized Small
    await page.setInputFiles('[data-testid="weights-file"]', int8Small);
    await waitForRuns(page, 3);
    await page.setInputFiles('[data-testid="image-file"]', photos[2]!);
    await waitForRuns(page, 4);
    expectSameTop(await pageTop5(page), smallSt.get(photos[2]!)!, 'small int8 safetensors astronaut');
    expect(await badgeOf(page)).toMatchObject({ precision: 'int8', engine: 'wasm', relaxed: 'true' });

    // Unticked, the same file is refused with the library's message, and the page says what to do.
    await page.uncheck('[data-testid="setting-quantize"]');
    const text = await waitForError(page);
    expect(text).toContain('This is a quantized (int8) checkpoint: tick "quantized (int8)" and it loads.');
    expect(text).toContain('this is a quantized checkpoint');
    expect(await page.$$('[data-testid="top5-row"]')).toHaveLength(0);
    expect(await page.isHidden('[data-testid="model-badge"]')).toBe(true);
    await page.close();
    expect(pageErrors).toEqual([]);
  });

  it('says so in the page for a float checkpoint with the box ticked, and a QAT checkpoint without it', async () => {
    const photo = fixture('chelsea.png');
    const [floatRef, int8Ref] = await Promise.all([cliTop5(LARGE(), [photo]), cliTop5Quantized('mobilenet_v3_large', qat('mobilenet_v3_large'), [photo])]);
    const page = await openPage();
    await page.setInputFiles('[data-testid="image-file"]', photo);
    await page.check('[data-testid="setting-quantize"]');
    await page.setInputFiles('[data-testid="weights-file"]', LARGE());
    let text = await waitForError(page);
    expect(text).toContain('This is a float checkpoint: untick "quantized (int8)" to run it');
    expect(text).toContain('this is a float checkpoint (no fake-quant or observer keys; BatchNorm not fused), not a quantized one');
    expect(await page.$$('[data-testid="top5-row"]')).toHaveLength(0);
    await page.screenshot({ path: join(ARTIFACTS, 'classification-int8-float-checkpoint.png') });

    // Unticked: the float model runs, with the float badge.
    await page.uncheck('[data-testid="setting-quantize"]');
    await waitForRuns(page, 1);
    expect((await pageTop5(page)).map((t) => t.index)).toEqual(floatRef.get(photo)!.map((t) => t.index));
    expect(await badgeOf(page)).toMatchObject({ precision: 'float32', text: 'float32', hidden: 'false' });

    // The QAT checkpoint without the box: refused; ticked, it runs as the CLI's --quantize.
    await page.setInputFiles('[data-testid="weights-file"]', qat('mobilenet_v3_large'));
    await page.waitForFunction(() => /quantized \(int8\) checkpoint/.test(document.querySelector('[data-testid="error"]')!.textContent ?? ''), undefined, { timeout: 240_000 });
    text = await waitForError(page);
    expect(text).toContain('tick "quantized (int8)" and it loads');
    expect(text).toContain('this is a quantized checkpoint (QAT layout with fake quants and observers, or an mnv3 int8 file): load it with quantize: true');
    await page.screenshot({ path: join(ARTIFACTS, 'classification-int8-unticked.png') });
    await page.check('[data-testid="setting-quantize"]');
    await waitForRuns(page, 2);
    expectSameTop(await pageTop5(page), int8Ref.get(photo)!, 'large int8 after ticking');
    expect(await badgeOf(page)).toMatchObject({ precision: 'int8', relaxed: 'true' });

    // A QAT checkpoint on a model without a quantized build: the page names the models that have one.
    await page.selectOption('[data-testid="model"]', 'resnet18');
    text = await waitForError(page);
    expect(text).toContain('pick mobilenet_v3_large or mobilenet_v3_small and tick "quantized (int8)"');
    await page.close();
    expect(pageErrors).toEqual([]);
  });

  it('IMAGENET1K_QNNPACK_V1 comes through @mnv3/io/hub-browser and Cache Storage', async () => {
    const photo = fixture('coffee.png');
    const [ref] = await Promise.all([cliTop5Quantized('mobilenet_v3_large', qat('mobilenet_v3_large'), [photo])]);
    const page = await openPage();
    // As for the float weights: the oracle's QAT checkpoint stands in for TorchVision's download,
    // put in Cache Storage under the published URL (it can only arrive as a cache hit).
    const bodies = new Map([
      [QNNPACK_V1_URL, readFileSync(qat('mobilenet_v3_large'))],
      [LARGE_V1_URL, readFileSync(LARGE())],
    ]);
    let requests = 0;
    await page.route('https://download.pytorch.org/**', (route) => {
      requests++;
      const body = bodies.get(route.request().url());
      if (!body) return route.fulfill({ status: 404 });
      return route.fulfill({ status: 200, body, headers: { 'access-control-allow-origin': '*', 'content-type': 'application/octet-stream' } });
    });
    await page.evaluate(async (u) => (await caches.open('mnv3-checkpoints')).put(u, await fetch(u)), QNNPACK_V1_URL);
    expect(requests).toBe(1);
    // Float registry weights in use, then the box ticked: they are dropped (not offered any more).
    await page.evaluate(async (u) => (await caches.open('mnv3-checkpoints')).put(u, await fetch(u)), LARGE_V1_URL);
    await page.selectOption('[data-testid="weights"]', 'IMAGENET1K_V1');
    await page.waitForSelector('[data-testid="status"]:text("model loaded")', { timeout: 240_000 });
    await page.check('[data-testid="setting-quantize"]');
    await page.waitForSelector('[data-testid="status"]:text("choose weights")', { timeout: 60_000 });
    expect(await page.inputValue('[data-testid="weights"]')).toBe('');
    expect(await page.textContent('[data-testid="weights-info"]')).toBe('no weights yet');

    await page.selectOption('[data-testid="weights"]', 'IMAGENET1K_QNNPACK_V1');
    await page.waitForSelector('[data-testid="status"]:text("model loaded")', { timeout: 240_000 });
    expect(requests).toBe(2); // both served from Cache Storage afterwards, no download
    expect(await page.textContent('[data-testid="weights-info"]')).toContain(`IMAGENET1K_QNNPACK_V1 from ${QNNPACK_V1_URL}`);
    await page.setInputFiles('[data-testid="image-file"]', photo);
    await waitForRuns(page, 1);
    // The entry's preset (resize 256, crop 224) and labels are what the CLI uses for a file: same answers.
    expectSameTop(await pageTop5(page), ref.get(photo)!, 'IMAGENET1K_QNNPACK_V1 (cached oracle checkpoint)');
    expect(await badgeOf(page)).toMatchObject({ precision: 'int8', engine: 'wasm', relaxed: 'true' });
    await page.screenshot({ path: join(ARTIFACTS, 'classification-int8-pretrained-cached.png') });
    await page.close();
    expect(pageErrors).toEqual([]);
  });
});

describe('the built-in model (FASHION_MNIST_V1) in the web demo', () => {
  it("is offered as built-in, works with the network cut, gives the CLI's top-5 on a committed image, and classifies a drawing", async () => {
    const image = join(REPO_ROOT, 'examples/images/fashion-mnist/t10k-00000.png');
    const ref = await cliTop5Quantized('mobilenet_v3_small', 'FASHION_MNIST_V1', [image]);
    const page = await openPage();
    // Offline: every request that leaves the page's own server fails.
    const origin = new URL(url).origin;
    await page.route('**/*', (route) => (new URL(route.request().url()).origin === origin ? route.continue() : route.abort('internetdisconnected')));
    await page.selectOption('[data-testid="model"]', 'mobilenet_v3_small');
    await page.check('[data-testid="setting-quantize"]');
    expect(await optionValues(page, '[data-testid="weights"]')).toEqual(['', 'FASHION_MNIST_V1']);
    expect(await page.textContent('[data-testid="weights"] option[value="FASHION_MNIST_V1"]')).toBe('FASHION_MNIST_V1 (default) — built-in (Fashion-MNIST, works offline)');
    await page.selectOption('[data-testid="weights"]', 'FASHION_MNIST_V1');
    await page.waitForSelector('[data-testid="status"]:text("model loaded")', { timeout: 240_000 });
    expect(await badgeOf(page)).toMatchObject({ precision: 'int8', engine: 'wasm' });
    await page.setInputFiles('[data-testid="image-file"]', image);
    await waitForRuns(page, 1);
    expectSameTop(await pageTop5(page), ref.get(image)!, 'built-in int8 t10k-00000');
    expect((await pageTop5(page))[0]!.label).toBe('Ankle boot');

    // A drawing on the pad: a light stroke on the dark pad, classified into Fashion-MNIST's classes.
    await page.locator('[data-testid="draw"]').scrollIntoViewIfNeeded();
    const pad = (await page.locator('[data-testid="draw"]').boundingBox())!;
    await page.mouse.move(pad.x + pad.width * 0.3, pad.y + pad.height * 0.2);
    await page.mouse.down();
    for (const [fx, fy] of [[0.3, 0.8], [0.7, 0.8], [0.7, 0.2]] as const) await page.mouse.move(pad.x + pad.width * fx, pad.y + pad.height * fy, { steps: 8 });
    await page.mouse.up();
    const drawn = await page.$eval('[data-testid="draw"]', (c) => {
      const d = (c as HTMLCanvasElement).getContext('2d')!.getImageData(0, 0, 112, 112).data;
      let lit = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i]! > 128) lit++;
      return lit;
    });
    expect(drawn).toBeGreaterThan(200);
    await page.click('[data-testid="draw-use"]');
    await waitForRuns(page, 2);
    // The run was of the drawing (the pad's 112×112 pixels), not of the previous image.
    expect(await page.$eval('[data-testid="preview"]', (c) => [(c as HTMLCanvasElement).width, (c as HTMLCanvasElement).height])).toEqual([112, 112]);
    expect(await page.textContent('[data-testid="latency"]')).toContain('112×112 input');
    const top = await pageTop5(page);
    expect(top).toHaveLength(5);
    for (const t of top) expect(FASHION_MNIST_CLASSES).toContain(t.label);
    await page.screenshot({ path: join(ARTIFACTS, 'built-in.png'), clip: { x: 0, y: 0, width: 1100, height: 720 } });
    await page.close();
    expect(pageErrors).toEqual([]);
  });
});
