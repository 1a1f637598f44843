import { readCheckpoint, type StateDict, type Weights } from '@mnv3/layers';

/**
 * Where weights come from: a registry entry, a path or URL of a `.pth` / `.safetensors` file, its
 * bytes, or a ready state dict.
 */
export type WeightsSource = string | URL | Uint8Array | ArrayBuffer | StateDict | Weights;

// Checked through globalThis so the module type-checks and runs without Node's types.
const isNode = !!(globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node;

/** Fetches (and in Node caches, with hash check) the weights, and reads them into a state dict. */
export async function resolveStateDict(source: WeightsSource, options: { progress?: boolean } = {}): Promise<StateDict> {
  if (source instanceof Map) return source;
  if (source instanceof Uint8Array) return readCheckpoint(source);
  if (source instanceof ArrayBuffer) return readCheckpoint(new Uint8Array(source));
  if (typeof source === 'object' && !(source instanceof URL)) {
    // A registry entry: cached download checked against the hash prefix in its file name.
    if (isNode) {
      const hub = await import('@mnv3/layers/hub');
      const path = await hub.downloadWeights(source.url, { sha256Prefix: source.sha256Prefix, progress: options.progress });
      return readCheckpoint(await hub.loadBytes(path));
    }
    return readCheckpoint(await fetchBytes(source.url));
  }
  if (isNode) {
    const hub = await import('@mnv3/layers/hub');
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
