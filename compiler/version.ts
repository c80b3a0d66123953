/** gradc's own version, from its package.json (found above this file, in source or in dist/). */
import { existsSync, readFileSync } from 'node:fs';

function findVersion(): string {
  for (let dir = new URL('./', import.meta.url); ; dir = new URL('../', dir)) {
    const manifest = new URL('package.json', dir);
    if (existsSync(manifest)) {
      const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'gradc' && pkg.version) return pkg.version;
    }
    if (new URL('../', dir).href === dir.href) return '0.0.0';
  }
}

/** gradc's version, from its package.json. */
export const GRADC_VERSION: string = findVersion();
