// The converted MobileNetV3 on the int8 WASM SIMD kernels of @mnv3/layers (assembly/int8.ts): the
// same integer arithmetic as qnnpack.ts (the reference, and the fallback off the wasm backend), bit
// for bit, with activations uint8 on the tfjs heap from the quant stub to the logits. Weights are
// packed once, here: int8 values widened to int16 in blocks of 8 output channels for the GEMM (7-bit layers also as
// weight + 64 for relaxed SIMD's dot), int16 pairs of taps for depthwise; int32 biases and requantization
// scales are derived for the input scale each layer sees, as QNNPACK's prepack does.
import { f32Bits, type Int8Kernel, type Int8Kernels, int8Kernels } from '@mnv3/layers';
import { type QParams, type QTensor, HARDSIGMOID_QPARAMS, addParams, dequantize, hardsigmoidTable, hardswishTable, requantizationScale } from './qnnpack.js';
import { type QuantizedConv2d, type QuantizedLinear, type QuantizedMobileNetV3, type QuantizedOutput, QuantizedConvNormActivation, QuantizedInvertedResidual } from './quantized.js';

const f32 = Math.fround;

/** An activation on the heap: uint8 `[n, h, w, c]` at `ptr`, in slot `slot` (-1: not a slot). */
interface Act {
  ptr: number;
  slot: number;
  n: number;
  h: number;
  w: number;
  c: number;
  scale: number;
  zeroPoint: number;
}

/** Options of `WasmQuantizedMobileNetV3.create`. */
export interface WasmEngineOptions {
  /**
   * Use relaxed SIMD's int8 dot for layers whose weights fit in 7 bits, when the kernels loaded in
   * their relaxed build (default true). False keeps every layer on the plain-SIMD int16 dot.
   */
  relaxed?: boolean;
}

/** The work of one kernel call, in estimated nanoseconds on one thread (for the pool's split). */
const NS_PER_MAC = 0.12;

class Heap {
  /** Activation slots (uint8), the int16 scratch, the relaxed rows' sums, the float input. */
  private readonly slots = [
    { ptr: 0, bytes: 0 },
    { ptr: 0, bytes: 0 },
    { ptr: 0, bytes: 0 },
  ];
  private readonly scratchRegion = { ptr: 0, bytes: 0 };
  private readonly sumsRegion = { ptr: 0, bytes: 0 };
  private readonly inputRegion = { ptr: 0, bytes: 0 };
  /** Packed weights, biases, tables: kept for the engine's life. */
  private readonly owned: number[] = [];

  constructor(readonly k: Int8Kernels) {}

  private grow(r: { ptr: number; bytes: number }, bytes: number): number {
    if (r.bytes < bytes) {
      if (r.ptr) this.k.free(r.ptr);
      r.ptr = 0;
      r.ptr = this.k.malloc(bytes + 16);
      r.bytes = bytes;
    }
    return r.ptr;
  }

  /** A slot other than `busy` with room for `bytes` (its content is lost). */
  slot(bytes: number, ...busy: number[]): { ptr: number; slot: number } {
    for (let i = 0; i < this.slots.length; i++) {
      if (!busy.includes(i)) return { ptr: this.grow(this.slots[i]!, bytes), slot: i };
    }
    throw new Error('no free activation slot');
  }

  scratch(bytes: number): number {
    return this.grow(this.scratchRegion, bytes);
  }

  sums(bytes: number): number {
    return this.grow(this.sumsRegion, bytes);
  }

  input(bytes: number): number {
    return this.grow(this.inputRegion, bytes);
  }

  /** Copies `data` to a new, kept allocation. */
  keep(data: ArrayBufferView): number {
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const p = this.k.malloc(bytes.length);
    this.owned.push(p);
    this.k.heap().set(bytes, p);
    return p;
  }

  dispose(): void {
    for (const r of [...this.slots, this.scratchRegion, this.sumsRegion, this.inputRegion]) {
      if (r.ptr) this.k.free(r.ptr);
      r.ptr = 0;
      r.bytes = 0;
    }
    for (const p of this.owned) this.k.free(p);
    this.owned.length = 0;
  }
}

