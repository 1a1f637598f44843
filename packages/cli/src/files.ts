import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { writeFileAtomic as writeWhole } from '@mnv3/io/node';
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

/**
 * `@mnv3/io`'s atomic write (a temporary sibling, fsync, rename: readers never see half a file), with
 * an error that starts with the file asked for (Node's trailing ", open '…'" would repeat it).
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  try {
    await writeWhole(path, data);
  } catch (e) {
    const cause = (e as Error).message.replace(/, \w+ '[^']*'$/, '');
    throw new Error(`cannot write ${path}: ${cause}`, { cause: e });
  }
}
