#!/usr/bin/env node
// The benchmark pipeline: every model, side by side with ONNX Runtime Web/Node and PyTorch, then
// JSON for machines, a markdown table and an SVG chart for people.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { setupBackend } from '@mnv3/layers/backend';
import { BENCH_MODELS } from './models.js';
import { runPipeline } from './pipeline.js';
import { latencyChart, markdownTable, mergeReports, type BenchReport } from './report.js';
import { seedTable } from './seed.js';

function writeAtomic(path: string, data: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

const README_MARKER = '<!-- results -->';
/** The browser benchmark's section (benchmarks/browser/run.mjs) starts here and is kept as is. */
const BROWSER_MARKER = '<!-- browser-results -->';

export function renderReadme(template: string, report: BenchReport, chartFile: string): string {
  const head = template.includes(README_MARKER) ? template.slice(0, template.indexOf(README_MARKER)) : `${template.trimEnd()}\n\n`;
  const at = template.indexOf(BROWSER_MARKER, Math.max(0, template.indexOf(README_MARKER)));
  const tail = at >= 0 ? `\n${template.slice(at)}` : '';
  const dates = [...new Set(report.results.map((r) => (r.date ?? report.date).slice(0, 10)))].sort();
  const runs = [...new Set(report.results.map((r) => r.runs ?? report.runs))].sort((a, b) => a - b);
  const seed = seedTable(report);
  return (
    `${head}${README_MARKER}\n` +
    `Measured ${dates.join(', ')} on ${report.machine.cpu} (${report.machine.cpus} cores), Node ${report.machine.node}, ` +
    `${runs.join(' or ')} interleaved runs after ${report.warmup} warm-up rounds, ${report.results[0]?.threads ?? 1} thread(s) (each row's date and runs are in \`results/latest.json\`). ` +
    `Ratios are medians of per-round ratios (mnv3 time / peer time; below 1 means mnv3 is faster).\n\n` +
    `${markdownTable(report)}\n\n![mnv3 time relative to each peer](${chartFile})\n` +
    (seed
      ? `\n### The seed's trade-offs, measured here\n\nTorchVision published CPU seconds per model (batch 1, on its machine); their ratios say how much faster the MobileNetV3 model is than the heavier one it replaces. The same ratios from the medians above, for pairs measured in one run (our detection input is 480×640, resized by the models to 800×1066 or 320×426; the seed's are COCO images):\n\n${seed}\n`
      : '') +
    tail
  );
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    // `pnpm run bench -- --models …` passes the `--` through.
    args: process.argv.slice(2).filter((a) => a !== '--'),
    options: {
      models: { type: 'string' },
      runs: { type: 'string', default: '30' },
      warmup: { type: 'string', default: '5' },
      threads: { type: 'string', default: '1' },
      out: { type: 'string', default: 'benchmarks' },
      python: { type: 'string', default: process.env.MNV3_PYTHON ?? '/usr/bin/python3' },
    },
  });
  const models = values.models ? values.models.split(',') : Object.keys(BENCH_MODELS);
  for (const m of models) if (!BENCH_MODELS[m]) throw new Error(`unknown model "${m}"; valid: ${Object.keys(BENCH_MODELS).join(', ')}`);
  const repoRoot = resolve(dirname(new URL(import.meta.url).pathname), '../../..');
  const out = resolve(values.out);
  await setupBackend({ backend: 'wasm' });
  const { SingleBar, Presets } = await import('cli-progress');
  // Outside a terminal (turbo, CI) the bar still prints a line every few seconds.
  const bar = new SingleBar(
    { format: '{model} [{bar}] {value}/{total} rounds', stream: process.stderr, gracefulExit: false, noTTYOutput: true, notTTYSchedule: 5000 },
    Presets.shades_classic,
  );
  let current = '';
  const measured = await runPipeline({
    models,
    runs: Number(values.runs),
    warmup: Number(values.warmup),
    threads: Number(values.threads),
    workDir: join(repoRoot, '.cache/bench'),
    repoRoot,
    python: values.python,
    onProgress: (model, round, total) => {
      if (model !== current) {
        if (current) bar.stop();
        bar.start(total, 0, { model });
        current = model;
      }
      bar.update(round, { model });
    },
  });
  bar.stop();
  // A run over some models (--models) updates their rows and keeps the others'.
  const latestPath = join(out, 'results/latest.json');
  let previous: BenchReport | null = null;
  if (values.models) {
    try {
      previous = JSON.parse(readFileSync(latestPath, 'utf8')) as BenchReport;
    } catch {
      // no earlier run
    }
  }
  const report = mergeReports(previous, measured, Object.keys(BENCH_MODELS));
  writeAtomic(latestPath, `${JSON.stringify(report, null, 2)}\n`);
  writeAtomic(join(out, 'results/latency.svg'), await latencyChart(report));
  const readmePath = join(out, 'README.md');
  let template = '# Benchmarks\n';
  try {
    template = readFileSync(readmePath, 'utf8');
  } catch {
    // first run
  }
  writeAtomic(readmePath, renderReadme(template, report, 'results/latency.svg'));
  console.log(markdownTable(report));
}

await main();