const ceil = (a: number, b: number): number => Math.ceil(a / b) * b;

/** `qgemm`'s mode flags (assembly/int8.ts): split by blocks of 8 outputs; int8 weights. */
const QGEMM_BLOCKS = 1;
const QGEMM_W8 = 2;

/**
 * Runs a GEMM over `rows` rows: split by rows (tiles of 4) or, for a few rows, by blocks of 8
 * outputs. `w8`: the weights are packed int8 (`qgemm` only).
 */
function gemmSplit(k: Int8Kernels, kernel: Int8Kernel, args: number[], rows: number, co: number, macs: number, w8 = false): void {
  const byBlocks = rows < 16 ? QGEMM_BLOCKS : 0;
  k.run(kernel, [...args, rows, byBlocks | (w8 ? QGEMM_W8 : 0)], byBlocks ? Math.ceil(co / 8) : rows, byBlocks ? 1 : 4, macs * NS_PER_MAC);
}

/**
 * A fused hardswish / hardsigmoid: `bytes` bytes at `ptr` through the layer's 256-byte table, in
 * place (`qtable`; chunks of whole cache lines, so that threads never share one); no table: nothing.
 */
function applyTable(k: Int8Kernels, table: number, ptr: number, bytes: number): void {
  if (table) k.run('qtable', [ptr, table], bytes, 64, bytes * 0.3);
}

/** A convolution with groups = 1 (any kernel size) or a linear layer, packed for `qgemm` / `qgemm7`. */
class GemmLayer {
  readonly kIn: number;
  readonly kp: number;
  private readonly w: number;
  private readonly bias: number;
  /** Relaxed SIMD: weight + 64 packed by 4, bias with (128 - z)·Σw; 0 when the layer stays on qgemm. */
  private readonly w7: number = 0;
  private readonly bias7: number = 0;
  readonly kq: number;
  private readonly scaleBits: number;
  private readonly table: number;
  readonly co: number;
  readonly out: QParams;

  constructor(
    private readonly heap: Heap,
    readonly layer: QuantizedConv2d | QuantizedLinear,
    readonly input: QParams,
    /** A 256-byte table applied to the outputs (fused hardswish / hardsigmoid), and the qparams it gives. */
    tableAfter: { table: Uint8Array; out: QParams } | null,
    relaxed: boolean,
    /**
     * The layer runs on a few rows (a linear layer or SE's on the batch): its weights are kept
     * int8 (widened in registers), since reading them costs more than widening them; otherwise
     * they are widened to int16 once, here.
     */
    private readonly fewRows = false,
  ) {
    const q = layer.q;
    const [o, ci, kh = 1, kw = 1] = q.weightShape as [number, number, number?, number?];
    this.co = o;
    const taps = kh * kw;
    this.kIn = ci * taps;
    this.kp = ceil(this.kIn, 2);
    this.kq = ceil(this.kIn, 4);
    const blocks = Math.ceil(o / 8);
    // W[o][k], k = (ky·kw + kx)·ci + c: im2col's order.
    const W = (oc: number, kk: number): number => {
      const t = Math.floor(kk / ci);
      const c = kk - t * ci;
      return q.weight[(oc * ci + c) * taps + t]!;
    };
    const packed = fewRows ? new Int8Array(blocks * this.kp * 8) : new Int16Array(blocks * this.kp * 8);
    for (let oc = 0; oc < o; oc++) {
      for (let kk = 0; kk < this.kIn; kk++) packed[((Math.floor(oc / 8) * (this.kp / 2) + (kk >> 1)) * 8 + (oc % 8)) * 2 + (kk & 1)] = W(oc, kk);
    }
    const bias32 = layer.int32Bias(input.scale);
    const bias = new Int32Array(blocks * 8);
    bias.set(bias32);
    this.w = heap.keep(packed);
    this.bias = heap.keep(bias);
    this.scaleBits = f32Bits(requantizationScale(q.weightScale, input.scale, q.scale));
    const convOut = { scale: q.scale, zeroPoint: q.zeroPoint };
    this.out = tableAfter ? tableAfter.out : convOut;
    this.table = tableAfter ? heap.keep(tableAfter.table) : 0;
    this.lo = 'relu' in layer && layer.relu ? q.zeroPoint : 0;
    let sevenBit = relaxed && taps === 1;
    for (let i = 0; sevenBit && i < q.weight.length; i++) if (q.weight[i]! < -64 || q.weight[i]! > 63) sevenBit = false;
    if (sevenBit) {
      const p7 = new Int8Array(blocks * this.kq * 8).fill(64);
      const b7 = new Int32Array(blocks * 8);
      for (let oc = 0; oc < o; oc++) {
        let sum = 0;
        for (let kk = 0; kk < this.kIn; kk++) {
          const v = W(oc, kk);
          sum += v;
          p7[((Math.floor(oc / 8) * (this.kq / 4) + (kk >> 2)) * 8 + (oc % 8)) * 4 + (kk & 3)] = v + 64;
        }
        b7[oc] = bias32[oc]! + (128 - input.zeroPoint) * sum;
      }
      this.w7 = heap.keep(p7);
      this.bias7 = heap.keep(b7);
    }
  }

