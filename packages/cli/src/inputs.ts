import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { readNpy, toFloat32 } from '@mnv3/io';

export function isNpy(path: string): boolean {
  return path.toLowerCase().endsWith('.npy');
}

/**
 * A `.npy` of float32 `[3,H,W]` or `[N,3,H,W]` (NCHW, as TorchVision users save tensors), as one
 * NCHW batch.
 */
export async function readNchwNpy(path: string): Promise<{ data: Float32Array; shape: [number, number, number, number] }> {
  const t = readNpy(new Uint8Array(await readFile(path)));
  if (t.dtype !== 'float32') throw new Error(`${path}: expected float32 input, got ${t.dtype}`);
  const shape = t.shape.length === 3 ? [1, ...t.shape] : [...t.shape];
  if (shape.length !== 4 || shape[1] !== 3) {
    throw new Error(`${path}: expected float32 [3,H,W] or [N,3,H,W] (NCHW, 3 channels), got [${t.shape.join(', ')}]`);
  }
  if (shape.some((d) => d < 1)) throw new Error(`${path}: empty input [${t.shape.join(', ')}]`);
  const data = toFloat32(t);
  // TorchVision would carry a NaN through to NaN logits; our fused WASM kernels clamp it away and
  // would print a confident answer, so a non-finite input is refused instead.
  const bad = data.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) {
    const [, c, h, w] = shape as [number, number, number, number];
    const at = [Math.floor(bad / (c * h * w)), Math.floor(bad / (h * w)) % c, Math.floor(bad / w) % h, bad % w];
    throw new Error(`${path}: the input holds ${data[bad]} at [${at.join(', ')}] (element ${bad}); pass finite values`);
  }
  return { data, shape: shape as [number, number, number, number] };
}

/** `OUT.png` for a single result; `OUT-<i>.png` when a run writes several. */
export function numberedPath(path: string, index: number, count: number): string {
  if (count === 1) return path;
  const ext = extname(path);
  return `${path.slice(0, path.length - ext.length)}-${index}${ext}`;
}
