// The thread pool's dispatcher (assembly/threads.ts, in the shared variant of the kernels) on a
// shared WebAssembly.Memory in Node: every kernel split into chunks, by the calling thread alone
// and with a worker_threads worker in `workerLoop`, gives bit for bit the output of one direct
// call over the whole range (the int8 kernels too); each chunk runs exactly once; `stopWorkers` ends the worker. The
// browser side (Web Workers from a Blob URL) is tested in Chromium: benchmarks/browser/threads.test.mjs.
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normal, seededRng } from '../random.js';
import { KERNEL_ID } from './kernel-pool.js';
import { WASM_SHARED_BASE64 } from './wasm-binary.generated.js';
import type { KernelExports } from './wasm-module.js';

interface Exports extends KernelExports {
  dispatch(ctrl: number, kernel: number, units: number, align: number, chunks: number): void;
  workerLoop(ctrl: number, index: number, spin: number): void;
  stopWorkers(ctrl: number): void;
}

const module = new WebAssembly.Module(Buffer.from(WASM_SHARED_BASE64, 'base64'));
const memory = new WebAssembly.Memory({ initial: 64, maximum: 65536, shared: true });
const ex = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as Exports;
const f32 = new Float32Array(memory.buffer);
const CTRL = 1024;
const ARGS = CTRL + 256;
const STATS = CTRL + 384;
const i32 = new Int32Array(memory.buffer);

/** A bump allocator over the memory past the control block. */
let top = 4096;
function alloc(floats: number, fill?: number): number {
  const ptr = top;
  top += Math.ceil((floats * 4) / 64) * 64 + 64;
  f32.set(fill === undefined ? normal(seededRng(ptr), floats, 0, 2) : new Float32Array(floats).fill(fill), ptr / 4);
  return ptr;
}
const read = (ptr: number, floats: number): number[] => Array.from(f32.subarray(ptr / 4, ptr / 4 + floats));
const chunksRun = (): number => i32[STATS / 4]! + i32[STATS / 4 + 1]!;

/** Runs a kernel through `dispatch` into `out` (zeroed first). */
function split(kernel: keyof typeof KERNEL_ID, args: number[], units: number, align: number, chunks: number, out: number, outFloats: number, init?: (out: number) => void): number[] {
  f32.fill(0, out / 4, out / 4 + outFloats);
  init?.(out);
  new Uint32Array(memory.buffer, ARGS, args.length).set(args);
  ex.dispatch(CTRL, KERNEL_ID[kernel], units, align, chunks);
  return read(out, outFloats);
}

interface Case {
  name: string;
  kernel: keyof typeof KERNEL_ID;
  /** Arguments up to (not including) the range; `out` is the output pointer among them. */
  args: (out: number) => number[];
  units: number;
  align: number;
  outFloats: number;
  direct: (out: number) => void;
  /** Fills `out` before the call (after zeroing it), for kernels that work in place. */
  init?: (out: number) => void;
}

