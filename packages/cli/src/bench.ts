import { readFile } from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs-core';
import { BENCH_MODELS, FLOAT_TWIN, interleaved, ours, summarize } from '@mnv3/bench';
import { relaxedSimdEnabled } from '@mnv3/layers';
import { parseVerbArgs } from './args.js';
import { UsageError } from './errors.js';

export const BENCH_USAGE = `usage: mnv3 bench --model NAME [--quantize] [--input N,C,H,W] [--threads T] [--runs R] [--warmup W]
                  [--weights FILE] [--json]

  NAME     ${Object.keys(BENCH_MODELS).join(', ')}
  --quantize  the int8 model (mobilenet_v3_large / mobilenet_v3_small, the same as NAME@int8) on the
           int8 WASM engine, timed round by round beside the float model: medians of both and the
           median of per-round ratios (float / int8)
  --input  NCHW input shape (3,H,W for detection; default: the model's usual one, e.g. 1,3,224,224)
  --threads  WASM threads; Node's tfjs-wasm runs on 1 (threads need a cross-origin isolated browser)
  --weights  a .pth or .safetensors file; seeded random weights otherwise (with --quantize: a
           quantized checkpoint, QAT layout or our int8 file; otherwise the seeded float weights
           quantized post-training)

Latency is the median after warm-up; for side-by-side ratios against ONNX Runtime and PyTorch
run the pipeline: pnpm bench. Our kernels run their relaxed-SIMD build (fused multiply-add) where
the engine has relaxed SIMD, which mnv3 turns on in Node 20; MNV3_RELAXED_SIMD=0 keeps the plain one.`;

export async function benchCommand(argv: string[], out: (s: string) => void): Promise<void> {
  const { values, positionals } = parseVerbArgs(argv, {
    model: { type: 'string' },
    input: { type: 'string' },
    threads: { type: 'string', default: '1' },
    runs: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '3' },
    weights: { type: 'string' },
    quantize: { type: 'boolean' },
    json: { type: 'boolean' },
  });
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  if (!values.model) throw new UsageError(`--model is required; valid: ${Object.keys(BENCH_MODELS).join(', ')}`);
  let model = values.model;
  if (values.quantize && !model.endsWith('@int8')) {
    if (!BENCH_MODELS[`${model}@int8`]) {
      const valid = Object.keys(BENCH_MODELS).filter((m) => m.endsWith('@int8')).map((m) => m.slice(0, -'@int8'.length));
      throw new UsageError(`--quantize: no quantized ${model}; valid: ${valid.join(', ')}`);
    }
    model = `${model}@int8`;
  }
  if (!BENCH_MODELS[model]) throw new UsageError(`unknown model "${model}"; valid: ${Object.keys(BENCH_MODELS).join(', ')}`);
  const runs = count(values.runs, '--runs', 1);
  const warmup = count(values.warmup, '--warmup', 0);
  const threads = count(values.threads, '--threads', 1);
  if (threads !== 1) {
    throw new UsageError(`--threads ${threads}: tfjs-wasm runs on one thread under Node; multi-threaded runs need a cross-origin isolated browser`);
  }
  let input: number[] | undefined;
  if (values.input !== undefined) {
    const rank = BENCH_MODELS[model]!.input.length;
    const parts = values.input.split(',').map(Number);
    if (parts.length !== rank || !parts.every((v) => Number.isInteger(v) && v > 0) || parts[rank - 3] !== 3) {
      throw new UsageError(`--input needs ${rank === 4 ? 'N,3,H,W' : '3,H,W (one detection image)'} with positive integers, got "${values.input}"`);
    }
    input = parts;
  }
  const weights = values.weights ? new Uint8Array(await readFile(values.weights)) : undefined;
  const mine = await ours({ model, input, weights });
  try {
    const samples = await interleaved([mine, ...mine.extra], { warmup, runs });
    const mineSamples = samples.get(mine.name)!;
    const stats = summarize(mineSamples);
    const floatSamples = samples.get(FLOAT_TWIN);
    const float = floatSamples ? summarize(floatSamples) : null;
    const result = {
      model,
      input: [...mine.input],
      threads,
      backend: tf.getBackend(),
      relaxed_simd: relaxedSimdEnabled(),
      runs: stats.runs,
      median_ms: stats.median_ms,
      min_ms: stats.min_ms,
      max_ms: stats.max_ms,
      ...(float && floatSamples
        ? { float_median_ms: float.median_ms, float_over_int8: summarize(floatSamples.map((v, i) => v / mineSamples[i]!)).median_ms }
        : {}),
    };
    if (values.json) out(JSON.stringify(result));
    else {
      out(`${result.model} ${result.input.join('x')} on ${result.backend} (${result.relaxed_simd ? 'relaxed-SIMD' : 'plain-SIMD'} kernels), ${threads} thread(s), ${runs} runs after ${warmup} warm-up`);
      out(`median ${stats.median_ms.toFixed(2)} ms (min ${stats.min_ms.toFixed(2)}, max ${stats.max_ms.toFixed(2)}); ${(mine.params / 1e6).toFixed(2)} M params, ${(mine.macs / 1e9).toFixed(3)} GMACs`);
      if (float && result.float_over_int8 !== undefined) {
        out(`float model, interleaved: median ${float.median_ms.toFixed(2)} ms; int8 is ${result.float_over_int8.toFixed(2)}× faster (median of per-round float / int8)`);
      }
    }
  } finally {
    mine.dispose();
  }
}

function count(s: string, flag: string, min: number): number {
  const v = Number(s);
  if (!Number.isInteger(v) || v < min) throw new UsageError(`${flag} needs an integer ≥ ${min}, got "${s}"`);
  return v;
}
