/**
 * Gradient configs for the kernels training uses, registered with `tf.registerGradient`.
 *
 * Why: tfjs-core's Node entry (`dist/tf-core.node.js`, CommonJS) registers no gradient at all, and
 * its ESM `register_all_gradients.js` cannot be imported by Node (extensionless relative imports),
 * so `tf.grads` fails there ("gradient function not found for Sum"). Browser bundles take tfjs'
 * ESM entry, which registers tfjs' own configs: registration here never replaces a config that
 * exists, so there tfjs' own run, and these fill in only what is missing.
 *
 * The configs below are ports of tfjs-core 4.22's `src/gradients/*_grad.ts`
 * (https://github.com/tensorflow/tfjs/tree/tfjs-v4.22.0/tfjs-core/src/gradients), Copyright 2020
 * Google LLC, licensed under the Apache License, Version 2.0
 * (http://www.apache.org/licenses/LICENSE-2.0), changed only to call tfjs' public API: ops tfjs
 * does not export (`conv2DBackpropFilter`, `avgPoolGrad`, …) run their kernels directly. One
 * change of behaviour: Conv2D and DepthwiseConv2dNative accept dilation > 1 on backends whose
 * backprop kernels honour it (ours on `wasm`, see `markDilatedBackprop`); tfjs' refuse it and
 * tfjs-backend-cpu's kernels ignore it, so elsewhere the tfjs error stands.
 */
import * as tf from '@tensorflow/tfjs-core';
import { backend_util, getGradient, registerGradient, slice_util, util, type GradConfig, type NamedAttrMap, type Tensor } from '@tensorflow/tfjs-core';

type Grads = Record<string, () => Tensor>;
const { assertAndGetBroadcastShape, getReductionAxes } = backend_util;

/** `dy` summed over the axes `shape` was broadcast along, then reshaped to `shape`. */
function unbroadcast(dy: Tensor, shape: number[], outShape: number[]): Tensor {
  const axes = getReductionAxes(shape, outShape);
  return tf.reshape(axes.length > 0 ? tf.sum(dy, axes) : dy, shape);
}

const run = (name: string, inputs: tf.NamedTensorMap, attrs: object): Tensor =>
  tf.engine().runKernel(name, inputs, attrs as NamedAttrMap) as Tensor;

/** Backends whose backprop kernels honour `dilations` (registered by our training kernels). */
const dilatedBackprop = new Set<string>();

/** Declares that `backend`'s Conv2DBackprop… and DepthwiseConv2dNativeBackprop… kernels take dilations. */
export function markDilatedBackprop(backend: string): void {
  dilatedBackprop.add(backend);
}

function assertDilations(op: string, dilations: number | [number, number] | undefined): [number, number] {
  const d: [number, number] = dilations == null ? [1, 1] : typeof dilations === 'number' ? [dilations, dilations] : dilations;
  util.assert(
    backend_util.tupleValuesAreOne(d) || dilatedBackprop.has(tf.getBackend()),
    () => `Error in gradient of ${op}: dilation rates greater than 1 are not yet supported in gradients on the ${tf.getBackend()} backend. Got dilations '${d}'`,
  );
  return d;
}

const binary = (kernelName: string, da: (dy: Tensor, a: Tensor, b: Tensor) => Tensor, db: (dy: Tensor, a: Tensor, b: Tensor) => Tensor): GradConfig => ({
  kernelName,
  inputsToSave: ['a', 'b'],
  gradFunc: (dy, saved) => {
    const [a, b] = saved as [Tensor, Tensor];
    const out = assertAndGetBroadcastShape(a.shape, b.shape);
    return { a: () => unbroadcast(da(dy as Tensor, a, b), a.shape, out), b: () => unbroadcast(db(dy as Tensor, a, b), b.shape, out) };
  },
});

const unary = (kernelName: string, save: 'x' | 'y' | null, dx: (dy: Tensor, saved: Tensor) => Tensor, inputName = 'x'): GradConfig => ({
  kernelName,
  ...(save === 'x' ? { inputsToSave: ['x'] } : save === 'y' ? { outputsToSave: [true] } : {}),
  gradFunc: (dy, saved) => ({ [inputName]: () => dx(dy as Tensor, (saved as Tensor[])[0]!) }),
});