function cases(): Case[] {
  // conv 1x1: 37 pixels, 13 → 21 channels (packed in blocks of 8), bias and residual, hardswish
  const [p, ci, co] = [37, 13, 21];
  const x = alloc(p * ci);
  const w = alloc(Math.ceil(co / 8) * 8 * ci);
  const bias = alloc(co);
  const res = alloc(p * co);
  const zero = alloc(300, 0);
  // conv 3x3, dilation 3 (padding 3) on 2×9×11×10 → 7, relu: taps in the padding skipped; tap
  // lists in one slice per thread (2 here)
  const [ch, cw, cci, cco] = [9, 11, 10, 7];
  const cx = alloc(2 * ch * cw * cci);
  const cwt = alloc(Math.ceil(cco / 8) * 8 * 9 * cci);
  const cwt2 = alloc(24 * 9 * cci);
  const table = alloc((2 * ex.convTableBytes(3)) / 4, 0);
  const cp = 2 * ch * cw;
  // depthwise: 2×9×7×19, k5 s2 pad 2 → 5×4, relu6
  const [n, h, wd, c, k] = [2, 9, 7, 19, 5];
  const dx = alloc(n * h * wd * c);
  const dw = alloc(k * k * c);
  const db = alloc(c);
  const [oh, ow] = [5, 4];
  const ax = alloc(1003);
  // pooling and scaling: 2 images of 11 pixels × 30 channels
  const mx = alloc(2 * 11 * 30);
  const gate = alloc(2 * 30);
  // int8 kernels (assembly/int8.ts): random bytes as uint8 maps, int16 rows, int16 weights, int32
  // biases, tables; outputs compared as bytes (in float-sized words)
  const bits = (v: number): number => new Int32Array(Float32Array.of(v).buffer)[0]!;
  const [qp, qk, qco] = [37, 14, 21];
  const qa = alloc((qp * qk) / 2);
  const qw = alloc((3 * qk * 8) / 2);
  const qb = alloc(24);
  const qt = alloc(64);
  const [qn, qh, qwd, qc, qcp, qpad, qkk] = [2, 9, 7, 19, 24, 2, 5];
  const qx = alloc((qn * qh * qwd * qc) / 4 + 1);
  const [qhp, qwp] = [qh + 2 * qpad, qwd + 2 * qpad];
  const qxp = alloc(qn * qhp * qwp * qcp);
  const qdw = alloc(qkk * Math.ceil(qkk / 2) * qcp);
  const [qoh, qow] = [5, 4];
  const qf = alloc(1003);
  const qbytes = (b: number): number => Math.ceil(b / 4);
  const int8Cases: Case[] = [
    {
      name: 'qgemm by rows',
      kernel: 'qgemm',
      args: (out) => [qa, qw, qb, out, qk, qco, bits(1e-6), 5, 3, qp, 0],
      units: qp,
      align: 4,
      outFloats: qbytes(qp * qco),
      direct: (out) => ex.qgemm(qa, qw, qb, out, qk, qco, bits(1e-6), 5, 3, qp, 0, 0, qp),
    },
    {
      name: 'qgemm by blocks of output channels',
      kernel: 'qgemm',
      args: (out) => [qa, qw, qb, out, qk, qco, bits(1e-6), 5, 0, 3, 1],
      units: 3,
      align: 1,
      outFloats: qbytes(3 * qco),
      direct: (out) => ex.qgemm(qa, qw, qb, out, qk, qco, bits(1e-6), 5, 0, 3, 1, 0, 3),
    },
    {
      name: 'qwiden',
      kernel: 'qwiden',
      args: (out) => [qx, out, 13, 14, 77],
      units: 20,
      align: 1,
      outFloats: qbytes(20 * 14 * 2),
      direct: (out) => ex.qwiden(qx, out, 13, 14, 77, 0, 20),
    },
    {
      name: 'qim2col',
      kernel: 'qim2col',
      args: (out) => [qx, out, qh, qwd, 3, qoh, qow, 3, 2, 1, 1, 28, 9],
      units: qoh * qow,
      align: 1,
      outFloats: qbytes(qoh * qow * 28 * 2),
      direct: (out) => ex.qim2col(qx, out, qh, qwd, 3, qoh, qow, 3, 2, 1, 1, 28, 9, 0, qoh * qow),
    },
    {
      name: 'qpad16',
      kernel: 'qpad16',
      args: (out) => [qx, out, qh, qwd, qc, qcp, qpad | (1 << 16) | (1 << 24), 100],
      units: qn * qhp,
      align: 1,
      outFloats: qbytes(qn * qhp * qwp * qcp * 4),
      direct: (out) => ex.qpad16(qx, out, qh, qwd, qc, qcp, qpad | (1 << 16) | (1 << 24), 100, 0, qn * qhp),
    },
    {
      name: 'qpad16, even columns only (for stride 2)',
      kernel: 'qpad16',
      args: (out) => [qx, out, qh, qwd, qc, qcp, qpad | (1 << 16) | (2 << 24), 100],
      units: qn * qhp,
      align: 1,
      outFloats: qbytes(qn * qhp * Math.ceil(qwp / 2) * qcp * 4),
      direct: (out) => ex.qpad16(qx, out, qh, qwd, qc, qcp, qpad | (1 << 16) | (2 << 24), 100, 0, qn * qhp),
    },
    {
      name: 'qdepthwise 5x5 stride 1',
      kernel: 'qdepthwise',
      args: (out) => [qxp, qdw, qb, out, qhp, qwp, qc, qcp, qkk, 1, 1, qoh, qow, bits(1e-7), 9, 9],
      units: qn * qoh,
      align: 1,
      outFloats: qbytes(qn * qoh * qow * qc),
      direct: (out) => ex.qdepthwise(qxp, qdw, qb, out, qhp, qwp, qc, qcp, qkk, 1, 1, qoh, qow, bits(1e-7), 9, 9, 0, qn * qoh),
    },
    {
      name: 'qdepthwise 5x5 stride 2 (on an even-column pair image)',
      kernel: 'qdepthwise',
      args: (out) => [qxp, qdw, qb, out, qhp, Math.ceil(qwp / 2), qc, qcp, qkk, 2, 1, qoh, qow, bits(1e-7), 9, 9],
      units: qn * qoh,
      align: 1,
      outFloats: qbytes(qn * qoh * qow * qc),
      direct: (out) => ex.qdepthwise(qxp, qdw, qb, out, qhp, Math.ceil(qwp / 2), qc, qcp, qkk, 2, 1, qoh, qow, bits(1e-7), 9, 9, 0, qn * qoh),
    },
    {
      name: 'qavgpool',
      kernel: 'qavgpool',
      args: (out) => [qx, out, 2, 13, 21, bits(1 / 13), 40],
      units: 21,
      align: 8,
      outFloats: qbytes(2 * 21),
      direct: (out) => ex.qavgpool(qx, out, 2, 13, 21, bits(1 / 13), 40, 0, 21),
    },
    {
      name: 'qmulChannels',
      kernel: 'qmulChannels',
      args: (out) => [qx, qt, out, 11, 21, 30, 7, bits(0.013), 90],
      units: 22,
      align: 1,
      outFloats: qbytes(22 * 21),
      direct: (out) => ex.qmulChannels(qx, qt, out, 11, 21, 30, 7, bits(0.013), 90, 0, 22),
    },
    {
      name: 'qadd',
      kernel: 'qadd',
      args: (out) => [qx, qxp, out, 3000000, 1500000, -(3000000 * 7 + 1500000 * 200), 21, 2 ** 21 - 1, 2 ** 20 - 1, 128],
      units: 1001,
      align: 8,
      outFloats: qbytes(1001),
      direct: (out) => ex.qadd(qx, qxp, out, 3000000, 1500000, -(3000000 * 7 + 1500000 * 200), 21, 2 ** 21 - 1, 2 ** 20 - 1, 128, 0, 1001),
    },
    {
      name: 'qquantize',
      kernel: 'qquantize',
      args: (out) => [qf, out, bits(40), 128],
      units: 1003,
      align: 8,
      outFloats: qbytes(1003),
      direct: (out) => ex.qquantize(qf, out, bits(40), 128, 0, 1003),
    },
    {
      name: 'qtable (in place, chunks of whole cache lines)',
      kernel: 'qtable',
      args: (out) => [out, qt],
      units: 1001,
      align: 64,
      outFloats: qbytes(1001),
      init: (out) => new Uint8Array(memory.buffer).copyWithin(out, qx, qx + 1001),
      direct: (out) => ex.qtable(out, qt, 0, 1001),
    },
  ];
  return [
    ...int8Cases,
    {
      name: 'conv 1x1',
      kernel: 'conv',
      args: (out) => [x, w, bias, res, out, zero, table, 1, p, ci, 1, p, co, 1, 1, 1, 0, 3, p, 0],
      units: p,
      align: 4,
      outFloats: p * co,
      direct: (out) => ex.conv(x, w, bias, res, out, zero, table, 1, p, ci, 1, p, co, 1, 1, 1, 0, 3, p, 0, 0, p),
    },
    {
      name: 'conv 1x1 by blocks of output channels',
      kernel: 'conv',
      args: (out) => [x, w, bias, res, out, zero, table, 1, p, ci, 1, p, co, 1, 1, 1, 0, 3, p, 1],
      units: Math.ceil(co / 8),
      align: 1,
      outFloats: p * co,
      direct: (out) => ex.conv(x, w, bias, res, out, zero, table, 1, p, ci, 1, p, co, 1, 1, 1, 0, 3, p, 0, 0, p),
    },
    {
      name: 'conv 3x3 dilated',
      kernel: 'conv',
      args: (out) => [cx, cwt, bias, 0, out, zero, table, ch, cw, cci, ch, cw, cco, 3, 1, 3, 3, 1, cp, 0],
      units: cp,
      align: 4,
      outFloats: cp * cco,
      direct: (out) => ex.conv(cx, cwt, bias, 0, out, zero, table, ch, cw, cci, ch, cw, cco, 3, 1, 3, 3, 1, cp, 0, 0, cp),
    },
    {
      name: 'conv 3x3 dilated by blocks of output channels',
      kernel: 'conv',
      args: (out) => [cx, cwt2, bias, 0, out, zero, table, ch, cw, cci, ch, cw, 21, 3, 1, 3, 3, 1, cp, 1],
      units: 3,
      align: 1,
      outFloats: cp * 21,
      direct: (out) => ex.conv(cx, cwt2, bias, 0, out, zero, table, ch, cw, cci, ch, cw, 21, 3, 1, 3, 3, 1, cp, 0, 0, cp),
    },
    {
      name: 'depthwise',
      kernel: 'depthwise',
      args: (out) => [dx, dw, db, out, n, h, wd, c, k, 2, 1, 2, oh, ow, 2],
      units: n * oh,
      align: 1,
      outFloats: n * oh * ow * c,
      direct: (out) => ex.depthwise(dx, dw, db, out, n, h, wd, c, k, 2, 1, 2, oh, ow, 2, 0, n * oh),
    },
    {
      name: 'activation',
      kernel: 'activation',
      args: (out) => [ax, out, 1003, 3],
      units: 1003,
      align: 8,
      outFloats: 1003,
      direct: (out) => ex.activation(ax, out, 1003, 3, 0, 1003),
    },
    {
      name: 'meanPixels',
      kernel: 'meanPixels',
      args: (out) => [mx, out, 2, 11, 30],
      units: 30,
      align: 4,
      outFloats: 60,
      direct: (out) => ex.meanPixels(mx, out, 2, 11, 30, 0, 30),
    },
    {
      name: 'scaleChannels',
      kernel: 'scaleChannels',
      args: (out) => [mx, gate, out, 2, 11, 30],
      units: 22,
      align: 1,
      outFloats: 2 * 11 * 30,
      direct: (out) => ex.scaleChannels(mx, gate, out, 2, 11, 30, 0, 22),
    },
  ];
}