  private readonly lo: number;

  /** Whether this layer runs relaxed SIMD's dot. */
  get relaxed(): boolean {
    return this.w7 !== 0;
  }

  /** Runs over `rows` rows already in `qwiden` form in the scratch (int16, kp per row). */
  gemm(rows: number, a: number, out: number): void {
    const k = this.heap.k;
    gemmSplit(k, 'qgemm', [a, this.w, this.bias, out, this.kp, this.co, this.scaleBits, this.layer.q.zeroPoint, this.lo], rows, this.co, rows * this.kp * this.co, this.fewRows);
    applyTable(k, this.table, out, rows * this.co);
  }

  /** A 1x1 convolution or linear layer on `rows` rows of x (uint8, kIn per row). */
  pointwise(x: number, rows: number, out: number): void {
    const k = this.heap.k;
    const z = this.input.zeroPoint;
    if (this.w7) {
      const a = this.heap.scratch(rows * this.kq);
      const sums = this.heap.sums(ceil(rows, 4) * 4);
      k.run('qwiden8', [x, a, sums, this.kIn, this.kq], rows, 1, rows * this.kq * 0.3);
      gemmSplit(k, 'qgemm7', [a, sums, this.w7, this.bias7, out, this.kq, this.co, this.scaleBits, this.layer.q.zeroPoint, this.lo], rows, this.co, (rows * this.kq * this.co) / 2);
      applyTable(k, this.table, out, rows * this.co);
      return;
    }
    const a = this.heap.scratch(rows * this.kp * 2);
    k.run('qwiden', [x, a, this.kIn, this.kp, z], rows, 1, rows * this.kp * 0.3);
    this.gemm(rows, a, out);
  }
}

/** A depthwise convolution, weights int16 in pairs of horizontally adjacent taps `[k][ceil(k/2)][cp][2]`. */
class DepthwiseLayer {
  private readonly w: number;
  private readonly bias: number;
  private readonly cp: number;
  private readonly scaleBits: number;
  private readonly table: number;
  private readonly lo: number;
  readonly out: QParams;

  constructor(
    private readonly heap: Heap,
    readonly conv: QuantizedConv2d,
    readonly input: QParams,
    tableAfter: { table: Uint8Array; out: QParams } | null,
  ) {
    const q = conv.q;
    const g = conv.geometry;
    if (g.stride !== 1 && g.stride !== 2) throw new RangeError(`${conv.name}: the int8 depthwise kernel takes stride 1 or 2 (MobileNetV3's), got ${g.stride}`);
    const c = g.outChannels;
    const k = g.kernelSize;
    const kh = Math.ceil(k / 2);
    this.cp = ceil(c, 8);
    // [ky][i][cp][2]: taps kx = 2i and 2i + 1 of each channel as one int16 pair (0 past k)
    const w = new Int16Array(k * kh * this.cp * 2);
    for (let ch = 0; ch < c; ch++) {
      for (let ky = 0; ky < k; ky++) {
        for (let kx = 0; kx < k; kx++) w[((ky * kh + (kx >> 1)) * this.cp + ch) * 2 + (kx & 1)] = q.weight[(ch * k + ky) * k + kx]!;
      }
    }
    const bias = new Int32Array(this.cp);
    bias.set(conv.int32Bias(input.scale));
    this.w = heap.keep(w);
    this.bias = heap.keep(bias);
    this.scaleBits = f32Bits(requantizationScale(q.weightScale, input.scale, q.scale));
    this.out = tableAfter ? tableAfter.out : { scale: q.scale, zeroPoint: q.zeroPoint };
    this.table = tableAfter ? heap.keep(tableAfter.table) : 0;
    this.lo = conv.relu ? q.zeroPoint : 0;
  }

