/**
 * Where gradc keeps what it compiles at run time (shared libraries of C kernels, CUDA fatbins)
 * and the builds of `gradc train`: `$GRADC_CACHE_DIR`, else `$XDG_CACHE_HOME/gradc`, else
 * `~/.cache/gradc`. Never the folder a program happens to run from.
 */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/** A path in gradc's cache folder. */
export function gradcCacheDir(...parts: string[]): string {
  const env = process.env;
  const root = env.GRADC_CACHE_DIR
    ? resolve(env.GRADC_CACHE_DIR)
    : join(env.XDG_CACHE_HOME ? resolve(env.XDG_CACHE_HOME) : join(homedir(), '.cache'), 'gradc');
  return join(root, ...parts);
}
