import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface, type Interface } from 'node:readline';
import type * as OrtWeb from 'onnxruntime-web';
import { benchInput } from './input.js';
import type { Candidate } from './stats.js';

export { benchInput };

/** A peer runtime that could not be set up, with the reason: reported as missing, never as zero. */
export interface MissingPeer {
  name: string;
  missing: string;
}

export interface Peer extends Candidate {
  close(): Promise<void>;
}

type OrtModule = typeof OrtWeb;
type OrtSession = OrtWeb.InferenceSession;

function ortPeer(name: string, ort: OrtModule, session: OrtSession, shape: readonly number[]): Peer {
  const feeds = { [session.inputNames[0]!]: new ort.Tensor('float32', benchInput(shape), [...shape]) };
  return {
    name,
    run: async () => {
      await session.run(feeds);
    },
    close: async () => session.release(),
  };
}

/** ONNX Runtime Web (its WASM build, SIMD) on the exported model, `threads` threads. */
export async function ortWebPeer(onnxPath: string, shape: readonly number[], threads: number): Promise<Peer | MissingPeer> {
  const name = 'onnxruntime-web';
  try {
    const ort = (await import('onnxruntime-web')) as OrtModule;
    ort.env.wasm.numThreads = threads;
    ort.env.wasm.simd = true;
    const { readFile } = await import('node:fs/promises');
    const session = await ort.InferenceSession.create(new Uint8Array(await readFile(onnxPath)), { executionProviders: ['wasm'] });
    return ortPeer(name, ort, session, shape);
  } catch (e) {
    return { name, missing: (e as Error).message };
  }
}

/** ONNX Runtime Node (native CPU) on the exported model, `threads` intra-op threads. */
export async function ortNodePeer(onnxPath: string, shape: readonly number[], threads: number): Promise<Peer | MissingPeer> {
  const name = 'onnxruntime-node';
  try {
    const ort = (await import('onnxruntime-node')) as unknown as OrtModule;
    const session = await ort.InferenceSession.create(onnxPath, { intraOpNumThreads: threads, interOpNumThreads: 1 } as never);
    return ortPeer(name, ort, session, shape);
  } catch (e) {
    return { name, missing: (e as Error).message };
  }
}

/**
 * PyTorch CPU through Debian's python3-torch: a child process that times one forward pass per
 * request (its own clock, no IPC in the number).
 */
export async function pytorchPeer(python: string, script: string, model: string, shape: readonly number[], threads: number): Promise<Peer | MissingPeer> {
  const name = 'pytorch';
  let child: ChildProcessWithoutNullStreams;
  try {
    child = spawn(python, [script, 'serve', model, shape.join(','), String(threads)], { stdio: 'pipe' });
  } catch (e) {
    return { name, missing: (e as Error).message };
  }
  const lines: Interface = createInterface({ input: child.stdout });
  const iterator = lines[Symbol.asyncIterator]();
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const next = async (): Promise<string> => {
    const r = await Promise.race([iterator.next(), exited.then(() => ({ done: true, value: undefined }))]);
    if (r.done || r.value === undefined) throw new Error(`pytorch peer exited: ${stderr.trim().split('\n').pop() ?? 'no output'}`);
    return r.value as string;
  };
  try {
    const ready = await next();
    if (ready !== 'ready') throw new Error(`pytorch peer said "${ready}"`);
  } catch (e) {
    child.kill();
    return { name, missing: (e as Error).message };
  }
  return {
    name,
    run: async () => {
      child.stdin.write('run\n');
      return Number(await next());
    },
    close: async () => {
      child.stdin.end('quit\n');
      await exited;
    },
  };
}

export function isMissing(p: Peer | MissingPeer): p is MissingPeer {
  return 'missing' in p;
}
