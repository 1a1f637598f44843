import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSafetensors, type HostTensor, type StateDict } from '@mnv3/io';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const ORACLE_DIR = join(REPO_ROOT, 'tools/reference');
/** The interpreter with Debian's python3-torchvision (the first `python3` on PATH has no torch). */
export const ORACLE_PYTHON = process.env.MNV3_PYTHON ?? '/usr/bin/python3';

export function fixtureDir(suite: string): string {
  return join(process.env.MNV3_FIXTURES ?? join(REPO_ROOT, '.cache/fixtures'), suite);
}

function oracleStamp(): string {
  const h = createHash('sha256');
  // The scripts and the C helper they compile: any change remakes every suite.
  for (const f of readdirSync(ORACLE_DIR).filter((n) => n.endsWith('.py') || n.endsWith('.c')).sort()) {
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
  // One writer per suite: turbo sets up several packages' tests at once (cli and classify both
  // use 'classify'); without the lock each made the suite and swapped the directory while another
  // package's tests were reading it. Waiters find the winner's fixtures fresh and use them.
  const lock = acquireLock(`${dir}.lock`);
  try {
    if (fresh()) return dir;
    generate(suite, dir, stamp);
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
  return dir;
}

const sleepMs = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** mkdir is atomic: the process that creates the lock directory owns it; its pid is inside. */
function acquireLock(lock: string): string {
  mkdirSync(dirname(lock), { recursive: true });
  const deadline = Date.now() + 30 * 60_000;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      return lock;
    } catch (e) {
      if ((e as { code?: string }).code !== 'EEXIST') throw e;
    }
    if (lockIsStale(lock)) {
      rmSync(lock, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`waited 30 minutes for ${lock} (held by another test run); remove it if no run is going on`);
    sleepMs(250);
  }
}

/** A lock whose owner is gone (killed run), or that never got its pid file within a minute. */
function lockIsStale(lock: string): boolean {
  let pid: number;
  try {
    pid = Number(readFileSync(join(lock, 'pid'), 'utf8'));
  } catch {
    try {
      return Date.now() - statSync(lock).mtimeMs > 60_000;
    } catch {
      return false; // just released
    }
  }
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as { code?: string }).code === 'ESRCH';
  }
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
