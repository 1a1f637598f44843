import * as tf from '@tensorflow/tfjs-core';
import { Layer, Module } from './module.js';

/**
 * TorchVision's `IntermediateLayerGetter` as a module that owns the children it keeps: the
 * children of `body` (its `namedChildren()`, in registration order, as torch's `named_children()`)
 * up to the last returned one are registered under their own names, so a model holding it as
 * `backbone` has TorchVision's keys (`backbone.0.0.weight` for a Sequential body,
 * `backbone.layer1.0.conv1.weight` for a ResNet), and the children after the last returned one are
 * dropped, as TorchVision drops them. Every kept child runs in turn, so each must be a `Layer`
 * whose forward is its part of the body's (an absorbed norm is the identity). Input NHWC float32;
 * output a record of NHWC feature maps by output name.
 *
 * @example
 * const backbone = new IntermediateLayerGetter(mobilenetV3Large({ dilated: true }).features, { '4': 'low', '16': 'high' });
 * const resnetBody = new IntermediateLayerGetter(resnet50({ replaceStrideWithDilation: [false, true, true] }), { layer3: 'aux', layer4: 'out' });
 */
export class IntermediateLayerGetter extends Module {
  private readonly kept: readonly (readonly [string, Layer])[];
  private readonly returnLayers: Readonly<Record<string, string>>;

  constructor(body: Module, returnLayers: Readonly<Record<string, string>>) {
    super();
    const children = body.namedChildren();
    const names = children.map(([name]) => name);
    const keys = Object.keys(returnLayers);
    if (keys.length === 0) throw new RangeError('return_layers is empty: name at least one child of the body');
    for (const k of keys) {
      if (!names.includes(k)) throw new RangeError(`return_layers are not present in model: "${k}" (valid: ${describeNames(names)})`);
    }
    const last = Math.max(...keys.map((k) => names.indexOf(k)));
    this.kept = children.slice(0, last + 1).map(([name, child]) => {
      if (!(child instanceof Layer)) throw new TypeError(`IntermediateLayerGetter: child "${name}" has no forward of its own`);
      return [name, this.registerModule(name, child)] as const;
    });
    this.returnLayers = { ...returnLayers };
  }

  /** The kept children, in order. */
  get layers(): readonly Layer[] {
    return this.kept.map(([, layer]) => layer);
  }

  /** NHWC in; the requested NHWC feature maps by output name. The caller disposes them. */
  forward(x: tf.Tensor4D): Record<string, tf.Tensor4D> {
    // No assertBuilt here: the children check their own weights, and a getter may wrap a loaded body.
    const out: Record<string, tf.Tensor4D> = {};
    tf.tidy(() => {
      const kept: tf.Tensor[] = [];
      let y = x;
      for (const [child, layer] of this.kept) {
        y = layer.forward(y);
        const name = this.returnLayers[child];
        if (name !== undefined) {
          out[name] = y;
          kept.push(y);
        }
      }
      return kept;
    });
    return out;
  }
}

/** `0..16` for a Sequential body, the names otherwise. */
function describeNames(names: readonly string[]): string {
  const numbered = names.every((n, i) => n === String(i));
  return numbered && names.length > 1 ? `0..${names.length - 1}` : names.join(', ');
}