const CHUNKS = [1, 2, 3, 5, 8, 64];

function checkAll(): void {
  const out = alloc(8192, 0);
  const ref = alloc(8192, 0);
  for (const cs of cases()) {
    f32.fill(0, ref / 4, ref / 4 + cs.outFloats);
    cs.init?.(ref);
    cs.direct(ref);
    const expected = read(ref, cs.outFloats);
    for (const chunks of CHUNKS) {
      const before = chunksRun();
      const got = split(cs.kernel, cs.args(out), cs.units, cs.align, chunks, out, cs.outFloats, cs.init);
      expect(got, `${cs.name} in ${chunks} chunks`).toEqual(expected);
      expect(chunksRun() - before, `${cs.name}: chunks run`).toBe(chunks);
    }
  }
}

function checkSqueezeExcite(): void {
  const [n, p, c, s] = [2, 11, 30, 10];
  const x = alloc(n * p * c);
  const [w1, b1, w2, b2] = [alloc(c * s), alloc(s), alloc(s * c), alloc(c)];
  const ref = alloc(n * p * c, 0);
  // The reference: the four steps as single direct calls.
  const [rp, rg, rh] = [alloc(n * c, 0), alloc(n * c, 0), alloc(n * s, 0)];
  ex.meanPixels(x, rp, n, p, c, 0, c);
  ex.denseAct(rp, w1, b1, rh, n, c, s, 1, 0, s);
  ex.denseAct(rh, w2, b2, rg, n, s, c, 4, 0, c);
  ex.scaleChannels(x, rg, ref, n, p, c, 0, n * p);
  const out = alloc(n * p * c, 0);
  const [pooled, gate, hidden] = [alloc(n * c, 0), alloc(n * c, 0), alloc(n * s, 0)];
  split('meanPixels', [x, pooled, n, p, c], c, 4, 3, pooled, n * c);
  split('denseAct', [pooled, w1, b1, hidden, n, c, s, 1], s, 4, 2, hidden, n * s);
  split('denseAct', [hidden, w2, b2, gate, n, s, c, 4], c, 4, 5, gate, n * c);
  expect(split('scaleChannels', [x, gate, out, n, p, c], n * p, 1, 5, out, n * p * c)).toEqual(read(ref, n * p * c));
}

