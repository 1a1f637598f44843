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
  /** When this row was measured, when its run started, and over how many rounds (rows of a partial run keep their own). */
  date?: string;
  run?: string;
  runs?: number;
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

/**
 * The report of a run over some models merged into the previous one: its rows replace theirs, the
 * other rows stay as measured then; rows follow `order`.
 */
export function mergeReports(previous: BenchReport | null, current: BenchReport, order: readonly string[]): BenchReport {
  const rows = new Map<string, ModelResult>();
  for (const r of previous?.results ?? []) rows.set(r.model, { date: previous!.date, run: previous!.date, runs: previous!.runs, ...r });
  for (const r of current.results) rows.set(r.model, r);
  const rank = (m: string) => (order.includes(m) ? order.indexOf(m) : order.length);
  return { ...current, results: [...rows.values()].sort((a, b) => rank(a.model) - rank(b.model)) };
}

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

/**
 * A grouped bar chart (SVG, rendered with Vega-Lite) of each model's time relative to each peer,
 * measured side by side (mnv3 / peer; a rule marks 1: left of it mnv3 is faster). Ratios rather
 * than absolute times: they survive a noisy machine, and models far apart in cost share one axis.
 */
export async function latencyChart(report: BenchReport): Promise<string> {
  const vega = await import('vega');
  const vl = await import('vega-lite');
  const order = report.results.map((r) => r.model);
  const values = report.results.flatMap((r) => Object.entries(r.ratios).map(([peer, ratio]) => ({ model: r.model, peer, ratio })));
  const spec = vl.compile({
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: `mnv3 time / peer time, ${report.results[0]?.threads ?? 1} thread(s), batch 1 (below 1: mnv3 faster)`,
    width: 520,
    layer: [
      {
        data: { values },
        mark: 'bar',
        encoding: {
          y: { field: 'model', type: 'nominal', title: null, sort: order, axis: { labelLimit: 0 } },
          yOffset: { field: 'peer' },
          x: { field: 'ratio', type: 'quantitative', title: 'mnv3 / peer (median of per-round ratios)' },
          color: { field: 'peer', type: 'nominal', title: 'peer', legend: { labelLimit: 0 } },
        },
      },
      { data: { values: [{ one: 1 }] }, mark: { type: 'rule', color: 'black' }, encoding: { x: { field: 'one', type: 'quantitative' } } },
    ],
  } as never).spec;
  const view = new vega.View(vega.parse(spec), { renderer: 'none' });
  return view.toSVG();
}
