import { readCheckpoint } from '@mnv3/io';
import { countMacsAsync, seededRng } from '@mnv3/layers';
import { WasmQuantizedMobileNetV3, convert, mobilenetV3Large, mobilenetV3Small, prepare, quantizedModelFromStateDict, type QuantizedMobileNetV3 } from '@mnv3/quantize';
import { benchEntry, type BenchEntry, type BenchModel, type QuantizableArch } from './models.js';
import { benchInput } from './input.js';
import type { Candidate } from './stats.js';

export interface OursOptions {
  model: string;
  /** Input in TorchVision's layout (NCHW, or CHW for a detection image); default the model's own. */
  input?: readonly number[];
  /**
   * Weights file bytes; random (seeded) weights otherwise. For an `@int8` model: a quantized
   * checkpoint (TorchVision's QAT-prepared layout, or our int8 safetensors); without one, the
   * seeded float weights quantized post-training (calibrated on the benchmark input).
   */
  weights?: Uint8Array;
}

export interface Ours extends Candidate {
  model: BenchModel;
  input: readonly number[];
  params: number;
  macs: number;
  /** Bytes → first result: read the checkpoint, build, fold, first inference. */
  loadMs: number;
  /**
   * More of our candidates, timed in the same rounds: for an `@int8` model its float twin (the
   * plain row's model, seeded weights) as `mnv3-float`, so that the int8 / float ratio is measured
   * side by side.
   */
  extra: Candidate[];
  dispose(): void;
}

/** The name of an int8 row's float twin among the candidates. */
export const FLOAT_TWIN = 'mnv3-float';

/** Builds our model, loads weights (bytes or seeded random), and times the first result. */
export async function ours(options: OursOptions): Promise<Ours> {
  const entry = benchEntry(options.model);
  const input = options.input ?? entry.input;
  if (input.length !== entry.input.length) {
    throw new Error(`${options.model} takes a rank-${entry.input.length} input like [${entry.input.join(',')}], got [${input.join(',')}]`);
  }
  if (entry.int8) return oursInt8(entry, entry.int8, input, options.weights);
  const t0 = performance.now();
  const model = entry.build();
  if (options.weights) model.module.loadStateDict(readCheckpoint(options.weights));
  else model.module.initWeights(seededRng(0));
  const x = model.prepare(benchInput(input), input);
  await model.run(x);
  const loadMs = performance.now() - t0;
  const macs = await countMacsAsync(() => model.run(x));
  return {
    name: 'mnv3 (tfjs-wasm)',
    model,
    input,
    params: model.module.numParams(),
    macs,
    loadMs,
    run: () => model.run(x),
    extra: [],
    dispose: () => {
      x.dispose();
      model.module.dispose();
    },
  };
}

/** NCHW → NHWC. */
function toNhwc(x: Float32Array, [n, c, h, w]: readonly number[]): Float32Array {
  const y = new Float32Array(x.length);
  for (let b = 0; b < n!; b++) for (let ch = 0; ch < c!; ch++) for (let p = 0; p < h! * w!; p++) y[(b * h! * w! + p) * c! + ch] = x[(b * c! + ch) * h! * w! + p]!;
  return y;
}

/**
 * An int8 row: the converted model (from a quantized checkpoint, or the seeded float weights
 * quantized post-training on the benchmark input) on the int8 WASM engine, and its float twin.
 * Bytes → first result covers reading, converting, packing and the first inference.
 */
async function oursInt8(entry: BenchEntry, arch: QuantizableArch, input: readonly number[], weights?: Uint8Array): Promise<Ours> {
  const [n, c, h, w] = input as [number, number, number, number];
  const shape = [n, h, w, c] as const;
  const x = toNhwc(benchInput(input), input);
  const t0 = performance.now();
  let qmodel: QuantizedMobileNetV3;
  if (weights) qmodel = quantizedModelFromStateDict(arch, readCheckpoint(weights));
  else {
    const float = (arch === 'mobilenet_v3_large' ? mobilenetV3Large : mobilenetV3Small)();
    float.initWeights(seededRng(0));
    const observed = prepare(float);
    observed.observe(x, shape);
    qmodel = convert(observed);
    float.dispose();
  }
  const engine = WasmQuantizedMobileNetV3.create(qmodel);
  if (!engine) throw new Error(`${arch}@int8 runs on the int8 WASM kernels: set up the tfjs wasm backend first`);
  engine.forward(x, shape);
  const loadMs = performance.now() - t0;
  const twin = entry.build();
  twin.module.initWeights(seededRng(0));
  const xf = twin.prepare(benchInput(input), input);
  await twin.run(xf);
  const macs = await countMacsAsync(() => twin.run(xf));
  return {
    name: 'mnv3 (tfjs-wasm)',
    model: twin,
    input,
    params: twin.module.numParams(),
    macs,
    loadMs,
    run: async () => {
      engine.forward(x, shape);
    },
    extra: [{ name: FLOAT_TWIN, run: () => twin.run(xf) }],
    dispose: () => {
      engine.dispose();
      xf.dispose();
      twin.module.dispose();
    },
  };
}
