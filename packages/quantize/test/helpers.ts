// Shared by the parity tests: fixture tensors as the engine's NHWC quantized tensors, and the
// comparisons the fidelity bars are stated in.
import { toFloat32 } from '@mnv3/io';
import { type Fixture, fixtureTensor, nchwToNhwc } from '@mnv3/test-utils';
import type { QTensor } from '../src/index.js';

/** A scalar fixture tensor (`<name>.scale`, `.zero_point`). */
export function scalar(f: Fixture, name: string): number {
  return Number(fixtureTensor(f, name).data[0]);
}

/** A uint8 NCHW (or `[N, C]`) fixture tensor with its qparams, as an NHWC `QTensor`. */
export function qtensor(f: Fixture, module: string, size: string): QTensor {
  const t = fixtureTensor(f, `${module}_${size}`);
  if (t.dtype !== 'uint8') throw new Error(`${module}_${size} is ${t.dtype}`);
  const scale = scalar(f, `${module}.scale`);
  const zeroPoint = scalar(f, `${module}.zero_point`);
  if (t.shape.length === 2) return { data: t.data as Uint8Array, shape: t.shape, scale, zeroPoint };
  const [n, c, h, w] = t.shape as [number, number, number, number];
  const src = t.data as Uint8Array;
  const data = new Uint8Array(src.length);
  for (let b = 0; b < n; b++) for (let ch = 0; ch < c; ch++) for (let p = 0; p < h * w; p++) data[(b * h * w + p) * c + ch] = src[(b * c + ch) * h * w + p]!;
  return { data, shape: [n, h, w, c], scale, zeroPoint };
}

/** A float NCHW input as NHWC. */
export function nhwcInput(f: Fixture, size: string): { data: Float32Array; shape: [number, number, number, number] } {
  const t = fixtureTensor(f, `input_${size}`);
  const { data, shape } = nchwToNhwc(toFloat32(t), t.shape);
  return { data, shape: shape as [number, number, number, number] };
}

export interface QuantaReport {
  total: number;
  exact: number;
  withinOne: number;
  maxDiff: number;
}

/** How many values equal torch's, and how many are within one quantum (±1 in the integer domain). */
export function compareQuanta(ours: QTensor, ref: QTensor): QuantaReport {
  if (ours.data.length !== ref.data.length) throw new Error(`sizes differ: [${ours.shape.join(', ')}] vs [${ref.shape.join(', ')}]`);
  if (ours.scale !== ref.scale || ours.zeroPoint !== ref.zeroPoint) {
    throw new Error(`qparams differ: ours ${ours.scale}/${ours.zeroPoint}, torch ${ref.scale}/${ref.zeroPoint}`);
  }
  let exact = 0;
  let withinOne = 0;
  let maxDiff = 0;
  for (let i = 0; i < ours.data.length; i++) {
    const d = Math.abs(ours.data[i]! - ref.data[i]!);
    if (d === 0) exact++;
    if (d <= 1) withinOne++;
    if (d > maxDiff) maxDiff = d;
  }
  return { total: ours.data.length, exact, withinOne, maxDiff };
}

/** Row-wise argmax (first maximum, as torch.argmax). */
export function argmaxRows(x: ArrayLike<number>, rows: number): number[] {
  const cols = x.length / rows;
  const out: number[] = [];
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let c = 1; c < cols; c++) if (x[r * cols + c]! > x[r * cols + best]!) best = c;
    out.push(best);
  }
  return out;
}