  forward(x: Act, busy: number[]): Act {
    const k = this.heap.k;
    const g = this.conv.geometry;
    const pad = g.padding;
    const hp = x.h + 2 * pad;
    // The pair image's columns are `stride` apart (a stride-2 convolution reads the even ones
    // only), so that consecutive output pixels read consecutive pixels of it.
    const wq = Math.ceil((x.w + 2 * pad) / g.stride);
    const xp = this.heap.scratch(x.n * hp * wq * this.cp * 4);
    k.run('qpad16', [x.ptr, xp, x.h, x.w, x.c, this.cp, pad | (g.dilation << 16) | (g.stride << 24), x.zeroPoint], x.n * hp, 1, x.n * hp * wq * this.cp * 0.4);
    const oh = Math.floor((x.h + 2 * pad - g.dilation * (g.kernelSize - 1) - 1) / g.stride) + 1;
    const ow = Math.floor((x.w + 2 * pad - g.dilation * (g.kernelSize - 1) - 1) / g.stride) + 1;
    const o = this.heap.slot(x.n * oh * ow * x.c, ...busy);
    k.run(
      'qdepthwise',
      [xp, this.w, this.bias, o.ptr, hp, wq, x.c, this.cp, g.kernelSize, g.stride, g.dilation, oh, ow, this.scaleBits, this.conv.q.zeroPoint, this.lo],
      x.n * oh,
      1,
      x.n * oh * ow * this.cp * g.kernelSize * g.kernelSize * 0.06,
    );
    applyTable(k, this.table, o.ptr, x.n * oh * ow * x.c);
    return { ptr: o.ptr, slot: o.slot, n: x.n, h: oh, w: ow, c: x.c, ...this.out };
  }
}

/** A `Conv2dNormActivation` with groups = 1: 1x1 as a GEMM on x's rows, k×k through im2col. */
class ConvLayer {
  constructor(
    private readonly heap: Heap,
    readonly gemm: GemmLayer,
    readonly conv: QuantizedConv2d,
  ) {}

  forward(x: Act, busy: number[]): Act {
    const g = this.conv.geometry;
    const oh = Math.floor((x.h + 2 * g.padding - g.dilation * (g.kernelSize - 1) - 1) / g.stride) + 1;
    const ow = Math.floor((x.w + 2 * g.padding - g.dilation * (g.kernelSize - 1) - 1) / g.stride) + 1;
    const rows = x.n * oh * ow;
    const o = this.heap.slot(rows * g.outChannels, ...busy);
    if (g.kernelSize === 1 && g.stride === 1 && g.padding === 0) {
      this.gemm.pointwise(x.ptr, rows, o.ptr);
    } else {
      const kp = this.gemm.kp;
      const a = this.heap.scratch(rows * kp * 2);
      this.heap.k.run('qim2col', [x.ptr, a, x.h, x.w, x.c, oh, ow, g.kernelSize, g.stride, g.dilation, g.padding, kp, x.zeroPoint], rows, 1, rows * kp * 1);
      this.gemm.gemm(rows, a, o.ptr);
    }
    return { ptr: o.ptr, slot: o.slot, n: x.n, h: oh, w: ow, c: g.outChannels, ...this.gemm.out };
  }
}

