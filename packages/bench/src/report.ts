import type { LatencyStats } from './stats.js';

/** One model's benchmark: ours plus each peer, measured interleaved in one run. */
export interface ModelResult {
  model: string;
  /** NCHW. */
  input: readonly number[];
  threads: number;
  params: number;
  macs: number;
  load_ms: number;
  /** The WASM heap after the run: it only grows, so this is the peak. */
  wasm_memory_bytes: number | null;
  ours: LatencyStats;
  peers: Record<string, LatencyStats | { missing: string }>;
  /** Peer name → median of the per-round ratios ours / peer (below 1: we are faster). */
  ratios: Record<string, number>;
}

export interface BenchReport {
  date: string;
  machine: { node: string; platform: string; cpus: number; cpu: string };
  backend: string;
  runs: number;
  warmup: number;
  results: ModelResult[];
}

const fmt = (v: number, digits = 2) => v.toFixed(digits);

/** A markdown table for people (the benchmark README). */
export function markdownTable(report: BenchReport): string {
  const peers = [...new Set(report.results.flatMap((r) => Object.keys(r.peers)))].sort();
  const head = ['model', 'input', 'params (M)', 'GMACs', 'load (ms)', 'mnv3 median (ms)', ...peers.flatMap((p) => [`${p} (ms)`, `mnv3 / ${p}`])];
  const rows = report.results.map((r) => [
    r.model,
    r.input.join('×'),
    fmt(r.params / 1e6),
    fmt(r.macs / 1e9, 3),
    fmt(r.load_ms, 0),
    `${fmt(r.ours.median_ms)} (${fmt(r.ours.min_ms)}–${fmt(r.ours.max_ms)})`,
    ...peers.flatMap((p) => {
      const s = r.peers[p];
      if (!s) return ['—', '—'];
      if ('missing' in s) return ['missing', '—'];
      return [fmt(s.median_ms), r.ratios[p] === undefined ? '—' : `${fmt(r.ratios[p]!)}×`];
    }),
  ]);
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

/** A grouped bar chart of median latencies (SVG), rendered with Vega-Lite. */
export async function latencyChart(report: BenchReport): Promise<string> {
  const vega = await import('vega');
  const vl = await import('vega-lite');
  const values = report.results.flatMap((r) => [
    { model: r.model, runtime: 'mnv3 (tfjs-wasm)', ms: r.ours.median_ms },
    ...Object.entries(r.peers)
      .filter((e): e is [string, LatencyStats] => !('missing' in e[1]))
      .map(([runtime, s]) => ({ model: r.model, runtime, ms: s.median_ms })),
  ]);
  const spec = vl.compile({
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: `Median latency, ${report.results[0]?.threads ?? 1} thread(s), batch 1 (lower is better)`,
    data: { values },
    mark: 'bar',
    encoding: {
      y: { field: 'model', type: 'nominal', title: null },
      yOffset: { field: 'runtime' },
      x: { field: 'ms', type: 'quantitative', title: 'milliseconds' },
      color: { field: 'runtime', type: 'nominal' },
    },
    width: 560,
  } as never).spec;
  const view = new vega.View(vega.parse(spec), { renderer: 'none' });
  return view.toSVG();
}
