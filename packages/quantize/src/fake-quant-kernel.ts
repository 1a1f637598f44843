// ↔ aten/src/ATen/native/quantized/cpu/fused_obs_fake_quant.cpp (`fused_moving_avg_obs_fake_quant`
// per tensor) and quant_utils.h `ChooseQuantizationParams`, as one tfjs kernel on the wasm backend.
// With tf ops the observer + qparams + fake quant is ~70 tiny kernels per fake quant (a QAT step of
// MobileNetV3-Small ran 34k kernels, 5× the float step); here it is one pass over the tensor in
// wasm memory, read and written in place (no device sync: the wasm backend's data lives in this
// process), and the qparams are computed in double as torch does.
import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { getKernelMode } from '@mnv3/layers';
import { movingAverage } from './observer.js';
import { rint } from './qnnpack.js';

export const Mnv3FusedObsFakeQuant = 'Mnv3FusedObsFakeQuant';

const f32 = Math.fround;
/** quant_utils.h's `SMALL_SCALE_THRESHOLD` (6.1e-5f). */
export const SMALL_SCALE_THRESHOLD = f32(6.1e-5);

/**
 * quant_utils.h's `ChooseQuantizationParams(min, max, qmin, qmax, preserve_sparsity)` (no reduce
 * range, no power-of-two scale), float and double steps as in C++: [min, max] widened to hold 0
 * (made symmetric with `preserveSparsity` when it straddles 0), scale in double then rounded to float
 * (0.1 when it vanishes, raised to 6.1e-5 with the range widened when smaller), the zero point from
 * the end with the smaller error, nudged to an integer in [qmin, qmax] (half to even).
 */
export function chooseQuantizationParams(minIn: number, maxIn: number, qmin: number, qmax: number, preserveSparsity: boolean): { scale: number; zeroPoint: number } {
  if (!(minIn <= maxIn)) throw new RangeError(`ChooseQuantizationParams: min ${minIn} should be less than max ${maxIn}`);
  let min = f32(minIn);
  let max = f32(maxIn);
  if (min < 0 && max > 0 && preserveSparsity) {
    const symQmin = -(Math.trunc((qmax - qmin) / 2) + 1);
    const symQmax = Math.trunc((qmax - qmin) / 2);
    const maxScale = Math.max(Math.abs(f32(min / symQmin)), Math.abs(f32(max / symQmax)));
    min = f32(maxScale * symQmin);
    max = f32(maxScale * symQmax);
  }
  min = Math.min(min, 0);
  max = Math.max(max, 0);
  let scale = (max - min) / (qmax - qmin);
  if (f32(scale) === 0 || !Number.isFinite(f32(1 / f32(scale)))) scale = 0.1;
  if (scale < SMALL_SCALE_THRESHOLD) {
    const org = f32(scale);
    scale = SMALL_SCALE_THRESHOLD;
    if (min === 0) max = f32(SMALL_SCALE_THRESHOLD * (qmax - qmin));
    else if (max === 0) min = f32(-SMALL_SCALE_THRESHOLD * (qmax - qmin));
    else {
      const amplifier = f32(SMALL_SCALE_THRESHOLD / org);
      min = f32(min * amplifier);
      max = f32(max * amplifier);
    }
  }
  const fromMin = qmin - min / scale;
  const fromMax = qmax - max / scale;
  const errMin = Math.abs(qmin) - Math.abs(min / scale);
  const errMax = Math.abs(qmax) - Math.abs(max / scale);
  let initial = errMin < errMax ? fromMin : fromMax;
  if (min < 0 && max > 0 && preserveSparsity) initial = (qmin + qmax) / 2;
  const zeroPoint = initial < qmin ? qmin : initial > qmax ? qmax : rint(initial);
  return { scale: f32(scale), zeroPoint: zeroPoint === 0 ? 0 : zeroPoint };
}

interface Attrs {
  observe: boolean;
  fakeQuant: boolean;
  qmin: number;
  qmax: number;
  symmetric: boolean;
  averagingConstant: number;
}

interface WasmBackend {
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array;
}