/** QNNPACK's global average pool: `[n, h, w, c]` → `[n, 1, 1, c]` (a 1×1 map is returned as is). */
function avgPool(heap: Heap, x: Act, busy: number[]): Act {
  const p = x.h * x.w;
  if (p === 1) return x;
  const s = f32(x.scale);
  const scale = f32(s / f32(s * p));
  const o = heap.slot(x.n * x.c, ...busy);
  heap.k.run('qavgpool', [x.ptr, o.ptr, x.n, p, x.c, f32Bits(scale), x.zeroPoint], x.c, 8, x.n * p * x.c * 0.3);
  return { ...x, ptr: o.ptr, slot: o.slot, h: 1, w: 1 };
}

class SqueezeExcitationLayer {
  private readonly multBits: number;
  constructor(
    private readonly heap: Heap,
    readonly fc1: GemmLayer,
    readonly fc2: GemmLayer,
    readonly input: QParams,
    readonly out: QParams,
  ) {
    const gate = fc2.out;
    this.multBits = f32Bits(f32(f32(f32(gate.scale) * f32(input.scale)) * f32(1 / f32(out.scale))));
  }

  forward(x: Act, busy: number[]): Act {
    const pooled = avgPool(this.heap, x, [...busy, x.slot]);
    const s1 = this.heap.slot(x.n * this.fc1.co, ...busy, x.slot);
    this.fc1.pointwise(pooled.ptr, x.n, s1.ptr);
    // fc1's output slot is free again once fc2 has widened it into the scratch
    const s2 = this.heap.slot(x.n * this.fc2.co, ...busy, x.slot);
    this.fc2.pointwise(s1.ptr, x.n, s2.ptr);
    const p = x.h * x.w;
    this.heap.k.run('qmulChannels', [x.ptr, s2.ptr, x.ptr, p, x.c, x.zeroPoint, this.fc2.out.zeroPoint, this.multBits, this.out.zeroPoint], x.n * p, 1, x.n * p * x.c * 0.5);
    return { ...x, ...this.out };
  }
}

type Layer = ConvLayer | DepthwiseLayer | SqueezeExcitationLayer;

class BlockLayer {
  private readonly add: ReturnType<typeof addParams> | null;
  constructor(
    private readonly heap: Heap,
    readonly layers: readonly Layer[],
    readonly input: QParams,
    readonly skipAdd: QParams | null,
  ) {
    const last = layers[layers.length - 1]!;
    const y = last instanceof ConvLayer ? last.gemm.out : last.out;
    this.add = skipAdd ? addParams(input, y, skipAdd) : null;
    this.out = skipAdd ?? y;
  }

  readonly out: QParams;

  forward(x: Act): Act {
    let y = x;
    for (const l of this.layers) y = l.forward(y, y === x ? [x.slot] : [x.slot, y.slot]);
    if (this.add) {
      const p = this.add;
      const n = y.n * y.h * y.w * y.c;
      this.heap.k.run('qadd', [x.ptr, y.ptr, y.ptr, p.aMultiplier, p.bMultiplier, p.zeroPointProduct, p.shift, p.remainderMask, p.remainderThreshold, this.skipAdd!.zeroPoint], n, 8, n * 0.5);
      return { ...y, ...this.skipAdd! };
    }
    return y;
  }
}

type Feature = ConvLayer | DepthwiseLayer | BlockLayer;

const runFeature = (f: Feature, a: Act): Act => (f instanceof BlockLayer ? f.forward(a) : f.forward(a, [a.slot]));

/**
 * TorchVision's converted quantized MobileNetV3 on the int8 WASM SIMD kernels: outputs equal to
 * `QuantizedMobileNetV3.forward` (and so to torch's qnnpack engine) bit for bit. Needs tfjs' `wasm`
 * backend (the kernels live on its heap); `dispose()` frees what it holds there.
 *
 * @example
 * const engine = WasmQuantizedMobileNetV3.create(convert(qat)); // null off the wasm backend
 * const { logits } = engine!.forward(pixels, [1, 224, 224, 3]); // Float32Array [1 × 1000]
 */
export class WasmQuantizedMobileNetV3 {
  private readonly heap: Heap;
  private readonly features: Feature[] = [];
  private readonly head: { fc1: GemmLayer; fc2: GemmLayer };
  private disposed = false;

