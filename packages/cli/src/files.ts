import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { UsageError } from './errors.js';

/** Checks, before any work, that an output flag's file can be written: its folder exists and is writable. */
export async function checkOutputPath(flag: string, path: string): Promise<void> {
  const dir = dirname(path);
  const info = await stat(dir).catch(() => null);
  if (!info?.isDirectory()) throw new UsageError(`${flag} ${path}: the folder ${dir} does not exist`);
  if ((await stat(path).catch(() => null))?.isDirectory()) throw new UsageError(`${flag} ${path} is a folder: give a file name`);
  await access(dir, constants.W_OK).catch(() => {
    throw new UsageError(`${flag} ${path}: the folder ${dir} is not writable`);
  });
}

/** Writes a file so that readers never see it half-written: a temp file, then a rename. */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw new Error(`cannot write ${path}: ${(e as Error).message.replace(tmp, path)}`, { cause: e });
  }
}