/**
 * Outputs `[y, mask, min, max, scale, zeroPoint]`: the fake-quantized `x` (or a copy of it when fake
 * quant is off), the straight-through mask (1 where the unclamped level is in range), and the
 * observer's new state (min / max 0-d; scale / zero point `[1]`, unchanged when fake quant is off).
 */
const kernelFunc = ({ inputs, backend, attrs }: Parameters<KernelFunc>[0]): TensorInfo[] => {
  const be = backend as unknown as WasmBackend;
  const { x, min, max, scale, zeroPoint } = inputs as Record<'x' | 'min' | 'max' | 'scale' | 'zeroPoint', TensorInfo>;
  const a = attrs as unknown as Attrs;
  // Outputs first: making them can grow the heap, which detaches earlier views.
  const outs = [be.makeOutput([...x!.shape], 'float32'), be.makeOutput([...x!.shape], 'float32'), be.makeOutput([], 'float32'), be.makeOutput([], 'float32'), be.makeOutput([1], 'float32'), be.makeOutput([1], 'float32')];
  const [y, mask, outMin, outMax, outScale, outZp] = outs.map((t) => be.typedArrayFromHeap(t)) as Float32Array[];
  const xs = be.typedArrayFromHeap(x!);
  let lo = be.typedArrayFromHeap(min!)[0]!;
  let hi = be.typedArrayFromHeap(max!)[0]!;
  let s = be.typedArrayFromHeap(scale!)[0]!;
  let zp = be.typedArrayFromHeap(zeroPoint!)[0]!;
  if (a.observe) {
    // at::aminmax, then the moving average (the first observation takes the batch's values).
    let cLo = Infinity;
    let cHi = -Infinity;
    for (let i = 0; i < xs.length; i++) {
      const v = xs[i]!;
      if (v < cLo) cLo = v;
      if (v > cHi) cHi = v;
    }
    lo = lo === Infinity || lo === -Infinity ? cLo : movingAverage(lo, cLo, a.averagingConstant);
    hi = hi === Infinity || hi === -Infinity ? cHi : movingAverage(hi, cHi, a.averagingConstant);
  }
  outMin![0] = lo;
  outMax![0] = hi;
  if (a.fakeQuant) {
    ({ scale: s, zeroPoint: zp } = chooseQuantizationParams(lo, hi, a.qmin, a.qmax, a.symmetric));
    // fake_quantize_tensor_cachemask_tensor_qparams_kernel: qval = zp + nearbyint(x · (1.0f / scale)).
    const inv = f32(1 / s);
    const { qmin, qmax } = a;
    const n = xs.length;
    for (let i = 0; i < n; i++) {
      // rint inline (floor(v + 0.5), ties back to even; exact in double for float32 v): this loop
      // runs over every activation of the model, and this form is 2–3× faster than Math.round + rint.
      const v = f32(xs[i]! * inv);
      let r = Math.floor(v + 0.5);
      if (r - v === 0.5 && (r & 1) !== 0) r -= 1;
      const q = zp + r;
      const inRange = q >= qmin && q <= qmax;
      // (clamped − zp) · scale in double, rounded to float32 by the store, as C++ converts it.
      y![i] = ((inRange ? q : q < qmin ? qmin : qmax) - zp) * s;
      mask![i] = inRange ? 1 : 0;
    }
  } else {
    y!.set(xs);
    mask!.fill(1);
  }
  outScale![0] = s;
  outZp![0] = zp;
  return outs;
};

let registered = false;

/** Registers the kernel for tfjs' wasm backend (idempotent); other backends use the tf-ops form. */
export function registerFakeQuantKernel(): void {
  if (registered) return;
  registered = true;
  const config: KernelConfig = { kernelName: Mnv3FusedObsFakeQuant, backendName: 'wasm', kernelFunc: kernelFunc as unknown as KernelFunc };
  tf.registerKernel(config);
}

/** Whether the fused kernel runs: on the wasm backend, unless the layers run plain tf ops (`setKernelMode('plain')`). */
export function fusedKernelAvailable(): boolean {
  return tf.getBackend() === 'wasm' && getKernelMode() === 'fast';
}
