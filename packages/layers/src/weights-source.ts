import { readCheckpoint } from './checkpoint.js';
import type { StateDict } from './host-tensor.js';
import { StateDictError, type Module } from './module.js';
import type { Weights } from './weights-api.js';

/**
 * Where weights come from: a registry entry, a path or URL of a `.pth` / `.safetensors` file, its
 * bytes, or a ready state dict.
 */
export type WeightsSource = string | URL | Uint8Array | ArrayBuffer | StateDict | Weights;

// Checked through globalThis so the module type-checks and runs without Node's types.
const isNode = !!(globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node;
// Kept out of bundlers' sight: the Node-only hub is loaded only under Node.
const HUB_ENTRY = './hub/index.js';

interface NodeHub {
  downloadWeights(url: string, options: { sha256Prefix?: string; progress?: boolean }): Promise<string>;
  loadBytes(src: string | URL, options?: { progress?: boolean }): Promise<Uint8Array>;
}

/** Fetches (and in Node caches, with hash check) the weights, and reads them into a state dict. */
export async function resolveStateDict(source: WeightsSource, options: { progress?: boolean } = {}): Promise<StateDict> {
  if (source instanceof Map) return source;
  if (source instanceof Uint8Array) return readCheckpoint(source);
  if (source instanceof ArrayBuffer) return readCheckpoint(new Uint8Array(source));
  if (typeof source === 'object' && !(source instanceof URL)) {
    // A registry entry: cached download checked against the hash prefix in its file name.
    if (isNode) {
      const hub = (await import(/* @vite-ignore */ HUB_ENTRY)) as NodeHub;
      const path = await hub.downloadWeights(source.url, { sha256Prefix: source.sha256Prefix, progress: options.progress });
      return readCheckpoint(await hub.loadBytes(path));
    }
    return readCheckpoint(await fetchBytes(source.url));
  }
  if (isNode) {
    const hub = (await import(/* @vite-ignore */ HUB_ENTRY)) as NodeHub;
    return readCheckpoint(await hub.loadBytes(source, { progress: options.progress }));
  }
  return readCheckpoint(await fetchBytes(String(source)));
}

async function fetchBytes(url: string): Promise<Uint8Array> {
  let response: Response;
  try {
    response = await fetch(url);
  } catch (e) {
    throw new Error(`could not fetch weights from ${url} (offline?): pass the file's bytes instead`, { cause: e });
  }
  if (!response.ok) throw new Error(`could not fetch weights from ${url}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
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
