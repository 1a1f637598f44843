import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from './fixtures.js';

const run = promisify(execFile);

/** The built `mnv3` command. */
export const MNV3_BIN = join(REPO_ROOT, 'packages/cli/dist/bin.js');

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `node ARGS…` as a user would; never throws, returns the exit code and both streams. */
export async function runNode(args: readonly string[]): Promise<RunResult> {
  try {
    const { stdout, stderr } = await run(process.execPath, [...args], { maxBuffer: 64 << 20 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

/** Runs the built `mnv3` with ARGS (see `runNode`). */
export function mnv3(args: readonly string[]): Promise<RunResult> {
  return runNode([MNV3_BIN, ...args]);
}

/** A free TCP port on 127.0.0.1 (for a test's own server). */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => ok(port));
    });
  });
}
