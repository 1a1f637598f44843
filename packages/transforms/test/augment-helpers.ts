// Shared by the augmentation parity tests: fixtures of tools/reference/suite_augment.py as our images,
// byte comparison, and replay of the random draws TorchVision made.
import { expect } from 'vitest';
import { fixtureTensor, type Fixture } from '@mnv3/test-utils';
import type { TensorImage } from '../src/index.js';

export const SUITE = 'augment';

/** A CHW uint8 fixture tensor as an HWC image (1 channel → GrayImage). */
export function imageOf(f: Fixture, name: string): TensorImage {
  const t = fixtureTensor(f, name);
  expect(t.dtype).toBe('uint8');
  const [c, h, w] = t.shape as [number, number, number];
  const src = t.data as Uint8Array;
  const data = new Uint8Array(src.length);
  for (let k = 0; k < c; k++) for (let p = 0; p < h * w; p++) data[p * c + k] = src[k * h * w + p]!;
  return c === 1 ? { width: w, height: h, channels: 1, data } : { width: w, height: h, data };
}

export interface ByteDiff {
  count: number;
  max: number;
  total: number;
}

export function byteDiff(actual: TensorImage, expected: TensorImage): ByteDiff {
  expect([actual.height, actual.width, actual.channels ?? 3]).toEqual([expected.height, expected.width, expected.channels ?? 3]);
  let count = 0;
  let max = 0;
  for (let i = 0; i < actual.data.length; i++) {
    const d = Math.abs(actual.data[i]! - expected.data[i]!);
    if (d) count++;
    if (d > max) max = d;
  }
  return { count, max, total: actual.data.length };
}

/** One random draw torch made, as suite_augment.py's DrawLog records it. */
export type DrawEvent = ['rand', number] | ['uniform', number, number] | ['randint', number, number, number] | ['normal', number];

/**
 * The uniform stream that makes our transforms take torch's decisions: `torch.rand` → its value,
 * `uniform_` → the generator's raw [0, 1) draw, `randint(low, high)` → the middle of k's bin,
 * `normal_` (RandomErasing's 'random') → `normals` placeholder pairs for our Box–Muller draws.
 * Returns an Rng that fails the test if our code draws more or fewer numbers than torch did.
 */
export function replay(events: readonly DrawEvent[]): { rng: () => number; done: () => void } {
  const stream: number[] = [];
  for (const e of events) {
    if (e[0] === 'rand') stream.push(e[1]);
    else if (e[0] === 'uniform') stream.push(e[1]);
    else if (e[0] === 'randint') stream.push((e[1] - e[2] + 0.5) / (e[3] - e[2]));
    else for (let i = 0; i < 2 * Math.ceil(e[1] / 2); i++) stream.push(((i * 7919) % 997) / 997 + 0.0005);
  }
  let next = 0;
  return {
    rng: () => {
      if (next >= stream.length) throw new Error(`our transform drew more than torch's ${stream.length} random numbers`);
      return stream[next++]!;
    },
    done: () => expect(next, `random numbers drawn (torch drew ${stream.length})`).toBe(stream.length),
  };
}