const f32 = (t: Tensor) => tf.cast(t, 'float32');

/** Gradients of a kernel whose inputs are a list (AddN, Concat, Pack): keyed by position. */
const indexed = (grads: (() => Tensor)[]): Grads => Object.fromEntries(grads.map((g, i) => [String(i), g]));

/** `dy` reshaped to keep the reduced axes as 1s, so it broadcasts over `x`. */
function expandReduced(dy: Tensor, x: Tensor, axes: number[]): Tensor {
  const shape = x.shape.slice();
  for (const a of axes) shape[a] = 1;
  return tf.reshape(dy, shape);
}

function minMaxGrad(dy: Tensor, y: Tensor, x: Tensor, axes: number[]): Tensor {
  const yk = y.rank < x.rank ? tf.reshape(y, backend_util.expandShapeToKeepDim(y.shape, axes)) : y;
  const dyk = dy.rank < x.rank ? tf.reshape(dy, backend_util.expandShapeToKeepDim(dy.shape, axes)) : dy;
  return tf.mul(dyk, tf.cast(tf.equal(x, yk), dy.dtype));
}

const CONFIGS: GradConfig[] = [
  unary('Abs', 'x', (dy, x) => tf.mul(dy, tf.step(f32(x), -1))),
  binary('Add', (dy) => dy, (dy) => dy),
  { kernelName: 'AddN', saveAllInputs: true, gradFunc: (dy, saved) => indexed((saved as Tensor[]).map(() => () => (dy as Tensor).clone())) },
  binary('Sub', (dy) => dy, (dy) => tf.neg(dy)),
  binary('Multiply', (dy, _a, b) => tf.mul(dy, f32(b)), (dy, a) => tf.mul(dy, f32(a))),
  binary('RealDiv', (dy, _a, b) => tf.div(dy, f32(b)), (dy, a, b) => tf.neg(tf.div(tf.mul(dy, f32(a)), f32(tf.square(b))))),
  binary('Maximum', (dy, a, b) => tf.mul(dy, f32(tf.greaterEqual(a, b))), (dy, a, b) => tf.mul(dy, f32(tf.less(a, b)))),
  binary('Minimum', (dy, a, b) => tf.mul(dy, f32(tf.lessEqual(a, b))), (dy, a, b) => tf.mul(dy, f32(tf.greater(a, b)))),
  binary('SquaredDifference', (dy, a, b) => tf.mul(dy, tf.mul(2, tf.sub(a, b))), (dy, a, b) => tf.mul(dy, tf.mul(2, tf.sub(b, a)))),
  {
    kernelName: 'Pow',
    inputsToSave: ['a', 'b'],
    outputsToSave: [true],
    gradFunc: (dy, saved) => {
      const [a, b, y] = saved as [Tensor, Tensor, Tensor];
      const out = assertAndGetBroadcastShape(a.shape, b.shape);
      return {
        a: () => unbroadcast(tf.mul(dy as Tensor, tf.mul(f32(b), tf.pow(a, tf.sub(f32(b), 1)))), a.shape, out),
        b: () => unbroadcast(tf.mul(dy as Tensor, tf.mul(y, tf.where(tf.greater(a, 0), tf.log(a), tf.zerosLike(a)))), b.shape, out),
      };
    },
  },
  unary('Neg', null, (dy) => tf.neg(dy)),
  unary('Square', 'x', (dy, x) => tf.mul(dy, tf.mul(f32(x), 2))),
  unary('Sqrt', 'x', (dy, x) => tf.div(dy, tf.mul(tf.sqrt(f32(x)), 2))),
  unary('Rsqrt', 'x', (dy, x) => tf.neg(tf.div(dy, tf.mul(tf.pow(x, 1.5), 2)))),
  unary('Reciprocal', 'x', (dy, x) => tf.div(dy, tf.neg(tf.square(x)))),
  unary('Exp', 'y', (dy, y) => tf.mul(dy, y)),
  unary('Log', 'x', (dy, x) => tf.div(dy, f32(x))),
  unary('Log1p', 'x', (dy, x) => tf.div(dy, tf.add(x, 1))),
  unary('Tanh', 'y', (dy, y) => tf.mul(tf.sub(1, tf.square(y)), dy)),
  unary('Sigmoid', 'y', (dy, y) => tf.mul(dy, tf.mul(y, tf.sub(1, y)))),
  unary('Softplus', 'x', (dy, x) => tf.mul(dy, tf.sigmoid(x))),
  unary('Relu', 'x', (dy, x) => tf.mul(dy, f32(tf.step(x)))),
  unary('Relu6', 'x', (dy, x) => tf.mul(dy, f32(tf.mul(tf.lessEqual(x, 6), tf.step(x))))),
  {
    kernelName: 'LeakyRelu',
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved as [Tensor];
      const mask = tf.greater(x, 0);
      return { x: () => tf.where(mask, dy as Tensor, tf.mul(dy as Tensor, (attrs as { alpha: number }).alpha)) };
    },
  },
  unary('Step', null, (dy) => tf.zerosLike(dy)),
  // Comparisons are piecewise constant: zero gradients (tfjs registers GreaterEqual's alone, so a
  // mask made with another comparison stopped tf.grads).
  ...['Greater', 'GreaterEqual', 'Less', 'LessEqual', 'Equal', 'NotEqual', 'LogicalAnd', 'LogicalOr'].map(
    (kernelName): GradConfig => ({
      kernelName,
      inputsToSave: ['a', 'b'],
      gradFunc: (_dy, saved) => ({ a: () => tf.zerosLike((saved as Tensor[])[0]!), b: () => tf.zerosLike((saved as Tensor[])[1]!) }),
    }),
  ),
  { kernelName: 'LogicalNot', inputsToSave: ['x'], gradFunc: (_dy, saved) => ({ x: () => tf.zerosLike((saved as Tensor[])[0]!) }) },
  unary('OnesLike', null, (dy) => tf.zerosLike(dy)),
  unary('ZerosLike', null, (dy) => tf.zerosLike(dy)),
  unary('Floor', null, (dy) => tf.zerosLike(dy)),
  unary('Ceil', null, (dy) => tf.zerosLike(dy)),
  unary('Round', null, (dy) => tf.zerosLike(dy)),
  unary('Sign', null, (dy) => tf.zerosLike(dy)),
  unary('Identity', null, (dy) => f32(dy)),
  unary('Cast', null, (dy) => dy.clone()),
  {
    kernelName: 'ClipByValue',
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved as [Tensor];
      const { clipValueMin, clipValueMax } = attrs as { clipValueMin: number; clipValueMax: number };
      return { x: () => tf.where(tf.logicalAnd(tf.greaterEqual(x, clipValueMin), tf.lessEqual(x, clipValueMax)), dy as Tensor, tf.zerosLike(dy as Tensor)) };
    },
  },
  {
    kernelName: 'Select',
    inputsToSave: ['condition'],
    gradFunc: (dy, saved) => {
      const [condition] = saved as [Tensor];
      const d = dy as Tensor;
      return {
        condition: () => f32(tf.zerosLike(condition)),
        t: () => tf.mul(d, tf.cast(condition, d.dtype)),
        e: () => tf.mul(d, tf.cast(tf.logicalNot(condition), d.dtype)),
      };
    },
  },
  {
    kernelName: 'Sum',
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved as [Tensor];
      const axes = util.parseAxisParam((attrs as { axis: number | number[] }).axis, x.shape);
      return { x: () => tf.mul(expandReduced(dy as Tensor, x, axes), tf.ones(x.shape, 'float32')) };
    },
  },
  {
    kernelName: 'Mean',
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved as [Tensor];
      const axes = util.parseAxisParam((attrs as { axis: number | number[] }).axis, x.shape);
      const reduceSize = util.sizeFromShape(backend_util.computeOutAndReduceShapes(x.shape, axes)[1]);
      return { x: () => tf.div(tf.mul(expandReduced(dy as Tensor, x, axes), tf.ones(x.shape, 'float32')), reduceSize) };
    },
  },
  {
    kernelName: 'Max',
    inputsToSave: ['x'],
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => {
      const [x, y] = saved as [Tensor, Tensor];
      const axes = util.parseAxisParam((attrs as { reductionIndices: number | number[] }).reductionIndices, x.shape);
      return { x: () => minMaxGrad(dy as Tensor, y, x, axes) };
    },
  },
  {
    kernelName: 'Min',
    inputsToSave: ['x'],
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => {
      const [x, y] = saved as [Tensor, Tensor];
      const axes = util.parseAxisParam((attrs as { axis: number | number[] }).axis, x.shape);
      return { x: () => minMaxGrad(dy as Tensor, y, x, axes) };
    },
  },
  { kernelName: 'Reshape', inputsToSave: ['x'], gradFunc: (dy, saved) => ({ x: () => tf.reshape(dy as Tensor, (saved as Tensor[])[0]!.shape) }) },
  { kernelName: 'ExpandDims', inputsToSave: ['input'], gradFunc: (dy, saved) => ({ input: () => tf.reshape(dy as Tensor, (saved as Tensor[])[0]!.shape) }) },
  {
    kernelName: 'Transpose',
    gradFunc: (dy, _saved, attrs) => ({ x: () => tf.transpose(dy as Tensor, backend_util.getUndoAxesPermutation((attrs as { perm: number[] }).perm)) }),
  },
  {
    kernelName: 'Slice',
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved as [Tensor];
      const { begin, size } = attrs as { begin: number | number[]; size: number | number[] };
      const [b, s] = slice_util.parseSliceParams(x, begin, size) as [number[], number[]];
      const paddings = x.shape.map((d, i) => [b[i]!, d - b[i]! - s[i]!] as [number, number]);
      return { x: () => tf.pad(dy as Tensor, paddings) };
    },
  },
  {
    kernelName: 'PadV2',
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved as [Tensor];
      const begin = (attrs as { paddings: [number, number][] }).paddings.map((p) => p[0]);
      return { x: () => tf.slice(dy as Tensor, begin, x.shape) };
    },
  },
  {
    kernelName: 'Concat',
    saveAllInputs: true,
    gradFunc: (dy, saved, attrs) => {
      const inputs = saved as Tensor[];
      const axis = util.parseAxisParam((attrs as { axis: number }).axis, inputs[0]!.shape)[0]!;
      return indexed(tf.split(dy as Tensor, inputs.map((t) => t.shape[axis]!), axis).map((t) => () => t));
    },
  },
  {
    kernelName: 'Pack',
    saveAllInputs: true,
    gradFunc: (dy, _saved, attrs) => indexed(tf.unstack(dy as Tensor, (attrs as { axis: number }).axis).map((t) => () => t)),
  },
  { kernelName: 'Unpack', gradFunc: (dy, _saved, attrs) => ({ value: () => tf.stack(dy as Tensor[], (attrs as { axis: number }).axis) }) },
  { kernelName: 'SplitV', gradFunc: (dy, _saved, attrs) => ({ x: () => tf.concat(dy as Tensor[], (attrs as { axis: number }).axis) }) },
  {
    kernelName: 'BroadcastTo',
    gradFunc: (dy, _saved, attrs) => {
      const { inputShape, shape } = attrs as { inputShape: number[]; shape: number[] };
      const axes: number[] = [];
      for (let i = 0; i < shape.length; i++) {
        if (inputShape[i] === shape[i]) continue;
        if (inputShape[i] !== 1) throw new Error(`broadcastTo(): [${inputShape}] cannot be broadcast to [${shape}].`);
        if (shape[i]! > 1) axes.push(i);
      }
      return { x: () => tf.sum(dy as Tensor, axes, true) };
    },
  },
  {
    kernelName: 'Tile',
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved as [Tensor];
      const { reps } = attrs as { reps: number[] };
      // Sum of dy's tiles: dy as [r0, d0, r1, d1, …] summed over the r axes.
      const split = x.shape.flatMap((d, i) => [reps[i]!, d]);
      const axes = x.shape.map((_, i) => 2 * i);
      return { x: () => tf.sum(tf.reshape(dy as Tensor, split), axes) };
    },
  },
  {
    kernelName: 'GatherV2',
    inputsToSave: ['x', 'indices'],
    gradFunc: (dy, saved, attrs) => {
      const [x, indices] = saved as [Tensor, Tensor];
      const { axis, batchDims } = attrs as { axis: number; batchDims: number };
      if (batchDims) throw new Error('gradient of gather with batchDims is not supported');
      const a = util.parseAxisParam(axis, x.shape)[0]!;
      return {
        x: () => {
          const outer = x.shape.slice(0, a);
          const inner = x.shape.slice(a + 1);
          const n = indices.size;
          const values = tf.reshape(dy as Tensor, [...outer, n, ...inner]);
          const perm = [outer.length, ...outer.map((_, i) => i), ...inner.map((_, i) => outer.length + 1 + i)];
          // tfjs sums the rows with unsortedSegmentSum, a kernel tfjs-backend-wasm lacks: a product
          // with the indices' one-hot matrix is the same sum on every backend.
          const rows = tf.reshape(tf.transpose(values, perm), [n, -1]);
          const oneHot = tf.cast(tf.oneHot(tf.reshape(tf.cast(indices, 'int32'), [n]) as tf.Tensor1D, x.shape[a]!), 'float32');
          const grad = tf.reshape(tf.matMul(oneHot, rows, true, false), [x.shape[a]!, ...outer, ...inner]);
          return tf.transpose(grad, backend_util.getUndoAxesPermutation(perm));
        },
        indices: () => indices,
      };
    },
  },
  { kernelName: 'OneHot', inputsToSave: ['indices'], gradFunc: (_dy, saved) => ({ indices: () => tf.zeros((saved as Tensor[])[0]!.shape, 'float32') }) },
  {
    kernelName: 'Softmax',
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => {
      const [y] = saved as [Tensor];
      const dyy = tf.mul(dy as Tensor, y);
      return { logits: () => tf.sub(dyy, tf.mul(tf.sum(dyy, [(attrs as { dim: number }).dim], true), y)) };
    },
  },
  {
    kernelName: 'LogSoftmax',
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => {
      const [value] = saved as [Tensor];
      return { logits: () => tf.sub(dy as Tensor, tf.mul(tf.sum(dy as Tensor, (attrs as { axis: number }).axis, true), tf.exp(value))) };
    },
  },
  {
    kernelName: 'BatchMatMul',
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, saved, attrs) => {
      const [a, b] = saved as [Tensor, Tensor];
      const d = dy as Tensor;
      const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
      if (!transposeA && !transposeB) return { a: () => tf.matMul(d, b, false, true), b: () => tf.matMul(a, d, true, false) };
      if (!transposeA && transposeB) return { a: () => tf.matMul(d, b, false, false), b: () => tf.matMul(d, a, true, false) };
      if (transposeA && !transposeB) return { a: () => tf.matMul(b, d, false, true), b: () => tf.matMul(a, d, false, false) };
      return { a: () => tf.matMul(b, d, true, true), b: () => tf.matMul(d, a, true, true) };
    },
  },
  {
    kernelName: 'Conv2D',
    inputsToSave: ['x', 'filter'],
    gradFunc: (dy, saved, attrs) => {
      const [x, filter] = saved as [tf.Tensor4D, tf.Tensor4D];
      const { dilations, strides, pad, dataFormat, dimRoundingMode } = attrs as {
        dilations: number | [number, number];
        strides: number | [number, number];
        pad: unknown;
        dataFormat: string;
        dimRoundingMode?: string;
      };
      const d = assertDilations('conv2D', dilations);
      // `dilations` is ours: tfjs' kernels read no such attribute (dilation 1 there).
      const extra = backend_util.tupleValuesAreOne(d) ? {} : { dilations: d };
      return {
        x: () => run('Conv2DBackpropInput', { dy: dy as Tensor, filter }, { strides, pad, dataFormat, dimRoundingMode, inputShape: x.shape, ...extra }),
        filter: () => run('Conv2DBackpropFilter', { x, dy: dy as Tensor }, { strides, pad, dataFormat, dimRoundingMode, filterShape: filter.shape, ...extra }),
      };
    },
  },
  {
    kernelName: 'Conv2DBackpropInput',
    inputsToSave: ['dy', 'filter'],
    gradFunc: (ddx, saved, attrs) => {
      const [dy, filter] = saved as [tf.Tensor4D, tf.Tensor4D];
      const { strides, pad, dataFormat, dimRoundingMode } = attrs as { strides: [number, number]; pad: 'valid'; dataFormat: 'NHWC'; dimRoundingMode?: 'round' };
      return {
        dy: () => tf.conv2d(ddx as tf.Tensor4D, filter, strides, pad, dataFormat, 1, dimRoundingMode),
        filter: () => run('Conv2DBackpropFilter', { x: ddx as Tensor, dy }, { strides, pad, dataFormat, dimRoundingMode, filterShape: filter.shape }),
      };
    },
  },
  {
    kernelName: 'DepthwiseConv2dNative',
    inputsToSave: ['x', 'filter'],
    gradFunc: (dy, saved, attrs) => {
      const [x, filter] = saved as [tf.Tensor4D, tf.Tensor4D];
      const { dilations, strides, pad, dimRoundingMode } = attrs as {
        dilations: number | [number, number];
        strides: number | [number, number];
        pad: 'valid' | 'same' | number;
        dimRoundingMode?: 'floor' | 'round' | 'ceil';
      };
      const d = assertDilations('depthwiseConv2dNative', dilations);
      util.assert(x.rank === 4 && filter.rank === 4, () => 'Error in gradient of depthwiseConv2dNative: input and filter must be rank 4.');
      util.assert(
        x.shape[3] === filter.shape[2],
        () => `Error in gradient of depthwiseConv2d: number of input channels (${x.shape[3]}) must match the inChannels dimension in filter ${filter.shape[2]}.`,
      );
      util.assert(
        backend_util.eitherStridesOrDilationsAreOne(strides, d),
        () => `Error in gradient of depthwiseConv2d: Either strides or dilations must be 1. Got strides ${strides} and dilations '${d}'.`,
      );
      backend_util.checkPadOnDimRoundingMode('depthwiseConv2d', pad, dimRoundingMode);
      return {
        x: () => run('DepthwiseConv2dNativeBackpropInput', { dy: dy as Tensor, filter }, { strides, dilations: d, pad, dimRoundingMode, inputShape: x.shape }),
        filter: () => run('DepthwiseConv2dNativeBackpropFilter', { x, dy: dy as Tensor }, { strides, dilations: d, pad, dimRoundingMode, filterShape: filter.shape }),
      };
    },
  },
  {
    kernelName: 'AvgPool',
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved as [Tensor];
      const { filterSize, strides, pad, dimRoundingMode } = attrs as { filterSize: number; strides: number; pad: number; dimRoundingMode?: string };
      return { x: () => run('AvgPoolGrad', { dy: dy as Tensor, input: x }, { filterSize, strides, pad, dimRoundingMode }) };
    },
  },
  {
    kernelName: 'MaxPool',
    inputsToSave: ['x'],
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => {
      const [x, y] = saved as [Tensor, Tensor];
      const { filterSize, strides, pad, dimRoundingMode } = attrs as { filterSize: number; strides: number; pad: number; dimRoundingMode?: string };
      return { x: () => run('MaxPoolGrad', { dy: dy as Tensor, input: x, output: y }, { filterSize, strides, pad, dimRoundingMode }) };
    },
  },
];

/** Kernel names this module provides a gradient for (tfjs' own, where tfjs registered them). */
export const GRADIENT_KERNELS: readonly string[] = CONFIGS.map((c) => c.kernelName);

/**
 * Registers the gradient of every kernel in `configs` that has none yet (tfjs' own registrations,
 * as browser bundles make them, are kept). Idempotent.
 */
export function registerMissingGradients(configs: readonly GradConfig[]): void {
  for (const config of configs) if (!getGradient(config.kernelName)) registerGradient(config);
}

/** Registers the tfjs gradient configs above where missing. Idempotent; `@mnv3/layers/train` calls it on import. */
export function registerGradients(): void {
  registerMissingGradients(CONFIGS);
}
