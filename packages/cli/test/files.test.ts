import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../src/files.js';

describe('writeFileAtomic', () => {
  it('writes the whole file and leaves no temporary sibling', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mnv3-files-'));
    await writeFileAtomic(join(dir, 'out.npy'), 'first');
    await writeFileAtomic(join(dir, 'out.npy'), new Uint8Array([104, 105]));
    expect(readFileSync(join(dir, 'out.npy'), 'utf8')).toBe('hi');
    expect(readdirSync(dir)).toEqual(['out.npy']);
  });

  it('names the file asked for, not its temporary sibling, when the write fails', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mnv3-files-'));
    const path = join(dir, 'missing', 'mask.png');
    const err = await writeFileAtomic(path, 'x').catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toBe(`cannot write ${path}: ENOENT: no such file or directory`);
  });
});