describe('kernel dispatch on the calling thread alone', () => {
  it('gives the output of one direct call, whatever the chunks, each chunk run once', () => checkAll());
  it('splits squeeze-excitation into pooling, two layers and scaling with the same output', () => checkSqueezeExcite());
});

describe('kernel dispatch with a worker thread', () => {
  let worker: Worker;
  let exited: Promise<number>;

  beforeAll(async () => {
    worker = new Worker(
      `const { parentPort, workerData: d } = require('node:worker_threads');
       const instance = new WebAssembly.Instance(d.module, { env: { memory: d.memory } });
       parentPort.postMessage('ready');
       instance.exports.workerLoop(d.ctrl, 1, d.spin);`,
      { eval: true, workerData: { module, memory, ctrl: CTRL, spin: 1000 } },
    );
    exited = new Promise((resolve) => worker.once('exit', resolve));
    await new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
  });
  afterAll(async () => {
    await worker.terminate();
  });

  it('gives the output of one direct call, each chunk run once by one of the threads', () => {
    // Repeated, so that jobs meet the worker both spinning and asleep.
    for (let i = 0; i < 20; i++) checkAll();
    checkSqueezeExcite();
  });

  it('stopWorkers makes the worker leave its loop', async () => {
    ex.stopWorkers(CTRL);
    expect(await exited).toBe(0);
  });
});
