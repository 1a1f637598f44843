// Reading the oracle's 'train' suite: tensors plus the JSON metadata its cases carry.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { readSafetensors, toFloat32, type HostTensor } from '@mnv3/io';
import { fixtureDir } from '@mnv3/test-utils';

export interface TrainFixture {
  name: string;
  config: Record<string, unknown>;
  meta: Record<string, string>;
  tensors: Map<string, HostTensor>;
}

export function trainFixtures(prefix: string): string[] {
  return readdirSync(fixtureDir('train'))
    .filter((f) => f.startsWith(prefix) && f.endsWith('.safetensors'))
    .map((f) => f.slice(0, -'.safetensors'.length))
    .sort();
}

export function trainFixture(name: string): TrainFixture {
  const { tensors, metadata } = readSafetensors(readFileSync(join(fixtureDir('train'), `${name}.safetensors`)));
  return { name, config: JSON.parse(metadata.config ?? '{}') as Record<string, unknown>, meta: metadata, tensors };
}

export function get(f: TrainFixture, key: string): HostTensor {
  const t = f.tensors.get(key);
  if (!t) throw new Error(`${f.name} has no tensor "${key}"`);
  return t;
}

export function f32(f: TrainFixture, key: string): Float32Array {
  return toFloat32(get(f, key));
}

export function f64(f: TrainFixture, key: string): Float64Array {
  const t = get(f, key);
  if (t.dtype !== 'float64') throw new Error(`${f.name}/${key} is ${t.dtype}, not float64`);
  return t.data as Float64Array;
}

export function tensorOf(t: HostTensor): tf.Tensor {
  if (t.dtype === 'int64') return tf.tensor(Array.from(t.data as BigInt64Array, Number), [...t.shape], 'int32');
  return tf.tensor(toFloat32(t), [...t.shape], 'float32');
}

/** Largest |a − e| / max|e| over a tensor: the error relative to the tensor's scale. */
export function scaledError(a: ArrayLike<number>, e: ArrayLike<number>): number {
  if (a.length !== e.length) throw new Error(`length ${a.length} vs ${e.length}`);
  let maxE = 0;
  let maxD = 0;
  for (let i = 0; i < e.length; i++) {
    maxE = Math.max(maxE, Math.abs(e[i]!));
    const d = Math.abs(a[i]! - e[i]!);
    maxD = Number.isNaN(d) ? Infinity : Math.max(maxD, d);
  }
  return maxE === 0 ? maxD : maxD / maxE;
}

/** Largest elementwise |a − e| / |e| (elements with e = 0 compared absolutely). */
export function relError(a: ArrayLike<number>, e: ArrayLike<number>): number {
  if (a.length !== e.length) throw new Error(`length ${a.length} vs ${e.length}`);
  let worst = 0;
  for (let i = 0; i < e.length; i++) {
    const d = Math.abs(a[i]! - e[i]!);
    const r = e[i] === 0 ? d : d / Math.abs(e[i]!);
    worst = Number.isNaN(r) ? Infinity : Math.max(worst, r);
  }
  return worst;
}
