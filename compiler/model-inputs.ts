/**
 * The files a model's build depends on: the model file and, transitively, the local files it
 * imports (relative specifiers, resolved as bin/ts-hooks.mjs resolves them). Packages are not
 * followed: they are versioned by the package manager; nor are gradc's own sources, which a
 * model in gradc's repository imports by path (gradcStamp() covers them).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ts } from 'ts-morph';

const GRADC_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const GRADC_SOURCES = ['dsl', 'ir', 'artifact', 'compiler', 'runtime', 'cli'].map(
  (dir) => `${resolve(GRADC_ROOT, dir)}${sep}`,
);

function isFollowed(path: string): boolean {
  return !path.includes(`${sep}node_modules${sep}`) && !GRADC_SOURCES.some((dir) => path.startsWith(dir));
}

function isFile(path: string): boolean {
  return existsSync(path) && statSync(path).isFile();
}

/** The file a relative specifier names, trying TypeScript's conventions; undefined if none. */
function resolveLocal(from: string, specifier: string): string | undefined {
  const base = resolve(dirname(from), specifier);
  const candidates = /\.(?:js|mjs)$/.test(specifier)
    ? [base, base.replace(/js$/, 'ts')]
    : [base, `${base}.ts`, `${base}.mts`, `${base}.js`, resolve(base, 'index.ts')];
  return candidates.find(isFile);
}

/** The model file and every local file it imports, absolute and sorted. */
export function modelInputs(file: string): string[] {
  const seen = new Set<string>();
  const pending = [resolve(file)];
  while (pending.length > 0) {
    const path = pending.pop()!;
    if (seen.has(path)) continue;
    seen.add(path);
    if (!/\.[cm]?[jt]sx?$/.test(path)) continue;
    const { importedFiles } = ts.preProcessFile(readFileSync(path, 'utf8'), true, true);
    for (const { fileName } of importedFiles) {
      if (!fileName.startsWith('.')) continue;
      const local = resolveLocal(path, fileName);
      if (local !== undefined && isFollowed(local)) pending.push(local);
    }
  }
  return [...seen].sort();
}
