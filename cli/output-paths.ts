/**
 * Files `gradc train` will write (checkpoint, history), checked before anything is trained:
 * a run must not fail after hours because its output cannot be written.
 */
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { UsageError } from './main.ts';

/** `path` can be created or replaced: not a folder, in an existing folder we may write. */
export function checkWritableFile(path: string, option: string): void {
  const full = resolve(path);
  if (existsSync(full)) {
    const stat = statSync(full);
    if (stat.isDirectory()) throw new UsageError(`${option} ${path} is a folder; name a file`);
    if (!stat.isFile()) throw new UsageError(`${option} ${path} is not a regular file`);
  }
  const folder = dirname(full);
  if (!existsSync(folder) || !statSync(folder).isDirectory()) {
    throw new UsageError(`${option} ${path}: the folder ${folder} does not exist`);
  }
  try {
    accessSync(folder, constants.W_OK);
  } catch {
    throw new UsageError(`${option} ${path}: the folder ${folder} is not writable`);
  }
}
