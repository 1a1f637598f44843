import { cpus } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { ours } from './ours.js';
import { isMissing, ortNodePeer, ortWebPeer, pytorchPeer, type MissingPeer, type Peer } from './peers.js';
import type { BenchReport, ModelResult } from './report.js';
import { interleaved, summarize } from './stats.js';
import { benchEntry } from './models.js';

export interface PipelineOptions {
  models: readonly string[];
  runs: number;
  warmup: number;
  threads: number;
  /** Where the TorchVision exports (.pth + .onnx) are cached. */
  workDir: string;
  repoRoot: string;
  python: string;
  onProgress?: (model: string, round: number, total: number) => void;
}

/** Exports the same seeded random weights as a state dict and ONNX, through TorchVision. */
function exportPeers(o: PipelineOptions, model: string, shape: readonly number[]): { pth: string; onnx: string } | MissingPeer {
  const dir = join(o.workDir, `${model.replace('@', '_')}_${shape.join('x')}`);
  const pth = join(dir, 'weights.pth');
  const onnx = join(dir, 'model.onnx');
  if (existsSync(onnx) && existsSync(pth)) return { pth, onnx };
  try {
    mkdirSync(dir, { recursive: true });
    execFileSync(o.python, [join(o.repoRoot, 'tools/reference/bench_peers.py'), 'export', model, shape.join(','), dir], { stdio: 'pipe' });
    return { pth, onnx };
  } catch (e) {
    return { name: 'torchvision export', missing: `${(e as Error).message.split('\n')[0]}` };
  }
}

/** Benchmarks each model against every peer that is available, interleaved. */
export async function runPipeline(o: PipelineOptions): Promise<BenchReport> {
  const results: ModelResult[] = [];
  const run = new Date().toISOString();
  for (const model of o.models) {
    const shape = benchEntry(model).input;
    const exported = exportPeers(o, model, shape);
    const weights = 'missing' in exported ? undefined : new Uint8Array(readFileSync(exported.pth));
    const mine = await ours({ model, weights });
    const peers: (Peer | MissingPeer)[] = [];
    if ('missing' in exported) {
      peers.push({ name: 'onnxruntime-web', missing: exported.missing }, { name: 'onnxruntime-node', missing: exported.missing });
    } else {
      peers.push(await ortWebPeer(exported.onnx, shape, o.threads), await ortNodePeer(exported.onnx, shape, o.threads));
    }
    peers.push(await pytorchPeer(o.python, join(o.repoRoot, 'tools/reference/bench_peers.py'), model, shape, o.threads));
    const live = peers.filter((p): p is Peer => !isMissing(p));
    const samples = await interleaved([mine, ...mine.extra, ...live], {
      warmup: o.warmup,
      runs: o.runs,
      onRound: (round, total) => o.onProgress?.(model, round, total),
    });
    const oursSamples = samples.get(mine.name)!;
    const result: ModelResult = {
      model,
      input: mine.input,
      threads: o.threads,
      params: mine.params,
      macs: mine.macs,
      load_ms: mine.loadMs,
      wasm_memory_bytes: wasmMemoryBytes(),
      ours: summarize(oursSamples),
      peers: {},
      ratios: {},
      date: new Date().toISOString(),
      run,
      runs: o.runs,
    };
    for (const p of mine.extra) {
      const s = samples.get(p.name)!;
      result.peers[p.name] = summarize(s);
      result.ratios[p.name] = summarize(oursSamples.map((v, i) => v / s[i]!)).median_ms;
    }
    for (const p of peers) {
      if (isMissing(p)) {
        result.peers[p.name] = { missing: p.missing };
        continue;
      }
      const s = samples.get(p.name)!;
      result.peers[p.name] = summarize(s);
      // Pair round by round: the two ran back to back, so drift cancels.
      result.ratios[p.name] = summarize(oursSamples.map((v, i) => v / s[i]!)).median_ms;
      await p.close();
    }
    mine.dispose();
    results.push(result);
  }
  return {
    date: new Date().toISOString(),
    machine: { node: process.version, platform: `${process.platform}-${process.arch}`, cpus: cpus().length, cpu: cpus()[0]?.model ?? '?' },
    backend: tf.getBackend(),
    runs: o.runs,
    warmup: o.warmup,
    results,
  };
}

/** The tfjs WASM backend's heap size, when that backend is active. */
export function wasmMemoryBytes(): number | null {
  const backend = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  return backend.wasm?.HEAPU8?.byteLength ?? null;
}
