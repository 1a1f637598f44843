// Fixture tensors in the host layouts the detection code takes.
import { toFloat32, type HostTensor } from '@mnv3/io';
import { nchwToNhwc } from './close.js';
import { fixtureTensor, type Fixture } from './fixtures.js';

/** A fixture tensor as float32. */
export function f32(f: Fixture, name: string): Float32Array {
  return toFloat32(fixtureTensor(f, name));
}

/** int64 / int32 fixture tensors as plain numbers. */
export function ints(f: Fixture, name: string): number[] {
  const t: HostTensor = fixtureTensor(f, name);
  return Array.from(t.data as ArrayLike<number | bigint>, (v) => Number(v));
}

/** An NCHW fixture tensor as an NHWC host feature map. */
export function nhwcMap(f: Fixture, name: string): { data: Float32Array; shape: [number, number, number, number] } {
  const t = fixtureTensor(f, name);
  const { data, shape } = nchwToNhwc(toFloat32(t), t.shape);
  return { data, shape };
}

/** `[C, H, W]` fixture image → `[H, W, C]` host image. */
export function hwcImage(f: Fixture, name: string): { data: Float32Array; shape: [number, number, number] } {
  const t = fixtureTensor(f, name);
  const [c, h, w] = t.shape as [number, number, number];
  const { data } = nchwToNhwc(toFloat32(t), [1, c, h, w]);
  return { data, shape: [h, w, c] };
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch: ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