  private constructor(
    readonly model: QuantizedMobileNetV3,
    k: Int8Kernels,
    relaxed: boolean,
  ) {
    this.heap = new Heap(k);
    const heap = this.heap;
    let q: QParams = model.quant;
    const convLayer = (l: QuantizedConvNormActivation, input: QParams): ConvLayer | DepthwiseLayer => {
      const conv = l.conv;
      const convOut = { scale: conv.q.scale, zeroPoint: conv.q.zeroPoint };
      const table = l.hardswish ? { table: hardswishTable(convOut, l.hardswish.out), out: l.hardswish.out } : null;
      const g = conv.geometry;
      if (g.groups === 1) return new ConvLayer(heap, new GemmLayer(heap, conv, input, table, relaxed), conv);
      if (g.groups === g.inChannels && g.groups === g.outChannels) return new DepthwiseLayer(heap, conv, input, table);
      throw new RangeError(`${conv.name}: grouped convolutions other than depthwise are not in MobileNetV3`);
    };
    const outOf = (l: Layer): QParams => (l instanceof ConvLayer ? l.gemm.out : l.out);
    for (const f of model.features) {
      if (f instanceof QuantizedConvNormActivation) {
        const c = convLayer(f, q);
        this.features.push(c);
        q = outOf(c);
        continue;
      }
      const input = q;
      const layers: Layer[] = [];
      for (const l of f.layers) {
        if (l instanceof QuantizedConvNormActivation) {
          const c = convLayer(l, q);
          layers.push(c);
          q = outOf(c);
        } else {
          const fc1 = new GemmLayer(heap, l.fc1, q, null, relaxed, true);
          const gateIn = { scale: l.fc2.q.scale, zeroPoint: l.fc2.q.zeroPoint };
          const fc2 = new GemmLayer(heap, l.fc2, fc1.out, { table: hardsigmoidTable(gateIn), out: HARDSIGMOID_QPARAMS }, relaxed, true);
          layers.push(new SqueezeExcitationLayer(heap, fc1, fc2, q, l.skipMul));
          q = l.skipMul;
        }
      }
      const b = new BlockLayer(heap, layers, input, f instanceof QuantizedInvertedResidual ? f.skipAdd : null);
      this.features.push(b);
      q = b.out;
    }
    const c = model.classifier;
    const fc1Out = { scale: c.fc1.q.scale, zeroPoint: c.fc1.q.zeroPoint };
    const fc1 = new GemmLayer(heap, c.fc1, q, { table: hardswishTable(fc1Out, c.hardswish.out), out: c.hardswish.out }, relaxed, true);
    const fc2 = new GemmLayer(heap, c.fc2, fc1.out, null, relaxed, true);
    this.head = { fc1, fc2 };
  }

  /**
   * The engine for a converted model on the current tfjs backend's int8 kernels, or null when they
   * are not available (a backend other than `wasm`, no WASM SIMD): then run `model.forward`.
   */
  static create(model: QuantizedMobileNetV3, options: WasmEngineOptions = {}): WasmQuantizedMobileNetV3 | null {
    const k = int8Kernels();
    if (!k) return null;
    return new WasmQuantizedMobileNetV3(model, k, (options.relaxed ?? true) && k.relaxed);
  }

  /** Whether the kernels are the relaxed-SIMD build. */
  get relaxedBuild(): boolean {
    return this.heap.k.relaxed;
  }

  /** Names of the layers that run relaxed SIMD's int8 dot (weights within 7 bits, relaxed build). */
  relaxedLayers(): string[] {
    const names: string[] = [];
    const visit = (g: GemmLayer): void => {
      if (g.relaxed) names.push(g.layer.name);
    };
    for (const f of this.features) {
      const layers = f instanceof BlockLayer ? f.layers : [f];
      for (const l of layers) {
        if (l instanceof ConvLayer) visit(l.gemm);
        else if (l instanceof SqueezeExcitationLayer) {
          visit(l.fc1);
          visit(l.fc2);
        }
      }
    }
    visit(this.head.fc1);
    visit(this.head.fc2);
    return names;
  }

