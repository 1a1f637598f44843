import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSafetensors, type HostTensor, type StateDict } from '@mnv3/layers';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const ORACLE_DIR = join(REPO_ROOT, 'tools/reference');
/** The interpreter with Debian's python3-torchvision (the first `python3` on PATH has no torch). */
export const ORACLE_PYTHON = process.env.MNV3_PYTHON ?? '/usr/bin/python3';

export function fixtureDir(suite: string): string {
  return join(process.env.MNV3_FIXTURES ?? join(REPO_ROOT, '.cache/fixtures'), suite);
}

function oracleStamp(): string {
  const h = createHash('sha256');
  for (const f of readdirSync(ORACLE_DIR).filter((n) => n.endsWith('.py')).sort()) {
    h.update(f).update(readFileSync(join(ORACLE_DIR, f)));
  }
  return h.digest('hex');
}

/**
 * Makes sure the suite's fixtures exist and come from the current oracle scripts, running
 * TorchVision when they do not. Fails loudly when TorchVision is missing: parity tests never skip.
 */
export function ensureFixtures(suite: string): string {
  const dir = fixtureDir(suite);
  const stamp = oracleStamp();
  const stampFile = join(dir, '.stamp');
  const fresh = () => existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp;
  if (fresh()) return dir;
  // Several packages read the same suite (segmentation) and turbo runs their tests in parallel:
  // one process generates, the others wait for it instead of replacing the folder under it.
  mkdirSync(dirname(dir), { recursive: true });
  const lock = `${dir}.lock`;
  const started = Date.now();
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      if (Date.now() - started > 30 * 60_000) throw new Error(`waited 30 min for ${lock}: remove it if no oracle is running`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500);
      if (fresh()) return dir;
    }
  }
  try {
    if (fresh()) return dir;
    generate(suite, dir, stamp);
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
  return dir;
}

function generate(suite: string, dir: string, stamp: string): void {
  try {
    execFileSync(ORACLE_PYTHON, ['-c', 'import torch, torchvision'], { stdio: 'pipe' });
  } catch {
    throw new Error(
      `The TorchVision oracle is missing: ${ORACLE_PYTHON} cannot import torch and torchvision. ` +
        'Install it with `apt-get install -y python3-torchvision` (or set MNV3_PYTHON), then run the tests again.',
    );
  }
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  execFileSync(ORACLE_PYTHON, [join(ORACLE_DIR, 'oracle.py'), suite, tmp], { stdio: ['ignore', 'inherit', 'inherit'] });
  writeFileSync(join(tmp, '.stamp'), stamp);
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
}

export interface Fixture {
  name: string;
  /** The case's configuration as the oracle wrote it. */
  config: Record<string, unknown>;
  /** Every tensor other than the state dict: `input`, `output`, intermediates. */
  tensors: Map<string, HostTensor>;
  /** The module's TorchVision state dict (keys without the `state.` prefix). */
  stateDict: StateDict;
  versions: { torch: string; torchvision: string };
}

export function listFixtures(suite: string, prefix = ''): string[] {
  return readdirSync(fixtureDir(suite))
    .filter((f) => f.endsWith('.safetensors') && f.startsWith(prefix))
    .map((f) => f.slice(0, -'.safetensors'.length))
    .sort();
}

export function loadFixture(suite: string, name: string): Fixture {
  const file = join(fixtureDir(suite), `${name}.safetensors`);
  if (!existsSync(file)) throw new Error(`fixture ${suite}/${name} is missing: did the suite's globalSetup run ensureFixtures('${suite}')?`);
  const { tensors, metadata } = readSafetensors(readFileSync(file));
  const stateDict: StateDict = new Map();
  const rest = new Map<string, HostTensor>();
  for (const [k, v] of tensors) {
    if (k.startsWith('state.')) stateDict.set(k.slice('state.'.length), v);
    else rest.set(k, v);
  }
  return {
    name,
    config: JSON.parse(metadata.config ?? '{}') as Record<string, unknown>,
    tensors: rest,
    stateDict,
    versions: { torch: metadata.torch ?? '?', torchvision: metadata.torchvision ?? '?' },
  };
}

/** The named tensor of a fixture; throws with the available names when absent. */
export function fixtureTensor(f: Fixture, name: string): HostTensor {
  const t = f.tensors.get(name);
  if (!t) throw new Error(`fixture ${f.name} has no tensor "${name}"; it has ${[...f.tensors.keys()].join(', ')}`);
  return t;
}
