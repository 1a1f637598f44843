import { CheckpointError, readCheckpoint, type StateDict } from '@mnv3/io';
import type { BytesSource } from '@mnv3/io/hub-browser';
import { StateDictError, type Module } from './module.js';
import type { Weights } from './weights-api.js';

/**
 * Where weights come from: a weights-table entry, a path or URL of a `.pth` / `.safetensors` file,
 * its bytes, or a ready state dict.
 */
export type WeightsSource = BytesSource | StateDict | Weights;

// Checked through globalThis so the module type-checks and runs without Node's types.
const underNode = () => !!(globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node;
// Kept out of bundlers' sight: the Node-only hub is loaded only under Node.
const NODE_HUB = '@mnv3/io/hub';

interface Hub {
  downloadWeights(url: string, options: { sha256Prefix?: string; progress?: boolean }): Promise<string | Uint8Array>;
  loadBytes(src: BytesSource, options?: { progress?: boolean }): Promise<Uint8Array>;
}

/**
 * Reads weights into a state dict. Every download goes through the checked hub of its platform
 * (`@mnv3/io/hub` in Node: cached on disk; `@mnv3/io/hub-browser`: Cache Storage), which verifies
 * the SHA-256 prefix in the file name (or the entry's `sha256Prefix`).
 */
export async function resolveStateDict(source: WeightsSource, options: { progress?: boolean } = {}): Promise<StateDict> {
  if (source instanceof Map) return source;
  if (source instanceof ArrayBuffer) return readCheckpoint(new Uint8Array(source));
  if (ArrayBuffer.isView(source)) return readCheckpoint(new Uint8Array(source.buffer, source.byteOffset, source.byteLength));
  const isNode = underNode();
  const hub = (isNode ? await import(/* @vite-ignore */ NODE_HUB) : await import('@mnv3/io/hub-browser')) as Hub;
  // The Node hub draws a terminal bar; the browser hub takes a callback, which a page passes itself.
  const progress = isNode ? { progress: options.progress } : {};
  if (typeof source === 'object' && !(source instanceof URL)) {
    // A weights-table entry: its URL, checked against the entry's hash prefix.
    const file = await hub.downloadWeights(source.url, { sha256Prefix: source.sha256Prefix, ...progress });
    return readNamed(typeof file === 'string' ? await hub.loadBytes(file) : file, source.url);
  }
  return readNamed(await hub.loadBytes(source, progress), String(source));
}

/** `readCheckpoint`, with the file or URL named in its errors (same code). */
function readNamed(bytes: Uint8Array, name: string): StateDict {
  try {
    return readCheckpoint(bytes);
  } catch (e) {
    if (e instanceof CheckpointError) throw new CheckpointError(e.code, `${name}: ${e.message}`);
    throw e;
  }
}

/**
 * `loadStateDict` (strict) with an error that says in a few lines why a checkpoint does not fit
 * the model: how many shape mismatches, missing and unexpected keys, the first of each, and a hint
 * when only the last layer differs (a different class count).
 */
export function loadWeightsInto(model: Module, stateDict: StateDict, name: string): void {
  try {
    model.loadStateDict(stateDict);
  } catch (e) {
    if (!(e instanceof StateDictError)) throw e;
    const parts: string[] = [];
    const few = (keys: string[]) => keys.slice(0, 3).join(', ') + (keys.length > 3 ? ', …' : '');
    if (e.shapeMismatches.length) {
      const m = e.shapeMismatches[0]!;
      parts.push(`${e.shapeMismatches.length} shape mismatch(es), e.g. ${m.key}: checkpoint [${m.actual.join(', ')}], model [${m.expected.join(', ')}]`);
    }
    if (e.missingKeys.length) parts.push(`${e.missingKeys.length} missing key(s): ${few(e.missingKeys)}`);
    if (e.unexpectedKeys.length) parts.push(`${e.unexpectedKeys.length} unexpected key(s): ${few(e.unexpectedKeys)}`);
    const lastLayers = /^(classifier\.|fc\.|aux_classifier\.4\.|classifier\.(4|low_classifier|high_classifier)\.|roi_heads\.box_predictor\.)/;
    const keys = [...e.shapeMismatches.map((m) => m.key), ...e.missingKeys, ...e.unexpectedKeys];
    let hint = ' (is it a checkpoint for another model or configuration?)';
    if (e.shapeMismatches.length && !e.missingKeys.length && !e.unexpectedKeys.length && keys.every((k) => lastLayers.test(k))) {
      hint = ' (only the last layer differs: check numClasses)';
    } else if (keys.every((k) => k.startsWith('aux_classifier.'))) {
      hint = e.unexpectedKeys.length ? ' (the checkpoint has an auxiliary head: build with auxLoss / --aux-loss)' : ' (the checkpoint has no auxiliary head: build without auxLoss)';
    }
    throw new Error(`the checkpoint does not fit ${name}${hint}: ${parts.join('; ')}`, { cause: e });
  }
}