  private check(): void {
    if (this.disposed) throw new Error('this WasmQuantizedMobileNetV3 was disposed');
  }

  private put(x: QTensor): Act {
    const [n, h, w, c] = (x.shape.length === 2 ? [x.shape[0], 1, 1, x.shape[1]] : x.shape) as [number, number, number, number];
    const s = this.heap.slot(x.data.length);
    this.heap.k.heap().set(x.data, s.ptr);
    return { ptr: s.ptr, slot: s.slot, n, h, w, c, scale: x.scale, zeroPoint: x.zeroPoint };
  }

  private get(a: Act, shape: readonly number[]): QTensor {
    const bytes = a.n * a.h * a.w * a.c;
    return { data: this.heap.k.heap().slice(a.ptr, a.ptr + bytes), shape, scale: a.scale, zeroPoint: a.zeroPoint };
  }

  private quantize(x: Float32Array, shape: readonly [number, number, number, number]): Act {
    const [n, h, w, c] = shape;
    if (shape.length !== 4 || c !== 3 || x.length !== n * h * w * 3) {
      throw new RangeError(`expected float32 NHWC [N, H, W, 3] images, got shape [${shape.join(', ')}] with ${x.length} values`);
    }
    const inp = this.heap.input(x.length * 4);
    const o = this.heap.slot(x.length);
    const heap = this.heap.k.heap();
    new Float32Array(heap.buffer, inp, x.length).set(x);
    const q = this.model.quant;
    this.heap.k.run('qquantize', [inp, o.ptr, f32Bits(f32(1 / f32(q.scale))), q.zeroPoint], x.length, 8, x.length * 0.3);
    return { ptr: o.ptr, slot: o.slot, n, h, w, c, scale: q.scale, zeroPoint: q.zeroPoint };
  }

  private runHead(x: Act): Act {
    const pooled = avgPool(this.heap, x, [x.slot]);
    const { fc1, fc2 } = this.head;
    const h1 = this.heap.slot(x.n * fc1.co, pooled.slot);
    fc1.pointwise(pooled.ptr, x.n, h1.ptr);
    const out = this.heap.slot(x.n * fc2.co, h1.slot);
    fc2.pointwise(h1.ptr, x.n, out.ptr);
    return { ptr: out.ptr, slot: out.slot, n: x.n, h: 1, w: 1, c: fc2.co, ...fc2.out };
  }

  /** QuantStub on the kernels: float32 NHWC `[N, H, W, 3]` → quint8 (as `QuantizedMobileNetV3.quantize`). */
  quantizeInput(x: Float32Array, shape: readonly [number, number, number, number]): QTensor {
    this.check();
    const a = this.quantize(x, shape);
    return this.get(a, shape);
  }

  /** Features `[from, to)` on a quantized NHWC map (as `QuantizedMobileNetV3.features[i].forward` in turn). */
  forwardFeatures(x: QTensor, from = 0, to = this.features.length): QTensor {
    this.check();
    let a = this.put(x);
    for (let i = from; i < to; i++) a = runFeature(this.features[i]!, a);
    return this.get(a, [a.n, a.h, a.w, a.c]);
  }

  /** Pool and classifier on the features map: `[N, numClasses]` quantized logits (as `forwardHead`). */
  forwardHead(features: QTensor): QTensor {
    this.check();
    const a = this.runHead(this.put(features));
    return this.get(a, [a.n, a.c]);
  }

  /**
   * Classifies float32 NHWC images `[N, H, W, 3]` (normalised as the weights' preset says): the
   * quantized logits and their dequantized values, as `QuantizedMobileNetV3.forward`.
   */
  forward(x: Float32Array, shape: readonly [number, number, number, number]): QuantizedOutput {
    this.check();
    let a = this.quantize(x, shape);
    for (const f of this.features) a = runFeature(f, a);
    const q = this.get(this.runHead(a), [shape[0], this.model.numClasses]);
    return { quantized: q, logits: dequantize(q) };
  }

  /** Frees the packed weights and buffers on the tfjs heap. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.heap.dispose();
  }
}
