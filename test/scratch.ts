/** Scratch folders under .cache/ that a test file removes when it is done. */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll } from 'vitest';

/** Returns a function that makes a new scratch folder named `<prefix>XXXXXX`. */
export function scratchFolders(prefix: string): () => string {
  const made: string[] = [];
  afterAll(() => {
    for (const dir of made) rmSync(dir, { recursive: true, force: true });
  });
  return () => {
    mkdirSync('.cache', { recursive: true });
    const dir = mkdtempSync(join('.cache', prefix));
    made.push(dir);
    return dir;
  };
}
